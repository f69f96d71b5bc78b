"""The compiled reservoir against reservoirpy's Reservoir node with the same W, W_in, bias and
per-unit leak rates (reservoirpy is a test dependency only)."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix_esn import Reservoir
from reservoirpy.nodes import Reservoir as ReservoirPy


@pytest.mark.parametrize(("n_inputs", "sparsity"), [(1, 0.9), (3, 0.0)])
def test_states_match_reservoirpy_with_the_same_weights(n_inputs, sparsity, chirp):
    reservoir = Reservoir(64, n_inputs=n_inputs, sparsity=sparsity, seed=11)
    weights = reservoir.weights()
    node = ReservoirPy(units=64, lr=weights["leak_rates"], W=weights["w"], Win=weights["w_in"], bias=weights["bias"], input_dim=n_inputs)
    signal = np.ascontiguousarray(np.stack([np.roll(chirp, 11 * c) for c in range(n_inputs)], axis=1)[:1500])
    theirs = node.run(signal)
    ours = reservoir.run(signal)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    # The per-unit leak rates really differ, so the check covers the time-scale bank.
    assert weights["leak_rates"].min() < 0.02 and weights["leak_rates"].max() == 1.0


def test_float32_states_stay_close_to_reservoirpy(chirp):
    reservoir = Reservoir(64, seed=12)
    weights = reservoir.weights()
    node = ReservoirPy(units=64, lr=weights["leak_rates"], W=weights["w"], Win=weights["w_in"], bias=weights["bias"])
    theirs = node.run(chirp[:1500, None])
    ours = reservoir.run(chirp[:1500].astype(np.float32))
    assert np.abs(ours - theirs).max() < 1e-4
