"""Step 3, prepare data: features from the recording, a stratified split, a scaler; all as ``torch.load(weights_only=True)`` files.

``train_data.pt`` and ``test_data.pt`` each hold ``features`` (float16, unscaled: every feature is
a rate, exactly stored), ``labels`` (int64), ``rows`` (the images' rows in ``activity_dataset.h5``),
``feature_blocks`` (``[layer, type, start, stop]`` column ranges) and ``class_names``.
``scaler.pt`` holds ``mean`` and ``scale`` (float32) of the training features; the readout applies them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from kaspix import KaspixError, RunContext

from kaspix_snn.activity import ActivityReader
from kaspix_snn.config import SnnConfig
from kaspix_snn.features import feature_blocks, features
from kaspix_snn.files import ACTIVITY, SCALER, TEST_DATA, TRAIN_DATA, require, save_torch

__all__ = ["feature_matrix", "load_part", "prepare_step", "stratified_split"]


def stratified_split(labels: np.ndarray, train_fraction: float, seed: int, *, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices of a seeded split that keeps each class's share in both parts."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels)
    present = counts[counts > 0]
    if present.min() < 2:
        raise KaspixError(
            f"every class needs at least 2 images to be split, the smallest has {present.min()}",
            where=where,
            hint="raise simulation.images_per_label",
        )
    try:
        train, test = train_test_split(np.arange(len(labels)), train_size=train_fraction, stratify=labels, random_state=seed)
    except ValueError as exc:
        raise KaspixError(
            f"cannot split {len(labels)} images of {len(present)} classes: {exc}", where=where, hint="record more images"
        ) from None
    return np.sort(train), np.sort(test)


def feature_matrix(
    reader: ActivityReader, layers: list[str], kinds: list[str], time_bins: int, *, batch: int = 256, track: Any = iter
) -> tuple[np.ndarray, list[tuple[str, str, int, int]]]:
    """Every recorded image's features (float16, computed batch by batch) and their column blocks."""
    with_v = {name for name in layers if reader.has_potentials(name)}
    blocks = feature_blocks(layers, {name: reader.units(name) for name in layers}, kinds, time_bins, with_v)
    width = blocks[-1][3] if blocks else 0
    if width == 0:
        raise KaspixError(f"the feature types {kinds} give no features for layers {layers}", where="preparation", hint="add avg_S")
    matrix = np.empty((len(reader), width), dtype=np.float16)
    for rows, spikes, potentials in track(reader.batches(batch, layers)):
        matrix[rows] = features(spikes, potentials, layers, kinds, time_bins)
    return matrix, blocks


def _mean_std(matrix: np.ndarray, rows: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of ``matrix[rows]``, accumulated in float64 chunk by chunk."""
    total = np.zeros(matrix.shape[1])
    squares = np.zeros(matrix.shape[1])
    for start in range(0, len(rows), chunk):
        part = matrix[rows[start : start + chunk]].astype(np.float64)
        total += part.sum(axis=0)
        squares += np.square(part).sum(axis=0)
    mean = total / len(rows)
    return mean, np.sqrt(np.maximum(squares / len(rows) - mean**2, 0.0))


def _part(matrix: np.ndarray, labels: np.ndarray, rows: np.ndarray, blocks: list[Any], class_names: list[str]) -> dict[str, Any]:
    return {
        "features": torch.from_numpy(matrix[rows]),
        "labels": torch.from_numpy(labels[rows].astype(np.int64)),
        "rows": torch.from_numpy(rows.astype(np.int64)),
        "feature_blocks": [list(block) for block in blocks],
        "class_names": list(class_names),
    }


def prepare_step(ctx: RunContext[SnnConfig]) -> None:
    """Compute the features, split them stratified by label, and fit the scaler on the training part."""
    cfg = ctx.config.preparation
    with ActivityReader(require(ctx.artifact(ACTIVITY), "record_activity")) as reader:
        layers = cfg.layers or reader.layer_names
        missing = [name for name in layers if name not in reader.layer_names]
        if missing:
            raise KaspixError(f"layers {missing} were not recorded (recorded: {reader.layer_names})", where="preparation.layers")
        n_batches = -(-len(reader) // 256)
        matrix, blocks = feature_matrix(
            reader, layers, list(cfg.feature_types), cfg.time_bins, track=lambda it: ctx.track(it, description="features", total=n_batches)
        )
        labels = reader.labels
        class_names = reader.metadata["class_names"]
    train, test = stratified_split(labels, cfg.train_split, ctx.config.seed, where="preparation.train_split")
    mean, std = _mean_std(matrix, train)
    scale = np.where(std > 1e-6, std, 1.0)
    save_torch(_part(matrix, labels, train, blocks, class_names), ctx.artifact(TRAIN_DATA))
    save_torch(_part(matrix, labels, test, blocks, class_names), ctx.artifact(TEST_DATA))
    save_torch(
        {"mean": torch.from_numpy(mean.astype(np.float32)), "scale": torch.from_numpy(scale.astype(np.float32))}, ctx.artifact(SCALER)
    )
    constant = int(np.sum(std <= 1e-6))
    ctx.log.info(
        "%d features (%s) from %s; %d train / %d test images; %d features constant on the train set",
        matrix.shape[1],
        ", ".join(cfg.feature_types),
        ", ".join(layers),
        len(train),
        len(test),
        constant,
    )
    ctx.log_metrics({"features": int(matrix.shape[1]), "train_images": len(train), "test_images": len(test)}, prefix="prepare")


def load_part(path: Path, step: str = "prepare_data") -> dict[str, Any]:
    """A ``train_data.pt`` / ``test_data.pt`` file."""
    return torch.load(require(path, step), weights_only=True)
