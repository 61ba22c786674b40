"""torch's CPU threads chosen by the work (experiment/build.py ``apply_threads``): one for data
of points unless the user says otherwise (config ``threads``, ``--threads``, OMP_NUM_THREADS)."""

import pytest
import torch

from thermogan.cli import main
from thermogan.experiment import config
from thermogan.experiment.build import apply_threads, build_trainer


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_points_train_on_one_thread_unless_told(tiny_config, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    build_trainer(config.load(tiny_config))
    assert torch.get_num_threads() == 1
    build_trainer(config.load(tiny_config, ["threads=2"]))
    assert torch.get_num_threads() == 2


def test_images_and_omp_num_threads_keep_torchs_choice(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    apply_threads(None, is_image=True)
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    apply_threads(None, is_image=False)
    assert torch.get_num_threads() == 2


def test_threads_option_reaches_the_run_and_its_readers(tiny_config, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    run = tmp_path / "run"
    assert main(["train", str(tiny_config), "--out", str(run), "--threads", "2",
                 "train.steps=10"]) == 0
    assert config.load(run / "config.yaml").threads == 2
    torch.set_num_threads(1)
    assert main(["sample", str(run), "--out", str(tmp_path / "s.npy"), "--threads", "2"]) == 0
    assert torch.get_num_threads() == 2
    # a resume may change the thread count, as it may change the device
    assert main(["train", "--resume", str(run), "threads=1", "train.steps=20"]) == 0
    assert torch.get_num_threads() == 1
