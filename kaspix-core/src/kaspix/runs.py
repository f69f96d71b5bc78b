"""Run directories: resolved config, state of the steps, log, metrics and artifacts of one run."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from kaspix.atomic import atomic_write_json, atomic_write_text
from kaspix.errors import KaspixError
from kaspix.runlock import is_locked

__all__ = [
    "ARTIFACTS_DIR",
    "CONFIG_FILE",
    "LOG_FILE",
    "METRICS_FILE",
    "STATE_FILE",
    "RunDirectory",
    "RunState",
    "RunStatus",
    "RunSummary",
    "list_runs",
    "now_iso",
]

CONFIG_FILE = "config.yaml"
STATE_FILE = "run.json"
METRICS_FILE = "metrics.json"
LOG_FILE = "run.log"
ARTIFACTS_DIR = "artifacts"

RunStatus = Literal["created", "running", "completed", "failed", "interrupted"]

#: What ``run.json`` says when its owner died without recording it (``kill -9``, a power cut).
DEAD_OWNER = "the process running it died (killed, or the machine stopped) before recording how it ended"


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
    changes: list[dict[str, Any]] = Field(default_factory=list)

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
        """Read ``run.json`` as written, raising one clear :class:`KaspixError` when it is damaged."""
        path = self.path / STATE_FILE
        try:
            return RunState.model_validate_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            problem = exc.strerror or str(exc)
        except UnicodeDecodeError:
            problem = "it is not UTF-8 text"
        except ValidationError as exc:
            problem = _first_problem(exc)
        raise KaspixError(
            f"cannot read {STATE_FILE}: {problem}",
            where=str(self.path),
            hint=f"the file was damaged or edited; restore {path} or start a new run",
        )

    def live_state(self) -> RunState:
        """``run.json`` as it stands now: a ``running`` run whose owner died is shown as ``interrupted``."""
        state = self.read_state()
        if state.status == "running" and not is_locked(self.path):
            state.status, state.error = "interrupted", DEAD_OWNER
        return state

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


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    if error["type"] == "json_invalid":
        return f"it is not valid JSON ({error['msg']})"
    field_path = ".".join(str(p) for p in error["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field '{field_path}': {error['msg'].lower()}{more}"


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
    error: str | None = None


def list_runs(base: str | Path, *, limit: int | None = None) -> list[RunSummary]:
    """Runs found under ``base`` (one level deep), newest first; unreadable ones are listed as ``unreadable``."""
    base = Path(base)
    summaries: list[RunSummary] = []
    if not base.is_dir():
        return summaries
    for state_file in base.glob(f"*/{STATE_FILE}"):
        run = RunDirectory(state_file.parent)
        try:
            state = run.live_state()
            metrics = run.read_metrics()
        except (KaspixError, ValueError) as exc:
            stamp = datetime.fromtimestamp(state_file.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
            reason = exc.message if isinstance(exc, KaspixError) else f"cannot read {METRICS_FILE}: {exc}"
            summaries.append(
                RunSummary(
                    path=str(run.path),
                    plugin="?",
                    pipeline="?",
                    status="unreadable",
                    created=stamp,
                    updated=stamp,
                    progress="?",
                    metrics={},
                    error=reason,
                )
            )
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
                error=state.error,
            )
        )
    summaries.sort(key=lambda s: s.created, reverse=True)
    return summaries[:limit] if limit else summaries
