"""The SQLite job store: one row per job, safe to use from several threads."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kaspix.runs import now_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    exit_code INTEGER,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
)
"""

#: Job states: queued (created, process not yet started), running, and the run's final states.
ACTIVE = ("queued", "running")


@dataclass
class Job:
    """One job: a pipeline run started from the server."""

    id: int
    plugin: str
    pipeline: str
    run_dir: str
    status: str
    pid: int | None
    exit_code: int | None
    created: str
    updated: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return asdict(self)


class JobStore:
    """Jobs in a SQLite file (WAL mode), shared by the request handlers and the job watchers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def create(self, plugin: str, pipeline: str, run_dir: str) -> Job:
        """Insert a queued job and return it."""
        stamp = now_iso()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO jobs (plugin, pipeline, run_dir, status, created, updated) VALUES (?, ?, ?, 'queued', ?, ?)",
                (plugin, pipeline, run_dir, stamp, stamp),
            )
            job_id = cursor.lastrowid
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job(**dict(row)) if row else None

    def list(self, limit: int = 100) -> list[Job]:
        """The newest jobs first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [Job(**dict(r)) for r in rows]

    def update(self, job_id: int, **fields: Any) -> None:
        """Set some columns of a job and stamp its update time."""
        fields["updated"] = now_iso()
        columns = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {columns} WHERE id = ?", (*fields.values(), job_id))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
