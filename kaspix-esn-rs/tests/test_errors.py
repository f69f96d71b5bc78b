"""Bad input raises TypeError or ValueError with a message that says what to fix; never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix_esn import Reservoir, log_leak_rates


@pytest.fixture(scope="module")
def reservoir() -> Reservoir:
    return Reservoir(8, seed=0)


@pytest.fixture(scope="module")
def two_input() -> Reservoir:
    return Reservoir(8, n_inputs=2, seed=0)


@pytest.mark.parametrize(
    ("signal", "error", "match"),
    [
        ([0.1, 0.2, 0.3], TypeError, "must be a numpy.ndarray.*got list"),
        (np.arange(5), TypeError, "dtype int64, expected float32 or float64"),
        (np.zeros(5, dtype=np.float16), TypeError, "dtype float16"),
        (np.zeros(5, dtype=">f8"), TypeError, "dtype >f8"),
        (np.zeros(0), ValueError, "signal is empty"),
        (np.zeros((0, 1)), ValueError, "signal is empty"),
        (np.array([0.0, np.nan, 0.0]), ValueError, "NaN or inf at step 1, channel 0"),
        (np.array([0.0, 0.0, np.inf], dtype=np.float32), ValueError, "NaN or inf at step 2"),
        (np.zeros((4, 2)), ValueError, "has 2 channels .* reservoir has 1"),
        (np.zeros((2, 3, 1)), ValueError, "must be 1-D .* or 2-D"),
        (np.zeros(()), ValueError, "got 0 dimensions"),
        (np.zeros(10)[::2], ValueError, "not C-contiguous.*np.ascontiguousarray"),
        (np.zeros((6, 2))[:, :1], ValueError, "not C-contiguous"),
    ],
)
def test_run_rejects_bad_signals(reservoir, signal, error, match):
    with pytest.raises(error, match=match):
        reservoir.run(signal)


def test_multi_input_reservoir_needs_a_2d_signal(two_input):
    with pytest.raises(ValueError, match=r"1-D but the reservoir has 2 input channels; pass shape \(T, 2\)"):
        two_input.run(np.zeros(5))
    with pytest.raises(ValueError, match="not C-contiguous"):
        two_input.run(np.zeros((2, 5)).T)
    assert two_input.run(np.zeros((5, 2))).shape == (5, 8)


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        (np.zeros(7), ValueError, r"initial_state must have shape \(8,\), got \[7\]"),
        (np.zeros((8, 1)), ValueError, r"initial_state must have shape \(8,\)"),
        (np.full(8, np.nan), ValueError, "initial_state contains NaN or inf at unit 0"),
        ("abc", TypeError, "initial_state must be an array-like of real numbers"),
    ],
)
def test_run_rejects_bad_initial_states(reservoir, state, error, match):
    with pytest.raises(error, match=match):
        reservoir.run(np.zeros(3), initial_state=state)


def test_initial_state_may_be_a_list_or_another_dtype(reservoir):
    base = reservoir.run(np.zeros(3), initial_state=np.full(8, 0.25))
    np.testing.assert_array_equal(reservoir.run(np.zeros(3), initial_state=[0.25] * 8), base)
    np.testing.assert_array_equal(reservoir.run(np.zeros(3), initial_state=np.full(8, 0.25, dtype=np.float32)), base)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_units": 0}, ValueError, "n_units must be at least 1, got 0"),
        ({"n_units": -5}, ValueError, "n_units must be at least 1, got -5"),
        ({"n_units": 2.5}, TypeError, "integer"),
        ({"n_inputs": 0}, ValueError, "n_inputs must be at least 1"),
        ({"sparsity": 1.0}, ValueError, r"sparsity must lie in \[0, 1\)"),
        ({"sparsity": -0.1}, ValueError, "sparsity"),
        ({"spectral_radius": 0.0}, ValueError, "spectral_radius must be a finite number > 0"),
        ({"spectral_radius": float("nan")}, ValueError, "spectral_radius"),
        ({"input_scaling": -1.0}, ValueError, "input_scaling must be a finite number >= 0"),
        ({"bias_scaling": float("inf")}, ValueError, "bias_scaling"),
        ({"leak_rates": 0.0}, ValueError, r"leak rates must lie in \(0, 1\]"),
        ({"leak_rates": 1.5}, ValueError, r"\(0, 1\]"),
        ({"leak_rates": [0.5] * 3}, ValueError, r"leak_rates must have shape \(8,\), got \[3\]"),
        ({"leak_rates": np.full(8, np.nan)}, ValueError, r"\(0, 1\]"),
        ({"leak_rates": "fast"}, TypeError, "leak_rates must be an array-like"),
        ({"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
        ({"seed": 2**64}, ValueError, "seed"),
        ({"n_units": 4, "sparsity": 0.99}, ValueError, "spectral radius 0, so it cannot be scaled; lower sparsity"),
    ],
)
def test_constructor_rejects_bad_settings(kwargs, error, match):
    kwargs = {"n_units": 8, **kwargs}
    with pytest.raises(error, match=match):
        Reservoir(**kwargs)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 4)), np.zeros(3)), r"w must be a square, non-empty \(N, N\) matrix, got shape \[3, 4\]"),
        ((np.zeros((0, 0)), np.zeros(0)), "square, non-empty"),
        ((np.zeros((3, 3)), np.zeros(4)), r"w_in must have shape \(3, n_inputs\) or \(3,\)"),
        ((np.zeros((3, 3)), np.zeros((3, 0))), "w_in must have shape"),
        ((np.zeros((3, 3)), np.zeros(3), np.zeros(2)), r"bias must have shape \(3,\)"),
        ((np.full((3, 3), np.nan), np.zeros(3)), "w contains a non-finite value"),
        ((np.zeros((3, 3)), np.zeros(3), None, [0.5, 0.5, 2.0]), r"got 2 at unit 2"),
    ],
)
def test_from_weights_rejects_inconsistent_matrices(args, match):
    with pytest.raises(ValueError, match=match):
        Reservoir.from_weights(*args)


def test_from_weights_rejects_non_numeric_input():
    with pytest.raises(TypeError, match="w must be an array-like of real numbers"):
        Reservoir.from_weights("not a matrix", np.zeros(3))


def test_run_batch_rejects_bad_batches(reservoir):
    good = np.zeros(4)
    with pytest.raises(TypeError, match="sequence of numpy arrays"):
        reservoir.run_batch(5)
    with pytest.raises(TypeError, match="for one signal use run"):
        reservoir.run_batch(good)
    with pytest.raises(TypeError, match=r"signals\[1\] has a different dtype"):
        reservoir.run_batch([good, good.astype(np.float32)])
    with pytest.raises(TypeError, match=r"signals\[1\] has dtype int64"):
        reservoir.run_batch([good, np.arange(4)])
    with pytest.raises(ValueError, match=r"signal 2: signal contains NaN or inf at step 3"):
        reservoir.run_batch([good, good, np.array([0, 0, 0, np.nan])])
    with pytest.raises(ValueError, match=r"signals\[1\] is not C-contiguous"):
        reservoir.run_batch([good, np.zeros(8)[::2]])
    with pytest.raises(ValueError, match="n_threads must be at least 1"):
        reservoir.run_batch([good], n_threads=0)


def _read_only(shape: tuple[int, int]) -> np.ndarray:
    array = np.zeros(shape)
    array.flags.writeable = False
    return array


_shared = np.zeros(24)


@pytest.mark.parametrize(
    ("signal", "out", "error", "match"),
    [
        (np.zeros(3), np.zeros((3, 8), np.float32), TypeError, r"out must be a 2-D numpy.ndarray of dtype float64 .* shape \(3, 8\)"),
        (np.zeros(3), [[0.0] * 8] * 3, TypeError, "out must be a 2-D numpy.ndarray"),
        (np.zeros(3), np.zeros((4, 8)), ValueError, r"out has shape \[4, 8\], expected \(3, 8\)"),
        (np.zeros(3), np.zeros((8, 3)).T, ValueError, "out is not C-contiguous"),
        (np.zeros(3), _read_only((3, 8)), ValueError, "out cannot be written .*not writeable"),
        (_shared[:3], _shared.reshape(3, 8), ValueError, "shares no memory with the signals"),
    ],
)
def test_run_rejects_bad_out_arrays(reservoir, signal, out, error, match):
    with pytest.raises(error, match=match):
        reservoir.run(signal, out=out)


def test_run_batch_rejects_bad_out_lists(reservoir):
    signals = [np.zeros(3), np.zeros(3)]
    out = np.zeros((3, 8))
    with pytest.raises(ValueError, match="out has 1 arrays for 2 signals"):
        reservoir.run_batch(signals, out=[out])
    with pytest.raises(ValueError, match=r"out\[1\] cannot be written"):
        reservoir.run_batch(signals, out=[out, out])
    with pytest.raises(TypeError, match="out must be a sequence"):
        reservoir.run_batch(signals, out=3)


def test_log_leak_rates_rejects_bad_ranges():
    with pytest.raises(ValueError, match="0 < low <= high <= 1"):
        log_leak_rates(4, 0.5, 0.1)
    with pytest.raises(ValueError, match="n_units must be at least 1"):
        log_leak_rates(0)
