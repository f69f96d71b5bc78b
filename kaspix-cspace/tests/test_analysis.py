"""Landscape measures, int8 quantization and its effect on search and landscape."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix_cspace.bank import BankSpec, bank_features
from kaspix_cspace.landscape import landscape_losses, landscape_measures, shift_landscape, symmetric_shifts
from kaspix_cspace.quantize import compare_quantized, error_bound, quantize_int8

RATE = 24_000


def test_measures_of_a_parabola_and_of_a_jagged_curve() -> None:
    shifts = np.arange(-50, 51)
    bowl = landscape_measures(shifts, 0.01 * shifts.astype(float) ** 2)
    assert bowl["convex_bowl"] and bowl["argmin_shift"] == 0 and bowl["local_minima"] == 1
    assert bowl["basin_width"] == 100 and bowl["monotone_left"] == bowl["monotone_right"] == 1.0
    assert bowl["curvature"] == pytest.approx(0.02) and bowl["curvature_normalized"] == pytest.approx(2.0)
    assert bowl["convex_fraction"] == 1.0 and bowl["roughness"] == pytest.approx(1.0) and bowl["rival_depth"] == 1.0
    periodic = landscape_measures(shifts, 1 - np.cos(2 * np.pi * shifts / 20) + 0.001 * np.abs(shifts))
    assert periodic["basin_width"] == 20 and periodic["local_minima"] == 5
    assert periodic["rival_depth"] == pytest.approx(0.02 / 2.05, rel=0.01)
    assert symmetric_shifts(10, 3).tolist() == [-9, -6, -3, 0, 3, 6, 9]
    jagged = landscape_measures(shifts, np.abs(shifts) + 3 * (shifts % 2))
    assert not jagged["convex_bowl"] and jagged["local_minima"] > 10 and jagged["basin_width"] < 5 and jagged["roughness"] > 2


def test_shift_landscape_has_its_minimum_at_zero_for_every_loss() -> None:
    t = np.arange(RATE // 2) / RATE
    x = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)
    shifts, curves = shift_landscape(x, 4000, length=2048, max_shift=24, losses=landscape_losses(RATE), step=4)
    assert shifts.tolist() == list(range(-24, 25, 4)) and set(curves) == {"mel", "mrstft", "cspace"}
    for name, curve in curves.items():
        assert curve[shifts == 0][0] == pytest.approx(0.0, abs=1e-6), name
        assert landscape_measures(shifts, curve)["argmin_shift"] == 0, name


def test_int8_round_trip_error_is_bounded() -> None:
    states = np.random.default_rng(0).standard_normal((4000, 12)).astype(np.float32) * np.linspace(0.01, 100, 12, dtype=np.float32)
    states[:, 3] = 7.0  # a constant channel
    quantized = quantize_int8(states)
    assert quantized.codes.dtype == np.int8 and quantized.codes.shape == states.shape
    error = np.abs(quantized.dequantize() - states).max(axis=0)
    bound = error_bound(quantized)
    assert np.all(error <= bound) and error[3] == 0.0
    assert np.all(bound <= (states.max(0) - states.min(0)) / 255 / 2 + 1e-5 * np.abs(states).max(0))


def test_int8_search_and_landscape_agree_with_float32() -> None:
    t = np.arange(RATE // 2) / RATE
    x = (0.3 * np.sin(2 * np.pi * 150 * t) * np.sin(np.pi * t * 2) + 0.02 * np.random.default_rng(1).standard_normal(t.size)).astype(
        np.float32
    )
    features = bank_features(x, BankSpec(n_oscillators=32, sample_rate=RATE))
    measures, curves = compare_quantized(features, features, 5000, length=2000, max_shift=100, step=2)
    assert measures["same_best_match"] and measures["best_match_int8"] == 5000
    assert measures["search_correlation"] > 0.999 and measures["landscape_correlation"] > 0.999
    assert measures["bound_holds"] and 3.9 < measures["compression_ratio"] <= 4.0
    assert curves["search_float"].shape == (x.size,) and curves["landscape_int8"].shape == (101,)
