"""The physics and the estimator, free of any kaspix code so they are easy to test."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def step_response(tau: float, times: Sequence[float], *, noise: float = 0.0, seed: int = 0) -> list[float]:
    """Samples of ``1 - exp(-t / tau)`` with seeded Gaussian noise of standard deviation ``noise``."""
    rng = random.Random(seed)
    return [1.0 - math.exp(-t / tau) + rng.gauss(0.0, noise) for t in times]


def fit_time_constant(times: Sequence[float], volts: Sequence[float]) -> float:
    """Least-squares ``tau`` from ``log(1 - v) = -t / tau`` (a line through the origin).

    Samples with ``v >= 0.95`` are left out: there the logarithm amplifies the noise.
    """
    pairs = [(t, math.log(1.0 - v)) for t, v in zip(times, volts, strict=True) if v < 0.95]
    if len(pairs) < 2:
        raise ValueError("fewer than two usable samples (v < 0.95): sample earlier or more densely")
    slope = sum(t * y for t, y in pairs) / sum(t * t for t, _ in pairs)
    if slope >= 0:
        raise ValueError("the samples do not decay towards 1: is this a step response?")
    return -1.0 / slope


def mean_absolute_error(prediction: Sequence[float], target: Sequence[float]) -> float:
    """Mean of ``|prediction - target|``."""
    if len(prediction) != len(target) or not target:
        raise ValueError(f"need two non-empty sequences of the same length, got {len(prediction)} and {len(target)}")
    return sum(abs(p - t) for p, t in zip(prediction, target, strict=True)) / len(target)
