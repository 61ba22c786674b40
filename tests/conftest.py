"""Shared helpers: a tiny, fast experiment config, small MNIST files, an optimizer registered as a
user would; and runs that draw their figures only in tests marked ``figures``."""

import os
from pathlib import Path
from types import SimpleNamespace

# `make test` runs two xdist workers on two cores: one thread each, not two each fighting, for
# torch and for numpy's BLAS (both read these when they load, so before the imports below; the
# CLI's subprocesses inherit them). Oversubscribed, a thread spins waiting for its partner: an
# eigendecomposition of fd_mnist's 384-d covariance took 5x as long with two BLAS threads as with
# one on a busy 2-core machine.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

torch.set_num_threads(1)

TINY = {
    "name": "tiny",
    "seed": 3,
    "device": "cpu",
    "data": {"kind": "ring"},
    "model": {"generator": {"kind": "mlp", "hidden": [32, 32]},
              "discriminator": {"kind": "mlp", "hidden": [32, 32]}, "z_dim": 2},
    "optim": {"lr_decay": {"kind": "linear", "start": 1.0, "end": 0.5, "steps": 300}},
    "train": {"steps": 300, "batch_size": 32, "log_every": 50, "checkpoint_every": 100,
              "ema": 0.9, "progress": False, "tensorboard": False},
    "eval": {"samples": 500},
}


#: Files whose tests take longest (processes of their own, real training: 5-40 s each) run first:
#: the two workers then end on short tests, together, instead of one waiting for the other's last
#: long test (`--dist worksteal` splits the list in two and lets an idle worker take the other's
#: tail)
FIRST = ("test_distributed.py", "test_variational.py", "test_bench_oscillation.py",
         "test_bench_pool.py", "test_wheel.py", "test_resume_kill.py", "test_precision.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in FIRST)  # stable: else in file order


@pytest.fixture(autouse=True)
def _runs_draw_figures_only_when_marked(request: pytest.FixtureRequest,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The figures at the end of a run (samples.png and those of its files) are drawn only in
    tests marked ``figures``: they are the slowest part of the short runs most tests train, and
    the marked tests check them."""
    if request.node.get_closest_marker("figures") is None:
        from thermogan.experiment import runs

        monkeypatch.setattr(runs, "figure", lambda *args, **kwargs: None)
        # runs' own reference only: `thermogan report` still draws them
        monkeypatch.setattr(runs, "run_figures", SimpleNamespace(draw=lambda run_dir: []))


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


@pytest.fixture
def mnist_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder (THERMOGAN_DATA) with small MNIST files and an untrained feature network;
    Stacked MNIST runs score against 300 reference triples, not the protocol's 10,000 (seconds
    of features per scorer; test_scoring.py pins the protocol's counts)."""
    from helpers import fake_mnist

    from thermogan.experiment.scoring import SCORERS
    from thermogan.metrics.classifier import MnistClassifier, save_classifier

    home = tmp_path / "data"
    (home / "mnist").mkdir(parents=True)
    fake_mnist(home / "mnist", n=96, prefix="train", compress=False, seed=1)
    fake_mnist(home / "mnist", n=48, prefix="t10k", compress=False, seed=2)
    torch.manual_seed(0)
    save_classifier(MnistClassifier(), home / "classifier" / "mnist_cnn.pt")
    monkeypatch.setenv("THERMOGAN_DATA", str(home))
    monkeypatch.setattr(SCORERS["stacked_mnist"], "reference", 300)
    return home


def _rprop(params, lr: float = 0.01) -> torch.optim.Rprop:
    """Rprop, an optimizer a user registers: the stacked engine steps only the ones it knows."""
    return torch.optim.Rprop(params, lr=lr)


@pytest.fixture
def rprop_registered(monkeypatch: pytest.MonkeyPatch) -> str:
    """``optim.d={kind: rprop}`` available to configs for one test; returns that override."""
    from thermogan.optim import OPTIMIZERS

    monkeypatch.setitem(OPTIMIZERS, "rprop", _rprop)
    return "optim.d={kind: rprop, lr: 0.01}"
