"""Run directories: resolved config, state of the steps, log, metrics and artifacts of one run."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from kaspix.atomic import atomic_write_json, atomic_write_text
from kaspix.errors import KaspixError

CONFIG_FILE = "config.yaml"
STATE_FILE = "run.json"
METRICS_FILE = "metrics.json"
LOG_FILE = "run.log"
ARTIFACTS_DIR = "artifacts"

RunStatus = Literal["created", "running", "completed", "failed", "interrupted"]


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunState(BaseModel):
    """The content of ``run.json``: which pipeline, how far it got, and how it ended."""

    plugin: str
    pipeline: str
    status: RunStatus = "created"
    steps: list[str]
    completed_steps: list[str] = Field(default_factory=list)
    current_step: str | None = None
    error: str | None = None
    created: str = Field(default_factory=now_iso)
    updated: str = Field(default_factory=now_iso)
    kaspix_version: str = ""

    def next_step(self) -> str | None:
        """The first step not yet completed, or None when all are done."""
        return next((s for s in self.steps if s not in self.completed_steps), None)


class RunDirectory:
    """One run's folder: ``config.yaml``, ``run.json``, ``run.log``, ``metrics.json``, ``artifacts/``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, base: str | Path, pipeline: str, *, exact: bool = False) -> RunDirectory:
        """Make a new run folder ``base/<pipeline>-<timestamp>`` (or exactly ``base`` when ``exact``)."""
        base = Path(base)
        if exact:
            if base.exists() and any(base.iterdir()):
                raise KaspixError(
                    f"output folder {base} exists and is not empty",
                    hint=f"choose another --out, or continue that run with `kaspix run --resume {base}`",
                )
            base.mkdir(parents=True, exist_ok=True)
            return cls(base)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            candidate = base / (f"{pipeline}-{stamp}" + (f"-{attempt}" if attempt else ""))
            try:
                candidate.mkdir(parents=True)
                return cls(candidate)
            except FileExistsError:
                continue
        raise KaspixError(f"could not create a fresh run folder under {base}")

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """Open an existing run folder; a folder without a readable ``run.json`` is a clear error."""
        run = cls(Path(path))
        if not (run.path / STATE_FILE).is_file():
            raise KaspixError(f"{run.path} is not a kaspix run folder (no {STATE_FILE})", hint="`kaspix runs` lists the runs")
        run.read_state()
        return run

    @property
    def artifacts(self) -> Path:
        """The folder for the run's outputs (created on first use)."""
        folder = self.path / ARTIFACTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def log_path(self) -> Path:
        return self.path / LOG_FILE

    def read_state(self) -> RunState:
        """Read ``run.json``."""
        try:
            return RunState.model_validate_json((self.path / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError) as exc:
            raise KaspixError(f"cannot read {STATE_FILE}: {exc}", where=str(self.path)) from None

    def write_state(self, state: RunState) -> None:
        """Write ``run.json`` atomically, stamping the update time."""
        state.updated = now_iso()
        atomic_write_text(self.path / STATE_FILE, state.model_dump_json(indent=2) + "\n")

    def read_metrics(self) -> dict[str, Any]:
        """The metrics recorded so far (an empty dict when none)."""
        path = self.path / METRICS_FILE
        if not path.is_file():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    def update_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Merge ``metrics`` into ``metrics.json`` (atomically) and return the result."""
        merged = {**self.read_metrics(), **metrics}
        atomic_write_json(self.path / METRICS_FILE, merged)
        return merged


class RunSummary(BaseModel):
    """One line of ``kaspix runs``."""

    path: str
    plugin: str
    pipeline: str
    status: str
    created: str
    updated: str
    progress: str
    metrics: dict[str, Any]


def list_runs(base: str | Path, *, limit: int | None = None) -> list[RunSummary]:
    """Runs found under ``base`` (one level deep), newest first; unreadable folders are skipped."""
    base = Path(base)
    summaries = []
    if not base.is_dir():
        return summaries
    for state_file in base.glob(f"*/{STATE_FILE}"):
        run = RunDirectory(state_file.parent)
        try:
            state = run.read_state()
            metrics = run.read_metrics()
        except (KaspixError, ValueError):
            continue
        summaries.append(
            RunSummary(
                path=str(run.path),
                plugin=state.plugin,
                pipeline=state.pipeline,
                status=state.status,
                created=state.created,
                updated=state.updated,
                progress=f"{len(state.completed_steps)}/{len(state.steps)}",
                metrics=metrics,
            )
        )
    summaries.sort(key=lambda s: s.created, reverse=True)
    return summaries[:limit] if limit else summaries
