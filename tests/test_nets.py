"""Networks: shapes, the papers' 3-D toy architecture, and the class-conditional variants."""

import inspect
import typing

import pytest
import torch
from torch import nn

from thermogan.errors import ConfigError
from thermogan.experiment.build import call_component
from thermogan.experiment.config import Component
from thermogan.nets import DISCRIMINATORS, GENERATORS
from thermogan.nets.dcgan import DCGANDiscriminator, xavier_init
from thermogan.nets.fc import FCDiscriminator, FCGenerator
from thermogan.nets.mlp import mlp

SHAPES = {"mlp": (3,), "paper3d": (3,), "fc": (1, 28, 28), "dcgan": (3, 32, 32), "maxout": (3,)}


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


# Class-conditional networks: every factory, unconditional and conditional.

CLASSES = 3
CONTRACT_SHAPES = {"mlp": [(2,)], "paper3d": [(2,)], "fc": [(1, 28, 28)],
                   "dcgan": [(1, 32, 32), (3, 32, 32)], "maxout": [(2,)]}
SMALL = {"mlp": {"hidden": [16, 16]}, "paper3d": {}, "fc": {}, "dcgan": {"width": 8},
         "maxout": {"hidden": [8, 8], "pieces": 3}}
NETS = [(role, name, shape) for role, registry in (("G", GENERATORS), ("D", DISCRIMINATORS))
        for name in sorted(registry) for shape in CONTRACT_SHAPES[name]]


def build(role, name, shape, num_classes=None, z_dim=4):
    options = {**SMALL[name], "num_classes": num_classes}
    if role == "G":
        return GENERATORS[name](z_dim, shape, **options)
    return DISCRIMINATORS[name](shape, **options)


def net_input(role, shape, batch=4, z_dim=4):
    return torch.randn(batch, z_dim) if role == "G" else torch.randn(batch, *shape)


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("role,name,shape", NETS)
def test_contract_shapes_finite_outputs_and_gradients(role, name, shape, conditional):
    torch.manual_seed(0)
    net = build(role, name, shape, CLASSES if conditional else None)
    inputs = net_input(role, shape)
    labels = torch.tensor([0, 1, 2, 1])  # (B,)
    out = net(inputs, labels) if conditional else net(inputs)
    assert out.shape == ((4, *shape) if role == "G" else (4, 1))
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    embeddings = [m for m in net.modules() if isinstance(m, nn.Embedding)]
    assert bool(embeddings) == conditional
    assert all(e.weight.grad is not None for e in embeddings)


@pytest.mark.parametrize("registry", [GENERATORS, DISCRIMINATORS])
def test_every_factory_takes_num_classes_typed_for_the_config(registry):
    for factory in registry.values():
        assert inspect.signature(factory).parameters["num_classes"].default is None
        assert typing.get_type_hints(factory)["num_classes"] == int | None


class ReferenceDCGANGenerator(nn.Module):
    """Frozen copy of the DCGAN generator as it was before conditional networks."""

    def __init__(self, z_dim, channels, c):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * c, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * c),
            nn.ReLU(),
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh(),
        )
        xavier_init(self)

    def forward(self, z):
        return self.net(z[:, :, None, None])  # (B, channels, 32, 32)


REFERENCES = {  # today's unconditional networks, built by the code paths they had before
    ("G", "mlp"): lambda: mlp(4, 2, [16, 16], "relu"),
    ("D", "mlp"): lambda: mlp(2, 1, [16, 16], "relu"),
    ("G", "paper3d"): lambda: mlp(4, 2, (128, 128), "relu"),
    ("D", "paper3d"): lambda: mlp(2, 1, (128, 128, 128), "tanh"),
    ("G", "fc"): lambda: FCGenerator(4, (1, 28, 28)),
    ("D", "fc"): lambda: FCDiscriminator((1, 28, 28)),
    ("G", "dcgan"): lambda: ReferenceDCGANGenerator(4, 3, 8),
    ("D", "dcgan"): lambda: DCGANDiscriminator(3, 8, "batch"),
}


@pytest.mark.parametrize("role,name", sorted(REFERENCES))
def test_unconditional_nets_are_todays_nets(role, name):
    shape = CONTRACT_SHAPES[name][-1]
    torch.manual_seed(0)
    net = build(role, name, shape)
    torch.manual_seed(0)
    ref = REFERENCES[role, name]()
    if name in ("mlp", "paper3d"):
        assert type(net) is nn.Sequential
    got, want = net.state_dict(), ref.state_dict()
    assert list(got) == list(want)
    assert all(torch.equal(got[key], want[key]) for key in want)
    inputs = net_input(role, shape)
    assert torch.equal(net(inputs), ref(inputs))


@pytest.mark.parametrize("role,name,shape", NETS)
def test_conditional_nets_use_the_label(role, name, shape):
    torch.manual_seed(0)
    net = build(role, name, shape, CLASSES).eval()
    with torch.no_grad():  # move embeddings off their init (CBN starts at gain 1, bias 0)
        for m in net.modules():
            if isinstance(m, nn.Embedding):
                m.weight.normal_()
    inputs = net_input(role, shape)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(net(inputs, zeros), net(inputs, ones))


def test_projection_discriminator_is_its_formula():
    torch.manual_seed(0)
    d = DISCRIMINATORS["mlp"]((2,), hidden=[8, 8], activation="tanh", num_classes=CLASSES)
    x, y = torch.randn(5, 2), torch.tensor([0, 2, 1, 2, 0])
    first, second = d.features[0], d.features[2]
    phi = torch.tanh(second(torch.tanh(first(x))))  # (B, 8)
    w, b, embed = d.head.weight, d.head.bias, d.embed.weight  # (1, 8), (1,), (classes, 8)
    logit = phi @ w.T + b + (embed[y] * phi).sum(1, keepdim=True)  # (B, 1)
    assert torch.allclose(d(x, y), logit, atol=1e-6)


@pytest.mark.parametrize("role,name,shape", NETS)
def test_conditional_nets_refuse_to_run_without_labels(role, name, shape):
    net = build(role, name, shape, CLASSES)
    with pytest.raises(ValueError, match="needs labels"):
        net(net_input(role, shape))


@pytest.mark.parametrize("num_classes", [1, 0])
@pytest.mark.parametrize("role,name,shape", NETS)
def test_fewer_than_two_classes_is_refused(role, name, shape, num_classes):
    with pytest.raises(ValueError, match=f"^num_classes={num_classes}: must be >= 2"):
        build(role, name, shape, num_classes)


def test_config_options_check_num_classes():
    spec = Component(kind="mlp", num_classes=3)
    g = call_component(GENERATORS, spec, "model.generator", 2, (2,))
    assert g(torch.randn(4, 2), torch.tensor([0, 1, 2, 0])).shape == (4, 2)
    with pytest.raises(ConfigError, match="model.generator.num_classes='ten'"):
        call_component(GENERATORS, Component(kind="mlp", num_classes="ten"),
                       "model.generator", 2, (2,))
    with pytest.raises(ConfigError, match="model.discriminator.num_classes=1: must be >= 2"):
        call_component(DISCRIMINATORS, Component(kind="fc", num_classes=1),
                       "model.discriminator", (1, 28, 28))
