"""Scorers by data family: every data set's family has a scorer, the family a data class declares
is the one its registry name reads, and a G term brings what it expects of G itself."""

import math

import numpy as np
import pytest
import torch

from thermogan.data import DATASETS, FAMILIES
from thermogan.data.energy import EnergyData
from thermogan.data.images import ImageData
from thermogan.data.toy import ToyDataset, gauss1d, ring
from thermogan.experiment import config, scoring
from thermogan.experiment.build import build_trainer
from thermogan.experiment.mixture_scorer import expected
from thermogan.objectives.variational import ScoreRegulariser
from thermogan.schedules import Linear

#: Options that keep a data set small where its defaults are large (Stacked MNIST's 60,000).
SMALL = {"stacked_mnist": {"n": 64}}


def test_every_data_set_has_a_family_with_a_scorer():
    assert set(FAMILIES) == set(DATASETS)
    assert set(FAMILIES.values()) <= set(scoring.SCORERS)
    for family, scorer in scoring.SCORERS.items():
        assert isinstance(scorer.samples, int) and scorer.samples > 0, family
        for method in ("prepare", "score", "headline", "line", "figure"):
            assert callable(getattr(scorer, method)), (family, method)


def test_each_class_declares_its_family_beside_is_image():
    assert ToyDataset.family == "mixture" and not ToyDataset.is_image
    assert EnergyData.family == "energy" and not EnergyData.is_image
    assert ImageData(torch.zeros(2, 1, 4, 4)).family == "images" and ImageData.is_image


@pytest.mark.parametrize("kind", sorted(k for k, f in FAMILIES.items()
                                        if f in ("mixture", "energy", "mnist", "stacked_mnist")))
def test_the_data_built_has_the_family_its_name_reads(kind, mnist_home):
    assert DATASETS[kind](**SMALL.get(kind, {})).family == FAMILIES[kind]


def test_other_images_have_no_trusted_metric(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros((4, 1, 8, 8), dtype=np.uint8))
    assert DATASETS["npz"](str(tmp_path / "x.npz")).family == FAMILIES["npz"] == "images"


def test_the_protocols_sample_counts():
    counts = {kind: scoring.eval_samples(config.from_dict({"data": {"kind": kind}}))
              for kind in ("ring", "gauss1d", "energy", "mnist", "stacked_mnist", "npz")}
    assert counts == {"ring": 2500, "gauss1d": 2500, "energy": 50000, "mnist": 10000,
                      "stacked_mnist": 26000, "npz": 2500}
    cfg = config.from_dict({"data": {"kind": "mnist"}, "eval": {"samples": 7}})
    assert scoring.eval_samples(cfg) == 7
    # the real reference: MNIST's 10,000 test images as they are; 10,000 Stacked MNIST triples
    assert scoring.SCORERS["mnist"].reference is None
    assert scoring.SCORERS["stacked_mnist"].reference == 10000


def test_the_score_term_expects_the_optimum_of_one_gaussian():
    data = gauss1d(1.0, 2.0)
    term = ScoreRegulariser(data)
    assert term.expected(data, 0.5) == {"optimum_std": pytest.approx(2 / math.sqrt(1.5))}
    assert term.expected(data, -0.5) == {"optimum_std": pytest.approx(2 / math.sqrt(0.5))}
    assert term.expected(gauss1d(), -1.0) == {}  # no optimum for λ ≤ −1
    assert term.expected(ring(), 0.5) == {}  # a mixture's optimum is no closed form here


def _trainer(tiny_config, *overrides):
    cfg = config.load(tiny_config, ["data={kind: gauss1d, mean: 1.0, std: 0.5}", "data.box=null",
                                    *overrides])
    return build_trainer(cfg)


def test_a_scorer_asks_the_only_term_at_a_constant_weight(tiny_config):
    alone = _trainer(tiny_config, "regulariser={kind: score, weight: 0.5}")
    assert expected(alone) == {"optimum_std": pytest.approx(0.5 / math.sqrt(1.5))}
    assert expected(_trainer(tiny_config)) == {}  # no term
    moving = _trainer(tiny_config, "regulariser={kind: score, weight: {kind: linear, start: 0.5, "
                                   "end: 0, steps: 10}}")
    assert isinstance(moving.g_terms[0].weight, Linear) and expected(moving) == {}
    two = _trainer(tiny_config, "regulariser=[{kind: score, weight: 0.5}, "
                                "{kind: score, weight: 0.1}]")
    assert len(two.g_terms) == 2 and expected(two) == {}
