"""The SQLite job store: one row per job, safe to use from several threads."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["ACTIVE", "FINAL", "RUNNING", "Job", "JobStore", "stamp"]

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

#: Columns added after the first release, with their SQL types; an older database gains them on open.
ADDED_COLUMNS = {
    "started": "TEXT",  # when the job's latest process started
    "finished": "TEXT",  # when it ended
    "queue_seq": "INTEGER",  # place in the queue: submits and resumes are served in this order
    "action": "TEXT NOT NULL DEFAULT 'start'",  # what the next launch does: start | resume
    "overrides": "TEXT NOT NULL DEFAULT '[]'",  # JSON list of a.b=value changes for a resume
}

#: Jobs with a process: running, or told to stop and not yet stopped.
RUNNING = ("running", "cancelling")
#: Jobs that are not finished: waiting for a slot, or running.
ACTIVE = ("queued", *RUNNING)
#: How a job can end.
FINAL = ("completed", "failed", "interrupted", "cancelled")


def stamp() -> str:
    """The current UTC time, ISO 8601, to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Job:
    """One job: a pipeline run started from the server.

    ``run_dir`` is the run folder's name inside the server's runs folder.
    """

    id: int
    plugin: str
    pipeline: str
    run_dir: str
    status: str
    pid: int | None
    exit_code: int | None
    created: str
    updated: str
    started: str | None = None
    finished: str | None = None
    queue_seq: int | None = None
    action: str = "start"
    overrides: str = "[]"

    @property
    def override_list(self) -> list[str]:
        """The ``a.b=value`` changes the next resume applies."""
        return list(json.loads(self.overrides or "[]"))


class JobStore:
    """Jobs in a SQLite file (WAL mode), shared by the request handlers and the supervisor.

    ``version`` grows with every write, so readers can tell cheaply whether anything changed.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.version = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, sql_type in ADDED_COLUMNS.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type}")

    def create(self, plugin: str, pipeline: str, run_dir: str) -> Job:
        """Insert a queued job at the end of the queue and return it."""
        now = stamp()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO jobs (plugin, pipeline, run_dir, status, created, updated, queue_seq)"
                " VALUES (?, ?, ?, 'queued', ?, ?, (SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM jobs))",
                (plugin, pipeline, run_dir, now, now),
            )
            self.version += 1
            job_id = cursor.lastrowid
        job = self.get(job_id or 0)
        assert job is not None
        return job

    def get(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        rows = self._select("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def list(self, limit: int = 100) -> list[Job]:
        """The newest jobs first."""
        return self._select("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))

    def with_status(self, *statuses: str) -> list[Job]:
        """Jobs in any of ``statuses``, in queue order (oldest first)."""
        marks = ", ".join("?" for _ in statuses)
        return self._select(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY queue_seq, id", statuses)

    def update(self, job_id: int, **fields: Any) -> None:
        """Set some columns of a job and stamp its update time."""
        fields["updated"] = stamp()
        columns = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {columns} WHERE id = ?", (*fields.values(), job_id))
            self.version += 1

    def enqueue(self, job_id: int, **fields: Any) -> None:
        """Put a job back at the end of the queue (status ``queued``), setting ``fields`` too."""
        fields.update(status="queued", updated=stamp())
        columns = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(
                f"UPDATE jobs SET {columns}, queue_seq = (SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM jobs) WHERE id = ?",
                (*fields.values(), job_id),
            )
            self.version += 1

    def delete(self, job_id: int) -> None:
        """Remove a job's row."""
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            self.version += 1

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[Job]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [Job(**dict(row)) for row in rows]
