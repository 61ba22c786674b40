"""A pip-installed thermogan runs its own experiments from any folder: a wheel built from the
repository, installed into a fresh virtual environment, trains a shipped config by name, reports
it as a page, and runs a bench's quick mode, all from an empty folder.

The environment borrows this one's dependencies (a ``.pth`` file naming its site-packages, so
nothing is downloaded), but thermogan itself comes only from the wheel. The three commands run
one after another in one process of that environment, each as ``python -m thermogan`` runs it
(the wheel's ``thermogan/__main__.py``, through runpy), so torch is loaded once, not three
times."""

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: ``python -m thermogan ARGS`` for each ARGS of the JSON list argv[1], in this one process;
#: stops at the first that fails, with its status. Prints where thermogan was imported from.
COMMANDS = """
import json, runpy, sys
import thermogan
print(thermogan.__file__, flush=True)
for args in json.loads(sys.argv[1]):
    sys.argv = ["thermogan", *args]
    try:
        runpy.run_module("thermogan", run_name="__main__", alter_sys=True)
    except SystemExit as end:
        if end.code:
            print(f"thermogan {' '.join(args)}: status {end.code}", file=sys.stderr)
            raise
    else:
        sys.exit(f"thermogan {' '.join(args)}: __main__ did not exit with main()'s status")
"""


def _run(args, cwd, env=None):
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_runs_its_shipped_configs_and_benches_from_an_empty_folder(tmp_path):
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", wheels, ROOT], tmp_path)
    (wheel,) = wheels.glob("thermogan-*.whl")
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     tmp_path).strip())
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel],
         tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    where = _run([python, "-c", COMMANDS, json.dumps([
        # any shipped config shows the wheel holds them; the vanilla one has no tempering levels,
        # whose figure (drawn by train and again by report) is most of this process's time
        ["train", "ring8_vanilla", "train.steps=60", "eval.samples=200", "train.progress=false",
         "--out", "run"],
        ["report", "run", "--html", "run.html"],
        ["bench", "modes", "--quick", "--seeds", "1", "--steps", "30", "--datasets", "ring8",
         "--methods", "vanilla (saturating)", "--workers", "1", "--out", "bench"]])], empty, env)
    assert where.startswith(str(site))  # the wheel's, not the repository's
    assert (empty / "run" / "summary.json").is_file()
    assert b'content="thermogan"' in (empty / "run.html").read_bytes()
    assert (empty / "bench" / "results.json").is_file()
