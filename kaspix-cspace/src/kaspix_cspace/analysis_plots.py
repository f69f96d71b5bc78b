"""The PNG figures of the CSpace analyses (spectrogram, split search, robustness, landscape, quantization, drift)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kaspix_cspace.plotting import new_figure, save_png

__all__ = ["plot_drift", "plot_landscape", "plot_quantize", "plot_robustness", "plot_spectrogram", "plot_split_search"]


def _db(x: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.maximum(np.abs(x), 1e-9))


def plot_spectrogram(
    audio: np.ndarray,
    rate: int,
    times: np.ndarray,
    frequencies: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    at: int | None,
    path: Path,
) -> Path:
    """Waveform, then forward and backward state magnitudes (dB, ``(T', C)``) over time, channels by frequency."""
    figure, axes = new_figure(3, 1, size=(11, 8), sharex=True, height_ratios=[1, 2, 2])
    axes[0].plot(np.arange(audio.shape[0]) / rate, audio, lw=0.5)
    axes[0].set_ylabel("amplitude")
    top = max(float(_db(forward).max()), float(_db(backward).max()))
    extent = (times[0] / rate, times[-1] / rate, 0, len(frequencies))
    for ax, states, name in ((axes[1], forward, "forward (past)"), (axes[2], backward, "backward (future)")):
        image = ax.imshow(_db(states).T, aspect="auto", origin="lower", extent=extent, vmin=top - 80, vmax=top, cmap="magma")
        ticks = np.linspace(0, len(frequencies) - 1, 6).astype(int)
        ax.set_yticks(ticks + 0.5, [f"{frequencies[i]:.0f}" for i in ticks])
        ax.set_ylabel(f"{name}\nHz")
        figure.colorbar(image, ax=ax, label="dB")
    for ax in axes if at is not None else ():
        ax.axvline(at / rate, color="cyan", lw=0.8, ls="--")
    axes[2].set_xlabel("time (s)")
    return save_png(figure, path)


def plot_split_search(curves: Mapping[str, np.ndarray], times: np.ndarray, at: int, match: int, zoom: int, path: Path) -> Path:
    """Forward, backward and summed distance curves: the whole target, and zoomed around the match."""
    figure, axes = new_figure(2, 1, size=(11, 7))
    for ax, keep in ((axes[0], slice(None)), (axes[1], (times >= match - zoom) & (times <= match + zoom))):
        for name, color in (("forward", "tab:blue"), ("backward", "tab:orange"), ("sum", "black")):
            ax.plot(times[keep], curves[name][keep], label=name, color=color, lw=0.8 if name != "sum" else 1.2)
        ax.axvline(match, color="red", ls="--", lw=0.8, label=f"best match {match}")
        ax.set_ylabel("Euclidean distance")
    axes[0].set_title(f"split search for the state at sample {at}")
    axes[1].set_title(f"+-{zoom} samples around the match")
    axes[1].set_xlabel("target sample")
    axes[0].legend(loc="upper right")
    return save_png(figure, path)


def plot_robustness(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Match errors and V sharpness per bank variant (bars)."""
    figure, axes = new_figure(2, 1, size=(11, 7), sharex=True)
    labels = [row["label"] for row in rows]
    x = np.arange(len(rows))
    axes[0].bar(x - 0.2, [row["self_error"] for row in rows], 0.4, label="itself")
    axes[0].bar(x + 0.2, [row["shift_error"] for row in rows], 0.4, label="shifted + noise")
    axes[0].set_ylabel("match error (samples)")
    axes[0].legend()
    axes[1].bar(x - 0.2, [row["self_sharpness"] for row in rows], 0.4, label="itself")
    axes[1].bar(x + 0.2, [row["shift_sharpness"] for row in rows], 0.4, label="shifted + noise")
    axes[1].set_ylabel("V sharpness")
    axes[1].set_xticks(x, labels, rotation=45, ha="right")
    return save_png(figure, path)


def plot_landscape(shifts: np.ndarray, curves: Mapping[str, np.ndarray], measures: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """One panel per loss: loss against shift, with its measures in the title."""
    figure, axes = new_figure(len(curves), 1, size=(10, 3 * len(curves)), sharex=True)
    for ax, (name, curve) in zip(np.atleast_1d(axes), curves.items(), strict=True):
        m = measures[name]
        ax.plot(shifts, curve, lw=1.0)
        ax.axvline(0, color="gray", ls=":")
        ax.set_ylabel(name)
        ax.set_title(
            f"{name}: minima {m['local_minima']}, basin {m['basin_width']} samples, "
            f"monotone {m['monotone_left']:.2f}/{m['monotone_right']:.2f}, convex {m['convex_fraction']:.2f}, "
            f"rival minimum at {m['rival_depth']:.2f} of the height",
            fontsize=9,
        )
    np.atleast_1d(axes)[-1].set_xlabel("shift (samples)")
    return save_png(figure, path)


def plot_quantize(curves: Mapping[str, np.ndarray], times: np.ndarray, path: Path) -> Path:
    """Search and embedding landscape with float32 and int8 embeddings, overlaid."""
    figure, axes = new_figure(2, 1, size=(10, 7))
    axes[0].plot(times, curves["search_float"], label="float32", lw=1.2)
    axes[0].plot(times, curves["search_int8"], label="int8", lw=0.8, ls="--")
    axes[0].set_xlabel("target sample")
    axes[0].set_ylabel("distance")
    axes[0].legend()
    axes[1].plot(curves["shifts"], curves["landscape_float"], label="float32", lw=1.2)
    axes[1].plot(curves["shifts"], curves["landscape_int8"], label="int8", lw=0.8, ls="--")
    axes[1].set_xlabel("shift (samples)")
    axes[1].set_ylabel("relative state error")
    axes[1].legend()
    return save_png(figure, path)


def plot_drift(report: Mapping[str, Any], precisions: Sequence[str], path: Path) -> Path:
    """Relative drift (all channels and worst channel) against time, per precision (a :func:`~kaspix_cspace.drift.drift_report`)."""
    figure, ax = new_figure(1, 1, size=(10, 5))
    for p in precisions:
        ax.semilogy(report["times_s"], np.maximum(report[p]["relative"], 1e-17), label=f"{p}: all channels")
        ax.semilogy(report["times_s"], np.maximum(report[p]["worst_channel"], 1e-17), ls="--", label=f"{p}: worst channel")
    ax.axhline(1e-6, color="red", ls=":", label="1e-6")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("relative error vs float64 recurrence")
    ax.legend()
    return save_png(figure, path)
