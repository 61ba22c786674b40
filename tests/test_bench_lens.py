"""`thermogan bench lens`: the plan of runs, the comparison's arithmetic, and a small run end to
end on small MNIST files."""

import dataclasses
import json

import pytest
import yaml
from helpers import assert_figure, capture_figures

from thermogan.bench import engine, lens
from thermogan.bench.engine import check_plan
from thermogan.bench.lens import BENCH, Protocol, _horizon
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.errors import ConfigError, ThermoganError
from thermogan.experiment.config import Component, load


def plan(configs, out, p):
    return lens.plan(dataclasses.replace(p, configs=configs), out)


def arm_of(job):
    return dict(job.labels)["arm"]


def run_job(job):
    """One run on this process (``engine.train`` with a one-worker pool would spawn one)."""
    (record,) = engine._run_unit((lens.result, None, (job,)))
    return record

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


def test_plan_runs_each_seed_in_every_arm(tmp_path):
    configs = write_configs(tmp_path / "configs")
    p = Protocol(data=("mnist",), seeds=2, steps=8, horizon=4, every=2)
    jobs = plan(configs, tmp_path / "out", p)
    assert [(arm_of(j), j.seed) for j in jobs] == [
        (arm, seed) for arm in ("lens", "adaptive", "none") for seed in (0, 1)]
    tags = {"lens": "lens", "adaptive": "adaptive", "none": "nolens"}  # old runs keep their names
    for job in jobs:
        cfg = load(job.config, list(job.overrides))
        assert cfg.seed == job.seed and cfg.train.steps == 8 and cfg.eval.track_every == 2
        assert (cfg.tempering is not None) == (arm_of(job) != "none")
        if arm_of(job) != "none":
            assert _horizon(cfg.temperings()) == 4
        assert job.run_dir.name == f"mnist_gan_{tags[arm_of(job)]}_seed{job.seed}"


@pytest.mark.parametrize("horizon, expected", [(4, 4), (None, 6)])  # the protocol's, the config's
def test_the_adaptive_arm_sets_lambda_by_the_controller_under_the_sine_decay(
        tmp_path, horizon, expected):
    configs = write_configs(tmp_path / "configs")
    p = Protocol(data=("mnist",), seeds=1, arms=("adaptive",), horizon=horizon,
                 settings=("tempering.recon=mean",))
    (job,) = plan(configs, tmp_path / "out", p)
    options = load(job.config, list(job.overrides)).tempering.options()
    batch = load(job.config, list(job.overrides)).train.batch_size
    assert options["weight"] == {"kind": "adaptive", "start": 1, "images": expected * batch,
                                 "ceiling": {"kind": "hold", "horizon": expected}}
    assert options["recon"] == "mean"


def test_settings_reach_every_run_and_tempering_ones_only_the_lensed_arms(tmp_path):
    configs = write_configs(tmp_path / "configs")
    p = Protocol(data=("mnist",), seeds=1, settings=("tempering.recon=mean", "optim.g.lr=3.0e-4"))
    for job in plan(configs, tmp_path / "out", p):
        cfg = load(job.config, list(job.overrides))
        assert cfg.optim.g.options()["lr"] == 3e-4
        recon = None if cfg.tempering is None else cfg.tempering.options()["recon"]
        assert (recon == "mean") == (arm_of(job) != "none")
    with pytest.raises(ConfigError, match="tempering.recn"):
        check_plan(plan(configs, tmp_path / "out", Protocol(settings=("tempering.recn=mean",))))


@pytest.mark.parametrize("change, message", [
    ({"variants": ("gan", "wgan")}, "--variants gan,wgan: expected some of gan, lsgan, wgangp"),
    ({"arms": ("lens", "ada")}, "--arms lens,ada: expected some of lens, adaptive, none"),
    ({"arms": ()}, "--arms : expected some of"),
    ({"arms": ("adaptive",), "settings": ("tempering.weight=0.5",)},
     "tempering.weight has no horizon K for the adaptive arm's ceiling \\(use --horizon\\)"),
    ({"data": ("cifar",)}, "--data cifar"),
    ({"variants": ("lsgan",)}, "tan_mnist_lsgan_cpu.yaml does not exist"),
    ({"scale": "huge"}, "--scale huge"),
])
def test_plan_refuses_bad_protocols(tmp_path, change, message):
    configs = write_configs(tmp_path / "configs")
    with pytest.raises(ThermoganError, match=message):
        plan(configs, tmp_path / "out", Protocol(**change))


def result(data, arm, seed, fd, modes=None):
    return {"data": data, "variant": "gan", "arm": arm, "seed": seed, "fd_mnist": fd,
            "stacked_modes": modes, "stacked_kl": None if modes is None else 1.0,
            "wall_s": 10.0, "steps": [], "curve": []}


def table(results):
    """The rows and the markdown of records in the bench's order."""
    results = sorted(results, key=BENCH.order)
    columns = engine.table_columns(BENCH, results)
    rows = engine.aggregate(BENCH, columns, results)
    return rows, engine.markdown(BENCH, columns, rows, results, "header")


def test_comparison_is_the_ratio_of_means_and_the_paired_wins_of_each_arm():
    results = [result("mnist", "adaptive", 0, 10.0), result("mnist", "adaptive", 1, 10.0),
               result("mnist", "lens", 0, 10.0), result("mnist", "lens", 1, 30.0),
               result("mnist", "none", 0, 20.0), result("mnist", "none", 1, 20.0)]
    (none, lensed, adaptive), text = table(results)
    assert (lensed["arm"], adaptive["arm"]) == ("lens", "adaptive") and none["ratio"] == 1.0
    assert lensed["ratio"] == pytest.approx(20.0 / 20.0)
    assert lensed["better"] == 1 and lensed["paired"] == 2
    assert adaptive["ratio"] == pytest.approx(0.5) and adaptive["better"] == 2
    rows = [line for line in text.splitlines() if line.startswith("| MNIST | GAN | ")]
    assert rows[:3] == ["| MNIST | GAN | none | 2 | 20.0 ± 0.0 | – | – | 1.000 | – | 10 ± 0 |",
                        "| MNIST | GAN | lens | 2 | 20.0 ± 10.0 | – | – | 1.000 | 1 / 2 | 10 ± 0 |",
                        "| MNIST | GAN | lens, adaptive λ | 2 | 10.0 ± 0.0 | – | – | 0.500 | "
                        "2 / 2 | 10 ± 0 |"]
    assert "ratio to none | seeds better than none |" in text
    # the statistics: the lensed arms against none, Wilcoxon paired by seed (n = 2: p >= 0.5)
    assert "| MNIST | GAN | lens, adaptive λ | final fd_mnist | [10.0, 10.0] | 0.5 | 1 |" in text
    (_, sweep), _ = table([result("mnist", arm, s, fd) for arm, fd in (("none", 2.0),
                                                                       ("lens", 1.0))
                           for s in range(3)])
    assert sweep["better"] == 3 and sweep["fd_mnist_p"] == pytest.approx(0.25)  # 2 of 2^3


def test_bench_writes_table_curves_and_the_evolution_figure(tmp_path, mnist_home, monkeypatch):
    saved = capture_figures(monkeypatch)
    configs = write_configs(tmp_path / "configs")
    out = tmp_path / "out"
    p = Protocol(seeds=1, arms=("lens", "none"))  # the adaptive arm: its own short test
    p = dataclasses.replace(p, configs=configs)
    text, _ = engine.run(BENCH, p, out, Executor(1))  # one worker: one scorer per data set
    assert "| MNIST | GAN | none | 1 |" in text and "| Stacked MNIST | GAN | lens | 1 |" in text
    record = json.loads((out / "results.json").read_text())
    assert len(record["runs"]) == 4 and [row["paired"] for row in record["summary"]] == [1] * 4
    for run in record["runs"]:
        assert run["steps"] == [4, 8, 12] and len(run["curve"]) == 3
        assert (run["stacked_modes"] is None) == (run["data"] == "mnist")
        assert run["protocol"]["step"] == 12
    assert_figure(out / "curves.png", min_size=(1000, 450), panels=2, saved=saved)
    for name in ("evolution_mnist_gan.png", "evolution_stacked_gan.png"):
        # rows: G(z) and L(x) with the lens, G(z) without; columns: the snapshots of steps 4, 8, 12
        assert_figure(out / name, min_size=(500, 600), panels=3 * 3, min_ink=0.1, saved=saved)
    # finished runs are reused: a second call trains nothing and gives the same table rows
    again, _ = engine.run(BENCH, p, out, Executor(1))
    assert again.splitlines()[2:] == text.splitlines()[2:]


def test_a_run_is_reused_only_with_its_config_and_an_interrupted_one_is_finished(
        tmp_path, mnist_home):
    configs = write_configs(tmp_path / "configs", steps=8)
    p = Protocol(data=("mnist",), seeds=1, arms=("lens",))
    (job,) = plan(configs, tmp_path / "out", p)
    first = run_job(job)
    assert first["horizon"] == 6  # from the config the job loaded
    (job.run_dir / "summary.json").unlink()  # as if killed after its last checkpoint
    again = run_job(job)
    assert again["protocol"]["step"] == 8 and again["curve"] == first["curve"]
    with pytest.raises(ThermoganError, match="tempering.recon differs from this bench's"):
        check_plan(plan(configs, tmp_path / "out", Protocol(
            data=("mnist",), seeds=1, arms=("lens",), settings=("tempering.recon=mean",))))


def test_a_short_adaptive_run_logs_the_controllers_heat(tmp_path, mnist_home):
    configs = write_configs(tmp_path / "configs", steps=4)
    p = Protocol(data=("mnist",), seeds=1, arms=("adaptive",), every=4)
    (job,) = plan(configs, tmp_path / "out", p)
    run = run_job(job)
    assert run["arm"] == "adaptive" and run["horizon"] == 6  # K of the ceiling
    lines = [json.loads(line) for line in (job.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert lines and all(0 <= line["heat_u"] <= 1 and line["lambda"] <= 1 for line in lines)


def test_the_horizon_is_found_in_one_tempering_or_a_list_of_them(tmp_path):
    lens = Component(kind="lens", weight={"kind": "sine_decay", "horizon": 9})
    noise = Component(kind="instance_noise")
    assert _horizon([lens]) == 9 and _horizon([noise, lens]) == 9
    assert _horizon([]) is None and _horizon([noise]) is None
    assert _horizon([Component(kind="lens", weight=0.5)]) is None
    adaptive = {"kind": "adaptive", "ceiling": {"kind": "hold", "horizon": 7}}
    assert _horizon([Component(kind="lens", weight=adaptive)]) == 7
    # a config's tempering (one component, a list or null) as its list of temperings
    path = write_configs(tmp_path) / "tan_mnist_gan_cpu.yaml"
    assert _horizon(load(path).temperings()) == 6
    assert _horizon(load(path, ["tempering=null"]).temperings()) is None
    chain = load(path, ["tempering=[{kind: instance_noise}, {kind: lens, width: 4, blocks: 2, "
                        "weight: {kind: sine_decay, horizon: 5}}]"])
    assert _horizon(chain.temperings()) == 5


def test_set_is_repeatable_on_the_command_line_each_value_whole():
    """``--set`` (a repeated option of the protocol) reaches the protocol as given, a comma
    inside a value kept (it once turned each value into a tuple of its characters)."""
    from thermogan.cli import _protocol, parser

    args = parser().parse_args(["bench", "lens", "--set", "tempering.recon=mean", "--set",
                                "optim.g.betas=[0.5, 0.99]"])
    assert _protocol(args.declared, args).settings == ("tempering.recon=mean",
                                                       "optim.g.betas=[0.5, 0.99]")


def test_cli_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["bench", "lens", "--variants", "gan,foo", "--out", str(tmp_path)]) == 2
    assert "--variants gan,foo" in capsys.readouterr().err
    assert main(["bench", "lens", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert "--steps 0: must be > 0" in capsys.readouterr().err
    assert main(["bench", "lens", "--arms", "lens,hot", "--out", str(tmp_path)]) == 2
    assert "--arms lens,hot: expected some of lens, adaptive, none" in capsys.readouterr().err
