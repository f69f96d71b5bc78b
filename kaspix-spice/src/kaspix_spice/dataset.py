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
=================  ============  ===============================================

File attributes: ``circuit_mapping`` (JSON ``{id: filename}``), ``fs``, ``n_samples_total``,
``knob_names`` (JSON ``{circuit: [names]}``), ``circuit_kinds``, ``generator_version``,
``config`` (JSON) and ``failed`` (JSON list of skipped samples).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
from kaspix import KaspixError

from kaspix_spice.layout import GENERATOR_VERSION, shard_path

Split = Literal["train", "val", "test", "all"]
_STR = h5py.string_dtype(encoding="utf-8")


def write_shard(path: Path, rows: list[dict[str, Any]], failed: list[dict[str, Any]]) -> None:
    """Write one shard atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["failed"] = json.dumps(failed, default=float)
        f.attrs["count"] = len(rows)
        if rows:
            f["audio_in"] = np.stack([r["x"] for r in rows]).astype(np.float32)
            f["audio_out"] = np.stack([r["y"] for r in rows]).astype(np.float32)
            f["sample_index"] = np.array([r["spec"].index for r in rows], dtype=np.int64)
            f["circuit_id"] = np.array([r["spec"].circuit_id for r in rows], dtype=np.int32)
            f["setting_id"] = np.array([r["spec"].setting_id for r in rows], dtype=np.int32)
            f["substeps"] = np.array([r["substeps"] for r in rows], dtype=np.int32)
            f["error_estimate"] = np.array([r["error_estimate"] for r in rows], dtype=np.float64)
            f.create_dataset("recipe", data=[json.dumps(r["recipe"]) for r in rows], dtype=_STR)
            f.create_dataset("knob_values", data=[json.dumps(r["spec"].knobs) for r in rows], dtype=_STR)
    os.replace(tmp, path)


def merge_shards(out_dir: Path, count: int, templates: list[Any], cfg: Any) -> Path:
    """Concatenate ``count`` shards of ``out_dir`` into ``out_dir/dataset.h5`` (atomically)."""
    width = max((len(t.knobs) for t in templates), default=0)
    keys = ("audio_in", "audio_out", "sample_index", "circuit_id", "setting_id", "substeps", "error_estimate", "recipe", "knob_values")
    parts: dict[str, list[Any]] = {k: [] for k in keys}
    failed: list[dict[str, Any]] = []
    for shard in range(count):
        path = shard_path(out_dir, shard)
        if not path.is_file():
            raise KaspixError(f"shard {shard} is missing", where=str(path), hint="rerun the same generate command to finish it")
        with h5py.File(path, "r") as f:
            failed += json.loads(f.attrs["failed"])
            if int(f.attrs["count"]) == 0:
                continue
            for key in parts:
                data = f[key][()]
                parts[key].append(data.astype(str) if key in ("recipe", "knob_values") else data)
    if not parts["audio_in"]:
        raise KaspixError(
            "every sample failed to simulate; nothing to merge", where=str(out_dir), hint="see the warnings above for ngspice's messages"
        )
    merged = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(merged["sample_index"])
    merged = {k: v[order] for k, v in merged.items()}
    n = len(order)
    knobs = np.zeros((n, width), np.float32)
    physical = np.zeros((n, width), np.float64)
    mask = np.zeros((n, width), bool)
    for row in range(n):
        template = templates[int(merged["circuit_id"][row])]
        values = json.loads(str(merged["knob_values"][row]))
        for col, knob in enumerate(template.knobs):
            physical[row, col] = values[knob.name]
            knobs[row, col] = knob.normalize(values[knob.name])
            mask[row, col] = True
    target = out_dir / "dataset.h5"
    tmp = out_dir / ".dataset.h5.tmp"
    with h5py.File(tmp, "w") as f:
        f["audio_in"] = merged["audio_in"]
        f["audio_out"] = merged["audio_out"]
        f["knobs"] = knobs
        f["knob_mask"] = mask
        f["knobs_physical"] = physical
        f["circuit_id"] = merged["circuit_id"]
        f["setting_id"] = merged["setting_id"]
        f["sample_index"] = merged["sample_index"]
        f["substeps"] = merged["substeps"]
        f["error_estimate"] = merged["error_estimate"]
        f.create_dataset("netlist_origin", data=[templates[int(c)].path.name for c in merged["circuit_id"]], dtype=_STR)
        f.create_dataset("recipe", data=list(merged["recipe"]), dtype=_STR)
        f.attrs["circuit_mapping"] = json.dumps({str(i): t.path.name for i, t in enumerate(templates)})
        f.attrs["knob_names"] = json.dumps({t.name: t.knob_names for t in templates})
        f.attrs["knob_ranges"] = json.dumps(
            {t.name: {k.name: [k.low, k.high, "log" if k.log else "lin"] for k in t.knobs} for t in templates}
        )
        f.attrs["circuit_kinds"] = json.dumps({t.name: t.kind for t in templates})
        f.attrs["fs"] = float(cfg.fs)
        f.attrs["n_samples_total"] = int(n * merged["audio_in"].shape[1])
        f.attrs["generator_version"] = GENERATOR_VERSION
        f.attrs["config"] = json.dumps(cfg.model_dump(mode="json"))
        f.attrs["failed"] = json.dumps(failed, default=float)
    os.replace(tmp, target)
    return target


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The dataset's attributes, JSON decoded."""
    with h5py.File(_existing(path), "r") as f:
        meta = dict(f.attrs)
    for key in ("circuit_mapping", "knob_names", "knob_ranges", "circuit_kinds", "config", "failed"):
        if key in meta:
            meta[key] = json.loads(meta[key])
    return meta


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise KaspixError(f"dataset not found: {path}", hint="generate one with `kaspix spice generate OUT_DIR`")
    return path


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

        path = _existing(path)
        with h5py.File(path, "r") as f:
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
    import io

    import torch
    from kaspix.atomic import atomic_write_bytes

    meta = read_metadata(path)
    with h5py.File(_existing(path), "r") as f:
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
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return atomic_write_bytes(out, buffer.getvalue())
