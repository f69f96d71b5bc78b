"""What a pipeline step sees: its config, the run folder, the parts, a logger and metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from kaspix.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from kaspix.progress import track
from kaspix.registry import Registries
from kaspix.runs import RunDirectory

__all__ = ["RunContext"]

C = TypeVar("C", bound=BaseModel)
T = TypeVar("T")


class RunContext(Generic[C]):
    """Handed to every :class:`~kaspix.Step`.

    Attributes:
        config: The validated pipeline config.
        run: The run folder (``run.path``, ``run.artifacts``).
        parts: Every registered part, to build models, losses, data sources by name.
        log: The run's logger; lines go to ``run.log`` and the console.
        step: The name of the step being run.
    """

    def __init__(self, config: C, run: RunDirectory, parts: Registries, log: logging.Logger, step: str = "") -> None:
        self.config = config
        self.run = run
        self.parts = parts
        self.log = log
        self.step = step

    @property
    def artifacts(self) -> Path:
        """The run's artifact folder."""
        return self.run.artifacts

    def artifact(self, relative: str) -> Path:
        """The path of an artifact (parent folders created); check ``.exists()`` to reuse earlier output."""
        path = self.run.artifacts / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def artifact_dir(self, relative: str) -> Path:
        """A folder under the run's ``artifacts/`` (created, with its parents), e.g. for checkpoints."""
        path = self.run.artifacts / relative
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_metrics(self, metrics: dict[str, Any], *, prefix: str | None = None) -> dict[str, Any]:
        """Merge ``metrics`` into ``metrics.json`` (keys become ``prefix/key`` when a prefix is given)."""
        if prefix:
            metrics = {f"{prefix}/{k}": v for k, v in metrics.items()}
        return self.run.update_metrics(metrics)

    def write_text(self, relative: str, text: str) -> Path:
        """Write a text artifact atomically."""
        return atomic_write_text(self.artifact(relative), text)

    def write_bytes(self, relative: str, data: bytes) -> Path:
        """Write a binary artifact atomically."""
        return atomic_write_bytes(self.artifact(relative), data)

    def write_json(self, relative: str, obj: Any) -> Path:
        """Write a JSON artifact atomically."""
        return atomic_write_json(self.artifact(relative), obj)

    def track(self, items: Iterable[T], *, description: str = "", total: int | None = None) -> Iterator[T]:
        """Iterate with a progress bar (terminal) or periodic log lines (elsewhere)."""
        return track(items, description=description or self.step, total=total, logger=self.log)
