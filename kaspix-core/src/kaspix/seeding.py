"""Seeding every random generator a step may use, so the same config and seed give the same numbers."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import random
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["DEFAULT_SEED", "config_seed", "seed_everything"]

#: The seed of a pipeline whose config has no ``seed`` field.
DEFAULT_SEED = 0


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and CUDA), where installed.

    torch is seeded at once when it is already imported; otherwise it is seeded the moment it is
    first imported (an import hook), so a model built later in the step starts from this seed
    while a run that never uses torch never pays for importing it.
    """
    random.seed(seed)
    if importlib.util.find_spec("numpy") is not None:
        import numpy as np

        np.random.seed(seed % 2**32)
    _forget_pending_torch_seed()
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)  # seeds every CUDA device too
    else:
        sys.meta_path.insert(0, _SeedTorchOnImport(seed))


def config_seed(config: Any) -> int:
    """The config's top-level ``seed`` field, or :data:`DEFAULT_SEED` when it has none."""
    seed = getattr(config, "seed", None)
    return int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else DEFAULT_SEED


def _forget_pending_torch_seed() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _SeedTorchOnImport)]


class _SeedTorchOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``torch`` is imported, it lets the other finders find it and seeds it once loaded."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torch":
            return None
        _forget_pending_torch_seed()
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _SeedingLoader(spec.loader, self.seed)
        return spec


class _SeedingLoader(importlib.abc.Loader):
    """Loads a module with another loader, then calls its ``manual_seed``."""

    def __init__(self, loader: importlib.abc.Loader, seed: int) -> None:
        self.loader = loader
        self.seed = seed

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        module.manual_seed(self.seed)
