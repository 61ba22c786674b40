"""Commands never lose or corrupt a run: outputs that would replace a run's files or a stranger's
file are refused (experiment/outputs.py), a run folder has one writer (experiment/lock.py), a
seed sweep that cannot fit is refused before it is built (experiment/footprint.py)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermogan.cli import main
from thermogan.experiment import config, footprint
from thermogan.experiment.build import build_trainer
from thermogan.experiment.lock import hold

QUIET = ["train.steps=20", "train.log_every=10"]


@pytest.fixture
def run(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    assert main(["train", str(tiny_config), "--out", str(run_dir), *QUIET]) == 0
    return run_dir


def _files(folder):
    return {p: p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


@pytest.mark.parametrize("target", ["summary.json", "config.yaml", "metrics.jsonl",
                                    "checkpoints/latest.pt", "figures/samples.png"])
@pytest.mark.parametrize("option", ["--html", "--out"])
def test_report_never_replaces_a_runs_own_files(run, target, option, capsys):
    before = _files(run)
    args = ["report", str(run), option, str(run / target)]
    assert main([*args, "--force"]) == 2  # not even when forced
    assert f"belongs to the run in {run}" in capsys.readouterr().err
    assert _files(run) == before
    assert main(["report", str(run)]) == 0  # the run still reads


def test_outputs_replace_only_files_thermogan_wrote_unless_forced(run, tmp_path, capsys):
    page, figure, samples = tmp_path / "r.html", tmp_path / "r.png", tmp_path / "s.npy"
    assert main(["report", str(run), "--out", str(figure), "--html", str(page)]) == 0
    assert main(["report", str(run), "--out", str(figure), "--html", str(page)]) == 0  # ours
    for path in (page, figure, samples):
        path.write_bytes(b"a file of the user's")
    for args in (["report", str(run), "--html", str(page)],
                 ["report", str(run), "--out", str(figure)],
                 ["sample", str(run), "--out", str(samples)]):
        assert main(args) == 2
        assert "thermogan did not write it" in capsys.readouterr().err
        assert main([*args, "--force"]) == 0
    assert np.load(samples).shape == (2500, 2)
    assert b'<meta name="generator" content="thermogan">' in page.read_bytes()


@pytest.mark.parametrize("args, words", [
    (["report", "RUN", "--out", "r.txt"], "--out r.txt: a figure is written as .png"),
    (["report", "RUN", "--out", "RUN"], "a folder; name a file"),
    (["report", "RUN", "--out", "x.png", "--html", "x.png"], "the same file as the figure"),
    (["sample", "RUN", "--out", "RUN/summary.json/x.npy"], "summary.json is a file"),
])
def test_bad_output_paths_are_one_line(run, tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    args = [a.replace("RUN", str(run)) for a in args]
    assert main(args) == 2
    assert words.replace("RUN", str(run)) in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "r.txt").exists()


def test_a_resume_names_no_other_folder(run, tmp_path, capsys):
    assert main(["train", "--resume", str(run), "--out", str(tmp_path / "other")]) == 2
    assert "leave out --out" in capsys.readouterr().err


def _holder(folder, tmp_path):
    """A process holding ``folder``'s lock until its stdin closes."""
    code = ("import sys; from thermogan.experiment.lock import hold\n"
            f"with hold({str(folder)!r}):\n    print('held', flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "held\n"
    return child


def test_a_folder_held_by_another_process_is_refused_with_its_holder(tiny_config, tmp_path,
                                                                      capsys):
    folder = tmp_path / "held"
    child = _holder(folder, tmp_path)
    try:
        assert main(["train", str(tiny_config), "--out", str(folder), *QUIET]) == 1
        err = capsys.readouterr().err
        assert f"{folder} is being trained by process {child.pid} on " in err
        assert sorted(p.name for p in folder.iterdir()) == [".lock"]  # nothing else written
        assert main(["train", str(tiny_config), "--seeds", "0-1", "--out", str(folder),
                     *QUIET]) == 1
    finally:
        child.stdin.close()
        child.wait()
    # the lock ends with its holder, however it ends: the folder trains now
    assert main(["train", str(tiny_config), "--out", str(folder), *QUIET]) == 0
    with hold(folder):  # and is free again once the run is over
        pass


def test_two_trainings_into_one_folder_leave_one_consistent_run(tiny_config, tmp_path):
    """Two real processes race for one --out with different seeds: one trains, the other is
    refused, and the run's config, checkpoint and log all belong to the one that trained."""
    out = tmp_path / "race"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "thermogan", "train", str(tiny_config),
                               "--out", str(out), f"seed={seed}", "train.steps=200",
                               "train.log_every=10"], env=env, stderr=subprocess.PIPE, text=True)
             for seed in (0, 1)]
    codes = [p.wait(timeout=120) for p in procs]
    errors = [p.stderr.read() for p in procs]
    assert sorted(codes) == [0, 1], errors
    loser = errors[codes.index(1)]
    assert "is being trained by process" in loser or "already holds a run" in loser
    winner = codes.index(0)
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == winner
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(10, 201, 10))  # no interleaved or repeated rows
    from thermogan.train.checkpoint import load_checkpoint

    assert load_checkpoint(out / "checkpoints" / "latest.pt")["config"]["seed"] == winner


def test_seeds_parse_in_linear_time():
    from thermogan.experiment.seeds import parse_seeds

    started = time.perf_counter()
    assert len(parse_seeds("0-100000,5")) == 100001
    assert time.perf_counter() - started < 2  # was quadratic: minutes


def test_a_sweep_that_cannot_fit_is_refused_before_anything_is_written(tiny_config, tmp_path,
                                                                       monkeypatch, capsys):
    out = tmp_path / "huge"
    assert main(["train", str(tiny_config), "--seeds", "0-100000", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "100001 seeds as one ensemble need about" in err and "train at most" in err
    assert len(err.splitlines()) == 1 and not out.exists()
    # the disk is counted too
    monkeypatch.setattr(footprint, "_free_disk", lambda folder: 10**6)
    assert main(["train", str(tiny_config), "--seeds", "0-9", "--out", str(out)]) == 2
    assert "the run folders of 10 seeds need about" in capsys.readouterr().err
    assert not out.exists()


def test_a_members_footprint_counts_its_state_and_activations(tiny_config):
    cfg = config.load(tiny_config, [])
    trainer = build_trainer(cfg)
    params = {name: sum(p.numel() for p in net.parameters()) * 4
              for name, net in (("G", trainer.G), ("D", trainer.D))}
    rng_before = trainer.rngs["latents"].get_state()
    memory, checkpoint = footprint.member_bytes(trainer, cfg.train.batch_size)
    assert checkpoint == 4 * params["G"] + 3 * params["D"]
    # the tiny MLPs' layers: G 32+32+32+32+2 outputs, D 32+32+32+32+1 per sample (Linear and
    # activation outputs); 2 copies of G's pass and of D's two passes
    widths = {"G": 0, "D": 0}
    for name, net in (("G", trainer.G), ("D", trainer.D)):
        widths[name] = sum(m.out_features for m in net.modules() if hasattr(m, "out_features"))
    assert memory >= 5 * params["G"] + 4 * params["D"] + 2 * 4 * cfg.train.batch_size * (
        widths["G"] + 2 * widths["D"])
    assert trainer.rngs["latents"].get_state().equal(rng_before)  # the probe drew nothing


def test_a_packed_ds_footprint_probes_whole_packs(tiny_config):
    """A D of packs of 4 takes batches of multiples of 4: the probe gives it two packs."""
    cfg = config.load(tiny_config, ["model.discriminator.packs=4", "train.batch_size=16"])
    plain = footprint.member_bytes(build_trainer(config.load(tiny_config, [])), 16)
    packed = footprint.member_bytes(build_trainer(cfg), 16)
    assert packed[0] > 0 and packed[1] > plain[1]  # D's first layer is 4 times as wide


def test_check_makes_a_starts_checks_and_writes_nothing(tiny_config, tmp_path, monkeypatch,
                                                        capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(tiny_config), "--check", "--out", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.startswith("ready: tiny, G ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]
    assert main(["train", str(tiny_config), "--check", "model.z_dmi=3"]) == 2
    assert "did you mean 'model.z_dim'" in capsys.readouterr().err


def test_a_bench_page_never_replaces_a_strangers_file(tmp_path, capsys):
    page = tmp_path / "page.html"
    page.write_text("the user's")
    args = ["bench", "modes", "--quick", "--out", str(tmp_path / "out"), "--html", str(page)]
    assert main(args) == 2
    assert "thermogan did not write it" in capsys.readouterr().err
    assert page.read_text() == "the user's" and not (tmp_path / "out").exists()


def test_the_command_line_starts_without_torch():
    """`thermogan --help` took 2.5 s of CPU importing PyTorch; the package imports it lazily."""
    code = "import sys, thermogan.cli; thermogan.cli.parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def test_samples_are_written_whole_or_not_at_all(run, tmp_path, monkeypatch, capsys):
    """A full disk while `sample` writes leaves no truncated .npy (atomic.py)."""
    import errno

    from thermogan import atomic

    out = tmp_path / "s.npy"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    assert main(["sample", str(run), "--out", str(out)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "tiny.yaml"]  # no s.npy


def test_paths_that_are_not_folders_are_one_line(run, tiny_config, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert main(["eval", str(a_file)]) == 1
    assert "is a file, not a run's folder" in capsys.readouterr().err
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    assert main(["train", str(tiny_config), "--out", str(loop)]) == 2
    assert "a symbolic link that leads nowhere" in capsys.readouterr().err
    assert main(["train", str(tiny_config), "--out", str(a_file / "x")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
