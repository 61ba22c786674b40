"""Helpers shared by tests: small files in the real MNIST formats."""

import gzip
import struct

import numpy as np


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
