"""The documentation site builds strictly: a broken link, a missing API object, a missing
included example or a page that the generated references (docs/hooks/reference.py) cannot make
fails it; and its home page, served locally, renders in headless Chromium without console
errors and without loading anything from another site."""

import json
import os
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from helpers import in_chromium, needs_chromium

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("docs") / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                           str(site)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return site


def test_the_site_builds_strictly_with_the_generated_references(site):
    cli = (site / "cli.html").read_text()
    assert "thermogan train" in cli and "--threads" in cli  # the parser's options, as they are
    config = (site / "config.html").read_text()
    assert "model.z_dim" in config and "instance_noise" in config  # the schema and registries
    assert "data.box" in config and "Lim &amp; Ye 2017" in config  # a component's keys, a loss's
    assert "optim.g_lr was replaced by optim.g.lr" in config  # the error a replaced key gets
    assert "schedule_from_dict" in (site / "api.html").read_text()
    # the examples are included where the pages name them (the snippets extension)
    assert "Heat.for_run(steps, data, cold_std=2)" in (site / "betagan.html").read_text()
    # usable offline: nothing is fetched from another site
    index = (site / "index.html").read_text()
    assert "fonts.googleapis" not in index and "cdn." not in index


@pytest.fixture
def served(site):
    """The site on a local HTTP server (as `make docs` serves it): its URL."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@needs_chromium
def test_the_home_page_renders_in_chromium_without_console_errors(served, tmp_path):
    errors, loaded, shot = in_chromium(
        f"{served}/index.html", tmp_path / "chromium",
        "return [document.title, performance.getEntriesByType('resource').map(e => e.name)]",
        size=(1280, 900))
    shot.save(tmp_path / "home.png")  # what the browser showed, kept with the test's files
    assert not errors, json.dumps(errors)
    title, resources = loaded
    assert title.startswith("thermogan")
    assert resources and all(url.startswith(served) for url in resources), resources
    pixels = np.asarray(shot.convert("L"), dtype=float)
    ink = (pixels < 200).mean()  # text, the header bar, the code blocks
    assert ink > 0.05 and pixels.std() > 20, (ink, pixels.std())  # not a blank or flat page
