"""The download path against a loopback HTTP server: resume, checksums, refusal of bad files."""

import hashlib
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import HAVE_REAL_MNIST, REAL_MNIST

from thermogan.data.download import MNIST_SHA256, DownloadError, data_dir, fetch, fetch_mnist


class Handler(BaseHTTPRequestHandler):
    """Serves ``files`` with byte ranges; ``cut`` bytes-limits the first answer for each file."""

    def __init__(self, *args, files, cut, log, **kwargs):
        self.files, self.cut, self.log = files, cut, log
        super().__init__(*args, **kwargs)

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        self.log.append((name, self.headers.get("Range")))
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get(
            "Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        chunk = body[start:]
        if self.cut.get(name):  # drop the connection halfway, once
            chunk = chunk[: self.cut.pop(name)]
        self.wfile.write(chunk)


@pytest.fixture
def server():
    files, cut, log = {}, {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, files=files, cut=cut, log=log))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/", files, cut, log
    httpd.shutdown()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_and_skips_a_good_copy(server, tmp_path):
    url, files, _, log = server
    files["a.bin"] = payload = bytes(range(256)) * 1000
    path = fetch("a.bin", sha(payload), tmp_path, [url])
    assert path.read_bytes() == payload
    fetch("a.bin", sha(payload), tmp_path, [url])
    assert len(log) == 1  # the second call found a verified copy


def test_a_cut_download_resumes_with_a_range_request(server, tmp_path):
    url, files, cut, log = server
    files["b.bin"] = payload = bytes(range(251)) * 4000
    cut["b.bin"] = 300_000  # the first answer stops short
    assert fetch("b.bin", sha(payload), tmp_path, [url]).read_bytes() == payload
    assert log == [("b.bin", None), ("b.bin", "bytes=300000-")]


def test_a_partial_file_from_an_earlier_call_is_resumed(server, tmp_path):
    url, files, _, log = server
    files["p.bin"] = payload = bytes(range(256)) * 100
    (tmp_path / "p.bin.part").write_bytes(payload[:1000])
    assert fetch("p.bin", sha(payload), tmp_path, [url]).read_bytes() == payload
    assert log == [("p.bin", "bytes=1000-")]
    assert not (tmp_path / "p.bin.part").exists()


def test_a_corrupt_mirror_is_refused_and_the_next_one_used(server, tmp_path):
    url, files, _, _ = server
    payload = b"the right bytes" * 100
    files["c.bin"] = b"the wrong bytes" * 100
    with pytest.raises(DownloadError, match="SHA-256 .* does not match"):
        fetch("c.bin", sha(payload), tmp_path, [url])
    assert not (tmp_path / "c.bin").exists() and not (tmp_path / "c.bin.part").exists()
    good = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, files={"c.bin": payload},
                                                         cut={}, log=[]))
    threading.Thread(target=good.serve_forever, daemon=True).start()
    try:
        path = fetch("c.bin", sha(payload), tmp_path, [url, f"http://127.0.0.1:{good.server_port}/"])
        assert path.read_bytes() == payload
    finally:
        good.shutdown()


def test_unreachable_mirrors_give_one_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="could not fetch x.bin"):
        fetch("x.bin", "0" * 64, tmp_path, ["http://127.0.0.1:9/"], timeout=2)


def test_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("THERMOGAN_DATA", str(tmp_path / "env"))
    assert data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv("THERMOGAN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "cache" / "thermogan"


@pytest.mark.skipif(not HAVE_REAL_MNIST, reason="the real MNIST archives are not here")
def test_real_mnist_archives_through_the_real_code(server, tmp_path):
    url, files, cut, _ = server
    for name in MNIST_SHA256:
        files[name] = (REAL_MNIST / name).read_bytes()
    cut["train-images-idx3-ubyte.gz"] = 1_000_000  # the big one is cut once and resumed...
    files["t10k-labels-idx1-ubyte.gz"] = b"corrupt"  # ...and a corrupt copy is refused
    with pytest.raises(DownloadError, match="t10k-labels"):
        fetch_mnist(tmp_path, mirrors=[url])
    files["t10k-labels-idx1-ubyte.gz"] = (REAL_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()
    folder = fetch_mnist(tmp_path, mirrors=[url])
    for name, expected in MNIST_SHA256.items():
        assert sha((folder / name).read_bytes()) == expected
