"""PNG plots of the evaluation: pole-zero maps, response overlays, topology confusion, training curves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Example", "confusion_plot", "pole_zero_maps", "response_overlays", "training_curves"]

#: Colour of each decoder in every plot.
COLOURS = {
    "true": "black",
    "fixed 2+2 (seed)": "tab:red",
    "set decoder": "tab:blue",
    "analytic": "tab:orange",
    "analytic + fit": "tab:green",
}


@dataclass
class Example:
    """One test circuit and what each decoder made of it.

    Attributes:
        title: Its family (and index).
        roots: ``{decoder: (zeros, poles)}`` in rad/s, ``"true"`` included.
        responses: ``{decoder: H}`` on ``freqs_hz`` (``"true"`` included; decoders without a gain are
            scaled to the true response at its median frequency).
        freqs_hz: The frequencies.
    """

    title: str
    roots: dict[str, tuple[np.ndarray, np.ndarray]]
    responses: dict[str, np.ndarray]
    freqs_hz: np.ndarray


def _figure(n: int, width: float = 4.0, height: float = 3.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return plt, fig, axes.ravel()


def pole_zero_maps(examples: list[Example], path: Path) -> Path:
    """s-plane maps (in units of each circuit's pole scale): x = poles, o = zeros, one colour per decoder."""
    plt, fig, axes = _figure(len(examples))
    for ax, ex in zip(axes, examples, strict=False):
        true_poles = ex.roots["true"][1]
        scale = float(np.exp(np.mean(np.log(np.abs(true_poles))))) if len(true_poles) else 1.0
        for name, (zeros, poles) in ex.roots.items():
            colour = COLOURS.get(name, "gray")
            size = 90 if name == "true" else 45
            ax.scatter(poles.real / scale, poles.imag / scale, marker="x", s=size, color=colour, label=name, linewidths=1.5)
            ax.scatter(zeros.real / scale, zeros.imag / scale, marker="o", s=size, facecolors="none", edgecolors=colour, linewidths=1.5)
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.set_title(ex.title, fontsize=9)
        ax.set_xlabel("Re s / w_p")
        ax.set_ylabel("Im s / w_p")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("Poles (x) and zeros (o): truth and each decoder; w_p = geometric mean of the true pole sizes", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def response_overlays(examples: list[Example], path: Path) -> Path:
    """|H| in dB of the truth and of each decoder's transfer function."""
    plt, fig, axes = _figure(len(examples))
    for ax, ex in zip(axes, examples, strict=False):
        for name, h in ex.responses.items():
            style = {"lw": 3.0, "alpha": 0.4} if name == "true" else {"lw": 1.2}
            ax.semilogx(ex.freqs_hz, 20 * np.log10(np.maximum(np.abs(h), 1e-6)), color=COLOURS.get(name, "gray"), label=name, **style)
        ax.set_ylim(-80, 20)
        ax.set_title(ex.title, fontsize=9)
        ax.set_xlabel("Hz")
        ax.set_ylabel("|H| dB")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_plot(matrix: np.ndarray, names: list[str], path: Path) -> Path:
    """The topology confusion matrix (rows: true family, columns: predicted)."""
    plt, fig, axes = _figure(1, 7.5, 6.5)
    ax = axes[0]
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color="black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def training_curves(histories: dict[str, list[dict[str, float]]], path: Path) -> Path:
    """Train and validation loss per epoch of each model."""
    plt, fig, axes = _figure(len(histories))
    for ax, (name, history) in zip(axes, histories.items(), strict=False):
        epochs = [h["epoch"] for h in history]
        ax.semilogy(epochs, [h["train_loss"] for h in history], label="train")
        ax.semilogy(epochs, [h["val_loss"] for h in history], label="val")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
