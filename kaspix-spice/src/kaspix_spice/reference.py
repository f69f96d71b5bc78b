"""Analytic references for linear circuits: exact discretization of a linearly interpolated input.

A continuous transfer function is discretized with a first-order hold (``cont2discrete`` with
``method="foh"``), which is exact when the input is linear between samples, as the simulator
feeds it. The filter starts in the steady state for ``x[0]``, as ngspice starts from its DC
operating point.
"""

from __future__ import annotations

import math

import numpy as np


def foh_response(num: list[float], den: list[float], x: np.ndarray, fs: float) -> np.ndarray:
    """The exact response of ``num(s) / den(s)`` to ``x`` interpolated linearly between samples."""
    from scipy import signal

    b, a, _ = signal.cont2discrete((num, den), 1.0 / fs, method="foh")
    b = np.atleast_1d(np.squeeze(b))
    zi = signal.lfilter_zi(b, a) * x[0]
    y, _ = signal.lfilter(b, a, x, zi=zi)
    return y


def rc_lowpass(r: float, c: float) -> tuple[list[float], list[float]]:
    """H(s) = 1 / (1 + sRC)."""
    return [1.0], [r * c, 1.0]


def cr_highpass(r: float, c: float) -> tuple[list[float], list[float]]:
    """H(s) = sRC / (1 + sRC)."""
    return [r * c, 0.0], [r * c, 1.0]


def rlc_bandpass(r: float, l: float, c: float) -> tuple[list[float], list[float]]:  # noqa: E741
    """Series RLC with the output across R: H(s) = sRC / (s^2 LC + sRC + 1)."""
    return [r * c, 0.0], [l * c, r * c, 1.0]


def rc_cutoff_hz(r: float, c: float) -> float:
    """1 / (2 pi R C)."""
    return 1.0 / (2 * math.pi * r * c)
