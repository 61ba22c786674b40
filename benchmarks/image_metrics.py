"""What the image metrics cost on CPU, and the floor of fd_mnist (real against real).

For 10,000 images: fd_mnist (classifier features of the images, then the Fréchet distance against
the test set's cached statistics), kid_mnist (100 subsets of 1,000) and the Stacked MNIST modes
(three channels classified); the median of ``--rounds`` timings each. The floor is fd_mnist and
KID of real training images against the 10,000 test images: no generator can be expected to score
below it with the same number of samples.

Needs MNIST and the feature network (`thermogan data fetch mnist`, `thermogan data classifier`).
Usage: python benchmarks/image_metrics.py [--mnist DIR] [--classifier FILE] [--rounds 3]
       [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from thermogan.data.download import data_dir
from thermogan.data.images import load_mnist, stacked_mnist
from thermogan.experiment.mnist_scorer import MnistScorer
from thermogan.metrics.classifier import load_classifier
from thermogan.metrics.features import features_and_digits
from thermogan.metrics.kid import kid
from thermogan.metrics.stacked import mode_stats, modes_from_digits


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, help="MNIST folder (default: the data folder's)")
    parser.add_argument("--classifier", type=Path, help="feature network weights")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()

    mnist = args.mnist or data_dir() / "mnist"
    model, digest = load_classifier(args.classifier or data_dir() / "classifier" / "mnist_cnn.pt")
    train, train_labels = load_mnist(mnist, "train")
    test, _ = load_mnist(mnist, "test")
    scorer = MnistScorer(model, digest, test)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:10000]
    sample = train[pick]  # (10000, 1, 28, 28): stands in for 10,000 generated images
    colour, _ = stacked_mnist(train, train_labels, 10000, seed=0)  # (10000, 3, 28, 28)
    feats, _ = features_and_digits(model, sample)

    seconds = {
        "features (10,000 images)": timed(lambda: features_and_digits(model, sample), args.rounds),
        "fd_mnist (features + distance)": timed(lambda: scorer.fd(
            features_and_digits(model, sample)[0]), args.rounds),
        "kid_mnist (features + 100 subsets of 1,000)": timed(lambda: kid(
            scorer.real_features, features_and_digits(model, sample)[0]), args.rounds),
        "Stacked MNIST modes (10,000 colour images)": timed(lambda: mode_stats(modes_from_digits(
            features_and_digits(model, colour)[1])), args.rounds),
    }
    floor = {"fd_mnist, 10,000 train vs 10,000 test": scorer.fd(feats),
             "fd_mnist, 60,000 train vs 10,000 test": scorer.fd(features_and_digits(model,
                                                                                    train)[0]),
             "kid_mnist, 10,000 train vs 10,000 test": kid(scorer.real_features, feats)[0]}

    threads = torch.get_num_threads()
    lines = [f"feature network sha256 {digest}", "",
             f"| metric, 10,000 samples, CPU ({threads} threads) | seconds |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in seconds.items()]
    lines += ["", "| floor (real against real) | value |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in floor.items()]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "image_metrics.json"
    path.write_text(json.dumps({"sha256": digest, "threads": threads, "seconds": seconds,
                                "floor": floor}, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
