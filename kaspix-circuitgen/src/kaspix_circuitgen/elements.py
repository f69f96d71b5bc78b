"""Pole and zero sets as sets of *elements*: a real root, a conjugate pair as (w0, Q), a root at s = 0.

Each element is ``(kind, u, zeta)``:

* ``kind``: :data:`REAL`, :data:`PAIR` or :data:`ORIGIN` (:data:`NONE` pads a set to :data:`SLOTS`);
* ``u = log10(w / OMEGA_REF)``: the root's magnitude, or a pair's natural frequency ``w0``, relative to
  2 pi 1 kHz (0 for the origin);
* ``zeta``: a pair's damping ``-Re(p) / |p| = 1 / (2 Q)`` (0 on the imaginary axis); a real root's
  side, +1 in the left half-plane and -1 in the right one; 0 for the origin.

A conjugate pair is one element, so a set never has to place two predictions symmetrically, and
(w0, Q) stays well-behaved where two roots meet. Counting a pair twice gives the number of roots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "KIND_NAMES",
    "NONE",
    "OMEGA_REF",
    "ORIGIN",
    "PAIR",
    "REAL",
    "SLOTS",
    "element_counts",
    "root_count",
    "roots_from_elements",
    "signature_mask",
    "to_elements",
]

NONE, REAL, PAIR, ORIGIN = 0, 1, 2, 3
KIND_NAMES = ("none", "real", "pair", "origin")
OMEGA_REF = 2 * math.pi * 1000.0
#: Elements per set: enough for four roots.
SLOTS = 4
_KIND_OF = {"real": REAL, "pair": PAIR, "origin": ORIGIN}


def _root_elements(roots: np.ndarray) -> np.ndarray:
    """Per root entry ``(kind, u, zeta)``; the lower root of a pair and NaN padding get :data:`NONE`."""
    size = np.abs(roots)
    valid = ~np.isnan(roots)
    origin = valid & (size == 0)
    real = valid & ~origin & (roots.imag == 0)
    pair = valid & (roots.imag > 0)
    kind = np.select([origin, real, pair], [ORIGIN, REAL, PAIR], NONE)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(real | pair, np.log10(np.where(real | pair, size, 1.0) / OMEGA_REF), 0.0)
        zeta = np.where(pair, -roots.real / np.where(pair, size, 1.0), np.where(real, -np.sign(roots.real), 0.0))
    return np.stack([kind.astype(float), u, zeta], axis=-1)


def to_elements(roots: np.ndarray, slots: int = SLOTS) -> np.ndarray:
    """Root sets (complex ``(..., k)`` in rad/s, NaN-padded) as element sets ``(..., slots, 3)``.

    Elements are sorted by kind (real, pair, origin) then ``u``; unused slots are :data:`NONE`.

    Raises:
        ValueError: a set has more than ``slots`` elements.
    """
    entries = _root_elements(np.asarray(roots, dtype=complex))
    kind = entries[..., 0]
    order = np.lexsort((entries[..., 1], np.where(kind == NONE, 9, kind)), axis=-1)
    entries = np.take_along_axis(entries, order[..., None], axis=-2)
    if entries.shape[-2] > slots and np.any(entries[..., slots:, 0] != NONE):
        raise ValueError(f"a root set has more than {slots} elements")
    if entries.shape[-2] < slots:
        pad = np.zeros((*entries.shape[:-2], slots - entries.shape[-2], 3))
        entries = np.concatenate([entries, pad], axis=-2)
    return entries[..., :slots, :]


def roots_from_elements(elements: np.ndarray) -> list[np.ndarray]:
    """The roots (rad/s) of element sets ``(..., slots, 3)``, one array per set (flattened batch)."""
    flat = np.asarray(elements, dtype=float).reshape(-1, *np.shape(elements)[-2:])
    out = []
    for row in flat:
        roots: list[complex] = []
        for kind, u, zeta in row:
            w = OMEGA_REF * 10.0**u
            if kind == REAL:
                roots.append(complex(-w if zeta >= 0 else w, 0.0))
            elif kind == PAIR:
                z = float(np.clip(zeta, -0.999999, 0.999999))
                re, im = -z * w, w * math.sqrt(1 - z * z)
                roots += [complex(re, -im), complex(re, im)]
            elif kind == ORIGIN:
                roots.append(0j)
        out.append(np.array(roots, dtype=complex))
    return out


def element_counts(elements: np.ndarray) -> np.ndarray:
    """How many real, pair and origin elements each set has: ``(..., 3)``."""
    kind = np.asarray(elements)[..., 0]
    return np.stack([(kind == k).sum(axis=-1) for k in (REAL, PAIR, ORIGIN)], axis=-1)


def root_count(elements: np.ndarray) -> np.ndarray:
    """The number of roots of each set (a pair counts twice)."""
    counts = element_counts(elements)
    return counts[..., 0] + 2 * counts[..., 1] + counts[..., 2]


def signature_mask(roots: np.ndarray, kinds: Sequence[str]) -> np.ndarray:
    """Which root sets (``(..., k)``, NaN-padded) have exactly the element kinds ``kinds``."""
    entries = _root_elements(np.asarray(roots, dtype=complex))
    have = np.stack([(entries[..., 0] == k).sum(axis=-1) for k in (REAL, PAIR, ORIGIN)], axis=-1)
    expected = np.array([sum(_KIND_OF[k] == c for k in kinds) for c in (REAL, PAIR, ORIGIN)])
    lower = (entries[..., 0] == NONE) & ~np.isnan(roots) & (np.asarray(roots).imag < 0)
    return np.all(have == expected, axis=-1) & (lower.sum(axis=-1) == have[..., 1])
