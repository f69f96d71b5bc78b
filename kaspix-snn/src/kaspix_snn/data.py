"""Labelled images from disk or embedded, never downloaded: digits, MNIST and Fashion-MNIST (IDX or .npz).

Every source returns an :class:`ImageSet` of integer pixels (``N x C x H x W``) with the value
that means white, so that the network sees intensities in ``[0, 1]``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kaspix import KaspixError

__all__ = [
    "DEBIAN_FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "IDX_FILES",
    "ImageSet",
    "digits",
    "fashion_mnist",
    "load_images",
    "mnist",
    "read_idx",
    "select_per_label",
    "write_idx",
]

#: Where Debian's ``dataset-fashion-mnist`` package puts its gzipped IDX files.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: The (images, labels) IDX file stems of MNIST and Fashion-MNIST; ``.gz`` or not, ``-`` or ``.`` before ``idx``.
IDX_FILES = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class ImageSet:
    """Labelled images.

    Attributes:
        images: ``(N, C, H, W)`` unsigned integers.
        labels: ``(N,)`` class indices ``0 .. n_classes - 1``.
        max_value: The pixel value that means full intensity (255 for MNIST, 16 for digits).
        class_names: One name per class.
        name: Where the images came from.
    """

    images: np.ndarray
    labels: np.ndarray
    max_value: float
    class_names: tuple[str, ...]
    name: str

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def digits(path: str | None = None) -> ImageSet:
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), shipped inside scikit-learn."""
    if path is not None:
        raise KaspixError("the digits source is embedded and takes no path", where="data.path", hint="remove data.path, or use mnist")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)[:, None]
    return ImageSet(images, bunch.target.astype(np.int64), 16.0, tuple(str(d) for d in range(10)), "digits")


def mnist(path: str | None = None) -> ImageSet:
    """MNIST from a folder of (gzipped) IDX files or a .npz file given by ``path``."""
    if path is None:
        raise KaspixError(
            "the mnist source needs a path",
            where="data.path",
            hint="a folder with train-images-idx3-ubyte(.gz) and the label files, or a .npz (x_train, y_train, x_test, y_test)",
        )
    return load_images(path, name="mnist", class_names=tuple(str(d) for d in range(10)))


def fashion_mnist(path: str | None = None) -> ImageSet:
    """Fashion-MNIST from Debian's ``dataset-fashion-mnist`` (or IDX files / a .npz at ``path``)."""
    folder = path or DEBIAN_FASHION_MNIST
    if path is None and not Path(folder).is_dir():
        raise KaspixError(
            f"Debian's Fashion-MNIST is not installed ({folder} is missing)",
            where="data.source",
            hint="apt-get install dataset-fashion-mnist (scripts/setup.sh does), or give data.path",
        )
    return load_images(folder, name="fashion_mnist", class_names=FASHION_MNIST_CLASSES)


def load_images(path: str | Path, *, name: str, class_names: tuple[str, ...]) -> ImageSet:
    """Images and labels from an IDX folder or a .npz file; every IDX pair found (train, t10k) is pooled."""
    path = Path(path).expanduser()
    if not path.exists():
        raise KaspixError(f"no such file or folder: {path}", where="data.path")
    images, labels = _read_npz(path) if path.is_file() else _read_idx_folder(path)
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3, 4):
        images = np.moveaxis(images, -1, 1)  # channels last (N, H, W, C) -> (N, C, H, W)
    else:
        raise KaspixError(f"images must be N x H x W or N x H x W x C, got shape {images.shape}", where=str(path))
    labels = labels.reshape(-1)
    if len(labels) != len(images):
        raise KaspixError(f"{len(images)} images but {len(labels)} labels", where=str(path))
    if not np.issubdtype(images.dtype, np.integer) or images.min(initial=0) < 0:
        raise KaspixError(f"pixels must be non-negative integers, got {images.dtype}", where=str(path), hint="store uint8 images")
    if len(labels) == 0 or labels.min() < 0 or labels.max() >= len(class_names):
        found = f"{labels.min()}..{labels.max()}" if len(labels) else "none"
        raise KaspixError(f"labels must be 0..{len(class_names) - 1}, found {found}", where=str(path))
    max_value = 255.0 if images.dtype == np.uint8 else float(max(images.max(), 1))
    return ImageSet(np.ascontiguousarray(images), labels.astype(np.int64), max_value, class_names, f"{name} ({path})")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if {"images", "labels"} <= keys:
                return archive["images"], archive["labels"]
            pairs = [(x, y) for x, y in (("x_train", "y_train"), ("x_test", "y_test")) if {x, y} <= keys]
            if not pairs:
                raise KaspixError(
                    f"the .npz holds {sorted(keys)}, none of the expected arrays",
                    where=str(path),
                    hint="save images/labels, or x_train/y_train (and x_test/y_test) as in keras' mnist.npz",
                )
            return np.concatenate([archive[x] for x, _ in pairs]), np.concatenate([archive[y] for _, y in pairs])
    except (OSError, ValueError) as exc:
        raise KaspixError(
            f"cannot read this .npz file: {exc}", where=str(path), hint="give a numpy .npz archive or an IDX folder"
        ) from None


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    return None


def _read_idx_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for image_stem, label_stem in IDX_FILES:
        image_file, label_file = _find(folder, image_stem), _find(folder, label_stem)
        if (image_file is None) != (label_file is None):
            missing = image_stem if image_file is None else label_stem
            raise KaspixError(f"{missing}(.gz) is missing beside its pair", where=str(folder))
        if image_file is not None and label_file is not None:
            images.append(read_idx(image_file))
            labels.append(read_idx(label_file))
            if len(images[-1]) != len(labels[-1]):
                raise KaspixError(f"{len(images[-1])} images but {len(labels[-1])} labels", where=f"{image_file}, {label_file}")
    if not images:
        raise KaspixError(
            "no IDX files here",
            where=str(folder),
            hint="expected train-images-idx3-ubyte(.gz) with train-labels-idx1-ubyte(.gz), and/or the t10k-* pair",
        )
    return np.concatenate(images), np.concatenate(labels)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not): the array it holds, shape and type from its header."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
        data = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise KaspixError(f"cannot read this IDX file: {exc}", where=str(path)) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise KaspixError(
            "not an IDX file (bad magic number)", where=str(path), hint="MNIST-style IDX files start with 0x00 0x00 <type> <ndim>"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise KaspixError("truncated IDX header", where=str(path))
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise KaspixError(f"the header promises {shape} ({expected} bytes of data) but {len(data) - header} follow", where=str(path))
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or the name ends in .gz); the inverse of :func:`read_idx`."""
    path = Path(path)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    array = np.asarray(array)
    if array.dtype not in codes:
        raise ValueError(f"IDX cannot hold {array.dtype}")
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(np.dtype(_IDX_TYPES[codes[array.dtype]])).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload, compresslevel=1)
    path.write_bytes(payload)
    return path


def select_per_label(labels: np.ndarray, per_label: int | None, seed: int) -> np.ndarray:
    """Indices of up to ``per_label`` images of each class (seeded draw), in a seeded shuffled order; None takes all."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if per_label is not None and per_label < len(members):
            members = rng.choice(members, size=per_label, replace=False)
        chosen.append(members)
    indices = np.concatenate(chosen)
    return indices[rng.permutation(len(indices))]
