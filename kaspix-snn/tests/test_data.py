"""Image sources: IDX (gzipped or not) and .npz files written here, digits, Debian's Fashion-MNIST, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kaspix import KaspixError
from kaspix_snn.data import DEBIAN_FASHION_MNIST, digits, fashion_mnist, mnist, read_idx, select_per_label, write_idx
from kaspix_snn.testing import tiny_images


def idx_folder(folder: Path, *, gz: bool = True, test_part: bool = True) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = tiny_images()
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", images[:40])
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", labels[:40])
    if test_part:
        write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", images[40:])
        write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", labels[40:])
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folders_pool_the_train_and_test_files(tmp_path: Path, gz: bool) -> None:
    images, labels = idx_folder(tmp_path, gz=gz)
    loaded = mnist(str(tmp_path))
    assert loaded.images.shape == (60, 1, 12, 12) and loaded.images.dtype == np.uint8 and loaded.max_value == 255
    assert np.array_equal(loaded.images[:, 0], images) and np.array_equal(loaded.labels, labels)
    assert loaded.class_names == tuple("0123456789")


def test_npz_files_in_keras_layout_or_images_labels(tmp_path: Path) -> None:
    images, labels = tiny_images()
    np.savez(tmp_path / "keras.npz", x_train=images[:50], y_train=labels[:50], x_test=images[50:], y_test=labels[50:])
    np.savez(tmp_path / "plain.npz", images=images[..., None], labels=labels)  # channels last
    for name in ("keras.npz", "plain.npz"):
        loaded = fashion_mnist(str(tmp_path / name))
        assert loaded.images.shape == (60, 1, 12, 12) and np.array_equal(loaded.labels, labels)
    assert fashion_mnist(str(tmp_path / "plain.npz")).class_names[9] == "Ankle boot"


def test_idx_round_trip_keeps_type_and_shape(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.idx", array)), array)
    assert read_idx(write_idx(tmp_path / "a.idx.gz", array)).dtype == np.int32


def test_broken_or_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(KaspixError, match="no such file or folder"):
        mnist(str(tmp_path / "nowhere"))
    with pytest.raises(KaspixError, match="needs a path"):
        mnist()
    with pytest.raises(KaspixError, match="no IDX files here"):
        mnist(str(tmp_path))
    idx_folder(tmp_path / "half", test_part=False)
    (tmp_path / "half" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(KaspixError, match=r"train-labels-idx1-ubyte.*missing"):
        mnist(str(tmp_path / "half"))
    idx_folder(tmp_path / "bad", gz=False, test_part=False)
    (tmp_path / "bad" / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(KaspixError, match="bad magic number"):
        mnist(str(tmp_path / "bad"))
    data = (tmp_path / "bad" / "train-labels-idx1-ubyte").read_bytes()
    (tmp_path / "bad" / "train-labels-idx1-ubyte").write_bytes(data[:-3])
    with pytest.raises(KaspixError, match="header promises"):
        read_idx(tmp_path / "bad" / "train-labels-idx1-ubyte")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(KaspixError, match="cannot read this IDX file"):
        read_idx(tmp_path / "broken.gz")
    np.savez(tmp_path / "wrong.npz", pixels=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(KaspixError, match="none of the expected arrays"):
        mnist(str(tmp_path / "wrong.npz"))
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(KaspixError, match=r"cannot read this \.npz"):
        mnist(str(tmp_path / "text.npz"))
    np.savez(tmp_path / "labels.npz", images=np.zeros((2, 4, 4), np.uint8), labels=np.array([0, 12]))
    with pytest.raises(KaspixError, match=r"labels must be 0\.\.9, found 0\.\.12"):
        mnist(str(tmp_path / "labels.npz"))
    with pytest.raises(KaspixError, match="takes no path"):
        digits("somewhere")


def test_digits_are_embedded() -> None:
    data = digits()
    assert data.images.shape == (1797, 1, 8, 8) and data.max_value == 16 and data.images.max() == 16 and data.n_classes == 10


@pytest.mark.skipif(not Path(DEBIAN_FASHION_MNIST).is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_debian_fashion_mnist_is_read_from_its_gzipped_idx_files() -> None:
    data = fashion_mnist()
    assert data.images.shape == (70000, 1, 28, 28) and np.bincount(data.labels).tolist() == [7000] * 10


def test_images_are_drawn_per_label_seeded_and_shuffled() -> None:
    labels = np.repeat(np.arange(3), [5, 8, 2])
    chosen = select_per_label(labels, 4, seed=1)
    assert np.bincount(labels[chosen]).tolist() == [4, 4, 2]  # a class with fewer gives all it has
    assert np.array_equal(chosen, select_per_label(labels, 4, seed=1)) and not np.array_equal(chosen, select_per_label(labels, 4, seed=2))
    assert sorted(select_per_label(labels, None, seed=0)) == list(range(15))
