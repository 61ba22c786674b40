"""The library's Adam (PyTorch's fused kernel) against torch.optim.Adam's reference loop."""

import torch

from thermogan.optim import adam


def test_fused_adam_follows_the_reference_update():
    torch.manual_seed(0)
    ours = [torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    ref = [p.detach().clone().requires_grad_(True) for p in ours]
    start = [p.detach().clone() for p in ours]
    opt = adam(ours, lr=1e-2, betas=(0.5, 0.999), weight_decay=1e-3)
    ref_opt = torch.optim.Adam(ref, 1e-2, betas=(0.5, 0.999), weight_decay=1e-3,
                               foreach=False)
    assert opt.param_groups[0]["fused"]
    for _ in range(50):
        grads = [torch.randn_like(p) for p in ours]
        for params, o in ((ours, opt), (ref, ref_opt)):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            o.step()
    for p, r, p0 in zip(ours, ref, start):
        assert (p - p0).abs().min() > 1e-3  # every element moved
        torch.testing.assert_close(p, r)
