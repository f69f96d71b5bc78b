"""Numerical drift of the FFT bank against the float64 recurrence over long inputs.

The reference is ``s[t] = p s[t-1] + x[t]`` run sample by sample in float64
(:func:`kaspix_cspace.bank.recurrence_states`, ``scipy.signal.lfilter``); the FFT path is
:func:`kaspix_cspace.bank.oscillator_states` at the chosen precision. Both run forward in time on
the same input (the backward states are the same computation on the reversed input). The error is
measured per window of ``window`` samples (1 s by default), two ways:

- ``relative``: ``||e|| / ||s||`` over the window and all channels, with each channel scaled by the
  bank's gain ``1 - |p|`` (the features that search and losses see);
- ``worst_channel``: the largest, over channels, of that channel's ``||e|| / ||s||`` in the window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kaspix_cspace.bank import BankSpec, Precision, oscillator_states, recurrence_states

__all__ = ["drift_report", "loop_to_length"]


def loop_to_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """``audio`` repeated end to end (looped) and cut to ``n_samples``; unchanged if already long enough."""
    audio = np.asarray(audio)
    if audio.shape[0] >= n_samples:
        return audio[:n_samples]
    return np.tile(audio, -(-n_samples // audio.shape[0]))[:n_samples]


def drift_report(
    x: np.ndarray,
    spec: BankSpec,
    *,
    precisions: tuple[Precision, ...] = ("float32", "float64"),
    window: int | None = None,
    channel_group: int = 8,
) -> dict[str, Any]:
    """FFT states vs the float64 recurrence on ``x`` ``(T,)``, per window (see the module docstring).

    Returns:
        ``times_s`` (window centres), ``seconds``, and per precision a dict with ``relative`` and
        ``worst_channel`` (one value per window), ``max_relative``, ``max_worst_channel`` and
        ``final_relative``.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    window = window or spec.sample_rate
    n_windows = max(1, x.shape[0] // window)
    used = n_windows * window if x.shape[0] >= window else x.shape[0]
    poles, gains = spec.poles(), spec.gains()
    sums = {p: {"error": np.zeros(n_windows), "state": np.zeros(n_windows), "worst": np.zeros(n_windows)} for p in precisions}
    for c0 in range(0, len(poles), channel_group):
        group = slice(c0, c0 + channel_group)
        reference = recurrence_states(x, poles[group])[:used].reshape(n_windows, -1, len(poles[group]))
        energy = (np.abs(reference) ** 2).sum(axis=1)  # (windows, channels)
        for precision in precisions:
            states = oscillator_states(x, poles[group], precision=precision)[:used].reshape(reference.shape)
            error = (np.abs(states - reference) ** 2).sum(axis=1)
            acc = sums[precision]
            acc["worst"] = np.maximum(acc["worst"], np.sqrt(error / np.maximum(energy, np.finfo(float).tiny)).max(axis=1))
            acc["error"] += (error * gains[group] ** 2).sum(axis=1)
            acc["state"] += (energy * gains[group] ** 2).sum(axis=1)
    report: dict[str, Any] = {"times_s": (np.arange(n_windows) + 0.5) * window / spec.sample_rate, "seconds": x.shape[0] / spec.sample_rate}
    for precision, acc in sums.items():
        relative = np.sqrt(acc["error"] / np.maximum(acc["state"], np.finfo(float).tiny))
        report[precision] = {
            "relative": relative,
            "worst_channel": acc["worst"],
            "max_relative": float(relative.max()),
            "max_worst_channel": float(acc["worst"].max()),
            "final_relative": float(relative[-1]),
        }
    return report
