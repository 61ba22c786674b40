"""Batched layers (train/batched.py) against an independent reference: each member's own
network called on its own slice, for outputs, first and second derivatives."""

import pytest
import torch
from torch import nn
from torch.func import stack_module_state

from thermogan.nets.mlp import ACTIVATIONS, mlp
from thermogan.train import batched

S, B = 3, 5


def _members(activation: str, bias: bool = True) -> list[nn.Sequential]:
    nets = []
    for s in range(S):
        torch.manual_seed(s)
        net = mlp(2, 1, (16, 16), activation)
        if not bias:
            net[0] = nn.Linear(2, 16, bias=False)
        nets.append(net.double())
    return nets


@pytest.mark.parametrize("activation", [*ACTIVATIONS, "no_bias"])
def test_batched_layers_equal_each_members_own_network(activation):
    nets = _members("relu", bias=False) if activation == "no_bias" else _members(activation)
    layers = batched.plan(nets[0])
    assert layers is not None
    params, _ = stack_module_state(nets)
    params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
    x = torch.randn(S, B, 2, dtype=torch.float64, requires_grad=True)
    out = batched.forward(layers, params, x)
    # a second derivative too, as the gradient penalty takes one
    (grad_x,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    (out.square().sum() + grad_x.square().sum()).backward()
    for s, net in enumerate(nets):
        x_s = x[s].detach().requires_grad_(True)
        ref = net(x_s)
        torch.testing.assert_close(out[s], ref)
        (ref_grad_x,) = torch.autograd.grad(ref.sum(), x_s, create_graph=True)
        torch.testing.assert_close(grad_x[s], ref_grad_x)
        (ref.square().sum() + ref_grad_x.square().sum()).backward()
        for name, p in net.named_parameters():
            torch.testing.assert_close(params[name].grad[s], p.grad, msg=name)


def test_a_negative_leaky_slope_is_applied_out_of_place():
    nets = _members("leaky_relu")
    for net in nets:
        net[1].negative_slope = -0.2
    params, _ = stack_module_state(nets)
    params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
    x = torch.randn(S, B, 2, dtype=torch.float64)
    batched.forward(batched.plan(nets[0]), params, x).sum().backward()  # in place would fail
    nets[0](x[0]).sum().backward()
    torch.testing.assert_close(params["0.weight"].grad[0], nets[0][0].weight.grad)


@pytest.mark.parametrize("net", [
    nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)),
    nn.Sequential(nn.Flatten(), nn.Linear(4, 1)),
    nn.Linear(2, 1),
], ids=["batch_norm", "flatten", "bare_linear"])
def test_other_networks_have_no_plan(net):
    assert batched.plan(net) is None
