"""Jobs: each one a separate ``kaspix run`` process, queued, supervised and recorded in the job store.

A job is its own process in its own session, so it keeps running when the server stops; a
restarted server finds it again by its pid and arguments, and settles the jobs that ended
meanwhile with the core's run-ownership check (:meth:`kaspix.runs.RunDirectory.live_state`), so
the server and ``kaspix runs`` agree. At most ``max_jobs`` jobs run at once; the others wait as
``queued`` and start in submit order (a resumed job joins the end of the queue), across restarts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kaspix.atomic import atomic_write_text
from kaspix.config import apply_overrides, parse_override, parse_yaml_mapping, read_yaml_mapping
from kaspix.errors import KaspixError
from kaspix.plugins import PluginHost
from kaspix.registry import QUALIFIER, Part
from kaspix.runlock import is_locked
from kaspix.runs import CONFIG_FILE, STATE_FILE, RunDirectory
from kaspix.server.errors import ApiError, config_invalid
from kaspix.server.processes import launch, runs_marker, signal_group
from kaspix.server.store import ACTIVE, RUNNING, Job, JobStore, stamp

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_CANCEL_GRACE_S", "JobManager", "default_max_jobs"]

log = logging.getLogger("kaspix.server")

#: How often the supervisor looks at the running jobs and the queue.
TICK_S = 0.2
#: Seconds between SIGINT, SIGTERM and SIGKILL when a job is cancelled.
DEFAULT_CANCEL_GRACE_S = 10.0


def default_max_jobs() -> int:
    """How many jobs run at once by default: 1 on a machine with up to 2 cores, else half the cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 1 if cores <= 2 else cores // 2


def _lock_folder(folder: Path) -> int | None:
    """Hold ``folder/server.lock`` for this process: two servers on one queue would start its jobs twice."""
    if fcntl is None:  # no advisory locks on this system
        return None
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "server.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise KaspixError(
            f"another kaspix server uses the data folder {folder}", where="--data", hint="stop that server, or give this one another --data"
        ) from None
    return fd


class JobManager:
    """Submits, queues, starts, cancels, resumes and deletes jobs; the source of truth for their status.

    Args:
        data_dir: Holds ``jobs.sqlite``, the uploaded configs (``configs/``) and the jobs' console output (``output/``).
        host: The loaded plugins (to resolve and validate pipelines before anything is queued).
        runs_dir: Where the jobs' run folders go (default ``data_dir/runs``); jobs run with it as working folder.
        max_jobs: How many jobs run at once (default :func:`default_max_jobs`).
        cancel_grace: Seconds a cancelled job gets after SIGINT before SIGTERM, and after SIGTERM before SIGKILL.
        env: The environment of the job processes (default: the server's).
    """

    def __init__(
        self,
        data_dir: str | Path,
        host: PluginHost,
        *,
        runs_dir: str | Path | None = None,
        max_jobs: int | None = None,
        cancel_grace: float = DEFAULT_CANCEL_GRACE_S,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.runs_dir = Path(runs_dir).resolve() if runs_dir is not None else self.data_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.max_jobs = max_jobs or default_max_jobs()
        self.cancel_grace = cancel_grace
        self.env = {**(os.environ if env is None else env), "KASPIX_PLAIN_PROGRESS": "1", "PYTHONUNBUFFERED": "1"}
        self.env.pop("KASPIX_SERVE_TOKEN", None)  # a job has no business with the server's token
        self._data_lock = _lock_folder(self.data_dir)
        self.store = JobStore(self.data_dir / "jobs.sqlite")
        self._lock = threading.RLock()  # one change of job states at a time: requests and the supervisor
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._cancels: dict[int, tuple[int, float]] = {}  # job id -> (signals sent after SIGINT, when to send the next)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------
    def start(self) -> None:
        """Settle the jobs left by an earlier server, start queued jobs, and supervise from now on."""
        with self._lock:
            for job in self.store.with_status(*RUNNING):
                if job.pid and runs_marker(job.pid, job.run_dir):
                    if job.status == "cancelling":  # SIGINT was sent before the restart: next comes SIGTERM
                        self._cancels[job.id] = (0, time.monotonic() + self.cancel_grace)
                else:
                    self._finish(job, None)  # it ended while no server watched it
            self._dispatch()
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name="kaspix-jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop supervising and close the job store; running jobs go on and a later server picks them up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.store.close()
        if self._data_lock is not None:
            os.close(self._data_lock)
            self._data_lock = None

    # -- paths -------------------------------------------------------------------
    def config_path(self, job: Job) -> Path:
        """The config the job was submitted with."""
        return self.data_dir / "configs" / f"job-{job.id}.yaml"

    def output_path(self, job: Job) -> Path:
        """The job's console output: every log line, and errors raised before the run folder exists."""
        return self.data_dir / "output" / f"job-{job.id}.log"

    def run_path(self, job: Job) -> Path:
        """The job's run folder (``run_dir`` is its name in the runs folder; older servers stored a full path)."""
        return self.runs_dir / Path(job.run_dir).name

    # -- actions -----------------------------------------------------------------
    def submit(self, *, pipeline: str | None, plugin: str | None, config_text: str, source: str = "config text") -> Job:
        """Validate the config for the pipeline, then queue the job (it starts at once when a slot is free).

        Raises:
            ApiError: 422 for an unknown plugin or pipeline, invalid YAML or an invalid config; nothing is queued then.
        """
        part = self._pipeline(plugin=plugin or None, pipeline=pipeline or None)
        try:
            data = parse_yaml_mapping(config_text, source=source)
        except KaspixError as exc:
            raise ApiError.from_user_error(exc) from None
        model = part.obj.config_model
        try:
            model.model_validate(data)
        except ValidationError as exc:
            raise config_invalid(model, exc, source=source) from None
        with self._lock:
            job = self.store.create(part.plugin, part.name, run_dir="")
            atomic_write_text(self.config_path(job), config_text)
            self.store.update(job.id, run_dir=self._run_name(part.name, job.id))
            self._note(job, f"job {job.id} queued: pipeline {part.plugin}:{part.name}")
            self._dispatch()
            return self._get(job.id)

    def resume(self, job_id: int, overrides: Sequence[str] = ()) -> Job:
        """Queue a failed, interrupted or cancelled job again: it continues at its first unfinished step.

        Args:
            job_id: The job.
            overrides: ``a.b=value`` changes to the run's config, validated now (``kaspix run --resume DIR --set``).
        """
        with self._lock:
            job = self._get(job_id)
            if job.status in ACTIVE:
                raise ApiError(409, f"job {job_id} is {job.status}", hint="only a finished job can be resumed")
            if job.status == "completed":
                raise ApiError(409, f"job {job_id} is already complete", hint="submit it again to run it anew")
            run = self.run_path(job)
            if (run / STATE_FILE).is_file():
                if is_locked(run):
                    raise ApiError(
                        409,
                        f"the run folder {job.run_dir} is being run by another process",
                        hint="wait for it to end (`kaspix runs` shows it), then resume",
                    )
                self._check_overrides(job, run, list(overrides))
                self.store.enqueue(job.id, action="resume", overrides=json.dumps(list(overrides)), pid=None, exit_code=None)
                self._note(job, f"job {job.id} queued to resume at its first unfinished step")
            elif job.started is None and not overrides:  # cancelled while queued: it never ran
                self.store.enqueue(job.id, pid=None, exit_code=None, finished=None)
                self._note(job, f"job {job.id} queued again")
            else:
                raise ApiError(
                    409,
                    f"job {job_id} never created its run folder, so there is nothing to resume",
                    hint="read its log, then submit it again",
                )
            self._dispatch()
            return self._get(job.id)

    def cancel(self, job_id: int) -> Job:
        """Stop a queued or running job; a running one gets SIGINT, then SIGTERM and SIGKILL after the grace time.

        Its run folder is kept, and :meth:`resume` continues it later.
        """
        with self._lock:
            job = self._get(job_id)
            if job.status == "queued":
                self._note(job, f"job {job.id} cancelled before it started")
                self.store.update(job.id, status="cancelled", finished=stamp())
            elif job.status == "running":
                alive, code = self._alive(job)
                if not alive:  # it ended a moment ago: say how
                    self._finish(job, code)
                    job = self._get(job_id)
                    raise ApiError(409, f"job {job_id} is already {job.status}", hint="only a queued or running job can be cancelled")
                if job.pid:
                    signal_group(job.pid, signal.SIGINT)
                self._note(job, f"job {job.id} cancelled: SIGINT sent to its processes")
                self.store.update(job.id, status="cancelling")
                self._cancels[job.id] = (0, time.monotonic() + self.cancel_grace)
            elif job.status != "cancelling":
                raise ApiError(409, f"job {job_id} is already {job.status}", hint="only a queued or running job can be cancelled")
            return self._get(job.id)

    def delete(self, job_id: int, *, run_folder: bool = False) -> bool:
        """Forget a finished job (its config and console output); with ``run_folder``, remove its run folder too.

        Returns:
            Whether a run folder was removed.
        """
        with self._lock:
            job = self._get(job_id)
            if job.status in ACTIVE:
                raise ApiError(409, f"job {job_id} is {job.status}", hint="cancel it first")
            run = self.run_path(job)
            removed = False
            if run_folder and run.is_dir() and not run.is_symlink():
                if is_locked(run):
                    raise ApiError(409, f"the run folder {job.run_dir} is being run by another process", hint="wait for it to end")
                shutil.rmtree(run)
                removed = True
            self.config_path(job).unlink(missing_ok=True)
            self.output_path(job).unlink(missing_ok=True)
            self.store.delete(job.id)
            return removed

    # -- queries -----------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        """The job; an unknown id is a 404 :class:`ApiError`."""
        return self._get(job_id)

    def list(self, limit: int = 100) -> list[Job]:
        """The newest jobs first."""
        return self.store.list(limit)

    def pipeline_steps(self, job: Job) -> list[str]:
        """The step names of the job's pipeline ([] when its plugin is no longer loaded)."""
        try:
            return list(self.host.parts.pipelines.get(f"{job.plugin}{QUALIFIER}{job.pipeline}").obj.step_names)
        except KaspixError:
            return []

    # -- supervision -------------------------------------------------------------
    def poll(self) -> None:
        """One supervisor pass: settle ended jobs, escalate cancels, start queued jobs in free slots."""
        with self._lock:
            for job in self.store.with_status(*RUNNING):
                alive, code = self._alive(job)
                if not alive:
                    self._finish(job, code)
                elif job.status == "cancelling":
                    self._escalate(job)
            self._dispatch()

    def _alive(self, job: Job) -> tuple[bool, int | None]:
        """Whether the job's process still runs, and its exit code when this server started it and it ended."""
        child = self._children.get(job.id)
        if child is not None:
            code = child.poll()
            return code is None, code
        return bool(job.pid and runs_marker(job.pid, job.run_dir)), None

    def _supervise(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.poll()
            except Exception:  # keep supervising whatever one pass met
                log.exception("job supervisor pass failed")

    def _dispatch(self) -> None:
        running = len(self.store.with_status(*RUNNING))
        for job in self.store.with_status("queued"):
            if running >= self.max_jobs:
                break
            self._launch(job)
            running += 1

    def _launch(self, job: Job) -> None:
        if job.action == "resume":
            args = ["run", "--resume", job.run_dir]
            for override in job.override_list:
                args += ["--set", override]
            what = "resuming " + job.run_dir + "".join(f" --set {o}" for o in job.override_list)
        else:
            args = ["run", "--plugin", job.plugin, "--pipeline", job.pipeline, "-c", str(self.config_path(job)), "--out", job.run_dir]
            what = f"kaspix run --plugin {job.plugin} --pipeline {job.pipeline} --out {job.run_dir}"
        self._note(job, f"job {job.id} started: {what}")
        try:
            process = launch(args, output=self.output_path(job), cwd=self.runs_dir, env=self.env)
        except OSError as exc:
            self._note(job, f"job {job.id} could not start: {exc}")
            self.store.update(job.id, status="failed", started=stamp(), finished=stamp())
            return
        self._children[job.id] = process
        self.store.update(job.id, status="running", pid=process.pid, exit_code=None, started=stamp(), finished=None)

    def _escalate(self, job: Job) -> None:
        sent, deadline = self._cancels.setdefault(job.id, (0, time.monotonic() + self.cancel_grace))
        if sent >= 2 or time.monotonic() < deadline or not job.pid:
            return
        sig = signal.SIGTERM if sent == 0 else signal.SIGKILL
        signal_group(job.pid, sig)
        self._note(job, f"job {job.id} still running {self.cancel_grace:g} s later: {sig.name} sent")
        self._cancels[job.id] = (sent + 1, time.monotonic() + self.cancel_grace)

    def _finish(self, job: Job, exit_code: int | None) -> None:
        status = self._final_status(job, exit_code)
        if job.status == "cancelling" and status != "completed":  # a run that completed as it was cancelled stays completed
            status = "cancelled"
        ending = f" (exit code {exit_code})" if exit_code is not None else ""
        self._note(job, f"job {job.id} {status}{ending}")
        self.store.update(job.id, status=status, pid=None, exit_code=exit_code, finished=stamp())
        self._children.pop(job.id, None)
        self._cancels.pop(job.id, None)

    def _final_status(self, job: Job, exit_code: int | None) -> str:
        """How a job whose process ended went: the run folder says, read with the core's ownership check."""
        run = self.run_path(job)
        if (run / STATE_FILE).is_file():
            try:
                status = RunDirectory(run).live_state().status
            except KaspixError:
                return "failed"
            return status if status in ("completed", "failed") else "interrupted"
        return "completed" if exit_code == 0 else "failed"

    # -- helpers -----------------------------------------------------------------
    def _get(self, job_id: int) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id}", hint="GET /api/jobs lists the jobs")
        return job

    def _pipeline(self, *, plugin: str | None, pipeline: str | None) -> Part[Any]:
        if plugin is not None:
            try:
                self.host.require_plugin(plugin)
            except KaspixError as exc:
                raise ApiError.from_user_error(exc, field="plugin") from None
        try:
            return self.host.pipeline_part(plugin=plugin, pipeline=pipeline)
        except KaspixError as exc:
            raise ApiError.from_user_error(exc, field="pipeline") from None

    def _check_overrides(self, job: Job, run: Path, overrides: list[str]) -> None:
        if not overrides:
            return
        try:
            model = self.host.parts.pipelines.get(f"{job.plugin}{QUALIFIER}{job.pipeline}").obj.config_model
            data = apply_overrides(read_yaml_mapping(run / CONFIG_FILE), overrides)
        except KaspixError as exc:
            raise ApiError.from_user_error(exc, field="set") from None
        try:
            model.model_validate(data)
        except ValidationError as exc:
            error = config_invalid(model, exc, source="--set")
            error.hint = f"changed fields: {', '.join('.'.join(parse_override(o)[0]) for o in overrides)}"
            raise error from None

    def _run_name(self, pipeline: str, job_id: int) -> str:
        name = (re.sub(r"[^A-Za-z0-9._-]+", "-", pipeline).strip("-.") or "job") + f"-job{job_id}"
        if (self.runs_dir / name).exists():  # left by an earlier job database
            name += datetime.now().strftime("-%Y%m%d-%H%M%S")
        return name

    def _note(self, job: Job, text: str) -> None:
        """Append a line from the server to the job's console output (and so to its live log)."""
        path = self.output_path(job)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"[kaspix serve {datetime.now():%H:%M:%S}] {text}\n")
