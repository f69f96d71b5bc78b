"""Shared inputs for the kaspix_esn tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def chirp() -> np.ndarray:
    """A 3,000-sample float64 chirp with some noise, the kind of audio-like signal the reservoir is for."""
    t = np.arange(3000) / 3000
    rng = np.random.default_rng(0)
    return np.sin(2 * np.pi * (5 + 200 * t) * t) * 0.8 + 0.05 * rng.standard_normal(t.size)
