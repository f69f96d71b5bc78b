"""The signal factory: seeded, weighted recipes of test signals for the circuits' input.

A recipe is configured in YAML, e.g.::

    recipes:
      - {kind: pink, weight: 3, level_db: [-24, 0]}
      - {kind: chirp, weight: 2, params: {f_low: 20, f_high: 20000}}
      - {kind: silence, weight: 1, params: {gap_fraction: 0.4}}

Each clip draws one recipe by weight, renders it at unit peak and scales it to a level drawn
uniformly in ``level_db`` (dB re 1 V peak). :func:`make_clip` returns the recipe's description,
which is stored with every sample.

Clips start where audio cut anywhere starts: noises, chirps (random phase) and steps (a random
first level) begin at any level, and only clicks and bursts, events in silence, begin at 0 V. A
clip that does not fade in therefore starts the circuit from the operating point of a real level,
which is what the emulators' steady-state start is trained and scored on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from kaspix_spice.config import DEFAULT_PARAMS, Recipe

__all__ = [
    "FADE_STREAM",
    "RENDERERS",
    "bursts",
    "chirp",
    "fade_in",
    "fades_in",
    "impulses",
    "make_clip",
    "pink",
    "silence",
    "steps",
    "white",
]


def _normalize(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return x / peak if peak > 0 else x


def pink(rng: np.random.Generator, n: int, fs: float, p: dict[str, float]) -> np.ndarray:
    """Noise with a 1/f power spectrum above ``f_low`` Hz."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spectrum /= np.sqrt(np.maximum(f, p["f_low"]))
    spectrum[0] = 0.0
    return _normalize(np.fft.irfft(spectrum, n))


def white(rng: np.random.Generator, n: int, fs: float, p: dict[str, float]) -> np.ndarray:
    """Gaussian white noise (unit peak)."""
    return _normalize(rng.standard_normal(n))


def chirp(rng: np.random.Generator, n: int, fs: float, p: dict[str, float]) -> np.ndarray:
    """A logarithmic sweep from ``f_low`` to ``f_high`` Hz (randomly up or down), from a random phase."""
    t = np.arange(n) / fs
    f0, f1 = p["f_low"], min(p["f_high"], 0.45 * fs)
    if rng.random() < 0.5:
        f0, f1 = f1, f0
    duration = max(t[-1], 1.0 / fs)
    k = math.log(f1 / f0) / duration
    phase = 2 * math.pi * f0 * (np.expm1(k * t) / k) + rng.uniform(0.0, 2 * math.pi)
    return np.sin(phase)


def steps(rng: np.random.Generator, n: int, fs: float, p: dict[str, float]) -> np.ndarray:
    """Piecewise-constant levels held for random durations (mean ``hold_ms``), the first one too."""
    x = np.zeros(n)
    i = 0
    while i < n:
        hold = max(1, int(rng.exponential(p["hold_ms"] * 1e-3 * fs)))
        x[i : i + hold] = rng.uniform(-1, 1)
        i += hold
    return _normalize(x)


def impulses(rng: np.random.Generator, n: int, fs: float, p: dict[str, float]) -> np.ndarray:
    """Clicks of random sign and height at a mean rate of ``rate_hz``."""
    x = np.zeros(n)
    count = max(1, rng.poisson(p["rate_hz"] * n / fs))
    where = rng.integers(1, n, size=count)
    x[where] = rng.uniform(-1, 1, size=count)
    return _normalize(x)


def bursts(rng: np.random.Generator, n: int, fs: float, p: dict[str, float]) -> np.ndarray:
    """Hann-windowed sine bursts of log-uniform frequency in [``f_low``, ``f_high``] Hz."""
    x = np.zeros(n)
    length = max(8, int(p["burst_ms"] * 1e-3 * fs))
    for _ in range(max(1, int(p["count"]))):
        start = int(rng.integers(0, max(1, n - length)))
        f = math.exp(rng.uniform(math.log(p["f_low"]), math.log(min(p["f_high"], 0.45 * fs))))
        seg = min(length, n - start)
        t = np.arange(seg) / fs
        x[start : start + seg] += rng.uniform(0.3, 1.0) * np.hanning(seg) * np.sin(2 * math.pi * f * t)
    return _normalize(x)


def silence(rng: np.random.Generator, n: int, fs: float, p: dict[str, float]) -> np.ndarray:
    """Pink noise with silent segments covering about ``gap_fraction`` of the clip."""
    x = pink(rng, n, fs, {"f_low": 20.0})
    gate = np.ones(n)
    segments = max(1, int(p["segments"]))
    for _ in range(segments):
        length = int(p["gap_fraction"] * n / segments)
        start = int(rng.integers(0, max(1, n - length)))
        gate[start : start + length] = 0.0
    return _normalize(x * gate)


RENDERERS: dict[str, Callable[[np.random.Generator, int, float, dict[str, float]], np.ndarray]] = {
    "pink": pink,
    "white": white,
    "chirp": chirp,
    "steps": steps,
    "impulses": impulses,
    "bursts": bursts,
    "silence": silence,
}


#: Whether a clip fades in is drawn from ``default_rng([seed, FADE_STREAM])``, apart from the clip's own ``default_rng(seed)``.
FADE_STREAM = 1


def fade_in(x: np.ndarray, fs: float, ms: float) -> np.ndarray:
    """``x`` with a raised-cosine fade-in over its first ``ms`` milliseconds (so it starts at exactly 0 V)."""
    length = min(len(x), round(ms * 1e-3 * fs))
    if length <= 0:
        return x
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)
    return np.concatenate([x[:length] * ramp, x[length:]])


def fades_in(seed: int, share: float) -> bool:
    """Whether the clip of ``seed`` is one of the ``share`` of clips that fade in.

    Drawn from its own stream of the seed, so the clip itself is the same either way.
    """
    return bool(np.random.default_rng([seed, FADE_STREAM]).random() < share)


def make_clip(
    recipes: list[Recipe], n: int, fs: float, seed: int, fade_in_ms: float = 0.0, fade_in_share: float = 1.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw a recipe by weight and render one clip of ``n`` samples; same seed, same clip.

    With ``fade_in_ms``, a share ``fade_in_share`` of the clips (drawn from the seed, see
    :func:`fades_in`) fades in from 0 V, so the circuit starts from rest; the others start at full
    level, from the circuit's operating point for their first sample, as audio cut anywhere does.
    The same seed gives the same clip with or without its fade-in.

    Returns:
        The clip (float64 volts) and its description ``{kind, level_db, seed, params, fade_in_ms}``
        (``fade_in_ms`` 0 for a clip that does not fade in).
    """
    rng = np.random.default_rng(seed)
    weights = np.array([r.weight for r in recipes], dtype=float)
    recipe = recipes[int(rng.choice(len(recipes), p=weights / weights.sum()))]
    params = {**DEFAULT_PARAMS[recipe.kind], **recipe.params}
    level_db = float(rng.uniform(*recipe.level_db))
    fade_ms = fade_in_ms if fade_in_ms > 0 and fades_in(seed, fade_in_share) else 0.0
    x = fade_in(RENDERERS[recipe.kind](rng, n, fs, params) * 10 ** (level_db / 20), fs, fade_ms)
    return x, {"kind": recipe.kind, "level_db": round(level_db, 3), "seed": seed, "params": params, "fade_in_ms": fade_ms}
