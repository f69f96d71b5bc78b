"""Draws the README figure: a "neural spectrogram" of a chirp, the 10 ms RMS of every unit's
state (each unit scaled to its own peak) over one second of 48 kHz audio, units ordered by
leak rate (needs matplotlib).

    .venv/bin/python kaspix-esn-rs/docs/make_figures.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from kaspix_esn import Reservoir

RATE = 48_000
WINDOW = 480  # 10 ms


def rolling_rms(states: np.ndarray, window: int) -> np.ndarray:
    """Root mean square over non-overlapping windows, per unit: (T // window, N)."""
    frames = states[: states.shape[0] // window * window].reshape(-1, window, states.shape[1])
    return np.sqrt((frames**2).mean(axis=1))


def main() -> None:
    t = np.arange(RATE) / RATE
    chirp = 0.8 * np.sin(2 * np.pi * (50 * t + 0.5 * (8_000 - 50) * t**2))  # 50 Hz -> 8 kHz
    reservoir = Reservoir(64, spectral_radius=0.5, bias_scaling=0.0, seed=0)
    states = reservoir.run(chirp.astype(np.float32))
    leak = reservoir.weights()["leak_rates"]
    rms = rolling_rms(states - states.mean(axis=0), WINDOW)
    rms /= rms.max(axis=0, keepdims=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), height_ratios=[1, 3], sharex=True)
    top.plot(t, 50 + (8_000 - 50) * t)
    top.set_yscale("log")
    top.set_ylabel("input freq. (Hz)")
    top.set_title("kaspix_esn: 64 units, leak rates 0.01..1, chirp 50 Hz to 8 kHz")
    bottom.imshow(rms.T, aspect="auto", origin="lower", extent=(0, 1, 0, 64), cmap="magma")
    ticks = [0, 16, 32, 48, 63]
    bottom.set_yticks([i + 0.5 for i in ticks], [f"{leak[i]:.3g}" for i in ticks])
    bottom.set_ylabel("unit leak rate a")
    bottom.set_xlabel("time (s)")
    fig.tight_layout()
    out = Path(__file__).with_name("neural_spectrogram.png")
    fig.savefig(out, dpi=90)
    print(out)


if __name__ == "__main__":
    main()
