"""Figures without a display: ``new_figure`` and an atomic ``save_png``.

Uses ``matplotlib.figure.Figure`` directly (no pyplot, no GUI backend, no global state), so
commands and pipeline steps can draw from any thread or process.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaspix.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["new_figure", "save_png"]


def new_figure(rows: int = 1, cols: int = 1, *, size: tuple[float, float] = (10.0, 6.0), **subplots: Any) -> tuple[Figure, Any]:
    """A figure and its axes (``Figure.subplots(rows, cols, **subplots)``; one axis or an array)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.subplots(rows, cols, squeeze=True, **subplots)


def save_png(figure: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``figure`` as PNG to ``path`` atomically (its folder is created); return the path."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())
