"""Image loaders on small files written here in the real formats, and on the real MNIST if
present; labels and classes of the image data sets."""

import pickle

import numpy as np
import pytest
import torch
from helpers import HAVE_REAL_MNIST, REAL_MNIST, fake_mnist, write_idx

from thermogan.data.images import (
    DataFileError,
    ImageData,
    load_array_file,
    load_cifar10,
    load_image_folder,
    load_mnist,
    read_idx,
    stacked_mnist,
)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path, compress):
    images, labels = fake_mnist(tmp_path, compress=compress)
    x, y = load_mnist(tmp_path, "train", verify=False)  # canonical names, other bytes
    assert x.shape == (20, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    np.testing.assert_allclose(((x[:, 0].numpy() + 1) * 127.5).round(), images)
    assert y.tolist() == labels.tolist()
    padded, _ = load_mnist(tmp_path, "train", pad=True, verify=False)
    assert padded.shape == (20, 1, 32, 32) and torch.all(padded[:, :, :2] == -1)
    assert torch.equal(padded[:, :, 2:30, 2:30], x)
    ints = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    write_idx(tmp_path / "ints.idx", ints, compress=False)
    assert np.array_equal(read_idx(tmp_path / "ints.idx"), ints)


def test_bad_idx_files_name_the_file(tmp_path):
    fake_mnist(tmp_path, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataFileError, match="train-images-idx3-ubyte holds .*truncated"):
        load_mnist(tmp_path)
    path.write_bytes(b"\x12\x34\x56\x78")
    with pytest.raises(DataFileError, match="bad magic"):
        read_idx(path)
    with pytest.raises(DataFileError, match="fetch it with"):
        load_mnist(tmp_path / "empty")


def test_canonical_names_are_checked_against_their_sums(tmp_path):
    # a file under the real archive's name but with other bytes is refused
    fake_mnist(tmp_path, prefix="t10k")
    with pytest.raises(DataFileError, match="does not match the known SHA-256"):
        load_mnist(tmp_path, "test")
    x, _ = load_mnist(tmp_path, "test", verify=False)
    assert len(x) == 20


def test_stacked_mnist_is_deterministic_and_labels_the_triple():
    images = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1).expand(10, 1, 2, 2)
    labels = torch.arange(10)  # image i shows digit i and has value i everywhere
    x, modes = stacked_mnist(images, labels, 500, seed=3)
    assert x.shape == (500, 3, 2, 2)
    again, modes2 = stacked_mnist(images, labels, 500, seed=3)
    assert torch.equal(x, again) and torch.equal(modes, modes2)
    triple = x[:, :, 0, 0].long()  # (500, 3): the digit in each channel
    assert torch.equal(modes, triple[:, 0] * 100 + triple[:, 1] * 10 + triple[:, 2])
    assert not torch.equal(modes, stacked_mnist(images, labels, 500, seed=4)[1])
    assert len(set(modes.tolist())) > 300  # spread over the 1000 modes


def write_cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"labels": rng.integers(0, 10, n).tolist(), b"batch_label": b"x"}
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return batch


def test_cifar_batches(tmp_path):
    batches = [write_cifar_batch(tmp_path / f"data_batch_{i}", 4, i) for i in range(1, 6)]
    write_cifar_batch(tmp_path / "test_batch", 3, 9)
    x, y = load_cifar10(tmp_path, "train")
    assert x.shape == (20, 3, 32, 32) and len(y) == 20
    first = batches[0][b"data"][0].reshape(3, 32, 32)
    np.testing.assert_allclose(((x[0].numpy() + 1) * 127.5).round(), first)
    assert load_cifar10(tmp_path, "test")[0].shape == (3, 3, 32, 32)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_cifar_loader_refuses_arbitrary_objects(tmp_path):
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataFileError, match="refusing to load builtins.print"):
        load_cifar10(tmp_path, "test")


def test_npz_and_folders(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=rgb)
    x = load_array_file(tmp_path / "a.npz")
    assert x.shape == (5, 3, 8, 8)
    np.testing.assert_allclose(((x.numpy() + 1) * 127.5).round(), rgb.transpose(0, 3, 1, 2))
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, image in enumerate(rgb):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    assert torch.equal(load_image_folder(folder), x)
    with pytest.raises(DataFileError, match="does not exist"):
        load_array_file(tmp_path / "none.npz")


def test_image_data_draws_reproducibly():
    data = ImageData(torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1))
    a = data.sample(16, torch.Generator().manual_seed(1))
    b = data.sample(16, torch.Generator().manual_seed(1))
    assert a.x.shape == (16, 1, 1, 1) and torch.equal(a.x, b.x)
    assert a.y is None and data.num_classes is None and data.is_image


def test_image_labels_travel_with_their_images():
    images = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1)
    data = ImageData(images, torch.arange(50) % 7, num_classes=7)
    batch = data.sample(40, torch.Generator().manual_seed(2))
    assert batch.y.dtype == torch.int64
    assert torch.equal(batch.y, batch.x.flatten().long() % 7)
    with pytest.raises(ValueError, match="together"):
        ImageData(images, torch.zeros(50, dtype=torch.int64))


def test_labelled_image_sets_say_how_many_classes(tmp_path):
    from helpers import fake_mnist

    from thermogan.data.images import mnist, stacked

    images, labels = fake_mnist(tmp_path, n=30, prefix="train", compress=False)
    data = mnist(str(tmp_path))
    assert data.num_classes == 10 and torch.equal(data.labels, torch.as_tensor(labels).long())
    three = stacked(str(tmp_path), n=40, seed=1)
    assert three.num_classes == 1000 and three.sample(5).y.max() < 1000


@pytest.mark.skipif(not HAVE_REAL_MNIST, reason="the real MNIST archives are not here")
def test_real_mnist():
    x, y = load_mnist(REAL_MNIST, "test")
    assert x.shape == (10000, 1, 28, 28) and torch.bincount(y).tolist()[0] == 980
    assert x.min() == -1 and x.max() == 1
