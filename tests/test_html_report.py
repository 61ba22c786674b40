"""Reports for a browser (report/html.py), checked by parsing and in headless Chromium, and the
figures a run sends to TensorBoard (report/live.py)."""

import base64
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from helpers import in_chromium, needs_chromium
from PIL import Image

from thermogan.cli import main


class Page(HTMLParser):
    """The parts of a page the tests read: image sources, table rows (cells' text, row class),
    scripts and links that would load something."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images, self.rows, self.loads = [], [], []
        self._row: tuple[str, list[str]] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "tr":
            self._row = (attrs.get("class") or "", [])
            self.rows.append(self._row)
        elif tag in ("script", "link", "iframe") or (tag != "img" and "src" in attrs):
            self.loads.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and data.strip():
            self._row[1].append(data.strip())


@pytest.fixture
def two_runs(tiny_config: Path, tmp_path: Path) -> list[Path]:
    """Two tiny runs whose configs differ in the instance noise's end level."""
    runs = [tmp_path / "a", tmp_path / "b"]
    for run, end in zip(runs, ("0.0", "0.05")):
        assert main(["train", str(tiny_config), "--out", str(run), "train.steps=40",
                     "tempering={kind: instance_noise, std_start: 0.3}",
                     f"tempering.std_end={end}"]) == 0
    return runs


def _report(runs: list[Path], tmp_path: Path) -> Path:
    html = tmp_path / "report.html"
    assert main(["report", *map(str, runs), "--out", str(tmp_path / "compare.png"),
                 "--html", str(html)]) == 0
    return html


def _decoded(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(src[len(prefix):], validate=True)))
    image.load()
    assert image.format == "PNG" and min(image.size) > 0
    return image


def test_the_html_report_holds_metrics_configs_and_only_embedded_pngs(two_runs, tmp_path,
                                                                        capsys):
    html = _report(two_runs, tmp_path)
    assert f"report: {html}" in capsys.readouterr().out
    page = Page(html.read_text())
    assert not page.loads  # nothing but embedded images: the page needs no network
    # compare.png, the logged curves (losses, noise_std, steps/s), each run's figures
    assert len(page.images) >= 1 + 3 + 2 * 2
    for src in page.images:
        _decoded(src)
    rows = {cells[0]: (kind, cells[1:]) for kind, cells in page.rows if cells}
    assert rows["run"][1][:3] == ["modes", "high_quality", "reverse_kl"]  # the metrics table
    assert rows["tempering.std_end"] == ("differs", ["0.0", "0.05"])
    assert rows["tempering.std_start"] == ("", ["0.3", "0.3"])
    text = html.read_text()
    assert "samples = 500" in text and "seed = 0" in text  # the metrics' protocol


def test_report_html_of_a_missing_run_fails_in_one_line(tiny_config, tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere"), "--html", str(tmp_path / "r.html")]) != 0
    err = capsys.readouterr().err
    assert "nowhere" in err and "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


@pytest.mark.figures
def test_a_bench_page_shows_its_table_and_figures(two_runs, tmp_path):
    from thermogan.report.html import bench_report

    out = tmp_path / "bench"
    out.mkdir()
    (out / "results.md").write_text("A bench.\n\n| method | modes |\n|---|---|\n| plain | 8 |\n")
    shutil.copy(two_runs[0] / "figures" / "samples.png", out / "modes.png")
    page = Page(bench_report(out, tmp_path / "bench.html", "a bench").read_text())
    assert [cells for _, cells in page.rows] == [["method", "modes"], ["plain", "8"]]
    assert len(page.images) == 1 and _decoded(page.images[0])


@needs_chromium
def test_the_report_loads_in_chromium_without_errors(two_runs, tmp_path):
    errors, images, shot = in_chromium(
        _report(two_runs, tmp_path).as_uri(), tmp_path / "chromium",
        "return Array.from(document.images, i => [i.complete, i.naturalWidth])")
    assert not errors, json.dumps(errors)
    assert len(images) >= 8 and all(done and width > 0 for done, width in images)
    assert (np.asarray(shot.convert("L")) < 200).mean() > 0.02  # not a blank page


def test_tensorboard_gets_the_levels_and_sample_figures_and_training_is_unchanged(
        tiny_config, tmp_path):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    args = ["train", str(tiny_config), "train.steps=40", "train.log_every=10",
            "tempering={kind: instance_noise, std_start: 0.3}"]
    for run, on in (("on", "true"), ("off", "false")):
        assert main([*args, "--out", str(tmp_path / run), f"train.tensorboard={on}"]) == 0
    events = event_accumulator.EventAccumulator(str(tmp_path / "on"),
                                                size_guidance={"images": 0})
    events.Reload()
    assert "samples" in events.Tags()["images"] and "noise_std" in events.Tags()["scalars"]
    shown = events.Images("samples")
    assert [e.step for e in shown] == [10, 20, 30, 40]  # every log line (steps // 20 < 10)
    assert Image.open(io.BytesIO(shown[-1].encoded_image_string)).size[0] > 0

    def logged(run: str) -> list[dict]:  # losses and levels, without the timing
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "steps_per_s"}
                for line in lines]

    assert logged("on") == logged("off")  # the figures draw from their own generators


def test_an_image_run_sends_grids_to_tensorboard_and_its_report_shows_each_metrics_protocol(
        tmp_path, mnist_home):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    config = tmp_path / "mnist.yaml"
    config.write_text(json.dumps({
        "name": "tiny_mnist", "device": "cpu", "data": {"kind": "mnist"},
        "tempering": {"kind": "heat", "levels": 3},
        "model": {"generator": {"kind": "fc", "hidden": [32]},
                  "discriminator": {"kind": "fc", "hidden": [32]}, "z_dim": 16},
        "train": {"steps": 20, "batch_size": 16, "log_every": 10, "progress": False},
        "eval": {"samples": 100}}))  # JSON is YAML
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run)]) == 0
    events = event_accumulator.EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    assert {"samples/generated", "samples/seen"} <= set(events.Tags()["images"])
    assert "beta" in events.Tags()["scalars"]
    html = _report([run], tmp_path)
    for src in Page(html.read_text()).images:
        _decoded(src)
    assert "feature_network = thermogan MNIST CNN" in html.read_text()  # fd_mnist's own record


def test_curves_spanning_decades_are_read_on_a_log_axis():
    from thermogan.report.html import spans_decades

    assert spans_decades(np.array([0.0, 0.1, 10.0, 2650.0]))  # β from uniform to a cold end
    assert not spans_decades(np.array([0.1, 10.0]))  # two decades exactly: linear
    assert not spans_decades(np.array([-1.0, 0.5, 500.0]))  # a loss that crosses 0
    assert not spans_decades(np.array([0.0, 0.0]))
