"""The command line as a user meets it: outputs, files, one-line errors and exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from thermogan.cli import main


@pytest.mark.figures
def test_train_eval_sample_list(tiny_config, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", str(tiny_config), "--out", str(run_dir), "train.steps=200"]) == 0
    out = capsys.readouterr().out
    assert "modes" in out and "high quality" in out and "samples.png" in out
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "checkpoints/latest.pt",
                 "figures/samples.png"):
        assert (run_dir / name).is_file(), name
    assert "steps: 200" in (run_dir / "config.yaml").read_text()

    assert main(["eval", str(run_dir), "--samples", "400", "--seed", "2"]) == 0
    result = json.loads((run_dir / "eval.json").read_text())
    assert result["protocol"]["samples"] == 400 and result["protocol"]["seed"] == 2
    assert result["protocol"]["generator"] == "ema" and result["protocol"]["step"] == 200
    assert 0 <= result["metrics"]["modes"] <= 8
    assert "modes" in capsys.readouterr().out

    assert main(["sample", str(run_dir), "--n", "50", "--seed", "1",
                 "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (50, 2)

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    for word in ("datasets: ring, grid", "losses: minimax", "schedules: constant", "generators"):
        assert word in listing


def test_tensorboard_events_are_written_when_enabled(tiny_config, tmp_path):
    pytest.importorskip("tensorboard")
    assert main(["train", str(tiny_config), "--out", str(tmp_path), "train.steps=20",
                 "train.log_every=10", "train.tensorboard=true"]) == 0
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_training_again_into_a_finished_run_refuses(tiny_config, tmp_path, capsys):
    args = ["train", str(tiny_config), "--out", str(tmp_path), "train.steps=20"]
    assert main(args) == 0
    assert main(args) == 1
    assert "--resume" in capsys.readouterr().err


def test_resume_may_extend_training_but_not_change_the_model(tiny_config, tmp_path, capsys):
    assert main(["train", str(tiny_config), "--out", str(tmp_path), "train.steps=20"]) == 0
    assert main(["train", "--resume", str(tmp_path), "train.steps=40", "optim.g.lr=1.0e-5",
                 "optim.lr_decay=null"]) == 0
    assert "step 40" in capsys.readouterr().out
    from thermogan.experiment import runs

    cfg, trainer = runs.open_run(tmp_path)
    assert cfg.optim.g.options()["lr"] == 1e-5 and trainer.g_opt.param_groups[0]["lr"] == 1e-5
    assert main(["train", str(tiny_config), "--resume", str(tmp_path), "train.steps=40",
                 "model.z_dim=3"]) == 2
    assert "model.z_dim differs" in capsys.readouterr().err


#: Bad command lines: (args, exit status, words the one line of error names). CONFIG, RUN and
#: BETAGAN stand for the tiny config, an existing folder and configs/ring8_betagan.yaml.
ERRORS = [
    (["train", "CONFIG", "train.stpes=5"], 2, ["train.stpes", "train.steps"]),
    (["train", "CONFIG", "data.std=-0.1"], 2, ["data.std=-0.1"]),
    (["train", "missing.yaml"], 2, ["missing.yaml does not exist"]),
    (["eval", "nowhere"], 1, ["nowhere does not exist"]),
    (["sample", "RUN", "--n", "0", "--out", "x.npy"], 2, ["--n 0"]),
    (["sample", "RUN", "--out", "x.txt"], 2, ["--out x.txt", ".npy"]),  # wrote x.txt.npy once
    (["eval", "RUN", "--samples", "0"], 2, ["--samples 0: must be > 0"]),  # once a pydantic dump
    (["train", "BETAGAN", "tempering.levels=0"], 2,
     ["tempering.levels=0: must be >= 1"]),  # once a ZeroDivisionError
    (["train", "BETAGAN", "tempering.beta_start=100"], 2,
     ["tempering.beta_start=100", "below beta_end"]),
]


def _named(args, tiny_config, tmp_path):
    betagan = Path(__file__).resolve().parents[1] / "configs" / "ring8_betagan.yaml"
    named = {"CONFIG": str(tiny_config), "RUN": str(tmp_path), "BETAGAN": str(betagan)}
    return [named.get(a, a) for a in args]


def _assert_one_line(stderr, words):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thermogan: error:"), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("args, code, words", ERRORS)
def test_errors_are_one_line_with_a_nonzero_status(tiny_config, tmp_path, monkeypatch, capsys,
                                                   args, code, words):
    """Each case through ``main``, in this process and in ``tmp_path`` (relative paths land
    there), as the command's process runs it: the status ``main`` returns (or an argparse
    ``SystemExit``'s) is the process's, and its stderr is what it prints.
    test_a_real_process_prints_the_one_line_and_exits_with_the_status checks that wiring in a
    real ``python -m thermogan.cli``, where nothing else may reach stderr."""
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    try:
        status = main(_named(args, tiny_config, tmp_path))
    except SystemExit as exit_:
        status = exit_.code
    assert status == code
    _assert_one_line(capsys.readouterr().err, words)


def test_a_real_process_prints_the_one_line_and_exits_with_the_status(tiny_config, tmp_path):
    """One case of ERRORS (through config loading and checking, once a ZeroDivisionError) run as
    a user runs it: ``python -m thermogan.cli`` exits with ``main``'s status, and its stderr is
    the one line, with no traceback, no usage block and no warning of a library it imports."""
    args, code, words = ERRORS[7]
    proc = subprocess.run([sys.executable, "-m", "thermogan.cli",
                           *_named(args, tiny_config, tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == code, proc.stderr
    _assert_one_line(proc.stderr, words)


def test_corrupt_checkpoint_is_named(tiny_config, tmp_path, capsys):
    assert main(["train", str(tiny_config), "--out", str(tmp_path), "train.steps=20"]) == 0
    ckpt = tmp_path / "checkpoints" / "latest.pt"
    ckpt.write_bytes(b"not a checkpoint")
    assert main(["eval", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "latest.pt cannot be read" in err and len(err.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path, capsys):
    """With ``--debug``, ``main`` lets the error out instead of printing its one line: in the
    command's process (``sys.exit(main())``) Python then prints the traceback and exits with
    status 1. The same error without ``--debug`` is one line (ERRORS' ``eval nowhere``)."""
    from thermogan.errors import ThermoganError

    with pytest.raises(ThermoganError, match="nowhere does not exist"):
        main(["--debug", "eval", str(tmp_path / "nowhere")])
    assert capsys.readouterr().err == ""


def test_report_compares_runs(tiny_config, tmp_path, capsys):
    for name in ("a", "b"):
        assert main(["train", str(tiny_config), "--out", str(tmp_path / name),
                     "train.steps=20", f"name={name}"]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("a ") and rows[1].startswith("b ") and "modes" in rows[0]
    first = tmp_path / "compare_a_vs_b.png"
    assert first.is_file()
    for name in ("c", "d"):
        assert main(["train", str(tiny_config), "--out", str(tmp_path / name),
                     "train.steps=20", f"name={name}"]) == 0
    before = first.read_bytes()
    assert main(["report", str(tmp_path / "c"), str(tmp_path / "d")]) == 0
    # a second report of other runs writes its own figure, never over the first one's
    assert (tmp_path / "compare_c_vs_d.png").is_file() and first.read_bytes() == before


def test_dynamics_commands_write_figures_and_data(tmp_path, capsys):
    assert main(["dynamics", "figure1", "--out", str(tmp_path)]) == 0
    for name in ("a_autonomous", "b_beta_prime_gan", "c_beta_gan", "d_beta_gan_slow"):
        assert (tmp_path / f"figure1_{name}.png").is_file()
    assert (tmp_path / "figure1.png").is_file()
    assert main(["dynamics", "amplitude", "--T-values", "3,30", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "amplitude.json").read_text())
    assert [r["T"] for r in rows] == [3.0, 30.0]
    assert rows[0]["analytic"] == pytest.approx(0.632, abs=5e-4)
    assert rows[1]["relative_error"] < 1e-4
    assert (tmp_path / "amplitude.csv").read_text().startswith("T,numeric,analytic")
    assert main(["dynamics", "amplitude", "--T-values", "3", "--lam", "1",
                 "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "amplitude.json").read_text())[0]["analytic"] is None
    capsys.readouterr()
    assert main(["dynamics", "figure1", "--init", "1,2", "--out", str(tmp_path)]) == 2
    assert "--init '1,2': expected 3 numbers" in capsys.readouterr().err


def test_conditional_run_samples_by_class(tmp_path, mnist_home, monkeypatch, capsys):
    """A class-conditional MNIST run: a grid with one row per class, one class to .npy, and
    labels for an unconditional run refused in one line."""
    from helpers import assert_figure, capture_figures

    saved = capture_figures(monkeypatch)
    run_dir = tmp_path / "cond"
    args = ["train", "configs/mnist_vanilla_cpu.yaml", "--out", str(run_dir), "train.steps=4",
            "train.batch_size=16", "model.conditional=true", "eval.samples=64",
            "train.progress=false", "train.tensorboard=false", "device=cpu"]
    assert main(args) == 0
    grid = tmp_path / "grid.png"
    assert main(["sample", str(run_dir), "--labels", "all", "--out", str(grid)]) == 0
    assert "80 samples" in capsys.readouterr().out  # 8 per class, 10 classes
    assert_figure(grid, panels=1, saved=saved)
    (image,) = saved[grid.resolve()].axes[0].get_images()
    assert image.get_array().shape[:2] == (10 * 29 + 1, 8 * 29 + 1)  # 10 rows of 8 tiles
    assert main(["sample", str(run_dir), "--labels", "3", "--n", "5", "--seed", "2",
                 "--out", str(tmp_path / "three.npy")]) == 0
    three = np.load(tmp_path / "three.npy")
    assert three.shape == (5, 1, 28, 28)
    assert main(["sample", str(run_dir), "--labels", "10", "--out", str(tmp_path / "x.npy")]) == 2
    assert "classes run from 0 to 9" in capsys.readouterr().err

    plain = tmp_path / "plain"
    assert main([*args[:3], str(plain), *args[4:6], "train.progress=false",
                 "train.tensorboard=false", "eval.samples=64", "device=cpu"]) == 0
    assert main(["sample", str(plain), "--labels", "3", "--out", str(tmp_path / "y.npy")]) == 2
    assert "not class-conditional" in capsys.readouterr().err


def test_toy_samples_are_written_in_data_space_and_drawn_as_a_scatter(tiny_config, tmp_path,
                                                                      monkeypatch, capsys):
    """Once written in box space (to_data never called), and a .png refused for toy data."""
    from helpers import assert_figure, capture_figures

    from thermogan.experiment import runs

    run_dir = tmp_path / "boxed"
    assert main(["train", str(tiny_config), "--out", str(run_dir), "train.steps=20",
                 "data.box=[-1, 1]", "data.radius=3"]) == 0
    assert main(["sample", str(run_dir), "--n", "300", "--seed", "4",
                 "--out", str(tmp_path / "s.npy")]) == 0
    _, trainer = runs.open_run(run_dir)
    boxed = trainer.sample(300, 4).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), trainer.data.to_data(boxed),
                               rtol=1e-6)
    assert trainer.data.scale < 0.5  # box and data space differ: the test means something
    saved = capture_figures(monkeypatch)
    assert main(["sample", str(run_dir), "--n", "300", "--out", str(tmp_path / "s.png")]) == 0
    path = tmp_path / "s.png"
    assert_figure(path, panels=1, saved=saved)
    (ax,) = saved[path.resolve()].axes
    assert [len(c.get_offsets()) for c in ax.collections] == [300, 300]  # data and samples


def test_version_options_listing_and_help_defaults(capsys):
    from thermogan import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"thermogan {__version__}"
    assert main(["list", "temperings"]) == 0
    listing = capsys.readouterr().out
    assert "  heat: beta_start=0.1, beta_end=10.0, cold_std=null, levels=20" in listing
    assert "fractions=[0.1, 0.7, 0.2]" in listing and "datasets" not in listing
    assert main(["list", "--options"]) == 0
    everything = capsys.readouterr().out
    assert "  ring: modes=8, radius=1.0, std=0.01" in everything
    assert "  adam: lr=0.001, betas=[0.5, 0.999], weight_decay=0.0" in everything
    assert "  linear: start=required, end=required, steps=required" in everything
    assert "  wgan_gp: weight=10.0\n  r1: weight=required\n  r2: weight=required" in everything
    assert "  microbatch: microbatches=8" in everything  # optim.d.variance's kinds
    assert "num_classes" not in everything  # set by model.conditional, not an option
    assert main(["list", "tempering"]) == 2
    assert "did you mean 'temperings'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    helptext = capsys.readouterr().out
    assert "default: 0" in helptext and "default: cpu" in helptext


def test_resume_announces_itself_and_a_late_error_writes_nothing(tiny_config, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(tiny_config), "--out", str(run), "train.steps=20"]) == 0
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    # fd_mnist tracking on toy data: refused before the run's config.yaml is rewritten
    assert main(["train", "--resume", str(run), "train.steps=40", "eval.track_every=10"]) == 2
    assert "eval.track_every=10" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before
    assert main(["train", "--resume", str(run), "train.steps=40"]) == 0
    assert f"{run}: resumed from step 20 of 40" in capsys.readouterr().out


def test_report_labels_runs_of_one_config_by_their_directory(tiny_config, tmp_path, capsys):
    for seed in (1, 2):
        assert main(["train", str(tiny_config), "--out", str(tmp_path / f"seed{seed}"),
                     "train.steps=20", f"seed={seed}"]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "seed1"), str(tmp_path / "seed2")]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith(str(tmp_path / "seed1")) and rows[1].startswith(
        str(tmp_path / "seed2"))
