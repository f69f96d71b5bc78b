"""Similarity search over state sequences: distance curve, best match, sharpness of the "V".

Generic over any states of shape ``(T, D)`` (reservoir states, oscillator-bank features, their
int8 codes): a query vector ``(D,)`` is compared with every row by Euclidean distance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["best_match", "delayed_copy", "distance_curve", "runner_up_margin", "v_sharpness"]

#: Rows per block in :func:`distance_curve`, so that long files need little temporary memory.
BLOCK_ROWS = 1 << 15


def distance_curve(query_vector: np.ndarray, states: np.ndarray) -> np.ndarray:
    """Euclidean distance from ``query_vector`` to every row of ``states``.

    Args:
        query_vector: Shape ``(D,)``, any real dtype.
        states: Shape ``(T, D)``, any real dtype (differences computed block by block, in float32
            for float32 and smaller types, else float64).

    Returns:
        float64 array of shape ``(T,)``.
    """
    import numpy as np

    states = np.asarray(states)
    dtype = np.float32 if states.dtype in (np.float32, np.float16, np.int8, np.uint8, np.int16) else np.float64
    query = np.asarray(query_vector, dtype=dtype).reshape(-1)
    if states.ndim != 2 or states.shape[1] != query.shape[0]:
        raise ValueError(f"states must be (T, {query.shape[0]}), got {states.shape}")
    out = np.empty(states.shape[0], dtype=np.float64)
    for start in range(0, states.shape[0], BLOCK_ROWS):
        block = states[start : start + BLOCK_ROWS].astype(dtype) - query
        out[start : start + block.shape[0]] = np.sqrt(np.einsum("td,td->t", block, block))
    return out


def best_match(curve: np.ndarray) -> tuple[int, float]:
    """The index of the smallest distance and that distance (the first one on ties)."""
    import numpy as np

    curve = np.asarray(curve)
    if curve.size == 0:
        raise ValueError("the distance curve is empty")
    index = int(np.argmin(curve))
    return index, float(curve[index])


def v_sharpness(curve: np.ndarray, index: int, width: int) -> float:
    """How sharply the distance rises around ``index``: the "V" of a good match.

    Defined as ``(mean(curve[index - width], curve[index + width]) - curve[index]) / median(curve)``
    (the sides that fall outside the curve are left out): the rise of the distance ``width`` samples
    away from the match, in units of the curve's typical (median) distance. 0 means flat (the
    match is not located to within ``width`` samples), 1 means the distance is back to its typical
    value ``width`` samples away; negative means ``index`` is not a local minimum at that scale.

    Args:
        curve: Distances, shape ``(T,)``.
        index: The match (usually :func:`best_match`'s index).
        width: The distance in samples at which the rise is measured (> 0).
    """
    import numpy as np

    curve = np.asarray(curve, dtype=np.float64)
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    sides = [curve[i] for i in (index - width, index + width) if 0 <= i < curve.size]
    median = float(np.median(curve))
    if not sides or median <= 0.0:
        return 0.0
    return float((np.mean(sides) - curve[index]) / median)


def runner_up_margin(curve: np.ndarray, match: int, exclude: int) -> tuple[int, float]:
    """The closest rival of a match: the index of the smallest distance at least ``exclude`` samples
    from ``match``, and that distance over the curve's median (0: a rival as close as a perfect
    match; about 1: nothing else comes near). ``(-1, nan)`` when the curve has no such sample."""
    import numpy as np

    far = np.abs(np.arange(curve.size) - match) >= exclude
    if not far.any():
        return -1, float("nan")
    index = int(np.flatnonzero(far)[np.argmin(curve[far])])
    median = float(np.median(curve))
    return index, float(curve[index] / median) if median > 0 else float("nan")


def delayed_copy(signal: np.ndarray, shift: int, *, snr_db: float | None = None, seed: int = 0) -> np.ndarray:
    """A search target: ``signal`` delayed by ``shift`` samples (zeros first, same length), plus white
    noise ``snr_db`` below the signal's RMS when given (seeded). Its match for sample ``at`` is ``at + shift``."""
    import numpy as np

    signal = np.asarray(signal)
    delayed = np.concatenate([np.zeros(shift, signal.dtype), signal[: signal.shape[0] - shift]])
    if snr_db is None:
        return delayed
    rms = float(np.sqrt(np.mean(signal.astype(np.float64) ** 2))) or 1.0
    noise = np.random.default_rng(seed).normal(0.0, rms * 10 ** (-snr_db / 20), signal.shape[0])
    return (delayed + noise).astype(signal.dtype)
