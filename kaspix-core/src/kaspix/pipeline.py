"""Pipelines: a typed config and ordered, named steps that the core runs and resumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from kaspix.context import RunContext


__all__ = ["Pipeline", "Step"]


@dataclass(frozen=True)
class Step:
    """One named unit of work of a pipeline.

    A step reads what earlier steps left in the run directory and writes its own results
    there, so that a resumed run can start at any step without in-memory state.

    Args:
        name: Unique within the pipeline; recorded in ``run.json`` once the step finished.
        run: Called with the :class:`~kaspix.context.RunContext` of the run.
        description: One line shown by ``kaspix plugins``; defaults to ``run``'s docstring.
    """

    name: str
    run: Callable[[RunContext], None]
    description: str = ""


@dataclass(frozen=True)
class Pipeline:
    """What ``kaspix run`` executes.

    Args:
        name: The pipeline's registry name (``kaspix run --pipeline NAME``).
        config_model: A pydantic model (ideally a :class:`kaspix.Config`) whose defaults run
            on embedded data, with no files or downloads needed.
        steps: The steps, in the order they run.
        description: One line for listings.
    """

    name: str
    config_model: type[BaseModel]
    steps: tuple[Step, ...] = field(default_factory=tuple)
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise ValueError(f"pipeline {self.name!r} has no steps")
        names = [s.name for s in self.steps]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"pipeline {self.name!r} has duplicate step names: {', '.join(duplicates)}")
        if not (isinstance(self.config_model, type) and issubclass(self.config_model, BaseModel)):
            raise TypeError(f"pipeline {self.name!r}: config_model must be a pydantic BaseModel subclass")

    @property
    def step_names(self) -> list[str]:
        """The step names in run order."""
        return [s.name for s in self.steps]
