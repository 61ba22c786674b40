"""Toy data sets: geometry as specified, statistics of the samples, determinism."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from thermogan.data.toy import DATASETS, box, cubes, grid, mog1d, mog3d, ring


def test_ring_geometry():
    d = ring()
    assert d.centers.shape == (8, 2) and d.std == 0.01
    np.testing.assert_allclose(np.linalg.norm(d.centers, axis=1), 1.0)
    assert ring(radius=2.0, std=0.1).std == 0.1


def test_grid_geometry():
    d = grid()
    assert d.centers.shape == (25, 2) and d.std == 0.05
    assert sorted(set(d.centers[:, 0])) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_3d_mixtures_are_equidistant_from_origin():
    for k in (4, 5):
        d = mog3d(components=k)
        assert d.centers.shape == (k, 3)
        np.testing.assert_allclose(np.linalg.norm(d.centers, axis=1), 1.0)
    tetra = mog3d(components=4).centers
    dists = [np.linalg.norm(a - b) for i, a in enumerate(tetra) for b in tetra[i + 1:]]
    np.testing.assert_allclose(dists, dists[0])  # regular tetrahedron
    with pytest.raises(ValueError, match="components=3"):
        mog3d(components=3)


def test_mog1d_centres():
    np.testing.assert_allclose(mog1d().centers[:, 0], [-3, -1, 1, 3])


def test_gaussian_components_have_the_stated_std():
    d = ring()
    x = d.sample(40000, torch.Generator().manual_seed(0)).x.double().numpy()
    nearest = np.argmin(((x[:, None] - d.centers[None]) ** 2).sum(-1), axis=1)
    resid = x - d.centers[nearest]  # (N, 2)
    # sample std of N(0, σ²) has relative standard error 1/sqrt(2N): allow 5 of them
    n = resid.size
    assert abs(resid.std() / d.std - 1) < 5 / math.sqrt(2 * n)
    counts = np.bincount(nearest, minlength=8)
    assert stats.chisquare(counts).pvalue > 1e-4  # components equally weighted


def test_cubes_are_uniform_on_two_cubes():
    d = cubes()
    x = d.sample(20000, torch.Generator().manual_seed(1)).x.numpy()
    inside = np.all((np.abs(x) >= 0.3) & (np.abs(x) <= 0.8), axis=1)
    assert inside.all()
    assert np.all(np.sign(x[:, 0:1]) == np.sign(x))  # each sample within one cube
    first = x[x[:, 0] > 0, 0]
    assert stats.kstest(first, stats.uniform(0.3, 0.5).cdf).pvalue > 1e-4
    assert d.std == pytest.approx(0.5 / math.sqrt(12))


def test_box_is_uniform():
    x = box(dim=3, low=-1, high=1).sample(20000, torch.Generator().manual_seed(2)).x.numpy()
    for j in range(3):
        assert stats.kstest(x[:, j], stats.uniform(-1, 2).cdf).pvalue > 1e-4


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_is_deterministic_under_a_seeded_generator(name):
    d = DATASETS[name]()
    a = d.sample(64, torch.Generator().manual_seed(7))
    b = d.sample(64, torch.Generator().manual_seed(7))
    assert a.x.shape == (64, d.dim) and a.x.dtype == torch.float32
    assert torch.equal(a.x, b.x)
    assert len(d.centers) >= 1 and d.std > 0
    assert d.is_image is False


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_mixture_samples_are_labelled_with_their_component(name):
    d = DATASETS[name]()
    batch = d.sample(2000, torch.Generator().manual_seed(3))
    if name in ("box", "cubes", "gauss1d"):  # not class data (gauss1d: one component)
        assert d.num_classes is None and batch.y is None
        return
    assert d.num_classes == len(d.centers)
    assert batch.y.dtype == torch.int64 and batch.y.shape == (2000,)
    # each sample lies nearest to the centre of its own component
    centers = torch.as_tensor(d.centers, dtype=torch.float32)
    nearest = torch.cdist(batch.x, centers).argmin(1)
    assert torch.equal(nearest, batch.y)
    # components are drawn uniformly: chi-square test of the label counts
    counts = torch.bincount(batch.y, minlength=d.num_classes).numpy()
    assert stats.chisquare(counts).pvalue > 1e-4
    # the box map keeps the labels
    boxed = d.in_box(-1, 1)
    assert boxed.num_classes == d.num_classes
    assert torch.equal(boxed.sample(50, torch.Generator().manual_seed(3)).y, batch.y[:50])


@pytest.mark.parametrize("factory, kwargs, word", [
    (ring, {"std": 0.0}, "std=0.0"), (grid, {"spacing": -1}, "spacing=-1"),
    (cubes, {"low": 0.5, "high": 0.4}, "high=0.4"), (box, {"dim": 0}, "dim=0"),
])
def test_impossible_parameters_are_refused(factory, kwargs, word):
    with pytest.raises(ValueError, match=word):
        factory(**kwargs)
