"""The compiled reservoir against the plain-numpy reference on the same matrices."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix_esn import TANH_F32_MAX_ERROR, TANH_F64_MAX_ERROR, TANH_F64_MAX_REL_ERROR, Reservoir
from kaspix_esn.reference import run_reference


@pytest.mark.parametrize(
    ("n_units", "n_inputs", "sparsity", "seed"),
    [(64, 1, 0.9, 0), (64, 1, 0.0, 1), (33, 3, 0.5, 2), (1, 1, 0.0, 3), (130, 2, 0.95, 4)],
)
def test_float64_states_match_the_reference_within_1e_12(n_units, n_inputs, sparsity, seed, chirp):
    reservoir = Reservoir(n_units, n_inputs=n_inputs, sparsity=sparsity, seed=seed, spectral_radius=0.95)
    signal = np.ascontiguousarray(np.stack([np.roll(chirp, 7 * c) for c in range(n_inputs)], axis=1))
    if n_inputs == 1:
        signal = signal[:, 0].copy()
    states = reservoir.run(signal)
    assert states.shape == (chirp.size, n_units) and states.dtype == np.float64
    np.testing.assert_allclose(states, run_reference(signal, **reservoir.weights()), rtol=0, atol=1e-12)
    assert np.abs(states).max() > 0.1  # the reservoir is driven, not sitting at zero


def test_from_weights_with_arbitrary_matrices_matches_the_reference(chirp):
    rng = np.random.default_rng(5)
    n = 48
    w = rng.standard_normal((n, n)) * 0.15
    w_in = rng.uniform(-1, 1, (n, 2))
    bias = rng.uniform(-0.2, 0.2, n)
    leak = rng.uniform(0.05, 1.0, n)
    x0 = rng.uniform(-0.5, 0.5, n)
    signal = np.ascontiguousarray(np.stack([chirp, chirp**2], axis=1))
    reservoir = Reservoir.from_weights(w, w_in, bias, leak)
    states = reservoir.run(signal, initial_state=x0)
    want = run_reference(signal, w, w_in, bias, leak, initial_state=x0)
    np.testing.assert_allclose(states, want, rtol=0, atol=1e-12)


def test_weights_round_trip_through_from_weights_gives_identical_states(chirp):
    reservoir = Reservoir(40, seed=9)
    copy = Reservoir.from_weights(**reservoir.weights())
    np.testing.assert_array_equal(copy.run(chirp), reservoir.run(chirp))


def test_float32_tracks_the_float64_reference(chirp):
    reservoir = Reservoir(64, seed=1)
    states32 = reservoir.run(chirp.astype(np.float32))
    assert states32.dtype == np.float32
    err = np.abs(states32 - run_reference(chirp, **reservoir.weights())).max()
    assert err < 1e-4, err


def test_float32_reference_runs_in_float32(chirp):
    reservoir = Reservoir(16, seed=2)
    states = run_reference(chirp.astype(np.float32), **reservoir.weights())
    assert states.dtype == np.float32
    np.testing.assert_allclose(states, reservoir.run(chirp.astype(np.float32)), atol=1e-4)


def test_float32_tanh_approximation_error_is_within_the_documented_bound():
    # W = 0, W_in = 1, b = 0, a = 1: every state is exactly the activation of the input sample.
    n = 4
    reservoir = Reservoir.from_weights(np.zeros((n, n)), np.ones(n), leak_rates=1.0)
    u = np.linspace(-12, 12, 400_001, dtype=np.float32)
    approx = reservoir.run(u)[:, 0].astype(np.float64)
    err = np.abs(approx - np.tanh(u.astype(np.float64)))
    assert err.max() <= TANH_F32_MAX_ERROR
    assert err.max() > TANH_F32_MAX_ERROR / 10  # the bound is tight, not decorative
    assert np.abs(approx).max() <= 1.0


def test_float64_tanh_error_is_within_the_documented_bounds():
    # The same identity reservoir in float64: every state is the activation of its input.
    n = 4
    reservoir = Reservoir.from_weights(np.zeros((n, n)), np.ones(n), leak_rates=1.0)
    rng = np.random.default_rng(0)
    u = np.concatenate(
        [
            np.linspace(-25, 25, 400_001),
            rng.uniform(-1, 1, 100_000) * 10.0 ** rng.uniform(-300, 1, 100_000),  # every scale
            [0.0, -0.0, 5e-324, 1e300, -1e300],
        ]
    )
    approx = reservoir.run(u)[:, 0]
    exact = np.tanh(u)
    err = np.abs(approx - exact)
    assert err.max() <= TANH_F64_MAX_ERROR
    assert err.max() > TANH_F64_MAX_ERROR / 4  # the bound is tight, not decorative
    nonzero = exact != 0
    assert (err[nonzero] / np.abs(exact[nonzero])).max() <= TANH_F64_MAX_REL_ERROR
    assert np.abs(approx).max() <= 1.0
    np.testing.assert_array_equal(np.sign(approx), np.sign(u))


def _audio_like(samples: int) -> np.ndarray:
    """A chirp with noise bursts, like a second of 48 kHz audio."""
    t = np.arange(samples) / 48_000
    bursts = (np.arange(samples) // 4_000) % 3 == 0
    noise = np.random.default_rng(1).standard_normal(samples)
    return 0.6 * np.sin(2 * np.pi * (100 + 2_000 * t) * t) + 0.2 * bursts * noise


@pytest.mark.parametrize("sparsity", [0.9, 0.0])
@pytest.mark.parametrize("loudness", [1.0, 50.0])
def test_long_float64_runs_match_the_reference_within_1e_12(sparsity, loudness):
    # 48,000 steps of audio-like input, and of the same input 50x louder, which drives the units
    # deep into saturation; the default sparse W (block-sparse layout) and a dense one.
    reservoir = Reservoir(64, sparsity=sparsity, spectral_radius=0.99, seed=7)
    signal = loudness * _audio_like(48_000)
    states = reservoir.run(signal)
    np.testing.assert_allclose(states, run_reference(signal, **reservoir.weights()), rtol=0, atol=1e-12)
    assert np.abs(states).max() > (0.9 if loudness > 1 else 0.1)


def test_initial_state_continues_a_run(chirp):
    reservoir = Reservoir(32, seed=4)
    whole = reservoir.run(chirp)
    tail = reservoir.run(chirp[1000:].copy(), initial_state=whole[999])
    np.testing.assert_array_equal(tail, whole[1000:])
