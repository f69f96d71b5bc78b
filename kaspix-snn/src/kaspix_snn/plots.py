"""Static PNG plots: spike raster, firing rates by layer, membrane traces, inputs, training curves, confusion matrices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from kaspix_snn.activity import ActivityReader

__all__ = [
    "RATE_IMAGES",
    "activity_plots",
    "confusion_matrix_plot",
    "firing_rate_hist_by_layer",
    "input_images",
    "membrane_traces",
    "spike_raster",
    "training_curves",
]

#: Recorded images the firing-rate histograms are computed from (the first ones).
RATE_IMAGES = 1000


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def _title(reader: ActivityReader) -> str:
    meta = reader.metadata
    return f"{meta['experiment']} / {meta['dataset_name']}: {meta['data_source']}"


def spike_raster(reader: ActivityReader, path: Path, *, images: int, neurons_per_layer: int) -> Path:
    """Spikes of evenly spaced units of every recorded layer over the first ``images`` images shown one after another."""
    count = min(images, len(reader))
    ticks = reader.metadata["ticks_per_image"]
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.9 * len(reader.layer_names)))
    offset, ticks_at, labels = 0, [], []
    for layer in reader.layer_names:
        spikes = reader.spikes(layer, slice(0, count))  # (images, ticks, units)
        units = spikes.shape[2]
        shown = np.unique(np.linspace(0, units - 1, min(neurons_per_layer, units)).astype(int))
        train = spikes[:, :, shown].reshape(count * ticks, len(shown))  # time runs through the images
        t, n = np.nonzero(train)
        ax.scatter(t, n + offset, s=2, marker="|", linewidths=0.8)
        ticks_at.append(offset + len(shown) / 2)
        labels.append(f"{layer}\n({len(shown)}/{units})")
        offset += len(shown) + 5
        ax.axhline(offset - 2.5, color="0.85", linewidth=0.5)
    for boundary in range(1, count):
        ax.axvline(boundary * ticks - 0.5, color="0.6", linestyle="--", linewidth=0.6)
    label_names = reader.metadata["class_names"]
    shown_labels = ", ".join(label_names[int(y)] for y in reader.labels[:count])
    ax.set(xlim=(-0.5, count * ticks - 0.5), ylim=(-1, offset), xlabel=f"tick ({count} images: {shown_labels})", yticks=ticks_at)
    ax.set_yticklabels(labels)
    ax.invert_yaxis()  # the first layer on top
    ax.set_title(f"spike raster, {_title(reader)}", fontsize=9)
    return _save(fig, path)


def firing_rate_hist_by_layer(reader: ActivityReader, path: Path) -> Path:
    """Histogram of the units' mean firing rates (spikes per tick), one panel per recorded layer."""
    count = min(RATE_IMAGES, len(reader))
    names = reader.layer_names
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    for ax, layer in zip(axes[0], names, strict=True):
        rates = np.zeros(reader.units(layer))
        for start in range(0, count, 256):
            rates += reader.spikes(layer, slice(start, min(start + 256, count))).mean(axis=1).sum(axis=0)
        rates /= count
        ax.hist(rates, bins=40, range=(0, 1), color="tab:blue")
        ax.set(title=f"{layer}: mean {rates.mean():.3f}, silent {np.mean(rates == 0):.0%}", xlabel="spikes per tick", ylabel="units")
        ax.title.set_fontsize(8)
    fig.suptitle(f"firing rates over {count} images, {_title(reader)}", fontsize=9)
    return _save(fig, path)


def membrane_traces(reader: ActivityReader, path: Path, *, images: int, neurons: int = 5) -> Path:
    """Membrane potential of a few units per neuron layer over the first images (needs potentials: all)."""
    layers = [name for name in reader.layer_names if reader.has_potentials(name)]
    count = min(images, len(reader))
    fig, axes = plt.subplots(len(layers), 1, figsize=(9, 2.2 * len(layers)), squeeze=False)
    for ax, layer in zip(axes[:, 0], layers, strict=True):
        v = reader.potentials(layer, slice(0, count)).astype(np.float32)  # (images, ticks, units)
        spikes = reader.spikes(layer, slice(0, count))
        chosen = np.argsort(spikes.sum(axis=(0, 1)))[-neurons:]  # the most active units
        ticks = v.shape[1]
        for unit in chosen:
            ax.plot(np.arange(count * ticks), v[:, :, unit].reshape(-1), linewidth=0.8, label=f"unit {unit}")
        ax.set(title=f"{layer}: membrane potential (after reset)", xlabel="tick", ylabel="v")
        ax.legend(fontsize=6, loc="upper right")
    return _save(fig, path)


def input_images(reader: ActivityReader, path: Path, *, images: int) -> Path:
    """The first recorded images with their labels."""
    count = min(max(images, 8), len(reader), 32)
    pixels = reader.images(slice(0, count))
    names = reader.metadata["class_names"]
    columns = min(count, 8)
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < count:
            ax.imshow(pixels[index].mean(axis=0), cmap="gray_r")
            ax.set_title(names[int(reader.labels[index])], fontsize=7)
    return _save(fig, path)


def activity_plots(recording: Path, folder: Path, plots: Sequence[str], *, images: int, neurons_per_layer: int) -> list[Path]:
    """Write the requested activity plots into ``folder``; returns their paths."""
    written = []
    with ActivityReader(recording) as reader:
        for name in plots:
            target = folder / f"{name}.png"
            if name == "spike_raster":
                written.append(spike_raster(reader, target, images=images, neurons_per_layer=neurons_per_layer))
            elif name == "firing_rate_hist_by_layer":
                written.append(firing_rate_hist_by_layer(reader, target))
            elif name == "membrane_traces":
                written.append(membrane_traces(reader, target, images=images))
            elif name == "input_images":
                written.append(input_images(reader, target, images=images))
    return written


def training_curves(history: list[dict[str, float]], path: Path) -> Path:
    """Loss and accuracy per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax.plot(epochs, [h["train_loss"] for h in history], label="train")
    if any("val_accuracy" in h for h in history):
        loss_ax.plot(epochs, [h["val_loss"] for h in history], label="validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    loss_ax.legend()
    for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation")):
        if any(key in h for h in history):
            acc_ax.plot(epochs, [h.get(key, np.nan) for h in history], label=label)
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    acc_ax.legend()
    return _save(fig, path)


def confusion_matrix_plot(matrix: np.ndarray, class_names: Sequence[str], path: Path, *, title: str, normalize: bool = False) -> Path:
    """A confusion matrix (rows: true class, columns: predicted), counts or row-normalized."""
    matrix = np.asarray(matrix, dtype=float)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    size = max(4.5, 0.55 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    for (i, j), value in np.ndenumerate(shown):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if value > shown.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return _save(fig, path)
