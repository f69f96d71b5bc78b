"""Filter-type rules and the measured cutoff, centre and Q of known transfer functions."""

from __future__ import annotations

import math

import numpy as np
from kaspix_circuitgen.characteristics import characteristics, filter_types

W = 2 * math.pi * 1000.0


def _pair(w0: float, q: float) -> list[complex]:
    re, im = -w0 / (2 * q), w0 * math.sqrt(1 - 1 / (4 * q * q))
    return [complex(re, -im), complex(re, im)]


def _pad(rows: list[list[complex]]) -> np.ndarray:
    out = np.full((len(rows), 4), np.nan, dtype=complex)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def test_type_rules() -> None:
    poles = _pad([[-W], _pair(W, 0.707), _pair(W, 2.0), _pair(W, 1.0), [-W], [-W], _pair(W, 1), [-W, -2 * W]])
    zeros = _pad([[], [0, 0], [0], [1j * W, -1j * W], [-3 * W], [-0.2 * W], [0.1 * W + 0.3j * W, -0.4 * W + 1j], [2 * W, 3 * W, 4 * W]])
    assert filter_types(zeros, poles).tolist() == ["lowpass", "highpass", "bandpass", "bandstop", "lowpass", "highpass", "invalid", "other"]


def test_second_order_lowpass_butterworth_cutoff_is_f0() -> None:
    ch = characteristics(_pad([[]]), _pad([_pair(W, 1 / math.sqrt(2))]), np.array([W * W]))
    assert ch.filter_type[0] == "lowpass"
    assert math.isclose(ch.frequency_hz[0], 1000.0, rel_tol=1e-9)
    assert math.isclose(ch.q[0], 1 / math.sqrt(2), rel_tol=1e-9) and math.isclose(ch.dc_gain[0], 1.0, rel_tol=1e-12)


def test_bandpass_centre_and_q() -> None:
    q = 5.0
    ch = characteristics(_pad([[0]]), _pad([_pair(W, q)]), np.array([W / q]))
    assert math.isclose(ch.frequency_hz[0], 1000.0, rel_tol=1e-9)
    assert math.isclose(ch.q[0], q, rel_tol=1e-9)
    assert math.isclose(ch.low_hz[0] * ch.high_hz[0], 1000.0**2, rel_tol=1e-9)


def test_notch_centre_is_the_zero_and_q_the_stop_band() -> None:
    q = 2.0
    ch = characteristics(_pad([[1j * W, -1j * W]]), _pad([_pair(W, q)]), np.array([1.0]))
    assert ch.filter_type[0] == "bandstop"
    assert math.isclose(ch.frequency_hz[0], 1000.0, rel_tol=1e-12)
    assert math.isclose(ch.q[0], q, rel_tol=1e-9)


def test_first_order_highpass_has_no_q() -> None:
    ch = characteristics(_pad([[0]]), _pad([[-W]]), np.array([1.0]))
    assert ch.filter_type[0] == "highpass" and math.isclose(ch.frequency_hz[0], 1000.0, rel_tol=1e-9) and math.isnan(ch.q[0])
