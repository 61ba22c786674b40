"""Fetch data sets from public mirrors, resuming partial downloads and verifying SHA-256 sums.

This is the only code of the project that touches the network, and only when asked to
(`thermogan data fetch mnist`). A file is moved into place only after its sum matches; a file
that does not match is refused and removed. Where files live: ``--dir``, else the environment
variable ``THERMOGAN_DATA``, else a user cache folder (``$XDG_CACHE_HOME/thermogan`` or
``~/.cache/thermogan``).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from thermogan.errors import ThermoganError

#: The canonical MNIST archives (LeCun, Cortes & Burges) and their SHA-256 sums.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Public mirrors of the MNIST archives, tried in order.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

CHUNK = 1 << 16


class DownloadError(ThermoganError):
    """A file that could not be fetched from any mirror, or whose sum did not match."""


class IncompleteDownload(OSError):
    """The server closed the connection before the promised length: the part is kept."""


def data_dir(directory: str | Path | None = None) -> Path:
    """``directory``, else $THERMOGAN_DATA, else the user cache folder."""
    if directory is not None:
        return Path(directory)
    if os.environ.get("THERMOGAN_DATA"):
        return Path(os.environ["THERMOGAN_DATA"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "thermogan"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, part: Path, timeout: float) -> None:
    """Append the rest of ``url`` to ``part``, asking for a byte range when part of it is there."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416:  # range not satisfiable: the part is already whole
            return
        raise
    with response:
        if have and response.status != 206:  # the server ignored the range: start again
            have = 0
        total = response.headers.get("Content-Length")
        total = int(total) + have if total is not None else None
        with open(part, "ab" if have else "wb") as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=part.stem,
                leave=False) as bar:
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                bar.update(len(block))
    if total is not None and part.stat().st_size < total:
        raise IncompleteDownload(f"connection closed at {part.stat().st_size} of {total} bytes")


def fetch(name: str, expected: str, dest: Path, mirrors: Sequence[str],
          timeout: float = 60.0, attempts: int = 3) -> Path:
    """``dest/name``, downloaded (or resumed) from the first mirror that gives the right bytes.

    A download cut short is resumed with a byte-range request, up to ``attempts`` times per
    mirror and across mirrors; the partial file stays as ``name.part`` between calls.
    """
    dest.mkdir(parents=True, exist_ok=True)
    target, part = dest / name, dest / f"{name}.part"
    if target.exists():
        if sha256(target) == expected:
            return target
        target.unlink()  # a stale or corrupt copy: fetch it again
    reasons = []
    for mirror in mirrors:
        url, whole = mirror + name, False
        for _ in range(attempts):
            try:
                _download(url, part, timeout)
                whole = True
                break
            except IncompleteDownload as err:
                reasons.append(f"{url}: {err}")  # try again: the next request resumes
            except (urllib.error.URLError, OSError) as err:
                reasons.append(f"{url}: {getattr(err, 'reason', err)}")
                break  # keep the part: the next mirror resumes it
        if not whole:
            continue
        got = sha256(part)
        if got == expected:
            os.replace(part, target)
            return target
        part.unlink()
        reasons.append(f"{url}: SHA-256 {got[:12]}… does not match {expected[:12]}…")
    raise DownloadError(f"could not fetch {name} ({'; '.join(reasons) or 'no mirror given'})")


def fetch_mnist(directory: str | Path | None = None,
                mirrors: Sequence[str] = MNIST_MIRRORS, timeout: float = 60.0) -> Path:
    """The four MNIST archives in ``data_dir(directory)/mnist``, verified; returns the folder."""
    dest = data_dir(directory) / "mnist"
    for name, expected in MNIST_SHA256.items():
        fetch(name, expected, dest, mirrors, timeout)
    return dest
