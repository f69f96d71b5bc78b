"""IEC 60063 preferred values (E12, E24, E48, E96): the values real resistors, capacitors and inductors come in."""

from __future__ import annotations

import math

import numpy as np
from kaspix import KaspixError

__all__ = ["SERIES", "format_si", "nearest", "series_values"]

_E12 = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
_E24 = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1)
_E96 = (
    *(1.00, 1.02, 1.05, 1.07, 1.10, 1.13, 1.15, 1.18, 1.21, 1.24, 1.27, 1.30, 1.33, 1.37, 1.40, 1.43),
    *(1.47, 1.50, 1.54, 1.58, 1.62, 1.65, 1.69, 1.74, 1.78, 1.82, 1.87, 1.91, 1.96, 2.00, 2.05, 2.10),
    *(2.15, 2.21, 2.26, 2.32, 2.37, 2.43, 2.49, 2.55, 2.61, 2.67, 2.74, 2.80, 2.87, 2.94, 3.01, 3.09),
    *(3.16, 3.24, 3.32, 3.40, 3.48, 3.57, 3.65, 3.74, 3.83, 3.92, 4.02, 4.12, 4.22, 4.32, 4.42, 4.53),
    *(4.64, 4.75, 4.87, 4.99, 5.11, 5.23, 5.36, 5.49, 5.62, 5.76, 5.90, 6.04, 6.19, 6.34, 6.49, 6.65),
    *(6.81, 6.98, 7.15, 7.32, 7.50, 7.68, 7.87, 8.06, 8.25, 8.45, 8.66, 8.87, 9.09, 9.31, 9.53, 9.76),
)
#: The mantissas of each series (one decade).
SERIES = {"E12": _E12, "E24": _E24, "E48": _E96[::2], "E96": _E96}
_SUFFIXES = ((1e12, "t"), (1e9, "g"), (1e6, "meg"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"))


def _mantissas(series: str) -> tuple[float, ...]:
    try:
        return SERIES[series.upper()]
    except KeyError:
        raise KaspixError(f"unknown E-series {series!r}", hint=f"use one of {', '.join(SERIES)} or 'exact'") from None


def series_values(series: str, low: float, high: float) -> np.ndarray:
    """Every value of ``series`` between ``low`` and ``high`` (inclusive), ascending."""
    decades = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
    # parsed from text, so that 4.7n is the float nearest to 4.7e-9 and not 4.7 * 1e-9
    values = np.array([float(f"{m}e{d}") for d in decades for m in _mantissas(series)])
    return values[(values >= low * (1 - 1e-9)) & (values <= high * (1 + 1e-9))]


def nearest(values: np.ndarray, series: str, low: float, high: float, count: int = 1) -> np.ndarray:
    """The ``count`` series values nearest (on a log scale) to each of ``values``: ``(..., count)``."""
    table = series_values(series, low, high)
    distance = np.abs(np.log(np.asarray(values, dtype=float))[..., None] - np.log(table))
    order = np.argsort(distance, axis=-1, kind="stable")[..., :count]
    return table[order]


def format_si(value: float, digits: int = 4) -> str:
    """A value as SPICE reads it, with a scale suffix: ``4.7k``, ``10n``, ``1.5meg``."""
    if value == 0 or not math.isfinite(value):
        return repr(value)
    for scale, suffix in _SUFFIXES:
        if abs(value) >= scale * (1 - 1e-12):
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"
