"""The feature network: determinism of its training and hash, and its file handling."""

import pytest
import torch

from thermogan.errors import CheckpointError
from thermogan.metrics.classifier import (
    MnistClassifier,
    accuracy,
    load_classifier,
    save_classifier,
    train_classifier,
    weights_hash,
)


def toy_digits(n=256, seed=0):
    """Images whose class is the position of a bright square: learnable in a few steps."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=gen)
    images = -torch.ones(n, 1, 28, 28) + 0.1 * torch.randn(n, 1, 28, 28, generator=gen)
    for i, c in enumerate(labels.tolist()):
        r, q = divmod(c, 5)
        images[i, 0, 4 + 10 * r: 12 + 10 * r, 1 + 5 * q: 5 + 5 * q] = 1.0
    return images, labels


def test_training_twice_gives_the_same_hash():
    x, y = toy_digits()
    a = train_classifier(x, y, epochs=2, batch_size=32, progress=False)
    b = train_classifier(x, y, epochs=2, batch_size=32, progress=False)
    c = train_classifier(x, y, epochs=2, batch_size=32, seed=1, progress=False)
    assert weights_hash(a) == weights_hash(b) != weights_hash(c)
    assert accuracy(a, *toy_digits(200, seed=5)) > 0.9


def test_features_and_cropping():
    model = MnistClassifier()
    x = torch.randn(4, 1, 28, 28)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)
    assert model.features(x).shape == (4, 128)
    assert torch.equal(model.features(padded), model.features(x))
    assert model(x).shape == (4, 10)


def test_save_load_round_trip_and_errors(tmp_path):
    model = MnistClassifier()
    digest = save_classifier(model, tmp_path / "c.pt")
    loaded, again = load_classifier(tmp_path / "c.pt")
    assert digest == again == weights_hash(model) and len(digest) == 64
    (tmp_path / "c.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="c.pt cannot be read"):
        load_classifier(tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="thermogan data classifier"):
        load_classifier(tmp_path / "none.pt")
