"""Seeding every random generator a step may use, so the same config and seed give the same numbers."""

from __future__ import annotations

import importlib.util
import random
from typing import Any

__all__ = ["DEFAULT_SEED", "config_seed", "seed_everything"]

#: The seed of a pipeline whose config has no ``seed`` field.
DEFAULT_SEED = 0


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and CUDA), where installed.

    torch is imported to seed it when it is installed, so that a model built inside a step is
    initialised the same way in every run.
    """
    random.seed(seed)
    if importlib.util.find_spec("numpy") is not None:
        import numpy as np

        np.random.seed(seed % 2**32)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)  # seeds every CUDA device too


def config_seed(config: Any) -> int:
    """The config's top-level ``seed`` field, or :data:`DEFAULT_SEED` when it has none."""
    seed = getattr(config, "seed", None)
    return int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else DEFAULT_SEED
