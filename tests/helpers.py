"""Helpers shared by tests: small files in the real MNIST formats, checks of figures, and a
page opened in headless Chromium."""

import gzip
import io
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from thermogan.data.download import MNIST_SHA256, data_dir

#: The real MNIST archives where ``thermogan data fetch mnist`` keeps them ($THERMOGAN_DATA, else
#: the user cache), read as the tests start; the tests that need them skip when any is missing.
REAL_MNIST = data_dir() / "mnist"
HAVE_REAL_MNIST = all((REAL_MNIST / name).is_file() for name in MNIST_SHA256)


def write_idx(path, array, compress=True):
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    data = header + body
    path.write_bytes(gzip.compress(data) if compress else data)


def fake_mnist(root, n=20, prefix="train", compress=True, seed=0):
    """Random digits in IDX files named as MNIST's (raw names are not checked against sums)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
    write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return images, labels


# Figures. The PNG itself is checked for its size and its ink (pixels that are clearly not
# background); panels are counted on the matplotlib Figure that wrote it, recorded by
# ``capture_figures``: every figure of thermogan is a ``matplotlib.figure.Figure`` saved with
# ``Figure.savefig`` (directly or through ``report.figures.save_figure``), so patching that one
# method sees them all, whichever module drew them. A panel is a visible Axes holding something
# drawn: an image, points, a line or bars; an Axes switched off and left empty (a missing cell of
# ``snapshot_rows``) is not one.


def capture_figures(monkeypatch):
    """From now to the end of the test, record each Figure saved, by the resolved path it was
    saved to; returns that dict (a figure saved twice to one path keeps the last)."""
    from matplotlib.figure import Figure

    saved = {}
    real = Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        if isinstance(fname, (str, Path)):
            saved[Path(fname).resolve()] = self
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def read_png(path):
    """The pixels of a PNG file as (H, W, 3) floats in [0, 1], any transparency laid on white."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG", f"{path} is a {image.format}, not a PNG"
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255
    alpha = rgba[..., 3:]
    return rgba[..., :3] * alpha + (1 - alpha)


def ink_fraction(pixels):
    """The fraction of pixels that are ink: clearly darker than light grey (darkest channel below
    0.8) or clearly coloured (channels more than 0.1 apart). White, the light grey (0.85) border
    between image tiles and faint antialiasing are background."""
    return float(((pixels.min(-1) < 0.8) | (np.ptp(pixels, axis=-1) > 0.1)).mean())


def _drawn(ax):
    from matplotlib.collections import PathCollection

    return (any(np.size(image.get_array()) for image in ax.images)
            or any(len(c.get_offsets()) if isinstance(c, PathCollection) else len(c.get_paths())
                   for c in ax.collections)
            or any(len(line.get_xdata()) for line in ax.lines)
            or len(ax.patches) > 0)


def panels_of(fig):
    """The panels of a Figure: its visible Axes that hold something drawn, in order."""
    return [ax for ax in fig.axes if ax.get_visible() and _drawn(ax)]


def assert_figure(path, min_size=(200, 150), panels=None, min_ink=0.01, saved=None):
    """Assert that ``path`` is a PNG at least ``min_size`` (width, height) pixels with at least
    ``min_ink`` of its pixels ink and, when ``panels`` is given, that the Figure recorded for it
    in ``saved`` (from ``capture_figures``) has that many panels. Returns the pixels."""
    path = Path(path)
    assert path.is_file(), f"{path} was not written"
    pixels = read_png(path)
    height, width = pixels.shape[:2]
    assert width >= min_size[0] and height >= min_size[1], (
        f"{path.name} is {width}×{height} pixels, less than {min_size[0]}×{min_size[1]}")
    ink = ink_fraction(pixels)
    assert ink >= min_ink, (
        f"{path.name} is blank: {ink:.2%} of its pixels are ink, fewer than {min_ink:.2%}")
    if panels is not None:
        assert saved is not None, "counting panels needs the figures from capture_figures"
        assert path.resolve() in saved, f"no Figure was recorded as saved to {path}"
        found = len(panels_of(saved[path.resolve()]))
        assert found == panels, f"{path.name} has {found} panels, not {panels}"
    return pixels


# What a figure explains: its texts and legends, and whether they sit apart. Window extents are
# measured after ``Figure.draw_without_rendering`` (layout done, nothing painted).


def captions(fig):
    """The texts written on a Figure with ``fig.text`` (its caption), not its suptitle."""
    sup = (fig._suptitle, fig._supxlabel, fig._supylabel)
    return [text for text in fig.texts if not any(text is s for s in sup)]


def caption_of(fig):
    """The strings of ``captions(fig)``, each with its line breaks as spaces."""
    return [" ".join(text.get_text().split()) for text in captions(fig)]


def legend_labels(owner):
    """The labels of a Figure's own legends, or of an Axes' legend, in order."""
    legends = owner.legends if hasattr(owner, "legends") else [owner.get_legend()]
    return [text.get_text() for legend in legends if legend for text in legend.get_texts()]


def _box(artist, fig):
    from matplotlib.axes import Axes

    renderer = fig._get_renderer()
    return artist.get_tightbbox(renderer) if isinstance(artist, Axes) else (
        artist.get_window_extent(renderer))


def assert_laid_out(fig, artists):
    """Assert that each of ``artists`` (Axes with their labels and titles, texts, legends) lies
    inside the figure and that no two of them overlap (a pixel of slack)."""
    fig.draw_without_rendering()
    boxes = [_box(artist, fig) for artist in artists]
    page = fig.bbox.padded(1)
    for artist, box in zip(artists, boxes):
        inside = page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 <= box.y1 <= page.y1
        assert inside, f"{artist} is cut off: {box} is not inside the figure {fig.bbox}"
    for i, (a, box_a) in enumerate(zip(artists, boxes)):
        for b, box_b in zip(artists[i + 1:], boxes[i + 1:]):
            assert not box_a.padded(-1).overlaps(box_b.padded(-1)), (
                f"{a} ({box_a}) overlaps {b} ({box_b})")


def assert_legends_outside(fig):
    """Assert that every panel of ``fig`` has a legend and that it lies outside its data area."""
    fig.draw_without_rendering()
    for ax in panels_of(fig):
        legend = ax.get_legend()
        assert legend is not None, f"the panel {ax.get_title()!r} has no legend"
        box = legend.get_window_extent(fig._get_renderer())
        assert not box.padded(-1).overlaps(ax.get_window_extent()), (
            f"the legend of {ax.get_title()!r} covers its data area")


def straight_and_resumed(make, steps, split):
    """Two trainers from ``make()``: one trained ``steps`` steps straight through, and one whose
    first ``split`` steps ran in another trainer whose ``state_dict`` it loaded."""
    straight = make()
    for _ in range(steps):
        straight.train_step()
    first = make()
    for _ in range(split):
        first.train_step()
    resumed = make()
    resumed.load_state_dict(first.state_dict())
    for _ in range(steps - split):
        resumed.train_step()
    return straight, resumed


def replica_primitives(rank, store, results):
    """Replica ``rank`` of 2 (tests/test_distributed.py): each primitive of
    ``train/distributed.DataParallel`` on a gloo group; what it saw goes into ``results``. Here,
    not in the test file, so that the spawned processes import little."""
    import torch
    import torch.distributed as dist

    from thermogan.train import distributed

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        replicas = distributed.DataParallel(rank, 2)
        x = torch.arange(8.0).reshape(4, 2)
        taken = replicas.take(x)
        net = torch.nn.Linear(2, 1)
        with torch.no_grad():
            net.weight.fill_(rank + 1.0)
            net.bias.fill_(0.0)
        replicas.agree([net])
        opt = torch.optim.SGD(net.parameters(), lr=1.0)
        net.weight.grad = torch.full_like(net.weight, 2.0 * rank)
        replicas.average_gradients(opt)
        mean = replicas.mean({"loss": float(rank), "other": 10.0})
        gathered = replicas.gather({"rank": rank})
        replicas.check_agreement([net])
        with torch.no_grad():
            net.bias.fill_(float(rank))
        try:
            replicas.check_agreement([net])
            caught = None
        except RuntimeError as err:
            caught = str(err)
        results[rank] = (taken.tolist(), net.weight.tolist(), net.weight.grad.tolist(), mean,
                         gathered, caught)
    finally:
        dist.destroy_process_group()



# Headless Chromium, driven by selenium: the HTML report's and the docs site's browser tests.
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser: needs chromium and chromedriver on PATH (Debian: apt-get "
    "install chromium chromium-driver; .ci/run installs them)")


def in_chromium(url: str, profile: Path, script: str = "return null",
                size: tuple[int, int] = (1200, 1600)):
    """Open ``url`` in headless Chromium, in a browser profile at ``profile``; returns the
    console's SEVERE messages, ``script``'s result on the loaded page, and a screenshot (a PIL
    image)."""
    from PIL import Image

    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(60)
        driver.get(url)
        result = driver.execute_script(script)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png()))
        shot.load()
    finally:
        driver.quit()
    return errors, result, shot
