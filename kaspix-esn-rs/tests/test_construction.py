"""Random reservoirs: seeded, sparse as asked, scaled to the spectral radius, log-spaced leak rates."""

from __future__ import annotations

import kaspix_esn
import numpy as np
import pytest
from kaspix_esn import Reservoir, log_leak_rates


@pytest.mark.parametrize(("n_units", "sparsity", "rho"), [(64, 0.9, 0.9), (64, 0.0, 1.1), (200, 0.95, 0.5), (10, 0.5, 0.99)])
def test_spectral_radius_matches_numpy_eigenvalues(n_units, sparsity, rho):
    for seed in range(3):
        w = Reservoir(n_units, sparsity=sparsity, spectral_radius=rho, seed=seed).weights()["w"]
        assert abs(np.abs(np.linalg.eigvals(w)).max() - rho) < 0.005 * rho


def test_sparsity_is_the_exact_fraction_of_zero_weights():
    for sparsity in (0.0, 0.5, 0.9):
        w = Reservoir(50, sparsity=sparsity).weights()["w"]
        assert np.count_nonzero(w) == round((1 - sparsity) * 2500)


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = (Reservoir(32, seed=s).weights() for s in (7, 7, 8))
    for key in ("w", "w_in", "bias"):
        np.testing.assert_array_equal(a[key], b[key])
        assert not np.array_equal(a[key], c[key])


def test_default_weights_have_the_documented_shapes_and_ranges():
    reservoir = Reservoir(n_inputs=3, input_scaling=0.5, bias_scaling=0.2)
    assert (reservoir.n_units, reservoir.n_inputs) == (64, 3)
    assert repr(reservoir) == "Reservoir(n_units=64, n_inputs=3)"
    weights = reservoir.weights()
    assert weights["w"].shape == (64, 64) and weights["w_in"].shape == (64, 3) and weights["bias"].shape == (64,)
    assert 0.4 < np.abs(weights["w_in"]).max() <= 0.5
    assert 0.1 < np.abs(weights["bias"]).max() <= 0.2
    assert all(v.dtype == np.float64 for v in weights.values())


def test_default_leak_rates_are_logarithmically_spaced_time_scales():
    leak = Reservoir(64).weights()["leak_rates"]
    np.testing.assert_allclose(leak, np.geomspace(0.01, 1.0, 64), rtol=1e-12)
    np.testing.assert_array_equal(leak, log_leak_rates(64))
    ratios = leak[1:] / leak[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)  # equal steps in log time scale


def test_leak_rates_accept_a_constant_or_one_value_per_unit():
    assert np.all(Reservoir(5, sparsity=0.5, leak_rates=0.3).weights()["leak_rates"] == 0.3)
    custom = [0.1, 0.2, 0.3, 0.4, 1.0]
    np.testing.assert_array_equal(Reservoir(5, sparsity=0.5, leak_rates=custom).weights()["leak_rates"], custom)
    np.testing.assert_array_equal(Reservoir(5, sparsity=0.5, leak_rates=np.array(custom)).weights()["leak_rates"], custom)
    bank = log_leak_rates(5, 0.001, 0.5)
    np.testing.assert_array_equal(Reservoir(5, sparsity=0.5, leak_rates=bank).weights()["leak_rates"], bank)


def test_slow_units_remember_longer_than_fast_ones():
    # After an impulse, a unit with leak a decays roughly like (1 - a)^t: the bank of time scales.
    reservoir = Reservoir(64, spectral_radius=0.1, bias_scaling=0.0, seed=3)
    impulse = np.zeros(400)
    impulse[0] = 1.0
    states = np.abs(reservoir.run(impulse))
    memory = states[200] / np.maximum(states[:5].max(axis=0), 1e-300)
    assert memory[:8].mean() > 1e3 * memory[-8:].mean()


def test_weights_are_copies():
    reservoir = Reservoir(6)
    reservoir.weights()["w"][:] = 0
    assert np.count_nonzero(reservoir.weights()["w"]) > 0


def test_package_metadata():
    assert kaspix_esn.__version__ == "0.1.0"
    assert 0 < kaspix_esn.TANH_F32_MAX_ERROR < 1e-6
