"""Shard files: written by the generation's workers, checked on resume, merged into ``dataset.h5``.

Every shard records the facts that determined its samples (:func:`kaspix_spice.provenance.shard_facts`:
the generation config, each of its circuits' parsed netlist and simulator, the generator and
ngspice versions) and their fingerprint, so that a resume never mixes samples of an edited netlist
or a changed config with new ones. The merged layout is described in :mod:`kaspix_spice.dataset`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from kaspix import KaspixError
from kaspix.atomic import atomic_path
from kaspix.fingerprint import fingerprint

from kaspix_spice.classify import classify
from kaspix_spice.layout import GENERATOR_VERSION, shard_path

__all__ = ["accuracy_summary", "merge_shards", "read_shard_facts", "write_shard"]

_STR = h5py.string_dtype(encoding="utf-8")
_TEXT_COLUMNS = ("recipe", "knob_values", "simulator")
_COLUMNS = ("audio_in", "audio_out", "sample_index", "circuit_id", "setting_id", "substeps", "error_estimate", *_TEXT_COLUMNS)


def write_shard(path: Path, rows: list[dict[str, Any]], failed: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    """Write one shard atomically, with the facts that made it and their fingerprint."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["facts"] = json.dumps(facts, sort_keys=True)
        f.attrs["fingerprint"] = fingerprint(facts)
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
            f.create_dataset("simulator", data=[r["simulator"] for r in rows], dtype=_STR)


def read_shard_facts(path: Path) -> dict[str, Any] | None:
    """The facts a finished shard was made from; None for a shard without them or one that cannot be read."""
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("facts")
            return json.loads(raw) if raw is not None else None
    except (OSError, ValueError):
        return None


def accuracy_summary(substeps: np.ndarray, errors: np.ndarray, simulators: np.ndarray, tolerance: float) -> dict[str, Any]:
    """How many samples each simulator made; for ngspice's, the substeps used and the estimated errors (relative to output RMS)."""
    summary: dict[str, Any] = {f"{name}_samples": int(np.sum(simulators == name)) for name in ("mna", "ngspice")}
    spice = simulators == "ngspice"
    known = errors[spice & np.isfinite(errors)]
    if np.any(spice):
        summary.update(substeps_mean=round(float(np.mean(substeps[spice])), 3), substeps_max=int(np.max(substeps[spice])))
    summary["error_estimate_max"] = float(np.max(known)) if len(known) else None
    summary["over_tolerance"] = int(np.sum(known > tolerance))
    return summary


def merge_shards(out_dir: Path, count: int, templates: list[Any], cfg: Any, fs: float) -> Path:
    """Concatenate ``count`` shards of ``out_dir`` into ``out_dir/dataset.h5`` (atomically).

    Args:
        out_dir: The generation folder.
        count: How many shards the plan has.
        templates: The circuits, by circuit id.
        cfg: The generation config (stored in the file; its ``tolerance`` judges the accuracy summary).
        fs: The sample rate of the clips.
    """
    width = max((len(t.knobs) for t in templates), default=0)
    parts: dict[str, list[Any]] = {k: [] for k in _COLUMNS}
    failed: list[dict[str, Any]] = []
    made_by: list[str] = []
    for shard in range(count):
        path = shard_path(out_dir, shard)
        if not path.is_file():
            raise KaspixError(f"shard {shard} is missing", where=str(path), hint="rerun the same generate command to finish it")
        with h5py.File(path, "r") as f:
            failed += json.loads(f.attrs["failed"])
            made_by.append(str(f.attrs["fingerprint"]))
            if int(f.attrs["count"]) == 0:
                continue
            for key in parts:
                data = f[key][()]
                parts[key].append(data.astype(str) if key in _TEXT_COLUMNS else data)
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
    with atomic_path(out_dir / "dataset.h5") as tmp, h5py.File(tmp, "w") as f:
        for key in ("audio_in", "audio_out", "circuit_id", "setting_id", "sample_index", "substeps", "error_estimate"):
            f[key] = merged[key]
        f["knobs"] = knobs
        f["knob_mask"] = mask
        f["knobs_physical"] = physical
        f.create_dataset("netlist_origin", data=[templates[int(c)].path.name for c in merged["circuit_id"]], dtype=_STR)
        f.create_dataset("recipe", data=list(merged["recipe"]), dtype=_STR)
        f.create_dataset("simulator", data=list(merged["simulator"]), dtype=_STR)
        f.attrs["circuit_mapping"] = json.dumps({str(i): t.path.name for i, t in enumerate(templates)})
        f.attrs["knob_names"] = json.dumps({t.name: t.knob_names for t in templates})
        f.attrs["knob_ranges"] = json.dumps(
            {t.name: {k.name: [k.low, k.high, "log" if k.log else "lin"] for k in t.knobs} for t in templates}
        )
        f.attrs["circuit_kinds"] = json.dumps({t.name: classify(t).kind for t in templates})
        f.attrs["fs"] = float(fs)
        f.attrs["n_samples_total"] = int(n * merged["audio_in"].shape[1])
        f.attrs["generator_version"] = GENERATOR_VERSION
        f.attrs["config"] = json.dumps(cfg.model_dump(mode="json"))
        f.attrs["failed"] = json.dumps(failed, default=float)
        f.attrs["fingerprint"] = fingerprint(made_by)  # of everything that made the samples: the shards' facts
        f.attrs["accuracy"] = json.dumps(accuracy_summary(merged["substeps"], merged["error_estimate"], merged["simulator"], cfg.tolerance))
    return out_dir / "dataset.h5"
