"""The artifact names the steps hand to each other, and the few file helpers they share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kaspix import KaspixError

__all__ = [
    "ACTIVITY",
    "MODEL",
    "MODEL_INFO",
    "NETWORK",
    "PLOTS",
    "SCALER",
    "SUMMARY",
    "TEST_DATA",
    "TRAINING_METRICS",
    "TRAIN_DATA",
    "WEIGHTS",
    "read_json",
    "require",
    "save_torch",
    "write_json",
]

NETWORK = "network.json"
WEIGHTS = "network_weights.pt"
ACTIVITY = "activity_dataset.h5"
TRAIN_DATA = "train_data.pt"
TEST_DATA = "test_data.pt"
SCALER = "scaler.pt"
MODEL = "model.pth"
MODEL_INFO = "model.json"
TRAINING_METRICS = "training_metrics.json"
SUMMARY = "evaluation_summary.json"
PLOTS = "plots"


def require(path: Path, step: str) -> Path:
    """``path``, or a clear error naming the step that writes it."""
    if not path.is_file():
        raise KaspixError(f"{path.name} is missing; the {step} step writes it", where=str(path.parent), hint="start a new run")
    return path


def read_json(path: Path, step: str) -> Any:
    return json.loads(require(path, step).read_text(encoding="utf-8"))


def save_torch(obj: Any, path: Path) -> Path:
    """``torch.save`` to a temporary file, then rename (atomic)."""
    import torch

    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write JSON to a temporary file, then rename (atomic); for code that runs without a run context."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path
