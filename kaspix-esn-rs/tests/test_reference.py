"""The compiled reservoir against the plain-numpy reference on the same matrices."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix_esn import TANH_F32_MAX_ERROR, Reservoir
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
    exact = Reservoir.from_weights(np.zeros((n, n)), np.ones(n), leak_rates=1.0).run(u.astype(np.float64))[:, 0]
    # float64 uses the platform's exact tanh: numpy's own tanh agrees to an ulp.
    np.testing.assert_allclose(exact, np.tanh(u.astype(np.float64)), rtol=0, atol=5e-16)


def test_initial_state_continues_a_run(chirp):
    reservoir = Reservoir(32, seed=4)
    whole = reservoir.run(chirp)
    tail = reservoir.run(chirp[1000:].copy(), initial_state=whole[999])
    np.testing.assert_array_equal(tail, whole[1000:])
