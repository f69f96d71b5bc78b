"""Int8 per-channel affine quantization of embeddings, and how much search and landscape change with it.

Each channel ``d`` of states ``(T, D)`` is stored as int8 codes ``q`` with a float32 ``scale`` and
``offset``: ``x ~ offset + scale * (q + 128)``, ``scale = (max - min) / 255``, ``offset = min``.
Every value in the channel's range is then reconstructed to within ``scale / 2`` (plus float32
rounding of the offset), which :func:`error_bound` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kaspix_cspace.landscape import symmetric_shifts
from kaspix_cspace.search import best_match, distance_curve

__all__ = ["QuantizedStates", "compare_quantized", "embedding_landscape", "error_bound", "quantize_int8"]


@dataclass(frozen=True)
class QuantizedStates:
    """Int8 codes ``(T, D)`` with a float32 ``scale`` and ``offset`` per channel ``(D,)``."""

    codes: np.ndarray
    scale: np.ndarray
    offset: np.ndarray

    def dequantize(self) -> np.ndarray:
        """The float32 states ``offset + scale * (codes + 128)``, shape ``(T, D)``."""
        return self.offset + self.scale * (self.codes.astype(np.float32) + 128.0)

    @property
    def nbytes(self) -> int:
        """Bytes stored: the codes plus the two float32 parameters per channel."""
        return int(self.codes.nbytes + self.scale.nbytes + self.offset.nbytes)


def quantize_int8(states: np.ndarray) -> QuantizedStates:
    """Quantize real states ``(T, D)`` to int8, per channel, affine (see the module docstring)."""
    states = np.asarray(states, dtype=np.float32)
    low, high = states.min(axis=0), states.max(axis=0)
    scale = ((high - low) / 255.0).astype(np.float32)  # 0 for a constant channel, stored exactly by its offset
    codes = np.clip(np.rint((states - low) / np.where(scale > 0, scale, 1.0)) - 128.0, -128, 127).astype(np.int8)
    return QuantizedStates(codes, scale, low.astype(np.float32))


def error_bound(quantized: QuantizedStates) -> np.ndarray:
    """Per-channel bound on ``|x - dequantize(quantize(x))|``: ``scale / 2`` plus float32 rounding."""
    magnitude = np.abs(quantized.offset) + 255.0 * quantized.scale
    return quantized.scale / 2 + 4 * np.finfo(np.float32).eps * magnitude


def embedding_landscape(states: np.ndarray, at: int, *, length: int, max_shift: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The CSpace state term computed from stored embeddings: ``||E[at+s : at+s+n] - E[at : at+n]||^2 / ||E[at : at+n]||^2``.

    Args:
        states: Embeddings ``(T, D)`` at full rate (e.g. :func:`kaspix_cspace.bank.bank_features`).
        at, length, max_shift, step: As in :func:`kaspix_cspace.landscape.shift_landscape`.

    Returns:
        ``(shifts, curve)``.
    """
    states = np.asarray(states, dtype=np.float64)
    reference = states[at : at + length]
    energy = float(np.sum(reference**2)) or 1.0
    shifts = symmetric_shifts(max_shift, step)
    curve = np.array([np.sum((states[at + s : at + s + length] - reference) ** 2) / energy for s in shifts])
    return shifts, curve


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def compare_quantized(
    query: np.ndarray, target: np.ndarray, at: int, *, length: int, max_shift: int, step: int = 1
) -> tuple[dict[str, float | int | bool], dict[str, np.ndarray]]:
    """Search and landscape with float32 embeddings vs their int8 round trip.

    The query vector is ``query[at]``; the target is searched for it; the landscape is
    :func:`embedding_landscape` of ``target`` around ``at``. Each side's embeddings are quantized
    with their own per-channel parameters.

    Returns:
        ``(measures, curves)``. Measures: ``search_correlation`` and ``landscape_correlation`` (Pearson, float vs int8 curves),
        ``best_match_float`` / ``best_match_int8`` / ``same_best_match``, ``compression_ratio``
        (float32 bytes / int8 bytes including parameters), ``max_error`` and ``error_bound``
        (largest round-trip error and its bound, over all channels) and ``bound_holds``.
    """
    query_q, target_q = quantize_int8(query), quantize_int8(target)
    target_back = target_q.dequantize()
    curve_float = distance_curve(np.asarray(query, np.float32)[at], target)
    curve_int8 = distance_curve(query_q.dequantize()[at], target_back)
    shifts, land_float = embedding_landscape(target, at, length=length, max_shift=max_shift, step=step)
    _, land_int8 = embedding_landscape(target_back, at, length=length, max_shift=max_shift, step=step)
    match_float, match_int8 = best_match(curve_float)[0], best_match(curve_int8)[0]
    errors = np.abs(target_back - np.asarray(target, np.float32)).max(axis=0)
    bound = error_bound(target_q)
    measures = {
        "search_correlation": _correlation(curve_float, curve_int8),
        "landscape_correlation": _correlation(land_float, land_int8),
        "landscape_argmin_float": int(shifts[np.argmin(land_float)]),
        "landscape_argmin_int8": int(shifts[np.argmin(land_int8)]),
        "best_match_float": match_float,
        "best_match_int8": match_int8,
        "same_best_match": match_float == match_int8,
        "compression_ratio": float(np.asarray(target, np.float32).nbytes / target_q.nbytes),
        "max_error": float(errors.max()),
        "error_bound": float(bound.max()),
        "bound_holds": bool(np.all(errors <= bound)),
    }
    curves = {
        "search_float": curve_float,
        "search_int8": curve_int8,
        "shifts": shifts,
        "landscape_float": land_float,
        "landscape_int8": land_int8,
    }
    return measures, curves
