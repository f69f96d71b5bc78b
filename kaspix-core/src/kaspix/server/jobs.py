"""Jobs: each one a separate ``kaspix run`` process, watched and recorded in the job store.

Because a job is its own process in its own session, it keeps running when the server stops;
a restarted server finds it again by its pid and its run folder's ``run.json``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from kaspix.atomic import atomic_write_text
from kaspix.config import parse_yaml_mapping, validate_config
from kaspix.errors import KaspixError
from kaspix.plugins import PluginHost
from kaspix.runs import STATE_FILE, RunDirectory
from kaspix.server.store import ACTIVE, Job, JobStore

POLL_S = 1.0


class JobNotFound(KaspixError):
    """No job has the id asked for."""


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


class JobManager:
    """Starts, resumes and watches jobs; the source of truth for their status.

    Args:
        data_dir: Holds ``jobs.sqlite``, the uploaded configs, the jobs' console output and their run folders.
        host: The loaded plugins (to resolve and validate pipelines before starting anything).
    """

    def __init__(self, data_dir: str | Path, host: PluginHost) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.store = JobStore(self.data_dir / "jobs.sqlite")
        self._watched: set[int] = set()  # jobs with a thread waiting for their process
        self._reattach_jobs()

    # -- paths -------------------------------------------------------------------
    def config_path(self, job: Job) -> Path:
        return self.data_dir / "configs" / f"job-{job.id}.yaml"

    def output_path(self, job: Job) -> Path:
        """The job's console output: every log line, and errors raised before the run folder exists."""
        return self.data_dir / "output" / f"job-{job.id}.log"

    # -- actions -----------------------------------------------------------------
    def submit(self, *, pipeline: str | None, plugin: str | None, config_text: str, source: str = "uploaded config") -> Job:
        """Validate the config for the pipeline, then start it as a new job.

        Raises:
            KaspixError: unknown plugin or pipeline, invalid YAML or config; nothing is started then.
        """
        part = self.host.pipeline_part(plugin=plugin or None, pipeline=pipeline or None)
        validate_config(part.obj.config_model, parse_yaml_mapping(config_text, source=source), source=source)
        job = self.store.create(part.plugin, part.name, run_dir="")
        run_dir = self.data_dir / "runs" / f"{part.name}-job{job.id}"
        self.store.update(job.id, run_dir=str(run_dir))
        job = self._get(job.id)
        atomic_write_text(self.config_path(job), config_text)
        return self._launch(job, ["run", "--pipeline", part.name, "-c", str(self.config_path(job)), "--out", str(run_dir)])

    def resume(self, job_id: int) -> Job:
        """Continue a failed or interrupted job at its first unfinished step."""
        job = self.refresh(self._get(job_id))
        if job.status in ACTIVE:
            raise KaspixError(f"job {job_id} is still {job.status}")
        if not (Path(job.run_dir) / STATE_FILE).is_file():
            raise KaspixError(
                f"job {job_id} never created its run folder, so there is nothing to resume", hint="read its log and submit again"
            )
        if job.status == "completed":
            raise KaspixError(f"job {job_id} is already complete")
        return self._launch(job, ["run", "--resume", job.run_dir])

    # -- status ------------------------------------------------------------------
    def refresh(self, job: Job) -> Job:
        """The job with its status read from its process and run folder."""
        if job.status in ACTIVE and job.pid and not pid_alive(job.pid) and job.id not in self._watched:
            self.store.update(job.id, status=self._final_status(job, exit_code=job.exit_code), pid=None)
            return self._get(job.id)
        return job

    def get(self, job_id: int) -> Job:
        """The refreshed job; an unknown id is a :class:`KaspixError`."""
        return self.refresh(self._get(job_id))

    def list(self, limit: int = 100) -> list[Job]:
        """The newest jobs first, refreshed."""
        return [self.refresh(job) for job in self.store.list(limit)]

    def _get(self, job_id: int) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id}", hint="GET /api/jobs lists the jobs")
        return job

    def _final_status(self, job: Job, *, exit_code: int | None) -> str:
        state_file = Path(job.run_dir) / STATE_FILE
        if state_file.is_file():
            status = RunDirectory(Path(job.run_dir)).read_state().status
            if status in ("completed", "failed", "interrupted"):
                return status
            return "interrupted"  # the process ended without recording an end: it was killed
        return "completed" if exit_code == 0 else "failed"

    # -- processes ---------------------------------------------------------------
    def _launch(self, job: Job, args: list[str]) -> Job:
        output = self.output_path(job)
        output.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "KASPIX_PLAIN_PROGRESS": "1", "PYTHONUNBUFFERED": "1"}
        with output.open("ab") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "kaspix", *args],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.data_dir,
                start_new_session=True,  # the job outlives the server
            )
        self.store.update(job.id, status="running", pid=process.pid, exit_code=None)
        self._watched.add(job.id)
        threading.Thread(target=self._wait_child, args=(job.id, process), daemon=True, name=f"job-{job.id}").start()
        return self._get(job.id)

    def _wait_child(self, job_id: int, process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        self.store.update(job_id, status=self._final_status(self._get(job_id), exit_code=code), exit_code=code, pid=None)
        self._watched.discard(job_id)

    def _reattach_jobs(self) -> None:
        """After a restart: follow jobs whose process still runs; settle the others."""
        for job in self.store.list(limit=10_000):
            if job.status not in ACTIVE:
                continue
            if job.pid and pid_alive(job.pid):
                self._watched.add(job.id)
                threading.Thread(target=self._poll_orphan, args=(job.id, job.pid), daemon=True).start()
            else:
                self.store.update(job.id, status=self._final_status(job, exit_code=job.exit_code), pid=None)

    def _poll_orphan(self, job_id: int, pid: int) -> None:
        while pid_alive(pid):
            time.sleep(POLL_S)
        self.store.update(job_id, status=self._final_status(self._get(job_id), exit_code=None), pid=None)
        self._watched.discard(job_id)
