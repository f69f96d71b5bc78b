"""Random circuits of the families with exact ground truth, cached as HDF5.

Each circuit: a family, its component values (E24 values drawn log-uniformly in the template's
ranges, kept when the family's rules hold: every root between 30 Hz and 30 kHz, pole-pair Q in
0.6..8, ...), its poles, zeros and gain by numeric MNA, its frequency response on :data:`GRID_HZ`
(10 Hz .. 100 kHz, 129 points), and its spec (filter type, cutoff or centre, Q) from
:mod:`kaspix_circuitgen.characteristics`. The same seed gives the same circuits; a cache whose
settings differ is regenerated.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from kaspix import KaspixError

from kaspix_circuitgen.characteristics import characteristics
from kaspix_circuitgen.elements import SLOTS
from kaspix_circuitgen.eseries import nearest
from kaspix_circuitgen.families import FAMILIES, FILTER_TYPES, Family

__all__ = [
    "GRID_HZ",
    "MAX_KNOBS",
    "CircuitSet",
    "draw_values",
    "generate",
    "load_or_generate",
    "response_features",
    "sample_family",
    "spec_features",
    "split_indices",
]

GRID_HZ = np.logspace(1, 5, 129)
MAX_KNOBS = max(len(f.knobs) for f in FAMILIES)
#: Bump when the way circuits are drawn changes, so that old caches are regenerated.
_FORMAT = 1


@dataclass(frozen=True)
class CircuitSet:
    """A batch of circuits and their exact ground truth (arrays share the first axis).

    Attributes:
        family: ``(N,)`` index into :data:`kaspix_circuitgen.families.FAMILIES`.
        knobs: ``(N, MAX_KNOBS)`` component values (SI units) in the family's knob order, NaN after them.
        zeros, poles: ``(N, SLOTS)`` complex roots in rad/s, NaN-padded (after cancellation).
        gain: ``(N,)`` the ``k`` of ``H = k prod(s - z) / prod(s - p)``.
        response: ``(N, len(GRID_HZ))`` complex ``H(j 2 pi f)``.
        filter_type: ``(N,)`` index into :data:`kaspix_circuitgen.families.FILTER_TYPES`.
        frequency_hz: ``(N,)`` cutoff (low/high-pass) or centre (band-pass/stop).
        q: ``(N,)`` Q (NaN for first-order and all-real low/high-pass circuits).
    """

    family: np.ndarray
    knobs: np.ndarray
    zeros: np.ndarray
    poles: np.ndarray
    gain: np.ndarray
    response: np.ndarray
    filter_type: np.ndarray
    frequency_hz: np.ndarray
    q: np.ndarray

    def __len__(self) -> int:
        return len(self.family)

    def subset(self, index: np.ndarray) -> CircuitSet:
        """The circuits at ``index``."""
        return CircuitSet(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def knob_values(self, row: int) -> dict[str, float]:
        """One circuit's component values by knob name."""
        family = FAMILIES[int(self.family[row])]
        return {name: float(self.knobs[row, i]) for i, name in enumerate(family.knobs)}

    def save(self, path: Path, settings: dict[str, object]) -> None:
        """Write to HDF5 (compressed), with the settings that made it."""
        import h5py

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with h5py.File(tmp, "w") as h5:
            for f in fields(self):
                h5.create_dataset(f.name, data=getattr(self, f.name), compression="gzip", compression_opts=4)
            h5.attrs["settings"] = json.dumps(settings, sort_keys=True)
            h5.attrs["families"] = json.dumps([fam.name for fam in FAMILIES])
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> tuple[CircuitSet, dict[str, object]]:
        """Read an HDF5 file written by :meth:`save`, and its settings."""
        import h5py

        with h5py.File(path, "r") as h5:
            data = CircuitSet(**{f.name: h5[f.name][()] for f in fields(CircuitSet)})
            settings = json.loads(h5.attrs["settings"])
        return data, settings


def draw_values(family: Family, count: int, rng: np.random.Generator) -> np.ndarray:
    """``(count, k)`` E24 values drawn log-uniformly within each knob's range (the family's rules unchecked)."""
    columns = []
    for knob in family.template.knobs:
        raw = np.exp(rng.uniform(math.log(knob.low), math.log(knob.high), count))
        columns.append(nearest(raw, "E24", knob.low, knob.high)[..., 0])
    return np.stack(columns, axis=-1)


def sample_family(family: Family, count: int, rng: np.random.Generator) -> tuple[np.ndarray, object]:
    """``count`` valid circuits of ``family``: their knob values and their :class:`~kaspix_spice.mna.Zpk`."""
    knobs: list[np.ndarray] = []
    have = 0
    for _ in range(200):
        trial = draw_values(family, max(64, 3 * (count - have)), rng)
        zpk = family.circuit.zpk(dict(zip(family.knobs, trial.T, strict=True)))
        ok = family.valid(zpk.zeros.values, zpk.poles.values)
        knobs.append(trial[ok])
        have += int(ok.sum())
        if have >= count:
            break
    else:
        raise KaspixError(f"could not draw {count} valid {family.name} circuits", hint="widen the knob ranges in its template")
    values = family.canonical(np.concatenate(knobs)[:count])
    return values, family.circuit.zpk(dict(zip(family.knobs, values.T, strict=True)))


def _pad(roots: np.ndarray) -> np.ndarray:
    out = np.full((len(roots), SLOTS), np.nan, dtype=complex)
    out[:, : roots.shape[-1]] = roots[:, :SLOTS]
    return out


def generate(per_family: int, seed: int) -> CircuitSet:
    """``per_family`` circuits of every family, seeded."""
    rng = np.random.default_rng(seed)
    parts = []
    for index, family in enumerate(FAMILIES):
        knobs, zpk = sample_family(family, per_family, rng)
        padded = np.full((per_family, MAX_KNOBS), np.nan)
        padded[:, : knobs.shape[1]] = knobs
        zeros, poles = _pad(zpk.zeros.values), _pad(zpk.poles.values)
        ch = characteristics(zeros, poles, zpk.gain)
        parts.append(
            CircuitSet(
                family=np.full(per_family, index),
                knobs=padded,
                zeros=zeros,
                poles=poles,
                gain=zpk.gain,
                response=zpk(2j * np.pi * GRID_HZ),
                filter_type=np.full(per_family, FILTER_TYPES.index(family.filter_type)),
                frequency_hz=ch.frequency_hz,
                q=ch.q,
            )
        )
    return CircuitSet(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(CircuitSet)})


def load_or_generate(path: Path, per_family: int, seed: int) -> CircuitSet:
    """The cached circuits at ``path`` when they were made with the same settings, else new ones (cached)."""
    settings = {"per_family": per_family, "seed": seed, "format": _FORMAT, "families": [f.name for f in FAMILIES]}
    if path.is_file():
        data, stored = CircuitSet.load(path)
        if stored == settings:
            return data
    data = generate(per_family, seed)
    data.save(path, settings)
    return data


def split_indices(data: CircuitSet, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Train/val/test indices, stratified by family, seeded."""
    rng = np.random.default_rng(seed + 1)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for index in range(len(FAMILIES)):
        rows = rng.permutation(np.flatnonzero(data.family == index))
        n_test, n_val = round(test_fraction * len(rows)), round(val_fraction * len(rows))
        parts["test"].append(rows[:n_test])
        parts["val"].append(rows[n_test : n_test + n_val])
        parts["train"].append(rows[n_test + n_val :])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


def response_features(response: np.ndarray) -> np.ndarray:
    """The encoder's input: ``log10 |H|`` (clipped to -5..1) and the phase as cos, sin: ``(N, 3 F)`` float32."""
    magnitude = np.clip(np.log10(np.maximum(np.abs(response), 1e-12)), -5.0, 1.0)
    phase = np.angle(response)
    return np.concatenate([magnitude, np.cos(phase), np.sin(phase)], axis=-1).astype(np.float32)


def spec_features(filter_type: np.ndarray, frequency_hz: np.ndarray, q: np.ndarray) -> np.ndarray:
    """A spec as the spec encoder reads it: type one-hot, ``log10(f / 1 kHz)``, ``log10 Q`` and whether Q is given."""
    one_hot = np.eye(len(FILTER_TYPES))[np.asarray(filter_type, dtype=int)]
    has_q = np.isfinite(q)
    columns = [np.log10(np.asarray(frequency_hz) / 1e3), np.where(has_q, np.log10(np.where(has_q, q, 1.0)), 0.0), has_q.astype(float)]
    return np.concatenate([one_hot, np.stack(columns, axis=-1)], axis=-1).astype(np.float32)
