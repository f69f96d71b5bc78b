"""Loss landscapes: a segment against itself shifted by ``-N .. +N`` samples, and numbers that describe the curve.

The seed claims the CSpace loss is a smooth convex bowl around zero shift while spectral losses
are flat or jagged; :func:`shift_landscape` computes the curves and :func:`landscape_measures`
says, per curve, how wide the basin around 0 is, how monotone each side is, the curvature at 0,
how convex it is and how many local minima it has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from kaspix import KaspixError

__all__ = ["BATCH", "DEFAULT_LOSSES", "landscape_losses", "landscape_measures", "shift_landscape", "symmetric_shifts"]

#: Shifted segments scored per loss call.
BATCH = 64

#: The losses the ``landscape`` command and step compare.
DEFAULT_LOSSES = ("mel", "mrstft", "cspace")


def landscape_losses(sample_rate: int, names: tuple[str, ...] = DEFAULT_LOSSES) -> dict[str, Callable[..., Any]]:
    """The named losses of :mod:`kaspix_cspace.losses` with their defaults at ``sample_rate``, one value per item."""
    from kaspix_cspace.losses import CSpaceLoss, LogMelLoss, MultiResolutionSTFTLoss, SISNRLoss

    makers: dict[str, Callable[[], Any]] = {
        "mel": lambda: LogMelLoss(sample_rate=sample_rate, reduction="none"),
        "mrstft": lambda: MultiResolutionSTFTLoss(reduction="none"),
        "cspace": lambda: CSpaceLoss(sample_rate=sample_rate, reduction="none"),
        "si_snr": lambda: SISNRLoss(reduction="none"),
    }
    unknown = [n for n in names if n not in makers]
    if unknown:
        raise KaspixError(f"unknown loss(es) {unknown}", where="landscape", hint=f"choose from {sorted(makers)}")
    return {name: makers[name]() for name in names}


def symmetric_shifts(max_shift: int, step: int = 1) -> np.ndarray:
    """``0, +-step, +-2 step, ...`` up to ``max_shift``, ascending (0 is always included)."""
    side = np.arange(step, max_shift + 1, step)
    return np.concatenate([-side[::-1], [0], side])


def shift_landscape(
    audio: np.ndarray,
    at: int,
    *,
    length: int,
    max_shift: int,
    losses: Mapping[str, Callable[..., Any]],
    step: int = 1,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``loss(audio[at + s : at + s + length], audio[at : at + length])`` for ``s`` in ``-max_shift .. max_shift``.

    Args:
        audio: Mono float audio ``(T,)``.
        at: First sample of the reference segment.
        length: Segment length in samples.
        max_shift: ``N``: the largest shift, in samples.
        losses: Name -> ``loss(prediction, target)`` returning one value per item, shape ``(B,)``
            (as :func:`landscape_losses` builds them).
        step: Shift step in samples (the shifts are :func:`symmetric_shifts`).

    Returns:
        ``(shifts, {name: curve})``: int array ``(S,)`` and float64 arrays ``(S,)``.

    Raises:
        KaspixError: the shifted segments do not fit in the audio.
    """
    import torch

    n = audio.shape[0]
    if length < 1 or max_shift < 1 or step < 1:
        raise KaspixError("length, max shift and step must be positive", where="landscape")
    if at - max_shift < 0 or at + max_shift + length > n:
        raise KaspixError(
            f"the segment {at} .. {at + length} shifted by +-{max_shift} samples does not fit in the audio ({n} samples)",
            where="--at",
            hint=f"choose --at between {max_shift} and {n - max_shift - length}, or a shorter --length / --max-shift",
        )
    shifts = symmetric_shifts(max_shift, step)
    signal = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    target = signal[at : at + length][None]
    curves = {name: np.empty(len(shifts)) for name in losses}
    with torch.no_grad():
        for start in range(0, len(shifts), BATCH):
            batch = shifts[start : start + BATCH]
            predictions = torch.stack([signal[at + shift : at + shift + length] for shift in batch])
            targets = target.expand(len(batch), -1)
            for name, loss in losses.items():
                curves[name][start : start + len(batch)] = loss(predictions, targets).double().numpy()
    return shifts, curves


def landscape_measures(shifts: np.ndarray, curve: np.ndarray, *, fit_points: int = 2) -> dict[str, float | int | bool]:
    """Numbers that describe a landscape curve (``shifts`` ascending, containing 0).

    Returns:
        - ``argmin_shift``: the shift of the lowest value (0 for a well-placed minimum);
        - ``local_minima``: interior points lower than both neighbours (1 = a single basin);
        - ``basin_left`` / ``basin_right`` / ``basin_width``: how far (samples) the curve rises
          without a dip when moving away from 0 on each side, and their sum;
        - ``monotone_left`` / ``monotone_right``: the fraction of steps away from 0 on which the
          curve rises (1 = monotone);
        - ``convex_fraction``: the fraction of interior points with a non-negative second difference;
        - ``roughness``: the curve's total variation over the rise from 0 to both ends
          (``sum |diff| / (|c(-N) - c(0)| + |c(N) - c(0)|)``): 1 for a monotone bowl, larger when
          jagged or oscillating;
        - ``curvature``: the second derivative at 0 from a least-squares parabola through the
          ``2 fit_points + 1`` points around 0 (loss per sample^2);
        - ``curvature_normalized``: ``curvature * N^2 / (max - min)`` (``N`` the largest shift):
          2 for a parabola spanning the window, above 2 for a basin narrower than the window,
          near 0 for a flat bottom;
        - ``rival_depth``: the lowest point outside the basin around 0, as a fraction of the way
          from ``c(0)`` to the maximum (0: another shift is as good as the true one, 1: no rival;
          1 when the basin spans the window);
        - ``convex_bowl``: minimum at 0, a single local minimum and both sides monotone.
    """
    shifts = np.asarray(shifts)
    curve = np.asarray(curve, dtype=np.float64)
    zero = int(np.flatnonzero(shifts == 0)[0])
    span = float(curve.max() - curve.min())
    tol = 1e-12 * max(span, 1e-300)
    diffs = np.diff(curve)
    right, left = diffs[zero:], -diffs[:zero][::-1]  # steps moving away from 0
    step = int(shifts[1] - shifts[0]) if len(shifts) > 1 else 1

    def run(rises: np.ndarray) -> int:
        falls = np.flatnonzero(rises < -tol)
        return int(falls[0] if falls.size else rises.size)

    interior = curve[1:-1]
    minima = int(np.sum((interior < curve[:-2] - tol) & (interior < curve[2:] - tol)))
    second = curve[2:] - 2 * curve[1:-1] + curve[:-2]
    lo, hi = max(0, zero - fit_points), min(len(curve), zero + fit_points + 1)
    coefficients = np.polyfit(shifts[lo:hi].astype(np.float64), curve[lo:hi], 2) if hi - lo >= 3 else np.zeros(3)
    curvature = float(2 * coefficients[0])
    max_shift = float(np.abs(shifts).max())
    basin_left, basin_right = run(left) * step, run(right) * step
    monotone_left = float(np.mean(left > tol)) if left.size else 1.0
    monotone_right = float(np.mean(right > tol)) if right.size else 1.0
    argmin_shift = int(shifts[int(np.argmin(curve))])
    rise = abs(curve[0] - curve[zero]) + abs(curve[-1] - curve[zero])
    outside = np.concatenate([curve[: zero - basin_left // step], curve[zero + basin_right // step + 1 :]])
    height = curve.max() - curve[zero]
    rival_depth = float((outside.min() - curve[zero]) / height) if outside.size and height > 0 else 1.0
    return {
        "argmin_shift": argmin_shift,
        "local_minima": minima,
        "basin_left": basin_left,
        "basin_right": basin_right,
        "basin_width": basin_left + basin_right,
        "monotone_left": monotone_left,
        "monotone_right": monotone_right,
        "convex_fraction": float(np.mean(second >= -tol)) if second.size else 1.0,
        "roughness": float(np.abs(diffs).sum() / rise) if rise > 0 else float("inf"),
        "curvature": curvature,
        "curvature_normalized": curvature * max_shift**2 / span if span > 0 else 0.0,
        "rival_depth": rival_depth,
        "convex_bowl": bool(argmin_shift == 0 and minima <= 1 and monotone_left == 1.0 and monotone_right == 1.0),
    }
