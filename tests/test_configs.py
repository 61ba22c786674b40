"""Every shipped config loads, builds and trains for a few steps."""

from pathlib import Path

import pytest

from thermogan import config, runs

CONFIGS = sorted(Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml"))


def test_every_experiment_has_its_vanilla_twin():
    names = {p.stem for p in CONFIGS}
    for name in names:
        if name.endswith("_betagan"):
            assert name.replace("_betagan", "_vanilla") in names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_trains(path, tmp_path):
    cfg = config.load(path, ["train.steps=40", "train.batch_size=16", "train.progress=false",
                             "train.tensorboard=false", "eval.samples=200", "device=cpu"])
    assert cfg.name == path.stem
    _, summary = runs.start(cfg, tmp_path / "run")
    assert summary["protocol"]["step"] == 40
    assert (tmp_path / "run" / "figures" / "samples.png").is_file()
    if cfg.tempering is not None and cfg.tempering.kind == "heat":
        assert (tmp_path / "run" / "figures" / "levels.png").is_file()


@pytest.mark.parametrize("data", ["ring8", "grid25", "mog3d", "mog3d5", "cubes", "mog1d"])
def test_twins_share_networks_budget_and_seed(data):
    root = CONFIGS[0].parent
    van = config.load(root / f"{data}_vanilla.yaml").to_dict()
    beta = config.load(root / f"{data}_betagan.yaml").to_dict()
    for key in ("model", "optim", "train", "seed", "eval", "objective"):
        if key == "model":
            van[key].pop("z_dist"), beta[key].pop("z_dist")
        assert van[key] == beta[key], key
    assert van["data"] == beta["data"]
