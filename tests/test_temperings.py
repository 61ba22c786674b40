"""Conformance over every tempering in the registry: shape kept, identity at the cold end,
determinism under a seeded generator, state_dict round trip, exact resume inside a trainer."""

import pytest
import torch
from helpers import straight_and_resumed

from thermogan.data.images import ImageData
from thermogan.data.toy import ring
from thermogan.experiment import build, config
from thermogan.tempering import TEMPERINGS, Tempering

STEPS = 200
DATA = ring().in_box(-1, 1)
IMAGES = ImageData(torch.rand(64, 3, 12, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1)

#: Each tempering's options for a short run, the step at which it is at its cold end, its data.
CASES = {
    "heat": ({"levels": 4}, STEPS - 1, DATA),  # the data stage: β = ∞
    "instance_noise": ({"anneal_fraction": 0.5}, STEPS // 2, DATA),  # std 0 after the anneal
    "lens": ({"width": 8, "blocks": 2, "weight": {"kind": "sine_decay", "horizon": 50}}, 0, DATA),
    "blur": ({"sigma": 1.5, "fade": 0.5}, STEPS // 2, IMAGES),  # σ = 0 after the fade
}
#: Temperings that draw no noise (the same output whatever the generator).
NOISELESS = {"lens", "blur"}


def test_every_registered_tempering_has_a_case():
    assert set(CASES) == set(TEMPERINGS)


def make(kind: str) -> Tempering:
    return TEMPERINGS[kind](STEPS, CASES[kind][2], **CASES[kind][0])


def batch(kind: str, n: int) -> torch.Tensor:
    return CASES[kind][2].sample(n, torch.Generator().manual_seed(0)).x


@pytest.mark.parametrize("kind", sorted(TEMPERINGS))
def test_shape_kept_at_every_level_and_identity_at_the_cold_end(kind):
    t = make(kind)
    x = batch(kind, 64)
    for step in range(0, STEPS, 25):
        t.set_step(step)
        assert t(x, generator=torch.Generator().manual_seed(1)).shape == x.shape
    t.set_step(CASES[kind][1])
    assert torch.equal(t(x, generator=torch.Generator().manual_seed(1)), x)
    assert set(t.sides) <= {"real", "fake"} and "real" in t.sides


@pytest.mark.parametrize("kind", sorted(TEMPERINGS))
def test_deterministic_under_a_seeded_generator(kind):
    t = make(kind)
    t.set_step(STEPS // 4)  # a hot level
    x = batch(kind, 256)
    with torch.no_grad():
        a = t(x, generator=torch.Generator().manual_seed(3))
        b = t(x, generator=torch.Generator().manual_seed(3))
        c = t(x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    if kind not in NOISELESS:  # stochastic temperings draw from the generator they are given
        assert not torch.equal(a, c)


@pytest.mark.parametrize("kind", sorted(TEMPERINGS))
def test_state_dict_round_trip(kind):
    t = make(kind)
    t.set_step(STEPS // 4)
    with torch.no_grad():  # move every parameter and buffer away from its initial value
        for value in list(t.parameters()) + [b for b in t.buffers() if b.is_floating_point()]:
            value.add_(0.25)
    other = make(kind)
    other.load_state_dict(t.state_dict())
    other.set_step(STEPS // 4)
    for name, value in t.state_dict().items():
        if name != "level":  # the level follows set_step
            assert torch.equal(value, other.state_dict()[name]), name
    x = batch(kind, 32)
    with torch.no_grad():
        assert torch.equal(t(x, generator=torch.Generator().manual_seed(2)),
                           other(x, generator=torch.Generator().manual_seed(2)))


SPECS = {
    "heat": "{kind: heat, levels: 3, coupled: true}",
    "instance_noise": "{kind: instance_noise}",
    "lens": "{kind: lens, width: 8, blocks: 1, lr: 1.0e-3}",
    "blur": "{kind: blur, sigma: 1.0, fade: 0.5}",  # on images: the MNIST config
}


def test_every_registered_tempering_has_a_trainer_spec():
    assert set(SPECS) == set(TEMPERINGS)


@pytest.mark.parametrize("kind", sorted(TEMPERINGS))
def test_exact_resume_inside_a_trainer(tiny_config, kind, request):
    settings = [f"tempering={SPECS[kind]}", "train.steps=30"]
    if CASES[kind][2].is_image:
        request.getfixturevalue("mnist_home")  # small MNIST files
        cfg = config.load("configs/mnist_vanilla_cpu.yaml", [*settings, "train.batch_size=8",
                                                              "device=cpu"])
    else:
        cfg = config.load(tiny_config, [*settings, "data.box=[-1, 1]"])
    straight, second = straight_and_resumed(lambda: build.build_trainer(cfg), 30, 12)
    assert torch.equal(straight.sample(100, seed=2), second.sample(100, seed=2))
    for a, b in zip(straight.temperings.state_dict().values(),
                    second.temperings.state_dict().values()):
        assert torch.equal(a, b)
    if kind == "heat":  # β'-GAN's coupling moved δ, and the resumed run moved it the same way
        assert straight.temperings[0].offset.item() != 0


@pytest.mark.parametrize("kind", sorted(TEMPERINGS))
def test_the_base_class_holds_the_level_and_logs_it_under_the_label(kind):
    """set_step moves ``value`` and the ``level`` buffer to the source's value at the step, and
    describe() names it by the tempering's label."""
    t = make(kind)
    source = getattr(t, t.level_attr)
    for step in (0, STEPS // 3, STEPS - 1):
        t.set_step(step)
        assert t.value == float(source(step)) == pytest.approx(float(t.level))  # a float32 buffer
        assert t.describe()[t.label] == t.value


def test_a_tempering_written_as_its_map_and_label_only():
    class Scale(Tempering):
        level_attr, label = "factor", "scale"

        def forward(self, x, *, generator=None):
            return self.value * x

    t = Scale(lambda step: 1.0 + step)
    t.set_step(2)
    assert t.factor(5) == 6.0 and t.describe() == {"scale": 3.0}
    assert torch.equal(t(torch.ones(2)), torch.full((2,), 3.0))
    assert Tempering().describe() == {}  # no level: the identity logs nothing
