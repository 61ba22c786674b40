"""Coarse-graining (the Langevin GAN's A_σ): the blur's moments, constants, gradients and config."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from thermogan.data.toy import ring
from thermogan.experiment import build, config
from thermogan.tempering.blur import Blur, blurred, gaussian_kernel


def reference_kernel(sigma):
    """The same kernel written independently with numpy."""
    r = math.ceil(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return k / k.sum()


@pytest.mark.parametrize("sigma", [0.7, 1.5, 3.0])
def test_a_blurred_delta_sums_to_one_with_second_moment_sigma_squared(sigma):
    size, c = 41, 20
    delta = torch.zeros(1, 1, size, size, dtype=torch.float64)
    delta[0, 0, c, c] = 1.0
    out = blurred(delta, sigma)[0, 0].numpy()
    assert out.sum() == pytest.approx(1.0, abs=1e-12)
    offsets = np.arange(size) - c
    per_axis = (out.sum(0) * offsets**2).sum()  # the same along rows and columns
    assert per_axis == pytest.approx((out.sum(1) * offsets**2).sum(), rel=1e-12)
    k = reference_kernel(sigma)
    r = (len(k) - 1) // 2
    assert per_axis == pytest.approx((k * np.arange(-r, r + 1) ** 2).sum(), rel=1e-10)
    assert per_axis == pytest.approx(sigma**2, rel=0.03)  # the ±3σ truncation takes ≤ 2.7 %
    # separable: the blob is the outer product of the 1-D kernel, nothing outside it
    np.testing.assert_allclose(out[c - r:c + r + 1, c - r:c + r + 1], np.outer(k, k), atol=1e-15)
    assert out.sum() == pytest.approx(np.outer(k, k).sum(), abs=1e-12)


def test_a_constant_image_stays_constant_and_sigma_zero_is_the_identity():
    x = torch.full((2, 3, 16, 16), 0.37, dtype=torch.float64)
    assert torch.allclose(blurred(x, 2.0), x, atol=1e-14)
    y = torch.randn(2, 3, 16, 16)
    assert blurred(y, 0.0) is y
    assert gaussian_kernel(1.0).sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sigma=6"):
        blurred(y, 6.0)  # radius 18 does not fit a 16-pixel image


def test_gradients_flow_through_the_blur_to_the_generator():
    x = torch.randn(2, 2, 9, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: blurred(v, 1.2), (x,))
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))
    blur = Blur(lambda step: 1.0)
    blur.set_step(0)
    D(blur(G(torch.randn(16, 4)))).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def test_sigma_from_a_number_a_fade_a_schedule_or_a_controller(mnist_home):
    from thermogan.data.images import ImageData

    images = ImageData(torch.zeros(4, 1, 8, 8))
    faded = Blur.for_run(100, images, sigma=2.0, fade=0.5)
    faded.set_step(25)
    assert faded.describe() == {"blur_sigma": pytest.approx(1.0)}
    faded.set_step(80)
    assert faded.describe()["blur_sigma"] == 0.0 and faded.sides == ("real", "fake")
    scheduled = Blur.for_run(100, images, sigma={"kind": "linear", "start": 3, "end": 1,
                                                 "steps": 10})
    scheduled.set_step(5)
    assert scheduled.describe()["blur_sigma"] == pytest.approx(2.0)
    controlled = Blur.for_run(100, images, sigma={"kind": "constant_controller", "value": 0.5})
    controlled.set_step(3)
    assert controlled.level.item() == 0.5
    assert controlled.state_dict()["sigma.value"].item() == 0.5  # checkpointed with the blur
    # an adaptive σ with a fade: free (here held hot: no D record seen) until the fade's end, 0 on
    adaptive = Blur.for_run(100, images, sigma={"kind": "adaptive", "start": 1}, fade=0.5)
    for step, expected in ((0, 1.0), (49, 1.0), (50, 0.0), (99, 0.0)):
        adaptive.set_step(step)
        assert adaptive.describe()["blur_sigma"] == expected
    with pytest.raises(ValueError, match="give a schedule without fade"):
        Blur.for_run(100, images, sigma={"kind": "linear", "start": 3, "end": 1, "steps": 10},
                     fade=0.5)
    with pytest.raises(ValueError, match="instance noise"):
        Blur.for_run(100, ring(), sigma=1.0)
    cfg = config.load("configs/mnist_vanilla_cpu.yaml", ["tempering={kind: blur, sigma: -1}"])
    with pytest.raises(ValueError, match="tempering.sigma=-1"):
        build.build_trainer(cfg)
