"""Image data sets: MNIST (IDX archives), Stacked MNIST, CIFAR-10 (python batches), folders, .npz.

Images come out as float32 tensors (N, C, H, W) scaled to [−1, 1]. ``ImageData`` draws batches
uniformly with replacement using a ``torch.Generator``, so a resumed run draws the same batches.

- MNIST: the IDX format (big-endian header, unsigned bytes), gzip or raw; when the files carry
  their canonical names their SHA-256 sums are checked. ``pad=True`` pads 28 → 32.
- Stacked MNIST (Color MNIST; Srivastava et al. 2017, PacGAN protocol): three MNIST digits drawn
  independently into the R, G, B channels, deterministically from a seed; the label is the triple
  as a number 0–999 (100·r + 10·g + b).
- CIFAR-10: the python-pickle batches, read with an unpickler that only builds numpy arrays.
"""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from thermogan.data.batch import Batch
from thermogan.data.download import MNIST_SHA256, data_dir, sha256
from thermogan.errors import ThermoganError

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataFileError(ThermoganError):
    """A data file that is missing, corrupt or not in the expected format (names the file)."""


def _open_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataFileError(f"data file {path} does not exist")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataFileError(f"data file {path} is not a valid gzip file ({err})") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (gzip or raw) as an array of its declared type and shape."""
    path = Path(path)
    raw = _open_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataFileError(f"data file {path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataFileError(f"data file {path} holds {len(raw)} bytes, its header promises "
                            f"{expected} (truncated or corrupt)")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def to_unit_range(images: np.ndarray) -> Tensor:
    """uint8 images (N, C, H, W) -> float32 in [−1, 1]."""
    return torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)


def _verify(path: Path) -> None:
    expected = MNIST_SHA256.get(path.name)
    if expected is not None and sha256(path) != expected:
        raise DataFileError(f"data file {path} does not match the known SHA-256 of {path.name}; "
                            "fetch it again with `thermogan data fetch mnist`")


def _mnist_file(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataFileError(f"MNIST file {root / (stem + '.gz')} does not exist; "
                        "fetch it with `thermogan data fetch mnist`")


def load_mnist(root: str | Path, split: str = "train", pad: bool = False,
               verify: bool = True) -> tuple[Tensor, Tensor]:
    """MNIST images (N, 1, 28 or 32, 28 or 32) in [−1, 1] and labels (N,) from ``root``."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: must be 'train' or 'test'")
    prefix = "train" if split == "train" else "t10k"
    root = Path(root)
    image_path = _mnist_file(root, f"{prefix}-images-idx3-ubyte")
    label_path = _mnist_file(root, f"{prefix}-labels-idx1-ubyte")
    if verify:
        _verify(image_path), _verify(label_path)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataFileError(f"MNIST files in {root} disagree: images {images.shape}, "
                            f"labels {labels.shape}")
    x = to_unit_range(images[:, None])  # (N, 1, 28, 28)
    if pad:
        x = torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)  # (N, 1, 32, 32)
    return x, torch.from_numpy(labels.astype(np.int64))


def stacked_mnist(images: Tensor, labels: Tensor, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` Stacked MNIST images (n, 3, H, W) and their modes 100·r + 10·g + b, from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(images), (n, 3), generator=gen)  # (n, 3): one digit per channel
    stacked = images[idx, 0]  # (n, 3, H, W)
    digits = labels[idx]  # (n, 3)
    return stacked, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays, and nothing else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
               ("numpy", "dtype"), ("builtins", "bytes"),
               ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 store bytes

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataFileError(f"CIFAR-10 batch {path} does not exist")
    try:
        batch = _ArraysOnly(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError) as err:
        raise DataFileError(f"CIFAR-10 batch {path} cannot be read ({err})") from None
    return data, labels


def load_cifar10(root: str | Path, split: str = "train") -> tuple[Tensor, Tensor]:
    """CIFAR-10 images (N, 3, 32, 32) in [−1, 1] and labels from the python batches in ``root``."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    parts = [_cifar_batch(Path(root) / name) for name in names]
    return (to_unit_range(np.concatenate([p[0] for p in parts])),
            torch.from_numpy(np.concatenate([p[1] for p in parts])))


def load_array_file(path: str | Path, key: str | None = None) -> Tensor:
    """Images from an .npz (first array, or ``key``) as (N, C, H, W) in [−1, 1].

    uint8 arrays are scaled from [0, 255]; float arrays are taken as already in [−1, 1]. Arrays
    of shape (N, H, W) get one channel; (N, H, W, C) with C in {1, 3} is moved to channels-first.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"array file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            array = arrays[key or arrays.files[0]]
    except (ValueError, KeyError, OSError, IndexError) as err:
        raise DataFileError(f"array file {path} cannot be read ({err})") from None
    return _as_images(array, path)


def load_image_folder(path: str | Path) -> Tensor:
    """Every PNG/JPEG image in a folder (sorted by name), all of one size, as (N, C, H, W)."""
    from PIL import Image

    files = sorted(p for p in Path(path).iterdir()
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise DataFileError(f"image folder {path} holds no .png or .jpg file")
    arrays = []
    for file in files:
        try:
            arrays.append(np.asarray(Image.open(file)))
        except OSError as err:
            raise DataFileError(f"image {file} cannot be read ({err})") from None
    if len({a.shape for a in arrays}) != 1:
        raise DataFileError(f"images in {path} differ in size or channels")
    return _as_images(np.stack(arrays), Path(path))


def _as_images(array: np.ndarray, source: Path) -> Tensor:
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    if array.ndim != 4:
        raise DataFileError(f"{source}: expected images (N, H, W) or (N, C, H, W), got "
                            f"{array.shape}")
    if array.dtype == np.uint8:
        return to_unit_range(np.ascontiguousarray(array))
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class ImageData:
    """A data source of images held in memory; batches drawn uniformly with replacement.

    Images live in the box [−1, 1] already (``box``); they have no component std (``std``).
    ``num_classes``: the number of classes of ``labels`` (None without labels); for Stacked
    MNIST it is the 1000 digit triples, whether or not each occurs in the drawn images.
    """

    box = (-1.0, 1.0)
    std = None
    #: Image data sets hold images: the one place that says so.
    is_image = True

    def __init__(self, images: Tensor, labels: Tensor | None = None, name: str = "images",
                 num_classes: int | None = None, family: str = "images"):
        if (labels is None) != (num_classes is None):
            raise ValueError("labels and num_classes come together")
        self.images, self.labels, self.name = images, labels, name
        self.num_classes = num_classes
        #: How runs on these images are scored (``experiment/scoring.py``'s ``SCORERS``): MNIST
        #: digits by the project's classifier, other images by nothing trusted ("images").
        self.family = family

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> Batch:
        """``n`` images (n, C, H, W) drawn uniformly with replacement, and their labels."""
        where = generator.device if generator is not None else self.images.device
        if self.images.device != where:  # keep the images where the draws happen, once
            self.images = self.images.to(where)
            self.labels = None if self.labels is None else self.labels.to(where)
        idx = torch.randint(len(self.images), (n,), generator=generator, device=where)  # (n,)
        batch = Batch(self.images[idx], None if self.labels is None else self.labels[idx])
        return batch.to(device) if device is not None else batch


#: The family of each image data set: MNIST and Stacked MNIST are read by the project's digit
#: classifier (with their own sample counts), any other images by no trusted metric.
IMAGE_FAMILIES = {"mnist": "mnist", "stacked_mnist": "stacked_mnist", "cifar10": "images",
                  "npz": "images", "image_folder": "images"}


def _mnist_root(root: str | None) -> Path:
    return Path(root) if root else data_dir() / "mnist"


def mnist(root: str | None = None, split: str = "train", pad: bool = False) -> ImageData:
    """MNIST from ``root`` (default: the data folder's mnist/), 28×28 or padded to 32×32."""
    images, labels = load_mnist(_mnist_root(root), split, pad)
    return ImageData(images, labels, "mnist", num_classes=10, family=IMAGE_FAMILIES["mnist"])


def stacked(root: str | None = None, split: str = "train", n: int = 60000, seed: int = 0,
            pad: bool = True) -> ImageData:
    """Stacked MNIST: ``n`` colour images drawn from MNIST with ``seed``; labels are the modes."""
    if n < 1:
        raise ValueError(f"n={n!r}: must be >= 1")
    images, labels = load_mnist(_mnist_root(root), split, pad)
    x, modes = stacked_mnist(images, labels, n, seed)
    return ImageData(x, modes, "stacked_mnist", num_classes=1000,
                     family=IMAGE_FAMILIES["stacked_mnist"])


def cifar10(root: str | None = None, split: str = "train") -> ImageData:
    """CIFAR-10 from its python batches in ``root`` (default: the data folder's cifar-10/)."""
    images, labels = load_cifar10(Path(root) if root else data_dir() / "cifar-10", split)
    return ImageData(images, labels, "cifar10", num_classes=10,
                     family=IMAGE_FAMILIES["cifar10"])


def array_file(path: str, key: str | None = None) -> ImageData:
    """Images from an .npz file."""
    return ImageData(load_array_file(path, key), None, Path(path).stem,
                     family=IMAGE_FAMILIES["npz"])


def image_folder(path: str) -> ImageData:
    """Images from a folder of PNG/JPEG files."""
    return ImageData(load_image_folder(path), None, Path(path).name,
                     family=IMAGE_FAMILIES["image_folder"])


IMAGE_DATASETS = {"mnist": mnist, "stacked_mnist": stacked, "cifar10": cifar10,
                  "npz": array_file, "image_folder": image_folder}
