"""`thermogan bench lens`: the plan of runs, the comparison's arithmetic, and a small run end to
end on small MNIST files."""

import json

import pytest
import yaml
from helpers import assert_figure, capture_figures

from thermogan.bench.lens import Protocol, _horizon, bench_lens, comparison, plan, run_job, table
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.errors import ConfigError, ThermoganError
from thermogan.experiment.config import Component, load


def write_configs(folder, steps=12):
    """Tiny tan_<data>_gan_cpu.yaml files: DCGAN of width 4, a 4-channel lens of 2 blocks."""
    folder.mkdir(parents=True, exist_ok=True)
    for data, kind in (("mnist", "mnist"), ("stacked", "stacked_mnist")):
        raw = {"name": f"tan_{data}_gan_cpu", "device": "cpu",
               "data": {"kind": kind, "pad": True} if data == "mnist" else
               {"kind": kind, "n": 200},
               "tempering": {"kind": "lens", "width": 4, "blocks": 2,
                             "weight": {"kind": "sine_decay", "horizon": 6}},
               "model": {"generator": {"kind": "dcgan", "width": 4},
                         "discriminator": {"kind": "dcgan", "width": 4}, "z_dim": 8},
               "objective": {"loss": "nonsaturating"},
               "train": {"steps": steps, "batch_size": 8},
               "eval": {"samples": 60, "track_every": 4, "track_samples": 30,
                        "snapshot_every": 4}}
        (folder / f"tan_{data}_gan_cpu.yaml").write_text(yaml.safe_dump(raw))
    return folder


def test_plan_pairs_each_seed_with_and_without_the_lens(tmp_path):
    configs = write_configs(tmp_path / "configs")
    p = Protocol(data=("mnist",), seeds=2, steps=8, horizon=4, every=2)
    jobs = plan(configs, tmp_path / "out", p)
    assert [(j.lens, j.seed) for j in jobs] == [(True, 0), (True, 1), (False, 0), (False, 1)]
    for job in jobs:
        cfg = load(job.config, list(job.overrides))
        assert cfg.seed == job.seed and cfg.train.steps == 8 and cfg.eval.track_every == 2
        assert (cfg.tempering is not None) == job.lens
        if job.lens:
            assert cfg.tempering.options()["weight"]["horizon"] == 4
        assert job.run_dir.name == f"mnist_gan_{'lens' if job.lens else 'nolens'}_seed{job.seed}"


def test_settings_reach_every_run_and_tempering_ones_only_the_lens_runs(tmp_path):
    configs = write_configs(tmp_path / "configs")
    p = Protocol(data=("mnist",), seeds=1, settings=("tempering.recon=mean", "optim.g.lr=3.0e-4"))
    for job in plan(configs, tmp_path / "out", p):
        cfg = load(job.config, list(job.overrides))
        assert cfg.optim.g.options()["lr"] == 3e-4
        recon = None if cfg.tempering is None else cfg.tempering.options()["recon"]
        assert (recon == "mean") == job.lens
    with pytest.raises(ConfigError, match="tempering.recn"):
        plan(configs, tmp_path / "out", Protocol(settings=("tempering.recn=mean",)))


@pytest.mark.parametrize("change, message", [
    ({"variants": ("gan", "wgan")}, "--variants gan,wgan: expected some of gan, lsgan, wgangp"),
    ({"data": ("cifar",)}, "--data cifar"),
    ({"variants": ("lsgan",)}, "tan_mnist_lsgan_cpu.yaml does not exist"),
    ({"scale": "huge"}, "--scale huge"),
])
def test_plan_refuses_bad_protocols(tmp_path, change, message):
    configs = write_configs(tmp_path / "configs")
    with pytest.raises(ThermoganError, match=message):
        plan(configs, tmp_path / "out", Protocol(**change))


def result(data, lens, seed, fd, modes=None):
    return {"data": data, "variant": "gan", "lens": lens, "seed": seed, "fd_mnist": fd,
            "stacked_modes": modes, "stacked_kl": None if modes is None else 1.0,
            "wall_s": 10.0, "steps": [], "curve": []}


def test_comparison_is_the_ratio_of_means_and_the_paired_wins():
    results = [result("mnist", True, 0, 10.0), result("mnist", True, 1, 30.0),
               result("mnist", False, 0, 20.0), result("mnist", False, 1, 20.0)]
    (c,) = comparison(results)
    assert c["ratio"] == pytest.approx(20.0 / 20.0)
    assert c["lens_better"] == 1 and c["seeds"] == 2
    assert c["p_sign"] == pytest.approx(0.75)  # P(at least 1 win of 2 | fair coin)
    text = table(results, "header")
    assert "| MNIST | GAN | yes | 2 | 20.0 ± 10.0 | – | – | 10 ± 0 |" in text
    assert "| MNIST | GAN | 1.000 | 1 / 2 | 0.750 |" in text
    (sweep,) = comparison([result("mnist", lens, s, 2.0 - lens) for lens in (False, True)
                           for s in range(3)])
    assert sweep["lens_better"] == 3 and sweep["p_sign"] == pytest.approx(1 / 8)


def test_bench_writes_table_curves_and_the_evolution_figure(tmp_path, mnist_home, monkeypatch):
    saved = capture_figures(monkeypatch)
    configs = write_configs(tmp_path / "configs")
    out = tmp_path / "out"
    text = bench_lens(out, Protocol(seeds=1), configs, Executor(2))
    assert "| MNIST | GAN | no | 1 |" in text and "| Stacked MNIST | GAN | yes | 1 |" in text
    record = json.loads((out / "results.json").read_text())
    assert len(record["runs"]) == 4 and len(record["comparison"]) == 2
    for run in record["runs"]:
        assert run["steps"] == [4, 8, 12] and len(run["curve"]) == 3
        assert (run["stacked_modes"] is None) == (run["data"] == "mnist")
        assert run["protocol"]["step"] == 12
    assert_figure(out / "curves.png", min_size=(1000, 450), panels=2, saved=saved)
    for name in ("evolution_mnist_gan.png", "evolution_stacked_gan.png"):
        # rows: G(z) and L(x) with the lens, G(z) without; columns: the snapshots of steps 4, 8, 12
        assert_figure(out / name, min_size=(500, 600), panels=3 * 3, min_ink=0.1, saved=saved)
    # finished runs are reused: a second call trains nothing and gives the same table rows
    again = bench_lens(out, Protocol(seeds=1), configs, Executor(1))
    assert again.splitlines()[2:] == text.splitlines()[2:]


def test_a_run_is_reused_only_with_its_config_and_an_interrupted_one_is_finished(
        tmp_path, mnist_home):
    configs = write_configs(tmp_path / "configs", steps=8)
    p = Protocol(data=("mnist",), seeds=1)
    job = plan(configs, tmp_path / "out", p)[0]
    first = run_job(job)
    assert first["horizon"] == 6  # from the config the job loaded
    (job.run_dir / "summary.json").unlink()  # as if killed after its last checkpoint
    again = run_job(job)
    assert again["protocol"]["step"] == 8 and again["curve"] == first["curve"]
    with pytest.raises(ThermoganError, match="tempering.recon differs from this bench's"):
        plan(configs, tmp_path / "out", Protocol(data=("mnist",), seeds=1,
                                                 settings=("tempering.recon=mean",)))


def test_the_horizon_is_found_in_one_tempering_or_a_list_of_them():
    lens = Component(kind="lens", weight={"kind": "sine_decay", "horizon": 9})
    noise = Component(kind="instance_noise")
    assert _horizon(lens) == 9 and _horizon([noise, lens]) == 9
    assert _horizon(None) is None and _horizon(noise) is None and _horizon([noise]) is None
    assert _horizon(Component(kind="lens", weight=0.5)) is None


def test_cli_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["bench", "lens", "--variants", "gan,foo", "--out", str(tmp_path)]) == 2
    assert "--variants gan,foo" in capsys.readouterr().err
    assert main(["bench", "lens", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert "--steps 0: must be > 0" in capsys.readouterr().err
