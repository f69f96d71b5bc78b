"""Tiny data for testing the snn plugin (and plugins built on it): a scaled-down config and image files.

Example::

    from kaspix_snn.testing import SMALL, tiny_images, write_config

    images, labels = tiny_images(n_per_class=5)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

__all__ = ["SMALL", "tiny_images", "write_config"]

#: A seed-style config scaled down to run in seconds (digits, 10 images per class).
SMALL = {
    "name": "small",
    "network": {
        "layers": [{"layer_type": "conv", "filters": 8, "kernel_size": 3, "stride": 1}, {"layer_type": "pool", "kernel_size": 2}],
        "inhibitory_signals": True,
    },
    "simulation": {"ticks_per_image": 8, "images_per_label": 10, "dataset_name_base": "tiny", "batch_size": 32, "potentials": "all"},
    "preparation": {"feature_types": ["avg_S", "firings", "final_v"], "time_bins": 2, "train_split": 0.7},
    "training": {"epochs": 3, "learning_rate": 0.002, "hidden": [32], "batch_size": 16, "val_fraction": 0.2, "patience": 5},
    "evaluation": {"eval_samples": 20, "think_longer": True},
    "visualizations": {
        "network_activity": {
            "enabled": True,
            "params": {"plots": ["spike_raster", "firing_rate_hist_by_layer", "membrane_traces", "input_images"]},
        }
    },
}


def write_config(path: Path, data: dict) -> Path:
    """Write ``data`` as a YAML config file at ``path``."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_images(n_per_class: int = 6, classes: int = 10, size: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class-dependent uint8 blobs: class k lights a bar at row k (so classes are separable)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class).astype(np.uint8)
    images = rng.integers(0, 40, size=(len(labels), size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i, label % size, :] = 255
    return images, labels
