"""What the API shows of a job: its row, its run folder's progress and metrics, its files and plots.

Paths in answers are relative: a job's ``run_dir`` to the runs folder, files to the run folder.
No listed file leads out of its run folder (links that do are left out), and run folders are
re-read only when their files change.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kaspix.errors import KaspixError
from kaspix.runlock import LOCK_FILE
from kaspix.runs import ARTIFACTS_DIR, METRICS_FILE, STATE_FILE, RunDirectory, RunState
from kaspix.server.errors import ApiError
from kaspix.server.jobs import JobManager
from kaspix.server.store import RUNNING, Job

__all__ = ["IMAGE_TYPES", "JobViews", "RunReader"]

#: How many metrics the jobs list shows per job (the first numeric ones in ``metrics.json``).
KEY_METRICS = 4
#: At most this many files are listed, and this many plots shown, per job.
MAX_FILES = 5000
MAX_PLOTS = 24
#: Images a browser may show inline; every other file is sent as a download.
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start:
        return None
    try:
        begin = datetime.fromisoformat(start)
        finish = datetime.fromisoformat(end) if end else datetime.now(timezone.utc)
    except ValueError:
        return None
    return round(max((finish - begin).total_seconds(), 0.0), 1)


@dataclass
class _Cached:
    key: Any
    value: Any


class RunReader:
    """Reads run folders for the API, parsing a file again only when it changed.

    A ``running`` state is checked against the run's lock on every read (``live_state``), so a
    run whose process died shows as ``interrupted`` at once.
    """

    def __init__(self) -> None:
        self._states: dict[Path, _Cached] = {}
        self._metrics: dict[Path, _Cached] = {}
        self._plots: dict[Path, _Cached] = {}

    def state(self, run: Path) -> RunState | None:
        """The run's live state, or None before its ``run.json`` exists (or when that is unreadable)."""
        key = _file_key(run / STATE_FILE)
        if key is None:
            return None
        cached = self._states.get(run)
        if cached is not None and cached.key == key and cached.value is not None and cached.value.status != "running":
            return cached.value
        try:
            state: RunState | None = RunDirectory(run).live_state()
        except KaspixError:
            state = None
        self._remember(self._states, run, _Cached(key, state))
        return state

    def metrics(self, run: Path) -> dict[str, Any]:
        """The run's ``metrics.json`` ({} when there is none yet or it cannot be read)."""
        key = _file_key(run / METRICS_FILE)
        if key is None:
            return {}
        cached = self._metrics.get(run)
        if cached is not None and cached.key == key:
            return cached.value
        try:
            metrics = json.loads((run / METRICS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metrics = {}
        value = metrics if isinstance(metrics, dict) else {}
        self._remember(self._metrics, run, _Cached(key, value))
        return value

    def plots(self, run: Path) -> list[str]:
        """PNG files under ``artifacts/`` (paths relative to the run folder).

        Looked for again when ``run.json`` changed (a step ended), else at most once a second.
        """
        now, state_key = time.monotonic(), _file_key(run / STATE_FILE)
        cached = self._plots.get(run)
        if cached is not None and cached.key[0] == state_key and now - cached.key[1] < 1.0:
            return cached.value
        plots = [entry["path"] for entry in list_files(run / ARTIFACTS_DIR, run) if entry["path"].lower().endswith(".png")]
        value = plots[:MAX_PLOTS]
        self._remember(self._plots, run, _Cached((state_key, now), value))
        return value

    def signature(self, run: Path) -> tuple[Any, ...]:
        """Changes when the run's state or metrics change."""
        return _file_key(run / STATE_FILE), _file_key(run / METRICS_FILE)

    @staticmethod
    def _remember(cache: dict[Path, _Cached], run: Path, entry: _Cached) -> None:
        if len(cache) > 4096:
            cache.clear()
        cache[run] = entry


def list_files(folder: Path, root: Path) -> list[dict[str, Any]]:
    """Files under ``folder`` with paths relative to ``root``, sorted; hidden files, the lock and links that leave ``root`` are left out."""
    root_real = root.resolve()
    entries: list[dict[str, Any]] = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(current, d)))
        for name in sorted(files):
            path = Path(current, name)
            if name.startswith(".") or (name == LOCK_FILE and Path(current) == root):
                continue
            real = path.resolve()
            if not real.is_relative_to(root_real) or not real.is_file():
                continue
            entries.append({"path": path.relative_to(root).as_posix(), "size": real.stat().st_size})
            if len(entries) >= MAX_FILES:
                return entries
    return entries


@dataclass(frozen=True)
class _Snapshot:
    """An answer as JSON, with what it was made from: the store's version and the run folders' files."""

    version: int
    runs: tuple[Path, ...]
    keys: tuple[Any, ...]
    second: int | None  # while a job runs its duration moves: the answer is good for the second it was made in
    body: bytes


class JobViews:
    """The JSON views of jobs, computed from the job store and their run folders.

    The jobs list and each job's detail are kept as JSON and made again only when the store, or
    the ``run.json`` / ``metrics.json`` of a running job (of the job, for its detail) changed, and
    once a second while a job runs; so many clients watching the same jobs cost little.
    """

    def __init__(self, manager: JobManager) -> None:
        self.manager = manager
        self.runs = RunReader()
        self._lock = threading.Lock()
        self._snapshots: dict[str | int, _Snapshot] = {}

    def summary(self, job: Job, queue: list[int] | None = None) -> dict[str, Any]:
        """One row of the jobs list: status, start, duration, step progress and key metrics."""
        run = self.manager.run_path(job)
        state = self.runs.state(run)
        metrics = self.runs.metrics(run)
        steps = state.steps if state else self.manager.pipeline_steps(job)
        numeric = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        queue = queue if queue is not None else [j.id for j in self.manager.store.with_status("queued")]
        return {
            "id": job.id,
            "plugin": job.plugin,
            "pipeline": job.pipeline,
            "status": job.status,
            "run_dir": Path(job.run_dir).name,
            "pid": job.pid,
            "exit_code": job.exit_code,
            "created": job.created,
            "started": job.started,
            "finished": job.finished,
            "duration_s": _seconds_between(job.started, job.finished if job.status not in RUNNING else None),
            "queue_position": queue.index(job.id) + 1 if job.id in queue else None,
            "steps_done": len(state.completed_steps) if state else 0,
            "steps_total": len(steps),
            "current_step": state.current_step if state and job.status in RUNNING else None,
            "key_metrics": dict(numeric[:KEY_METRICS]),
        }

    def detail(self, job: Job) -> dict[str, Any]:
        """The job with its steps, the run's own status and error, every metric and the plots."""
        run = self.manager.run_path(job)
        state = self.runs.state(run)
        return {
            **self.summary(job),
            "steps": state.steps if state else self.manager.pipeline_steps(job),
            "completed_steps": state.completed_steps if state else [],
            "run_status": state.status if state else None,
            "error": state.error if state else None,
            "metrics": self.runs.metrics(run),
            "plots": self.runs.plots(run) if run.is_dir() else [],
        }

    def fresh(self, key: str | int) -> bytes | None:
        """The kept JSON of the jobs list (``"list"``) or of a job's detail (its id), if nothing changed since; else None.

        Cheap enough for the event loop: no database query, a few ``stat`` calls.
        """
        snapshot = self._snapshots.get(key)
        if (
            snapshot is None
            or snapshot.version != self.manager.store.version
            or (snapshot.second is not None and snapshot.second != int(time.monotonic()))
            or snapshot.keys != tuple(self.runs.signature(run) for run in snapshot.runs)
        ):
            return None
        return snapshot.body

    def list_json(self, limit: int = 100) -> bytes:
        """The newest jobs as a JSON list of :meth:`summary` rows."""
        with self._lock:
            body = self.fresh("list")
            if body is None:
                version = self.manager.store.version
                jobs = self.manager.list(limit)
                queue = [j.id for j in self.manager.store.with_status("queued")]
                body = json.dumps([self.summary(job, queue) for job in jobs], separators=(",", ":")).encode()
                running = [job for job in jobs if job.status in RUNNING]
                self._keep("list", version, running, body, moving=bool(running))
            return body

    def detail_json(self, job_id: int) -> bytes:
        """:meth:`detail` as JSON; an unknown job is a 404 :class:`ApiError`."""
        with self._lock:
            body = self.fresh(job_id)
            if body is None:
                version = self.manager.store.version
                job = self.manager.get(job_id)
                body = json.dumps(self.detail(job), separators=(",", ":")).encode()
                self._keep(job_id, version, [job], body, moving=job.status in RUNNING)
            return body

    def _keep(self, key: str | int, version: int, watched: list[Job], body: bytes, *, moving: bool) -> None:
        runs = tuple(self.manager.run_path(job) for job in watched)
        if len(self._snapshots) > 1024:
            self._snapshots.clear()
        self._snapshots[key] = _Snapshot(
            version=version,
            runs=runs,
            keys=tuple(self.runs.signature(run) for run in runs),
            second=int(time.monotonic()) if moving else None,
            body=body,
        )

    def signature(self, job: Job) -> tuple[Any, ...]:
        """Changes whenever :meth:`detail` would show something new (the plots aside)."""
        return job.updated, job.status, self.runs.signature(self.manager.run_path(job))

    def files(self, job: Job) -> list[dict[str, Any]]:
        """Every file of the job's run folder (paths relative to it)."""
        run = self.manager.run_path(job)
        return list_files(run, run) if run.is_dir() else []

    def file(self, job: Job, relative: str) -> Path:
        """The file at ``relative`` in the job's run folder, if listed there; else a 404 :class:`ApiError`."""
        run = self.manager.run_path(job)
        parts = Path(relative).parts
        target = (run / relative).resolve()
        if (
            not run.is_dir()
            or any(part.startswith(".") for part in parts)
            or relative == LOCK_FILE
            or not target.is_relative_to(run.resolve())
            or not target.is_file()
        ):
            raise ApiError(404, f"no file {relative!r} in job {job.id}", field="path", hint=f"GET /api/jobs/{job.id}/files lists them")
        return target
