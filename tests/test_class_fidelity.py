"""Class fidelity: the math, the scorer's record, a run's summary and `thermogan eval`, and on the
real MNIST, generators whose fidelity is known (real digits of the requested class; digits that
ignore it)."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import HAVE_REAL_MNIST, REAL_MNIST
from scipy.stats import binomtest
from torch import nn

from thermogan.cli import main
from thermogan.data.images import ImageData
from thermogan.experiment import config, scoring
from thermogan.experiment.mnist_scorer import MnistScorer
from thermogan.metrics.classifier import MnistClassifier
from thermogan.metrics.fidelity import class_fidelity
from thermogan.train.trainer import Trainer

N = 2000


def test_fidelity_counts_matches_overall_and_per_class():
    f = class_fidelity(np.array([0, 1, 2, 2, 1, 0]), np.array([0, 1, 1, 2, 1, 2]), 4)
    assert f.value == pytest.approx(4 / 6) and f.samples == 6
    assert f.se == pytest.approx(math.sqrt(4 / 6 * 2 / 6 / 6))
    assert f.per_class[:3] == [1.0, pytest.approx(2 / 3), 0.5] and math.isnan(f.per_class[3])
    with pytest.raises(ValueError, match="equal, non-empty"):
        class_fidelity(np.zeros(3), np.zeros(4), 10)
    with pytest.raises(ValueError, match="classes must be 0 to 9"):
        class_fidelity(np.zeros(2), np.array([0, 10]), 10)


class IntensityReader(MnistClassifier):
    """A 'classifier' that reads the class off an image's mean grey level (class c: −1 + 2c/9)."""

    def __init__(self) -> None:
        super().__init__()
        with torch.no_grad():
            self.fc2.weight.copy_(torch.eye(10, 128))
            self.fc2.bias.zero_()

    def features(self, x):
        level = ((x.mean((1, 2, 3)) + 1) / 2 * 9).round().long().clamp(0, 9)
        return F.one_hot(level, 128).float()  # (B, 128)


class GreyDigits(nn.Module):
    """G(z, y): a flat image of class ``rule(z, y)``'s grey level."""

    def __init__(self, rule):
        super().__init__()
        self.rule, self.unused = rule, nn.Linear(1, 1)

    def forward(self, z, y):
        level = -1 + 2 * self.rule(z, y).float() / 9  # (B,)
        return level[:, None, None, None].expand(len(z), 1, 28, 28)


def grey_trainer(rule) -> Trainer:
    data = ImageData(torch.zeros(10, 1, 28, 28), torch.arange(10), "mnist", num_classes=10,
                     family="mnist")
    return Trainer(GreyDigits(rule), nn.Linear(1, 1), data, z_dim=4, num_classes=10)


@pytest.fixture(scope="module")
def grey_scorer():
    real = (-1 + 2 * torch.arange(10).repeat(2).float() / 9)[:, None, None, None]
    return MnistScorer(IntensityReader().eval(), "stub", real.expand(20, 1, 28, 28))


@pytest.mark.parametrize("name, rule, expected", [
    ("faithful", lambda z, y: y, 1.0),
    ("always the next class", lambda z, y: (y + 1) % 10, 0.0),
])
def test_a_generator_that_draws_what_it_is_told_has_fidelity_one(grey_scorer, name, rule,
                                                                  expected):
    cfg = config.from_dict({"data": {"kind": "mnist"}, "eval": {"samples": N}})
    summary = scoring.evaluate(cfg, grey_trainer(rule), grey_scorer)
    assert summary["metrics"]["class_fidelity"] == expected, name
    record = summary["scores"]["class_fidelity"]
    assert record["protocol"]["fake"] == N and record["protocol"]["classes"] == 10
    assert record["per_class"] == [expected] * 10
    assert "uniform over 10 classes" in summary["protocol"]["labels"]
    assert f"class fidelity {100 * expected:.1f}%" in scoring.format_metrics(summary)


def test_a_generator_that_ignores_the_label_scores_chance(grey_scorer):
    """Labels are drawn apart from z, so a G that ignores y hits it with probability 1/10."""
    cfg = config.from_dict({"data": {"kind": "mnist"}, "eval": {"samples": N, "seed": 5}})
    trainer = grey_trainer(lambda z, y: (z[:, 0].abs() * 1000).long() % 10)
    summary = scoring.evaluate(cfg, trainer, grey_scorer)
    hits = round(summary["metrics"]["class_fidelity"] * N)
    assert binomtest(hits, N, 0.1).pvalue > 1e-3
    # the metric reads the samples that fd_mnist reads: G(z, y) of the eval seed and labels
    labels = scoring.eval_labels(N, 10, 5)
    again = grey_scorer.score(trainer.sample(N, 5, labels=labels), 5, labels=labels)
    assert again["fd_mnist"]["value"] == summary["metrics"]["fd_mnist"]
    assert again["class_fidelity"]["value"] == summary["metrics"]["class_fidelity"]


def test_eval_reports_class_fidelity_of_a_conditional_run(tmp_path, mnist_home, capsys):
    run = tmp_path / "cond"
    assert main(["train", "configs/mnist_cond_cpu.yaml", "--out", str(run), "train.steps=3",
                 "train.batch_size=8", "eval.samples=50", "eval.track_every=null",
                 "model.z_dim=8", "model.generator.hidden=[16]", "model.discriminator.hidden=[16]",
                 "train.progress=false", "train.tensorboard=false", "device=cpu"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert 0 <= summary["metrics"]["class_fidelity"] <= 1
    assert main(["eval", str(run), "--samples", "40", "--seed", "2"]) == 0
    record = json.loads((run / "eval.json").read_text())
    fidelity = record["scores"]["class_fidelity"]
    assert fidelity["protocol"]["fake"] == 40 and fidelity["protocol"]["seed"] == 2
    assert fidelity["protocol"]["sha256"] == record["protocol"]["classifier_sha256"]
    assert "class fidelity" in capsys.readouterr().out


@pytest.fixture(scope="module")
def real_mnist():
    if not HAVE_REAL_MNIST:
        pytest.skip("the real MNIST archives are not in the data folder")
    from thermogan.data.images import load_mnist
    from thermogan.metrics.classifier import train_classifier

    x, y = load_mnist(REAL_MNIST, "test")  # a quick classifier on 3,000, G draws from others
    model = train_classifier(x[:3000], y[:3000], epochs=1, batch_size=64, progress=False)
    return model, x[5000:6000], y[5000:6000]


class RealDigits(nn.Module):
    """G(z, y): a real test digit of class y (``faithful``), or of any class, chosen by z."""

    def __init__(self, x, y, faithful):
        super().__init__()
        self.x, self.faithful, self.unused = x, faithful, nn.Linear(1, 1)
        self.by_class = [torch.nonzero(y == c).flatten() for c in range(10)]

    def forward(self, z, y):
        pick = (z[:, 0].abs() * 1e6).long()  # (B,)
        if not self.faithful:
            return self.x[pick % len(self.x)]
        return torch.stack([self.x[self.by_class[c][p % len(self.by_class[c])]]
                            for c, p in zip(y.tolist(), pick.tolist())])


@pytest.mark.parametrize("faithful", [True, False])
def test_real_digits_score_the_classifiers_accuracy_and_ignored_labels_chance(real_mnist,
                                                                              faithful):
    model, x, y = real_mnist
    data = ImageData(x, y, "mnist", num_classes=10)
    trainer = Trainer(RealDigits(x, y, faithful), nn.Linear(1, 1), data, z_dim=2, num_classes=10)
    scorer = MnistScorer(model, "quick", x[:100])
    labels = scoring.eval_labels(len(x), 10, 0)
    fake = trainer.sample(len(x), 0, labels=labels)
    fidelity = scorer.score(fake, labels=labels, kid_subsets=2, kid_subset_size=100)[
        "class_fidelity"]["value"]
    if faithful:  # every sample is a real digit of its class: the classifier's accuracy on them
        with torch.no_grad():
            accuracy = float((model(fake).argmax(1) == labels).float().mean())
        assert fidelity == pytest.approx(accuracy) and fidelity > 0.7
    else:
        assert binomtest(round(fidelity * len(x)), len(x), 0.1).pvalue > 1e-3
