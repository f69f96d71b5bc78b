"""The HDF5 dataset: shard files, the merged file, the torch ``Dataset``, splits and the ``.pt`` export.

Layout of ``dataset.h5`` (one row per sample, ``N`` rows, clips of ``L`` samples, ``K`` = the
largest knob count):

=================  ============  ===============================================
``audio_in``       (N, L) f32    the excitation, volts
``audio_out``      (N, L) f32    ``v(output)`` from ngspice on the same grid
``knobs``          (N, K) f32    knob values normalized to 0-1, zero-padded
``knob_mask``      (N, K) bool   which knob columns are real
``knobs_physical`` (N, K) f64    knob values in SI units, zero-padded
``circuit_id``     (N,) i32      index into ``circuit_mapping``
``setting_id``     (N,) i32      the knob setting (clips of one setting share it)
``netlist_origin`` (N,) str      the template's file name
``recipe``         (N,) str      JSON description of the excitation
``simulator``      (N,) str      ``mna`` (exact analytic) or ``ngspice``
``substeps``       (N,) i32      ngspice time points per sample period (0 for ``mna``)
``error_estimate`` (N,) f64      ngspice's estimated error / output RMS (0 for ``mna``)
=================  ============  ===============================================

File attributes: ``circuit_mapping`` (JSON ``{id: filename}``), ``fs``, ``n_samples_total``,
``knob_names`` (JSON ``{circuit: [names]}``), ``knob_ranges``, ``circuit_kinds``,
``generator_version``, ``config`` (JSON), ``failed`` (JSON list of skipped samples) and
``accuracy`` (JSON summary of the simulation error).

The file is written by :mod:`kaspix_spice.shards`; this module only reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
from kaspix import KaspixError

__all__ = ["SpiceDataset", "export_pt", "open_dataset", "read_metadata", "split_settings"]


Split = Literal["train", "val", "test", "all"]


#: What every merged dataset holds; a file without them is not one.
_REQUIRED = ("audio_in", "audio_out", "knobs", "circuit_id", "setting_id")
_JSON_ATTRIBUTES = ("circuit_mapping", "knob_names", "knob_ranges", "circuit_kinds", "config", "failed", "accuracy")


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The dataset's attributes, JSON decoded.

    Raises:
        KaspixError: the file is missing, not HDF5, a single shard, or not a kaspix-spice dataset.
    """
    with open_dataset(path) as f:
        meta = dict(f.attrs)
    for key in _JSON_ATTRIBUTES:
        if key in meta:
            meta[key] = json.loads(meta[key])
    return meta


def open_dataset(path: str | Path) -> h5py.File:
    """Open a merged ``dataset.h5`` for reading, checking that it is one.

    Raises:
        KaspixError: naming the file and what it is instead (missing, not HDF5, a shard, another HDF5 file).
    """
    path = Path(path)
    generate_hint = "generate one with `kaspix spice generate OUT_DIR`"
    if not path.is_file():
        raise KaspixError(f"dataset not found: {path}", hint=generate_hint)
    if not h5py.is_hdf5(path):
        raise KaspixError(
            "not an HDF5 file, so not a kaspix-spice dataset", where=str(path), hint=f"give the dataset.h5 of a generation; {generate_hint}"
        )
    f = h5py.File(path, "r")
    missing = [key for key in _REQUIRED if key not in f]
    if missing:
        shard = "count" in f.attrs and "failed" in f.attrs
        f.close()
        if shard:
            raise KaspixError(
                "this is one shard of a generation, not the merged dataset",
                where=str(path),
                hint=f"use {path.parent.parent / 'dataset.h5'} (rerun the generate command to merge the shards)",
            )
        raise KaspixError(
            f"an HDF5 file, but not a kaspix-spice dataset: it has no {', '.join(repr(k) for k in missing)}",
            where=str(path),
            hint=f"give the dataset.h5 of a generation; {generate_hint}",
        )
    return f


def split_settings(
    circuit_id: np.ndarray, setting_id: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Row indices per split; whole knob settings go to one split, so none leaks across splits.

    Each circuit's settings are shuffled with ``seed``; with three or more settings every split
    gets at least one.
    """
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for circuit in np.unique(circuit_id):
        settings = np.unique(setting_id[circuit_id == circuit])
        rng.shuffle(settings)
        n = len(settings)
        n_test = max(1, round(test_fraction * n)) if n >= 3 and test_fraction > 0 else 0
        n_val = max(1, round(val_fraction * n)) if n >= 3 and val_fraction > 0 else 0
        groups = {"test": settings[:n_test], "val": settings[n_test : n_test + n_val], "train": settings[n_test + n_val :]}
        for name, group in groups.items():
            chosen[name] += list(np.flatnonzero(np.isin(setting_id, group) & (circuit_id == circuit)))
    return {k: np.array(sorted(v), dtype=np.int64) for k, v in chosen.items()}


class SpiceDataset:
    """A torch ``Dataset`` over ``dataset.h5``: items ``(audio_in, knobs, circuit_id, audio_out)``.

    Audio tensors are shaped ``(segment, 1)``; with ``segment`` set, each clip is cut into
    consecutive segments of that length (the remainder is dropped).

    Args:
        path: The merged HDF5 file.
        split: ``train``, ``val``, ``test`` (split by knob setting, see :func:`split_settings`) or ``all``.
        segment: Segment length in samples; ``None`` keeps whole clips.
        val_fraction, test_fraction, seed: The split.
    """

    def __init__(
        self,
        path: str | Path,
        split: Split = "all",
        *,
        segment: int | None = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
    ) -> None:
        import torch

        with open_dataset(path) as f:
            circuit_id = f["circuit_id"][()]
            setting_id = f["setting_id"][()]
            rows = (
                np.arange(len(circuit_id))
                if split == "all"
                else split_settings(circuit_id, setting_id, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)[split]
            )
            self.audio_in = torch.from_numpy(f["audio_in"][()][rows])
            self.audio_out = torch.from_numpy(f["audio_out"][()][rows])
            self.knobs = torch.from_numpy(f["knobs"][()][rows])
        self.rows = rows
        self.circuit_id = torch.from_numpy(circuit_id[rows].astype(np.int64))
        self.setting_id = setting_id[rows]
        self.metadata = read_metadata(path)
        length = self.audio_in.shape[1] if len(rows) else 0
        self.segment = min(segment or length, length) if length else 0
        self.per_clip = length // self.segment if self.segment else 0

    def __len__(self) -> int:
        return len(self.rows) * self.per_clip

    def __getitem__(self, index: int) -> tuple[Any, Any, Any, Any]:
        clip, part = divmod(index, self.per_clip)
        window = slice(part * self.segment, (part + 1) * self.segment)
        return (self.audio_in[clip, window, None], self.knobs[clip], self.circuit_id[clip], self.audio_out[clip, window, None])


def export_pt(path: str | Path, out: str | Path) -> Path:
    """Write the seed project's ``.pt`` layout; it loads with ``torch.load(out, weights_only=True)``.

    Layout: ``{"x": [{audio_in, knobs, circuit_id, netlist_origin}], "y": [audio_out],
    "metadata": {circuit_mapping: {id: filename}, fs, n_samples_total}}``.
    """
    import torch
    from kaspix.atomic import atomic_path

    meta = read_metadata(path)
    with open_dataset(path) as f:
        audio_in, audio_out, knobs = f["audio_in"][()], f["audio_out"][()], f["knobs"][()]
        circuit_id, origin = f["circuit_id"][()], f["netlist_origin"][()].astype(str)
    data = {
        "x": [
            {
                "audio_in": torch.from_numpy(audio_in[i]),
                "knobs": torch.from_numpy(knobs[i]),
                "circuit_id": int(circuit_id[i]),
                "netlist_origin": str(origin[i]),
            }
            for i in range(len(circuit_id))
        ],
        "y": [torch.from_numpy(audio_out[i]) for i in range(len(circuit_id))],
        "metadata": {
            "circuit_mapping": {int(k): v for k, v in meta["circuit_mapping"].items()},
            "fs": float(meta["fs"]),
            "n_samples_total": int(meta["n_samples_total"]),
        },
    }
    with atomic_path(out) as tmp:
        torch.save(data, tmp)
    return Path(out)
