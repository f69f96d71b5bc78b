"""Search: the state at a sample finds itself, and finds a delayed copy at the delay."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix_cspace.bank import BankSpec, bank_features, features_at
from kaspix_cspace.robustness import robustness_table
from kaspix_cspace.search import best_match, distance_curve, v_sharpness
from kaspix_cspace.split_search import split_curves

RATE = 24_000


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    voiced = sum(np.sin(2 * np.pi * k * (130 * t + 4 * np.sin(2 * np.pi * 3 * t))) / k for k in range(1, 6))
    return (0.2 * voiced * np.sin(np.pi * t * 3) ** 2 + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_distance_curve_best_match_and_sharpness() -> None:
    states = np.random.default_rng(0).standard_normal((500, 6))
    curve = distance_curve(states[123], states)
    assert best_match(curve) == (123, 0.0)
    np.testing.assert_allclose(curve, np.linalg.norm(states - states[123], axis=1))
    v = np.abs(np.arange(-50, 51)).astype(float)
    assert v_sharpness(v, 50, 10) == pytest.approx(10 / np.median(v))
    assert v_sharpness(np.ones(20), 5, 3) == 0.0


@pytest.mark.parametrize("delay", [0, 17, 240])
def test_split_search_finds_itself_and_a_known_delay(delay: int) -> None:
    spec = BankSpec(sample_rate=RATE)
    x = speech_like(0.5)
    target = np.concatenate([np.zeros(delay, np.float32), x])
    at = 6000
    curves = split_curves(features_at(x, spec, at), bank_features(target, spec))
    for name in ("forward", "backward", "sum"):
        assert best_match(curves[name])[0] == at + delay, name
    assert v_sharpness(curves["sum"], at + delay, 12) > 0.3


def test_robustness_rows_match_exactly_on_clean_and_noisy_copies() -> None:
    x = speech_like(0.6)
    variants = (("size 16", {"n_oscillators": 16}), ("Q 32", {"q": 32.0}), ("jitter", {"jitter": 0.5, "seed": 1}))
    rows = robustness_table(x, 7000, BankSpec(sample_rate=RATE), variants=variants, radius=2400, shift=37, snr_db=20.0)
    assert [row["label"] for row in rows] == ["size 16", "Q 32", "jitter"]
    assert all(row["self_error"] == 0 and row["shift_error"] == 0 for row in rows), rows
    assert all(row["self_sharpness"] > 0 for row in rows)
