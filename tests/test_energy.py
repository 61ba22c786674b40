"""Energies of Rezende & Mohamed (2015) as data, the free energy's G terms, and their configs:
the formulas at chosen points, the window's wall, the regions, the reference q, the terms' values
and gradients, and errors that name the key."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.stats import multivariate_normal

from thermogan.cli import main
from thermogan.data import DATASETS
from thermogan.data.batch import Batch
from thermogan.data.energy import WALL, energy
from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.objectives.terms import G_TERMS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
POINTS = np.array([[0.3, -1.2], [2.0, 0.0], [-1.5, 0.7], [1.0, -2.0], [3.5, 3.9], [-3.9, -0.4]])


def formula(name, z):
    """U as Rezende & Mohamed (2015, Table 1) write it, in numpy (no log-sum-exp tricks)."""
    z1, z2 = z[:, 0], z[:, 1]
    w1 = np.sin(2 * np.pi * z1 / 4)
    w2 = 3 * np.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
    w3 = 3 / (1 + np.exp(-(z1 - 1) / 0.3))
    if name == "u1":
        r = np.hypot(z1, z2)
        return 0.5 * ((r - 2) / 0.4) ** 2 - np.log(np.exp(-0.5 * ((z1 - 2) / 0.6) ** 2)
                                                   + np.exp(-0.5 * ((z1 + 2) / 0.6) ** 2))
    if name == "u2":
        return 0.5 * ((z2 - w1) / 0.4) ** 2
    if name == "u3":
        return -np.log(np.exp(-0.5 * ((z2 - w1) / 0.35) ** 2)
                       + np.exp(-0.5 * ((z2 - w1 + w2) / 0.35) ** 2))
    return -np.log(np.exp(-0.5 * ((z2 - w1) / 0.4) ** 2)
                   + np.exp(-0.5 * ((z2 - w1 + w3) / 0.35) ** 2))


@pytest.mark.parametrize("name", ["u1", "u2", "u3", "u4"])
def test_energies_match_the_formulas_inside_the_window(name):
    u = energy(name).energy(torch.as_tensor(POINTS)).numpy()
    np.testing.assert_allclose(u, formula(name, POINTS), rtol=1e-10, atol=1e-10)


def test_u1_has_two_mirror_lobes_on_the_ring():
    d = energy("u1")
    z = torch.as_tensor(POINTS)
    for flip in (torch.tensor([-1.0, 1.0]), torch.tensor([1.0, -1.0])):
        torch.testing.assert_close(d.energy(z * flip), d.energy(z))
    lobes = d.energy(torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]))
    assert lobes[0] == lobes[1] and lobes[2] > lobes[0] + 4 and lobes[3] > lobes[2]
    assert d.regions(torch.tensor([[2.0, 0.1], [-2.0, 0.1]])).tolist() == [0, 1]
    assert d.region_names == ("lobe z1>0", "lobe z1<0")


def test_branches_are_the_dominant_terms():
    # U3 at z1 = 1: upper branch at z2 = w1 = 1, lower at w1 - w2 = -2
    assert energy("u3").regions(torch.tensor([[1.0, 1.0], [1.0, -2.0]])).tolist() == [0, 1]
    # U4 at z1 = 3: w1 = -1, w3 ≈ 3: upper at -1, lower near -4
    assert energy("u4").regions(torch.tensor([[3.0, -1.0], [3.0, -3.9]])).tolist() == [0, 1]
    assert energy("u2").regions(torch.tensor([[0.0, 5.0], [1.0, -2.0]])).tolist() == [0, 0]


def test_the_window_adds_a_wall_outside_and_none_without_it():
    z = torch.tensor([[4.3, 0.1], [-0.2, -4.1], [4.2, 4.4]], dtype=torch.float64)
    excess = np.array([0.3**2, 0.1**2, 0.2**2 + 0.4**2])
    for name in ("u1", "u3"):
        walled = energy(name).energy(z).numpy()
        np.testing.assert_allclose(walled - formula(name, z.numpy()), excess / (2 * WALL**2),
                                   rtol=1e-9)
        bare = energy(name, window=None).energy(z).numpy()
        np.testing.assert_allclose(bare, formula(name, z.numpy()), rtol=1e-10)


def test_the_reference_is_the_gaussian_that_d_calls_real():
    d = energy("u2", reference_std=3.0)
    x = d.sample(20000, torch.Generator().manual_seed(0)).x
    assert x.shape == (20000, 2) and d.sample(3).y is None
    # the std of n normal draws has standard error σ/√(2n): five of them
    assert abs(float(x.std()) - 3.0) < 5 * 3.0 / math.sqrt(2 * x.numel())
    torch.testing.assert_close(d.sample(5, torch.Generator().manual_seed(1)).x,
                               d.sample(5, torch.Generator().manual_seed(1)).x)
    ref = multivariate_normal(mean=[0, 0], cov=9 * np.eye(2)).logpdf(POINTS)
    np.testing.assert_allclose(d.log_reference(torch.as_tensor(POINTS)).numpy(), ref, rtol=1e-12)
    assert (d.is_image, d.shape, d.dim, d.num_classes, d.box, d.name) == (
        False, (2,), 2, None, None, "u2")


def test_the_g_terms_are_the_mean_energy_and_log_reference_with_their_gradients():
    d = energy("u3")
    x = torch.as_tensor(POINTS).clone().requires_grad_(True)
    term = G_TERMS["energy"](d)
    value = term(Batch(x), None, None)
    assert term.name == "energy" and term.players() == []
    assert float(value.detach()) == pytest.approx(formula("u3", POINTS).mean(), rel=1e-10)
    (grad,) = torch.autograd.grad(value, x)
    eps = 1e-6  # central differences of the numpy formula
    for k in range(2):
        step = np.zeros(2)
        step[k] = eps
        fd = (formula("u3", POINTS + step) - formula("u3", POINTS - step)) / (2 * eps)
        np.testing.assert_allclose(grad[:, k].numpy(), fd / len(POINTS), rtol=1e-5, atol=1e-8)
    ref = G_TERMS["reference"](d)
    value = ref(Batch(x), None, None)
    assert ref.name == "reference" and ref.players() == []
    (grad,) = torch.autograd.grad(value, x)
    torch.testing.assert_close(grad, -x.detach() / (16 * len(POINTS)))  # ∇ log q = −x/s²


def test_free_energy_training_takes_g_from_the_origin_onto_the_ring():
    """200 steps of density_fixed.yaml (β = 1) on U1: G's samples leave the origin (U ≈ 17.4)
    for the ring (U ≈ 0 at a lobe's centre)."""
    cfg = config.load(CONFIGS / "density_fixed.yaml", ["device=cpu", "train.batch_size=128"])
    trainer = build.build_trainer(cfg)

    def energy_of():
        return float(trainer.data.energy(trainer.sample(2000, 0, use_ema=False)).mean())

    before = energy_of()
    for _ in range(200):
        trainer.train_step()
    assert before > 10 and energy_of() < 3


def test_bad_inputs_name_the_key(tmp_path):
    base = config.load(CONFIGS / "density.yaml", ["device=cpu"])

    def built(*overrides):
        return build.build_trainer(config.load(CONFIGS / "density.yaml",
                                               ["device=cpu", *overrides]))

    with pytest.raises(ConfigError, match=r"data.energy='u9': expected one of u1, u2, u3, u4"):
        built("data.energy=u9")
    with pytest.raises(ConfigError, match=r"data.box=\[-1.0, 1.0\]: energy 'u1' .*null"):
        built("data.box=[-1, 1]")
    with pytest.raises(ConfigError, match=r"data.reference_std=0(\.0)?: must be > 0"):
        built("data.reference_std=0")
    with pytest.raises(ConfigError, match=r"data.window=-1.0: must be > 0"):
        built("data.window=-1")
    with pytest.raises(ConfigError, match=r"regulariser\[0\].kind=reference: the data 'ring8' "
                       "have no energy U"):
        built("data={kind: ring}")
    assert base.data.kind == "energy" and "energy" in DATASETS
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**base.to_dict(), "data": {"kind": "energy",
                                                               "energy": "u5"}}))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
