"""Readout features from recorded activity; every one is a rate or a fraction, so it does not scale with the ticks.

=============  =====================================================================  ==================
type           what                                                                   size per layer
=============  =====================================================================  ==================
avg_S          each unit's mean spike rate over the ticks (spikes per tick)           units
firings        each unit's spike rate in each of ``time_bins`` equal windows          units x time_bins
first_spike    ``1 - t_first / ticks`` (earlier is larger), 0 for a silent unit       units
layer_rates    the layer's mean spike rate in each window (population activity)       time_bins
final_v        each neuron's membrane potential after the last tick                   units (neuron layers)
=============  =====================================================================  ==================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["feature_blocks", "features"]


def _size(kind: str, units: int, time_bins: int) -> int:
    return {"avg_S": units, "firings": units * time_bins, "first_spike": units, "layer_rates": time_bins, "final_v": units}[kind]


def feature_blocks(
    layers: Sequence[str], units: dict[str, int], kinds: Sequence[str], time_bins: int, with_potentials: set[str]
) -> list[tuple[str, str, int, int]]:
    """``(layer, type, start, stop)`` column ranges of the feature matrix, in the order :func:`features` writes them.

    ``final_v`` is skipped for layers without recorded potentials (pool layers).
    """
    blocks, start = [], 0
    for layer in layers:
        for kind in kinds:
            if kind == "final_v" and layer not in with_potentials:
                continue
            size = _size(kind, units[layer], time_bins)
            blocks.append((layer, kind, start, start + size))
            start += size
    return blocks


def features(
    spikes: dict[str, np.ndarray],
    potentials: dict[str, np.ndarray],
    layers: Sequence[str],
    kinds: Sequence[str],
    time_bins: int,
) -> np.ndarray:
    """The feature matrix of one batch.

    Args:
        spikes: ``{layer: bool (batch, ticks, units)}``.
        potentials: ``{layer: (batch, ticks, units) or (batch, units)}`` for layers with neurons.
        layers: The layers to use, in order.
        kinds: Feature types, in order (see the module's table).
        time_bins: Windows per image of ``firings`` and ``layer_rates``; must divide the ticks.

    Returns:
        ``(batch, n_features)`` float32, columns as in :func:`feature_blocks`.
    """
    columns = []
    for layer in layers:
        s = spikes[layer]
        batch, ticks, units = s.shape
        binned = None
        for kind in kinds:
            if kind == "avg_S":
                columns.append(s.mean(axis=1, dtype=np.float32))
            elif kind in ("firings", "layer_rates"):
                if binned is None:
                    binned = s.reshape(batch, time_bins, ticks // time_bins, units).mean(axis=2, dtype=np.float32)
                columns.append(binned.reshape(batch, -1) if kind == "firings" else binned.mean(axis=2))
            elif kind == "first_spike":
                fired = s.any(axis=1)
                first = np.argmax(s, axis=1)
                columns.append(np.where(fired, 1.0 - first / ticks, 0.0).astype(np.float32))
            elif kind == "final_v" and layer in potentials:
                v = potentials[layer]
                columns.append((v[:, -1] if v.ndim == 3 else v).astype(np.float32))
    return np.concatenate(columns, axis=1) if columns else np.zeros((len(next(iter(spikes.values()))), 0), np.float32)
