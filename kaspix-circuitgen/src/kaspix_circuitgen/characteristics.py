"""What a transfer function is: its filter type from poles and zeros, gains, cutoff or centre, and Q.

**Filter type** (the rules applied to exact and to predicted poles and zeros alike; ``wp`` is the
geometric mean of the pole magnitudes):

0. poles or zeros not closed under complex conjugation (each root needs a partner within 5% of its
   conjugate; a real root is its own): ``invalid``, no real circuit has them;
1. no poles, or more zeros than poles: ``other``;
2. a zero off the origin (``|z| > 0.05 wp``) within 0.1 rad of the imaginary axis
   (``|Re z| <= 0.1 |z|``): ``bandstop``;
3. otherwise, with ``n0`` zeros at the origin (``|z| <= 0.05 wp``) and ``e`` = poles - zeros:
   ``n0 > 0, e > 0``: ``bandpass``; ``n0 > 0, e = 0``: ``highpass``; ``n0 = 0, e > 0``: ``lowpass``;
   ``n0 = 0, e = 0`` (a shelf): ``lowpass`` when ``|H(0)| > |H(inf)|`` (``prod |z| > prod |p|``),
   ``highpass`` when smaller, ``other`` when equal.

**Characteristic frequency and Q** (from ``|H(jw)|``, -3 dB meaning a power ratio of exactly 1/2):

* low-pass: the cutoff, the frequency above which ``|H|`` stays below ``|H(0)| / sqrt(2)``;
  high-pass: the frequency below which ``|H|`` stays below ``|H(inf)| / sqrt(2)``; Q: the highest Q
  ``|p| / (-2 Re p)`` of a complex pole pair (NaN when all poles are real);
* band-pass: the centre is the peak of ``|H|``; its -3 dB band ``[f1, f2]`` around the peak gives
  ``Q = f0 / (f2 - f1)``;
* band-stop: the stop band ``[f1, f2]`` where ``|H|`` is below ``min(|H(0)|, |H(inf)|) / sqrt(2)``,
  ``Q = f0 / (f2 - f1)``; the centre ``f0`` is the notch, the frequency of its zero pair on the
  imaginary axis (with none, the minimum of ``|H|``; with several, ``sqrt(f1 f2)``).

Everything is vectorized over a batch: roots are NaN-padded arrays in rad/s. Crossings are found on
a log grid and refined by bisection, the peak by bisection on the slope of ``log |H|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kaspix_circuitgen.matching import assign

__all__ = ["Characteristics", "characteristics", "conjugate_closed", "filter_types", "pair_q"]

ORIGIN_TOLERANCE = 0.05
AXIS_TOLERANCE = 0.1
_GRID = 601
_HALF_POWER = math.log(2.0)


def _count(roots: np.ndarray) -> np.ndarray:
    return np.sum(~np.isnan(roots), axis=-1)


def _pole_scale(poles: np.ndarray) -> np.ndarray:
    """The geometric mean of the nonzero pole magnitudes of each set (1 with none)."""
    valid = ~np.isnan(poles) & (poles != 0)
    logs = np.log(np.abs(np.where(valid, poles, 1.0)))
    return np.exp(logs.sum(axis=-1) / np.maximum(valid.sum(axis=-1), 1))


def filter_types(zeros: np.ndarray, poles: np.ndarray) -> np.ndarray:
    """The filter type of each transfer function (rules in the module docstring): a string array."""
    zeros, poles = np.atleast_2d(np.asarray(zeros, dtype=complex)), np.atleast_2d(np.asarray(poles, dtype=complex))
    wp = _pole_scale(poles)[..., None]
    size = np.abs(zeros)
    valid = ~np.isnan(zeros)
    at_origin = valid & (size <= ORIGIN_TOLERANCE * wp)
    on_axis = valid & ~at_origin & (np.abs(zeros.imag) > 0) & (np.abs(zeros.real) <= AXIS_TOLERANCE * size)
    n0 = at_origin.sum(axis=-1)
    excess = _count(poles) - _count(zeros)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.nansum(np.log(np.where(valid, size, 1.0)), axis=-1) - np.nansum(
            np.log(np.where(np.isnan(poles), 1.0, np.abs(poles))), axis=-1
        )
    shelf = np.where(log_ratio > 1e-9, "lowpass", np.where(log_ratio < -1e-9, "highpass", "other"))
    kind = np.where(n0 > 0, np.where(excess > 0, "bandpass", "highpass"), np.where(excess > 0, "lowpass", shelf))
    kind = np.where(on_axis.any(axis=-1), "bandstop", kind)
    kind = np.where((_count(poles) == 0) | (excess < 0), "other", kind)
    return np.where(conjugate_closed(zeros) & conjugate_closed(poles), kind, "invalid")


def conjugate_closed(roots: np.ndarray, tolerance: float = 0.05) -> np.ndarray:
    """Whether each root set (``(N, k)``, NaN-padded) is its own conjugate within ``tolerance`` (relative)."""
    roots = np.atleast_2d(np.asarray(roots, dtype=complex))
    out = np.ones(len(roots), dtype=bool)
    for i, row in enumerate(roots):
        row = row[~np.isnan(row)]
        if len(row) == 0 or np.all(row.imag == 0):
            continue
        cost = np.abs(row[:, None] - np.conj(row)[None, :]) / np.maximum(np.abs(row)[:, None], 1e-300)
        rows, cols = assign(cost)
        out[i] = bool(np.all(cost[rows, cols] <= tolerance))
    return out


def pair_q(poles: np.ndarray) -> np.ndarray:
    """The highest Q of a complex pole pair of each set (NaN without one)."""
    poles = np.asarray(poles, dtype=complex)
    upper = poles.imag > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(upper, np.abs(poles) / (-2 * poles.real), -np.inf)
    best = q.max(axis=-1, initial=-np.inf)
    return np.where(upper.any(axis=-1), best, np.nan)


@dataclass(frozen=True)
class Characteristics:
    """Per transfer function of a batch (frequencies in Hz; NaN where a quantity does not exist)."""

    filter_type: np.ndarray
    dc_gain: np.ndarray
    hf_gain: np.ndarray
    frequency_hz: np.ndarray
    q: np.ndarray
    low_hz: np.ndarray
    high_hz: np.ndarray


class _LogPower:
    """``log |H(j w)|^2`` as a function of ``x = log w`` for a batch (roots NaN-padded)."""

    def __init__(self, zeros: np.ndarray, poles: np.ndarray, gain: np.ndarray) -> None:
        self.zeros, self.poles = zeros, poles
        with np.errstate(divide="ignore"):
            self.log_gain = 2 * np.log(np.abs(gain))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x``: ``(N,)`` or ``(N, G)`` log-frequencies; same shape out."""
        extra = x.ndim == 2
        jw = 1j * np.exp(x)[..., None]
        z = self.zeros[:, None, :] if extra else self.zeros
        p = self.poles[:, None, :] if extra else self.poles
        with np.errstate(divide="ignore"):
            num = np.sum(np.where(np.isnan(z), 0.0, np.log(np.abs(jw - np.nan_to_num(z)) ** 2)), axis=-1)
            den = np.sum(np.where(np.isnan(p), 0.0, np.log(np.abs(jw - np.nan_to_num(p)) ** 2)), axis=-1)
        return (self.log_gain[:, None] if extra else self.log_gain) + num - den

    def slope(self, x: np.ndarray) -> np.ndarray:
        """``d f / d x`` (``x``: ``(N,)``): ``sum_z 2 w (w - Im z) / |jw - z|^2 - sum_p ...``."""
        w = np.exp(x)[:, None]

        def part(roots: np.ndarray) -> np.ndarray:
            r = np.nan_to_num(roots)
            terms = 2 * w * (w - r.imag) / np.maximum(np.abs(1j * w - r) ** 2, 1e-300)
            return np.sum(np.where(np.isnan(roots), 0.0, terms), axis=-1)

        return part(self.zeros) - part(self.poles)


def _bisect(f: _LogPower, lo: np.ndarray, hi: np.ndarray, target: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Where ``f`` crosses ``target`` between ``lo`` and ``hi`` (log w), for the selected rows."""
    sub = _LogPower(f.zeros[rows], f.poles[rows], np.ones(rows.sum()))
    sub.log_gain = f.log_gain[rows]
    lo, hi, target = lo[rows], hi[rows], target[rows]
    below_at_lo = sub(lo) < target
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        same = (sub(mid) < target) == below_at_lo
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def _crossing(
    f: _LogPower, grid: np.ndarray, values: np.ndarray, target: np.ndarray, mask: np.ndarray, *, down: bool, last: bool
) -> np.ndarray:
    """The log-frequency of the first/last down/up crossing of ``target`` within ``mask`` (NaN if none)."""
    above = values >= target[:, None]
    step = (above[:, :-1] & ~above[:, 1:]) if down else (~above[:, :-1] & above[:, 1:])
    step &= mask[:, :-1] & mask[:, 1:]
    has = step.any(axis=-1)
    index = (step.shape[1] - 1 - np.argmax(step[:, ::-1], axis=-1)) if last else np.argmax(step, axis=-1)
    out = np.full(len(grid), np.nan)
    if has.any():
        rows = np.arange(len(grid))
        lo, hi = grid[rows, index], grid[rows, np.minimum(index + 1, grid.shape[1] - 1)]
        out[has] = _bisect(f, lo, hi, target, has)
    return out


def characteristics(zeros: np.ndarray, poles: np.ndarray, gain: np.ndarray) -> Characteristics:
    """Type, gains, characteristic frequency and Q of a batch of transfer functions.

    Args:
        zeros, poles: Complex ``(N, k)`` in rad/s, NaN-padded (1-D for one function).
        gain: ``(N,)`` the ``k`` of ``H(s) = k prod(s - z) / prod(s - p)``.
    """
    zeros = np.atleast_2d(np.asarray(zeros, dtype=complex))
    poles = np.atleast_2d(np.asarray(poles, dtype=complex))
    gain = np.atleast_1d(np.asarray(gain, dtype=float))
    n = len(gain)
    kind = filter_types(zeros, poles)
    with np.errstate(divide="ignore", invalid="ignore"):
        dc = (
            gain
            * np.prod(np.where(np.isnan(zeros), 1.0, -np.nan_to_num(zeros)), axis=-1)
            / np.prod(np.where(np.isnan(poles), 1.0, -np.nan_to_num(poles)), axis=-1)
        )
    dc = np.nan_to_num(dc.real, nan=np.inf)
    excess = _count(poles) - _count(zeros)
    hf = np.where(excess == 0, gain, np.where(excess > 0, 0.0, np.inf))
    f = _LogPower(zeros, poles, gain)
    sizes = np.abs(np.concatenate([zeros, poles], axis=-1))
    sizes = np.where(np.isnan(sizes) | (sizes == 0), np.nan, sizes)
    with np.errstate(invalid="ignore"):
        low = np.log(np.nan_to_num(np.nanmin(sizes, axis=-1), nan=1.0)) - math.log(300)
        high = np.log(np.nan_to_num(np.nanmax(sizes, axis=-1), nan=1.0)) + math.log(300)
    grid = low[:, None] + (high - low)[:, None] * np.linspace(0.0, 1.0, _GRID)[None, :]
    values = f(grid)
    everywhere = np.ones_like(values, dtype=bool)
    frequency = np.full(n, np.nan)
    q = np.full(n, np.nan)
    edge_low, edge_high = np.full(n, np.nan), np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp, hp, bp, bs = (kind == t for t in ("lowpass", "highpass", "bandpass", "bandstop"))
        level_lp = 2 * np.log(np.abs(dc)) - _HALF_POWER
        level_hp = 2 * np.log(np.abs(hf)) - _HALF_POWER
        cut_lp = _crossing(f, grid, values, level_lp, everywhere, down=True, last=True)
        cut_hp = _crossing(f, grid, values, level_hp, everywhere, down=False, last=False)
        frequency = np.where(lp, cut_lp, np.where(hp, cut_hp, frequency))
        q = np.where(lp | hp, pair_q(poles), q)
        if bp.any():
            peak_x, peak_level = _peak(f, grid, values)
            target = peak_level - _HALF_POWER
            left = grid <= peak_x[:, None]
            f1 = _crossing(f, grid, values, target, left, down=False, last=True)
            f2 = _crossing(f, grid, values, target, ~left, down=True, last=False)
            frequency = np.where(bp, peak_x, frequency)
            edge_low, edge_high = np.where(bp, f1, edge_low), np.where(bp, f2, edge_high)
        if bs.any():
            target = np.minimum(2 * np.log(np.abs(dc)), 2 * np.log(np.abs(hf))) - _HALF_POWER
            f1 = _crossing(f, grid, values, target, everywhere, down=True, last=False)
            f2 = _crossing(f, grid, values, target, everywhere, down=False, last=True)
            frequency = np.where(bs, _notch(zeros, f, grid, values, 0.5 * (f1 + f2)), frequency)
            edge_low, edge_high = np.where(bs, f1, edge_low), np.where(bs, f2, edge_high)
        band = bp | bs
        q = np.where(band, np.exp(frequency) / (np.exp(edge_high) - np.exp(edge_low)), q)
        to_hz = 1 / (2 * math.pi)
        return Characteristics(
            filter_type=kind,
            dc_gain=dc,
            hf_gain=hf,
            frequency_hz=np.exp(frequency) * to_hz,
            q=q,
            low_hz=np.exp(edge_low) * to_hz,
            high_hz=np.exp(edge_high) * to_hz,
        )


def _notch(zeros: np.ndarray, f: _LogPower, grid: np.ndarray, values: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """A band-stop's centre (log w): its one notch on the imaginary axis, else the deepest minimum of
    ``|H|`` when it has no zero on the axis, else (several notches) the stop band's geometric centre."""
    size = np.abs(zeros)
    on_axis = ~np.isnan(zeros) & (zeros.imag > 0) & (np.abs(zeros.real) <= AXIS_TOLERANCE * size)
    count = on_axis.sum(axis=-1)
    with np.errstate(divide="ignore"):
        one = np.log(np.max(np.where(on_axis, zeros.imag, 0.0), axis=-1))
    deepest, _ = _peak(_Negated(f), grid, -values)
    return np.where(count == 1, one, np.where(count == 0, deepest, centre))


class _Negated(_LogPower):
    """``-f``: minima as maxima."""

    def __init__(self, f: _LogPower) -> None:
        super().__init__(f.zeros, f.poles, np.ones(len(f.log_gain)))
        self.log_gain = f.log_gain

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return -super().__call__(x)

    def slope(self, x: np.ndarray) -> np.ndarray:
        return -super().slope(x)


def _peak(f: _LogPower, grid: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log-frequency and level of the maximum of ``f``: where its slope changes sign next to the
    grid's best point, found by bisection (a maximum found from function values alone is only good to
    about the square root of the rounding error)."""
    rows = np.arange(len(grid))
    best = np.argmax(np.where(np.isnan(values), -np.inf, values), axis=-1)
    lo = grid[rows, np.maximum(best - 1, 0)]
    hi = grid[rows, np.minimum(best + 1, grid.shape[1] - 1)]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        rising = f.slope(mid) > 0
        lo, hi = np.where(rising, mid, lo), np.where(rising, hi, mid)
    x = 0.5 * (lo + hi)
    return x, f(x)
