"""The documentation site builds strictly: a broken link, a missing API object or a page that the
generated references (docs/hooks/reference.py) cannot make fails it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_strictly_with_the_generated_references(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                           str(site)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    cli = (site / "cli.html").read_text()
    assert "thermogan train" in cli and "--threads" in cli  # the parser's options, as they are
    config = (site / "config.html").read_text()
    assert "model.z_dim" in config and "instance_noise" in config  # the schema and registries
    assert "schedule_from_dict" in (site / "api.html").read_text()
    # usable offline: nothing is fetched from another site
    index = (site / "index.html").read_text()
    assert "fonts.googleapis" not in index and "cdn." not in index
