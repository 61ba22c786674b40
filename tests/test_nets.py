"""Networks: shapes and the papers' 3-D toy architecture."""

import pytest
import torch
from torch import nn

from thermogan.nets import DISCRIMINATORS, GENERATORS
from thermogan.objectives.penalties import gradient_penalty


SHAPES = {"mlp": (3,), "paper3d": (3,), "fc": (1, 28, 28), "dcgan": (3, 32, 32)}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_map_z_to_data(name):
    torch.manual_seed(0)
    g = GENERATORS[name](3, SHAPES[name])
    assert g(torch.randn(7, 3)).shape == (7, *SHAPES[name])


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_discriminators_return_one_logit(name):
    d = DISCRIMINATORS[name](SHAPES[name])
    assert d(torch.randn(7, *SHAPES[name])).shape == (7, 1)


def test_vector_nets_refuse_images_and_dcgan_refuses_other_sizes():
    with pytest.raises(ValueError, match="for vector data"):
        GENERATORS["mlp"](3, (1, 28, 28))
    with pytest.raises(ValueError, match="32×32"):
        DISCRIMINATORS["dcgan"]((1, 28, 28))


def test_paper3d_architecture():
    g, d = GENERATORS["paper3d"](3, (3,)), DISCRIMINATORS["paper3d"]((3,))
    assert [type(m) for m in g] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert [m.out_features for m in g if isinstance(m, nn.Linear)] == [128, 128, 3]
    assert [type(m) for m in d] == [nn.Linear, nn.Tanh] * 3 + [nn.Linear]
    assert [m.out_features for m in d if isinstance(m, nn.Linear)] == [128, 128, 128, 1]


def test_mlp_options_are_checked():
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        GENERATORS["mlp"](2, (2,), activation="sigmoid")
    with pytest.raises(ValueError, match="hidden"):
        GENERATORS["mlp"](2, (2,), hidden=[0])


def test_gradient_penalty_of_a_linear_critic_is_exact():
    # D(x) = w·x has gradient w everywhere: penalty = (‖w‖ − 1)²
    lin = nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0]]))
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    gp = gradient_penalty(lin, real, fake, torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(16.0)
    gp.backward()
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖ = 8·(0.6, 0.8)
    assert lin.weight.grad.tolist()[0] == pytest.approx([4.8, 6.4])
