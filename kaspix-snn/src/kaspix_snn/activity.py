"""The recording file ``activity_dataset.h5``: its layout, a streaming writer and a batch reader.

Layout (every dataset chunked along the image axis and gzip-compressed)::

    /images                 (N, C, H, W) integer pixels as drawn from the source (attr max_value)
    /labels                 (N,) int64 class indices
    /source_index           (N,) int64 index of each image in its data source
    /layers/<name>/spikes   (N, ticks, ceil(units / 8)) uint8: spikes bit-packed along the units
                            (numpy.packbits, bitorder "little"); attrs units, shape
    /layers/<name>/potentials   (N, ticks, units) or (N, units) float16 (simulation.potentials all / final)

Compression (gzip with the shuffle filter) runs on a worker thread while the caller simulates the
next batch: each batch's chunks are deflated there (zlib releases the GIL) and written as
ready-made chunks (``write_direct_chunk``), so the file stays readable by any HDF5 reader.

Root attributes: ``metadata`` (JSON: experiment, data source, class names, ticks, encoding,
recorded layers, ...), ``fingerprint`` (what the recording depends on) and ``complete_images``
(how many rows are final). Rows are appended batch by batch, so memory stays bounded by the
batch size however many images are recorded, and an interrupted recording continues where it stopped.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import numpy as np

__all__ = ["ActivityReader", "ActivityWriter", "pack_spikes", "stored_fingerprint", "unpack_spikes"]

#: Target size of one chunk of a per-image dataset.
CHUNK_BYTES = 1 << 20


def pack_spikes(spikes: np.ndarray) -> np.ndarray:
    """Bit-pack boolean spikes ``(..., units)`` along the last axis into uint8 ``(..., ceil(units / 8))``."""
    return np.packbits(spikes, axis=-1, bitorder="little")


def unpack_spikes(packed: np.ndarray, units: int) -> np.ndarray:
    """The inverse of :func:`pack_spikes`: boolean ``(..., units)``."""
    return np.unpackbits(packed, axis=-1, count=units, bitorder="little").astype(bool)


def _chunk_rows(row_shape: tuple[int, ...], itemsize: int, batch: int) -> int:
    """The largest divisor of ``batch`` whose chunk stays within :data:`CHUNK_BYTES` (so batches fill whole chunks)."""
    row_bytes = max(int(np.prod(row_shape)) * itemsize, 1)
    limit = max(1, CHUNK_BYTES // row_bytes)
    return max(d for d in range(1, batch + 1) if batch % d == 0 and d <= limit)


def _deflate_chunks(value: np.ndarray, rows: int, level: int) -> list[tuple[int, bytes]]:
    """``(first row, bytes)`` per chunk of ``value``, encoded as HDF5's shuffle + deflate filters would (last chunk zero-padded)."""
    chunks = []
    for start in range(0, len(value), rows):
        part = value[start : start + rows]
        if len(part) < rows:
            part = np.concatenate([part, np.zeros((rows - len(part), *part.shape[1:]), part.dtype)])
        raw = np.ascontiguousarray(part).view(np.uint8)
        if part.dtype.itemsize > 1:  # the shuffle filter: byte k of every element, for k = 0, 1, ...
            raw = raw.reshape(-1, part.dtype.itemsize).T
        chunks.append((start, zlib.compress(np.ascontiguousarray(raw).tobytes(), level)))
    return chunks


def stored_fingerprint(path: str | Path) -> str | None:
    """The fingerprint a recording was made with (None when the file cannot be read)."""
    try:
        with h5py.File(path, "r") as handle:
            value = handle.attrs.get("fingerprint")
    except OSError:
        return None
    return str(value) if value is not None else None


class ActivityWriter:
    """Append batches of recorded activity to an HDF5 file (create it, or continue a partial one).

    Args:
        path: The file to write.
        layers: ``{name: {"units": int, "shape": [...], "has_neurons": bool}}`` of the recorded layers.
        image_shape: ``(C, H, W)``; ``image_dtype``: the source's pixel type.
        ticks: Ticks per image.
        potentials: ``"all"``, ``"final"`` or ``"none"``.
        metadata: JSON-ready facts stored as the ``metadata`` attribute.
        fingerprint: Identifies what the recording depends on; a partial file with another one is started over.
        batch: The usual number of images per append (sets the chunk size).
        compression: gzip level, 0 for none.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        layers: dict[str, dict[str, Any]],
        image_shape: tuple[int, ...],
        image_dtype: np.dtype,
        ticks: int,
        potentials: str,
        metadata: dict[str, Any],
        fingerprint: str,
        batch: int,
        compression: int = 4,
    ) -> None:
        self.path = Path(path)
        self.layers = layers
        self.level = compression
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="h5-deflate") if compression else None
        self._pending: tuple[int, int, Future[list[tuple[str, int, bytes]]]] | None = None
        existing = self._reopen(fingerprint)
        if existing is not None:
            self.file = existing
            self._next = self.complete
            return
        self._next = 0
        self.file = h5py.File(self.path, "w")
        self.file.attrs["metadata"] = json.dumps(metadata)
        self.file.attrs["fingerprint"] = fingerprint
        self.file.attrs["complete_images"] = 0
        options: dict[str, Any] = {"compression": "gzip", "compression_opts": compression, "shuffle": True} if compression else {}

        def create(name: str, row_shape: tuple[int, ...], dtype: Any) -> None:
            rows = _chunk_rows(row_shape, np.dtype(dtype).itemsize, batch)
            self.file.create_dataset(
                name, shape=(0, *row_shape), maxshape=(None, *row_shape), dtype=dtype, chunks=(rows, *row_shape), **options
            )

        create("images", tuple(image_shape), image_dtype)
        create("labels", (), np.int64)
        create("source_index", (), np.int64)
        for name, info in layers.items():
            units = int(info["units"])
            create(f"layers/{name}/spikes", (ticks, (units + 7) // 8), np.uint8)
            group = self.file[f"layers/{name}"]
            group.attrs["units"] = units
            group.attrs["shape"] = list(info["shape"])
            group.attrs["has_neurons"] = bool(info["has_neurons"])
            if info["has_neurons"] and potentials == "all":
                create(f"layers/{name}/potentials", (ticks, units), np.float16)
            elif info["has_neurons"] and potentials == "final":
                create(f"layers/{name}/potentials", (units,), np.float16)

    def _reopen(self, fingerprint: str) -> h5py.File | None:
        """The existing partial file when it was recorded the same way, trimmed to its complete rows."""
        if not self.path.is_file():
            return None
        try:
            handle = h5py.File(self.path, "a")
        except OSError:
            return None  # unreadable (killed while the header was written): start over
        if handle.attrs.get("fingerprint") != fingerprint:
            handle.close()
            return None
        done = int(handle.attrs["complete_images"])
        for dataset in self._datasets(handle):
            dataset.resize(done, axis=0)
        return handle

    @staticmethod
    def _datasets(handle: h5py.File) -> Iterator[h5py.Dataset]:
        found: list[h5py.Dataset] = []
        handle.visititems(lambda _name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
        return iter(found)

    @property
    def complete(self) -> int:
        """Rows written and flushed so far (a resumed recording starts here)."""
        return int(self.file.attrs["complete_images"])

    def append(
        self,
        *,
        images: np.ndarray,
        labels: np.ndarray,
        source_index: np.ndarray,
        spikes: dict[str, np.ndarray],
        potentials: dict[str, np.ndarray],
    ) -> None:
        """Hand over one batch: ``spikes[name]`` boolean ``(batch, ticks, units)``, potentials as recorded.

        With compression, the batch is deflated in the background and written at the next
        ``append`` or at :meth:`close`; :attr:`complete` counts the batches on disk.
        """
        start, count = self._next, len(labels)
        rows = {"images": images, "labels": labels, "source_index": source_index}
        rows.update({f"layers/{name}/spikes": pack_spikes(value) for name, value in spikes.items()})
        rows.update({f"layers/{name}/potentials": value for name, value in potentials.items()})
        rows = {name: np.asarray(value, dtype=self.file[name].dtype) for name, value in rows.items()}
        self._next = start + count
        if self._pool is None:
            for name, value in rows.items():
                dataset = self.file[name]
                dataset.resize(start + count, axis=0)
                dataset[start : start + count] = value
            self._commit(start + count)
            return
        chunk_rows = {name: self.file[name].chunks[0] for name in rows}
        job = self._pool.submit(
            lambda: [
                (name, first, data) for name, value in rows.items() for first, data in _deflate_chunks(value, chunk_rows[name], self.level)
            ]
        )
        self._write_pending()
        self._pending = (start, count, job)

    def _write_pending(self) -> None:
        """Write the chunks of the batch being deflated (waiting for them) and record it as complete."""
        if self._pending is None:
            return
        start, count, job = self._pending
        self._pending = None
        chunks = job.result()
        for name in {name for name, _, _ in chunks}:
            self.file[name].resize(start + count, axis=0)
        for name, first, data in chunks:
            dataset = self.file[name]
            dataset.id.write_direct_chunk((start + first,) + (0,) * (dataset.ndim - 1), data)
        self._commit(start + count)

    def _commit(self, complete: int) -> None:
        self.file.attrs["complete_images"] = complete
        self.file.flush()

    def close(self) -> None:
        """Write what is still being deflated, then close the file."""
        try:
            self._write_pending()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
            self.file.close()

    def __enter__(self) -> ActivityWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ActivityReader:
    """Read a recording batch by batch (spikes unpacked to booleans).

    Args:
        path: ``activity_dataset.h5``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file = h5py.File(self.path, "r")
        self.metadata: dict[str, Any] = json.loads(self.file.attrs["metadata"])
        self.layer_names: list[str] = list(self.metadata["recorded_layers"])

    def __len__(self) -> int:
        return int(self.file["labels"].shape[0])

    @property
    def labels(self) -> np.ndarray:
        return self.file["labels"][:]

    def units(self, layer: str) -> int:
        return int(self.file[f"layers/{layer}"].attrs["units"])

    def has_potentials(self, layer: str) -> bool:
        return f"layers/{layer}/potentials" in self.file

    def images(self, rows: np.ndarray | slice) -> np.ndarray:
        """Pixels of the given rows (sorted row indices or a slice)."""
        return self.file["images"][rows]

    def spikes(self, layer: str, rows: slice) -> np.ndarray:
        """Boolean spikes ``(rows, ticks, units)`` of one layer."""
        return unpack_spikes(self.file[f"layers/{layer}/spikes"][rows], self.units(layer))

    def potentials(self, layer: str, rows: slice) -> np.ndarray:
        return self.file[f"layers/{layer}/potentials"][rows]

    def batches(self, batch: int, layers: list[str]) -> Iterator[tuple[slice, dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """``(rows, spikes, potentials)`` per batch of rows, for the given layers."""
        for start in range(0, len(self), batch):
            rows = slice(start, min(start + batch, len(self)))
            spikes = {name: self.spikes(name, rows) for name in layers}
            potentials = {name: self.potentials(name, rows) for name in layers if self.has_potentials(name)}
            yield rows, spikes, potentials

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> ActivityReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
