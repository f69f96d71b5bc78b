"""Deterministic synthetic audio: speech-like and music-like signals from a seed, at any sample rate.

Nothing is downloaded: the codec's default training data (speech-like) and its out-of-distribution
test set (music-like) are made here.

* :func:`speech_like`: a band-limited glottal source (sum of harmonics with a per-speaker spectral
  tilt and a gliding, jittered f0) through a cascade of four time-varying formant resonators that move
  between vowel targets, syllable envelopes, voiced and unvoiced (fricative noise, plosive bursts)
  segments, pauses between words and a little aspiration noise.
* :func:`music_like`: notes on a tempo grid, solo and in chords, each a sum of slightly inharmonic
  partials with per-partial exponential decays (plucked/struck) or sustained with vibrato (bowed/blown),
  plus percussion: kick (pitch-swept sine), snare (band-passed noise and a tone) and hi-hat (high-passed
  noise).

The same ``(seconds, sample_rate, seed)`` always gives the same samples. Peaks are normalized to a
seeded level between -12 and -1 dBFS.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal

__all__ = ["SYNTH_KINDS", "music_like", "speech_like"]

#: Formant targets F1..F4 in Hz of an adult male voice (Peterson and Barney style averages).
VOWELS: tuple[tuple[float, float, float, float], ...] = (
    (730.0, 1090.0, 2440.0, 3400.0),  # a
    (270.0, 2290.0, 3010.0, 3700.0),  # i
    (300.0, 870.0, 2240.0, 3300.0),  # u
    (530.0, 1840.0, 2480.0, 3500.0),  # e
    (570.0, 840.0, 2410.0, 3300.0),  # o
    (660.0, 1720.0, 2410.0, 3400.0),  # ae
    (520.0, 1190.0, 2390.0, 3400.0),  # uh
)
#: Formant bandwidths in Hz.
BANDWIDTHS: tuple[float, float, float, float] = (80.0, 100.0, 140.0, 200.0)
#: Formant tracks are updated every this many seconds (coefficients piecewise constant in between).
FORMANT_FRAME_SECONDS = 0.004


def _ramp(n: int, attack: int, release: int) -> np.ndarray:
    """An envelope of ``n`` samples with raised-cosine attack and release."""
    env = np.ones(n)
    a, r = min(attack, n // 2), min(release, n // 2)
    if a > 0:
        env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    if r > 0:
        env[n - r :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, r + 1) / r)
    return env


def _harmonic_source(f0: np.ndarray, fs: float, tilt: float) -> np.ndarray:
    """Sum of harmonics ``k**-tilt * cos(k * phase)`` of a time-varying f0, faded out below Nyquist.

    The harmonics come from the Chebyshev recurrence ``c[k+1] = 2 cos(phase) c[k] - c[k-1]``.
    """
    phase = 2 * np.pi * np.cumsum(f0) / fs
    c1 = np.cos(phase)
    prev, cur = np.ones_like(c1), c1
    out = np.zeros_like(c1)
    limit = 0.45 * fs
    k = 1
    while k * f0.min() < limit:
        fade = np.clip((limit - k * f0) / (0.05 * fs), 0.0, 1.0)
        out += fade * cur * k**-tilt
        prev, cur = cur, 2 * c1 * cur - prev
        k += 1
    return out


def _resonator_sos(freq: np.ndarray, bw: np.ndarray, fs: float) -> np.ndarray:
    """Second-order sections of unit-DC-gain two-pole resonators (Klatt's cascade formants)."""
    freq = np.minimum(freq, 0.45 * fs)
    r = np.exp(-np.pi * bw / fs)
    a1, a2 = -2 * r * np.cos(2 * np.pi * freq / fs), r * r
    sos = np.zeros((len(freq), 6))
    sos[:, 0] = 1 + a1 + a2
    sos[:, 3], sos[:, 4], sos[:, 5] = 1.0, a1, a2
    return sos


def _formant_filter(x: np.ndarray, formants: np.ndarray, fs: float) -> np.ndarray:
    """Filter ``x`` through cascaded resonators whose frequencies follow ``formants`` (shape (4, n))."""
    hop = max(1, round(FORMANT_FRAME_SECONDS * fs))
    out = np.empty_like(x)
    zi = np.zeros((formants.shape[0], 2))
    bws = np.asarray(BANDWIDTHS)
    for start in range(0, len(x), hop):
        stop = min(start + hop, len(x))
        sos = _resonator_sos(formants[:, start], bws, fs)
        out[start:stop], zi = signal.sosfilt(sos, x[start:stop], zi=zi)
    return out


def _band_noise(rng: np.random.Generator, n: int, low: float, high: float, fs: float) -> np.ndarray:
    """White noise band-passed to [low, high] Hz (clipped below Nyquist), unit RMS."""
    nyq = fs / 2
    high = min(high, 0.95 * nyq)
    low = min(low, 0.5 * high)
    sos = signal.butter(2, [low / nyq, high / nyq], btype="bandpass", output="sos")
    y = signal.sosfilt(sos, rng.standard_normal(n + 256))[256:]
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def _normalize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Peak-normalize to a seeded level in [-12, -1] dBFS, as float32."""
    peak = np.max(np.abs(x))
    level = 10 ** (-rng.uniform(1.0, 12.0) / 20)
    return (x * (level / peak) if peak > 0 else x).astype(np.float32)


def _check(seconds: float, sample_rate: float) -> int:
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    n = round(seconds * sample_rate)
    if n < 1:
        raise ValueError(f"seconds must give at least one sample, got {seconds}")
    return n


def speech_like(seconds: float, *, sample_rate: float = 24000, seed: int = 0) -> np.ndarray:
    """A speech-like utterance: syllables of voiced vowels and unvoiced consonants of one synthetic speaker.

    Args:
        seconds: Duration.
        sample_rate: Sample rate in Hz (at least 8000).
        seed: Seeds every random choice (speaker, syllables, noise).

    Returns:
        float32 array of shape ``(round(seconds * sample_rate),)``.
    """
    n = _check(seconds, sample_rate)
    fs = float(sample_rate)
    rng = np.random.default_rng(seed)
    # the speaker
    f0_base = rng.uniform(85.0, 250.0)
    formant_scale = rng.uniform(0.9, 1.25) if f0_base > 150 else rng.uniform(0.85, 1.05)
    tilt = rng.uniform(0.8, 1.5)
    f0 = np.full(n, f0_base)
    voiced = np.zeros(n)
    unvoiced = np.zeros(n)
    formants = np.empty((4, n))
    formants[:] = np.asarray(VOWELS[5])[:, None] * formant_scale
    t = round(rng.uniform(0.0, 0.08) * fs)
    while t < n:
        if rng.random() < 0.2:  # a pause between words
            t += round(rng.uniform(0.04, 0.25) * fs)
            continue
        if rng.random() < 0.55:  # an unvoiced onset: fricative, or a plosive burst
            dur = round((rng.uniform(0.04, 0.14) if rng.random() < 0.6 else rng.uniform(0.008, 0.02)) * fs)
            stop = min(n, t + dur)
            low = rng.uniform(1500.0, 4000.0)
            noise = _band_noise(rng, stop - t, low, low * rng.uniform(1.6, 3.0), fs)
            unvoiced[t:stop] += noise * _ramp(stop - t, round(0.004 * fs), round(0.01 * fs)) * rng.uniform(0.05, 0.3)
            t = stop
        # the voiced nucleus glides from one vowel to another
        dur = round(rng.uniform(0.08, 0.3) * fs)
        stop = min(n, t + dur)
        m = stop - t
        if m <= 0:
            break
        v0, v1 = (np.asarray(VOWELS[i]) * formant_scale for i in rng.integers(len(VOWELS), size=2))
        glide = np.linspace(0.0, 1.0, m)
        formants[:, t:stop] = v0[:, None] + (v1 - v0)[:, None] * glide
        contour = f0_base * 2 ** (rng.uniform(-0.25, 0.3) + rng.uniform(-0.3, 0.2) * glide)
        f0[t:stop] = contour
        voiced[t:stop] = _ramp(m, round(rng.uniform(0.01, 0.03) * fs), round(rng.uniform(0.02, 0.06) * fs)) * rng.uniform(0.5, 1.0)
        t = stop
    # vibrato-like drift and jitter, then smooth the f0 track (5-ms moving average)
    time = np.arange(n) / fs
    f0 *= 1 + 0.01 * np.sin(2 * np.pi * rng.uniform(4.0, 6.0) * time + rng.uniform(0, 2 * np.pi))
    f0 *= 1 + 0.004 * rng.standard_normal(n)
    width = max(1, round(0.005 * fs))
    f0 = np.convolve(np.pad(f0, (width, width), mode="edge"), np.ones(width) / width, mode="same")[width:-width]
    source = _harmonic_source(f0, fs, tilt) * voiced
    source += 0.03 * rng.standard_normal(n) * voiced  # aspiration
    out = _formant_filter(source, formants, fs) + unvoiced
    return _normalize(out, rng)


def _note(rng: np.random.Generator, freq: float, n: int, fs: float, timbre: dict[str, float]) -> np.ndarray:
    """One note of ``n`` samples: partials with per-partial decay (or sustain with vibrato)."""
    time = np.arange(n) / fs
    out = np.zeros(n)
    vibrato = 1 + timbre["vibrato"] * np.sin(2 * np.pi * 5.5 * time + rng.uniform(0, 2 * np.pi))
    k = 1
    while True:
        fk = k * freq * np.sqrt(1 + timbre["inharmonic"] * k * k)
        if fk >= 0.45 * fs or k > 60:
            break
        amp = k ** -timbre["rolloff"] * (timbre["even"] if k % 2 == 0 else 1.0)
        decay = np.exp(-time * (1 + timbre["damping"] * k) / timbre["tau"]) if timbre["tau"] > 0 else 1.0
        phase = 2 * np.pi * fk * np.cumsum(vibrato) / fs + rng.uniform(0, 2 * np.pi)
        out += amp * decay * np.sin(phase)
        k += 1
    return out * _ramp(n, round(timbre["attack"] * fs), round(0.03 * fs))


def _timbre(rng: np.random.Generator) -> dict[str, float]:
    plucked = rng.random() < 0.6
    return {
        "rolloff": rng.uniform(0.7, 2.0),
        "even": rng.uniform(0.1, 1.0),
        "inharmonic": rng.uniform(0.0, 4e-4) if plucked else 0.0,
        "tau": rng.uniform(0.3, 2.0) if plucked else 0.0,
        "damping": rng.uniform(0.05, 0.4),
        "attack": rng.uniform(0.002, 0.01) if plucked else rng.uniform(0.03, 0.1),
        "vibrato": 0.0 if plucked else rng.uniform(0.001, 0.006),
    }


def _drum(rng: np.random.Generator, kind: int, fs: float) -> np.ndarray:
    """A kick (0), snare (1) or hi-hat (2)."""
    if kind == 0:
        n = round(0.3 * fs)
        time = np.arange(n) / fs
        freq = 50 + 100 * np.exp(-time / 0.03)
        return np.sin(2 * np.pi * np.cumsum(freq) / fs) * np.exp(-time / rng.uniform(0.08, 0.2))
    if kind == 1:
        n = round(0.25 * fs)
        time = np.arange(n) / fs
        tone = 0.5 * np.sin(2 * np.pi * rng.uniform(160, 220) * time) * np.exp(-time / 0.05)
        return 0.4 * _band_noise(rng, n, 1000.0, 6000.0, fs) * np.exp(-time / rng.uniform(0.05, 0.12)) + tone
    n = round(0.12 * fs)
    time = np.arange(n) / fs
    return 0.25 * _band_noise(rng, n, 6000.0, 11000.0, fs) * np.exp(-time / rng.uniform(0.015, 0.06))


def music_like(seconds: float, *, sample_rate: float = 24000, seed: int = 0) -> np.ndarray:
    """A music-like excerpt: a melody, chords and percussion on a tempo grid (never seen by the codec in training).

    Args:
        seconds: Duration.
        sample_rate: Sample rate in Hz (at least 8000).
        seed: Seeds every random choice (tempo, key, timbres, notes, drums).

    Returns:
        float32 array of shape ``(round(seconds * sample_rate),)``.
    """
    n = _check(seconds, sample_rate)
    fs = float(sample_rate)
    rng = np.random.default_rng(seed)
    beat = 60.0 / rng.uniform(80.0, 160.0)
    step = round(beat / 2 * fs)  # eighth notes
    root = int(rng.integers(40, 56))
    scale = np.asarray([0, 2, 4, 5, 7, 9, 11] if rng.random() < 0.5 else [0, 2, 3, 5, 7, 8, 10])
    lead, pad = _timbre(rng), _timbre(rng)
    drums = rng.random() < 0.8
    out = np.zeros(n + round(3 * fs))
    for i, t in enumerate(range(0, n, step)):
        if rng.random() < 0.6:  # melody note
            degree = int(rng.integers(0, 14))
            midi = root + 12 + 12 * (degree // 7) + scale[degree % 7]
            length = step * int(rng.integers(1, 4))
            note = _note(rng, 440.0 * 2 ** ((midi - 69) / 12), length + round(0.05 * fs), fs, lead)
            out[t : t + len(note)] += rng.uniform(0.4, 1.0) * note
        if i % 8 == 0:  # a chord each bar
            degree = int(rng.integers(0, 7))
            for third in range(int(rng.integers(3, 5))):
                d = degree + 2 * third
                midi = root + 12 * (d // 7) + scale[d % 7]
                note = _note(rng, 440.0 * 2 ** ((midi - 69) / 12), 8 * step, fs, pad)
                out[t : t + len(note)] += 0.3 * note
        if drums:
            kind = 0 if i % 4 == 0 else 1 if i % 4 == 2 else 2
            if rng.random() < 0.85:
                hit = _drum(rng, kind, fs)
                out[t : t + len(hit)] += rng.uniform(0.5, 1.0) * hit
    return _normalize(out[:n], rng)


#: The generators by name: ``SYNTH_KINDS["speech"](seconds, sample_rate=..., seed=...)``.
SYNTH_KINDS: dict[str, Callable[..., np.ndarray]] = {"speech": speech_like, "music": music_like}
