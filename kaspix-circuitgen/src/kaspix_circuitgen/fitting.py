"""Component values fitted to a target by Levenberg-Marquardt, every evaluation an exact batched MNA.

The unknowns are the logarithms of a family's component values; the Jacobian comes from finite
differences (one extra batched MNA per component). Two targets use it:

* :func:`fit_response`: a measured frequency response (the analytic decoder's refinement: the
  decoded components are moved until the circuit's response matches the one the encoder read);
* :func:`kaspix_circuitgen.design` fits a spec (cutoff or centre frequency, Q) the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kaspix_circuitgen.families import Family

__all__ = ["fit_response", "levenberg_marquardt", "response_residual"]


def levenberg_marquardt(
    residual: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    *,
    lower: np.ndarray,
    upper: np.ndarray,
    steps: int = 12,
    fd_step: float = 1e-5,
) -> np.ndarray:
    """Minimize ``|residual(x)|^2`` for a batch of starting points within bounds.

    Args:
        residual: ``(B, k) -> (B, m)``, vectorized; non-finite entries count as large.
        x0: ``(B, k)`` starting points.
        lower, upper: ``(k,)`` or ``(B, k)`` bounds (the result is clipped to them).
        steps: Iterations.
        fd_step: Finite-difference step in ``x``.
    """
    x = np.clip(np.asarray(x0, dtype=float), lower, upper)
    batch, k = x.shape
    r = _clean(residual(x))
    damping = np.full(batch, 1e-3)
    eye = np.eye(k)
    for _ in range(steps):
        probes = x[:, None, :] + fd_step * eye[None]
        rp = _clean(residual(probes.reshape(-1, k))).reshape(batch, k, -1)
        J = np.swapaxes(rp - r[:, None, :], 1, 2) / fd_step
        JtJ = np.swapaxes(J, 1, 2) @ J
        Jtr = np.einsum("bmk,bm->bk", J, r)
        scale = np.diagonal(JtJ, axis1=1, axis2=2) + 1e-9
        step = -np.linalg.solve(JtJ + damping[:, None, None] * (scale[:, None, :] * eye[None]), Jtr[..., None])[..., 0]
        trial = np.clip(x + step, lower, upper)
        rt = _clean(residual(trial))
        better = np.sum(rt**2, axis=-1) < np.sum(r**2, axis=-1)
        x = np.where(better[:, None], trial, x)
        r = np.where(better[:, None], rt, r)
        damping = np.where(better, damping / 3, damping * 10).clip(1e-9, 1e9)
    return x


def _clean(r: np.ndarray) -> np.ndarray:
    return np.nan_to_num(r, nan=1e3, posinf=1e3, neginf=-1e3)


def response_residual(
    family: Family, freqs_hz: np.ndarray, target: np.ndarray, floor: float = 1e-6, anchor: np.ndarray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Residual of log-values ``x`` of ``family``: ``log(|H| + floor) - log(|H_target| + floor)``, the real
    and imaginary parts of ``(H - H_target) / (|H_target| + max(floor, 1e-3))`` (this carries the phase,
    smoothly where ``H_target`` passes through zero) and ``1e-3 (x - anchor)``.

    The last term pins the directions the response does not determine (scaling L and R up and C down
    leaves an RLC notch unchanged) to the start, so that the fit does not wander to the part limits.
    ``target``: ``(B, F)`` complex; ``x`` may hold several points per target (``(B * n, k)``).
    """
    s = 2j * np.pi * np.asarray(freqs_hz)

    def residual(x: np.ndarray) -> np.ndarray:
        repeat = len(x) // len(target)
        values = dict(zip(family.knobs, np.exp(x).T, strict=True))
        h = family.circuit.zpk(values)(s)
        t = np.repeat(target, repeat, axis=0)
        magnitude = np.log(np.abs(h) + floor) - np.log(np.abs(t) + floor)
        relative = (h - t) / (np.abs(t) + max(floor, 1e-3))  # smooth through a notch, unlike a phase difference
        stay = 1e-3 * (x - np.repeat(anchor, repeat, axis=0)) if anchor is not None else x[:, :0]
        return np.concatenate([magnitude, relative.real, relative.imag, stay], axis=-1)

    return residual


def fit_response(family: Family, values: np.ndarray, freqs_hz: np.ndarray, target: np.ndarray, steps: int = 12) -> np.ndarray:
    """Component values of ``family`` (start: ``values`` ``(B, k)``) whose response best matches ``target``.

    Two stages: first with the magnitude floored at -20 dB, so that a notch or a steep skirt a little
    off target does not trap the fit, then with the floor at -120 dB. Values stay within 1/3 .. 3
    times the family's sampling range.
    """
    lows = np.log([k.low / 3 for k in family.template.knobs])
    highs = np.log([k.high * 3 for k in family.template.knobs])
    x = start = np.clip(np.log(values), lows, highs)
    for floor in (0.1, 1e-6):
        x = levenberg_marquardt(response_residual(family, freqs_hz, target, floor, start), x, lower=lows, upper=highs, steps=steps)
    return np.exp(x)
