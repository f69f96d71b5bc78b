"""Hungarian matching (scipy's ``linear_sum_assignment``) made safe, and matched root errors.

``linear_sum_assignment`` raises on NaN or infinite costs, and a set may be empty: :func:`assign`
replaces non-finite costs by a large finite one and returns an empty matching for an empty side.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["BIG_COST", "assign", "match_batch", "root_errors"]

#: What a NaN or infinite cost becomes before matching.
BIG_COST = 1e9


def _sanitize(cost: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(np.asarray(cost, dtype=float), nan=BIG_COST, posinf=BIG_COST, neginf=-BIG_COST), -BIG_COST, BIG_COST)


def assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimum-cost matching of rows to columns of ``cost`` ``(S, T)``: ``(rows, cols)``.

    NaN and infinite costs count as :data:`BIG_COST`; an empty side gives an empty matching.
    """
    if np.size(cost) == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return linear_sum_assignment(_sanitize(cost))


def match_batch(cost: np.ndarray, n_targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match each set of a batch: ``cost`` ``(B, S, T)``, the first ``n_targets[b]`` columns are real.

    Returns:
        ``(batch, slot, target)`` index arrays of every matched pair.
    """
    clean = _sanitize(cost)
    batch, slot, target = [np.zeros(0, dtype=int)], [np.zeros(0, dtype=int)], [np.zeros(0, dtype=int)]
    for b, n in enumerate(np.asarray(n_targets, dtype=int)):
        if n == 0:
            continue
        rows, cols = linear_sum_assignment(clean[b, :, :n])
        batch.append(np.full(len(rows), b))
        slot.append(rows)
        target.append(cols)
    return np.concatenate(batch), np.concatenate(slot), np.concatenate(target)


def root_errors(predicted: np.ndarray, true: np.ndarray, scale: float) -> np.ndarray:
    """Relative errors of the true roots matched to predicted ones (Hungarian on the relative error).

    The error of a true root ``s`` matched to ``p`` is ``|p - s| / |s|``, or ``|p| / scale`` for a root
    at the origin (``scale``: the circuit's frequency scale, the geometric mean of its pole sizes).
    Unmatched true roots (fewer predictions) are left out: they count in the F1 score instead.
    """
    predicted, true = np.asarray(predicted, dtype=complex), np.asarray(true, dtype=complex)
    if len(predicted) == 0 or len(true) == 0:
        return np.zeros(0)
    size = np.where(np.abs(true) > 0, np.abs(true), scale)
    cost = np.abs(predicted[:, None] - true[None, :]) / size[None, :]
    rows, cols = assign(cost)
    return cost[rows, cols]
