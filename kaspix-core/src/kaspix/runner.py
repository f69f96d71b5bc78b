"""Running pipelines into run folders, and resuming them at the first unfinished step."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kaspix import __version__
from kaspix.atomic import atomic_write_text
from kaspix.config import config_to_yaml, load_config
from kaspix.context import RunContext
from kaspix.errors import KaspixError
from kaspix.pipeline import Pipeline
from kaspix.plugins import PluginHost
from kaspix.progress import is_interactive
from kaspix.runs import RunDirectory, RunState

DEFAULT_RUNS_DIR = "runs"


class StepFailed(Exception):
    """A step raised an unexpected error; the run is marked failed and can be resumed."""

    exit_code = 1

    def __init__(self, run: RunDirectory, step: str, error: BaseException) -> None:
        super().__init__(f"step {step!r} failed: {type(error).__name__}: {error}")
        self.run = run
        self.step = step
        self.error = error


@dataclass
class RunResult:
    """How a run ended: its folder, final state and metrics."""

    run: RunDirectory
    state: RunState
    metrics: dict[str, Any]


def start_run(
    host: PluginHost,
    *,
    plugin: str | None = None,
    pipeline: str | None = None,
    config_path: str | Path | None = None,
    overrides: Iterable[str] = (),
    out: str | Path | None = None,
    runs_dir: str | Path = DEFAULT_RUNS_DIR,
) -> RunResult:
    """Validate the config, create the run folder and run every step.

    Everything that can be wrong with the user's input is checked before a folder is made.
    """
    part = host.pipeline_part(plugin=plugin, pipeline=pipeline)
    spec: Pipeline = part.obj
    config = load_config(spec.config_model, config_path, overrides)
    run = RunDirectory.create(out, spec.name, exact=True) if out is not None else RunDirectory.create(runs_dir, spec.name)
    atomic_write_text(run.config_path, config_to_yaml(config))
    state = RunState(plugin=part.plugin, pipeline=spec.name, steps=spec.step_names, kaspix_version=__version__)
    run.write_state(state)
    return execute(run, spec, config, host, state)


def resume_run(host: PluginHost, run_path: str | Path) -> RunResult:
    """Continue a run at its first unfinished step, with the config it was started with."""
    run = RunDirectory.open(run_path)
    state = run.read_state()
    host.require_plugin(state.plugin)
    spec: Pipeline = host.parts.pipelines.get(state.pipeline).obj
    if spec.step_names != state.steps:
        raise KaspixError(
            f"pipeline {spec.name!r} now has steps {spec.step_names}, but the run was made with {state.steps}",
            where=str(run.path),
            hint="the plugin changed since this run; start a new run instead",
        )
    config = load_config(spec.config_model, run.config_path)
    return execute(run, spec, config, host, state)


def execute(run: RunDirectory, spec: Pipeline, config: BaseModel, host: PluginHost, state: RunState) -> RunResult:
    """Run the steps of ``spec`` that ``state`` does not list as completed, recording each."""
    with run_logging(run) as log:
        pending = [s for s in spec.steps if s.name not in state.completed_steps]
        if not pending:
            log.info("run %s is already complete", run.path)
        elif state.completed_steps:
            log.info("resuming %s at step %r", run.path, pending[0].name)
        else:
            log.info("run %s: pipeline %r of plugin %r", run.path, spec.name, state.plugin)
        for step in pending:
            state.status, state.current_step, state.error = "running", step.name, None
            run.write_state(state)
            log.info("step %s: started", step.name)
            try:
                step.run(RunContext(config, run, host.parts, log, step.name))
            except KeyboardInterrupt:
                state.status = "interrupted"
                run.write_state(state)
                log.warning("interrupted in step %s; continue with: kaspix run --resume %s", step.name, run.path)
                raise
            except KaspixError as exc:
                _record_failure(run, state, log, step.name, exc)
                raise
            except Exception as exc:
                _record_failure(run, state, log, step.name, exc)
                raise StepFailed(run, step.name, exc) from exc
            state.completed_steps.append(step.name)
            state.current_step = None
            run.write_state(state)
            log.info("step %s: done", step.name)
        state.status = "completed"
        run.write_state(state)
        metrics = run.read_metrics()
        log.info("run complete: %s", run.path)
    return RunResult(run=run, state=state, metrics=metrics)


def _record_failure(run: RunDirectory, state: RunState, log: logging.Logger, step: str, exc: BaseException) -> None:
    state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"
    run.write_state(state)
    log.error("step %s failed: %s", step, state.error, exc_info=exc)
    log.error("fix the cause, then continue with: kaspix run --resume %s", run.path)


@contextmanager
def run_logging(run: RunDirectory) -> Iterator[logging.Logger]:
    """Send log records of every logger to ``run.log`` and the console while the run lasts."""
    root = logging.getLogger()
    file_handler = logging.FileHandler(run.log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = _console_handler()
    previous_level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(file_handler)
    root.addHandler(console)
    try:
        yield logging.getLogger("kaspix.run")
    finally:
        root.removeHandler(file_handler)
        root.removeHandler(console)
        root.setLevel(previous_level)
        file_handler.close()


def _without_traceback(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of ``record`` without exception details: tracebacks go to run.log only."""
    return logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})


class _PlainConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        super().emit(_without_traceback(record))


def _console_handler() -> logging.Handler:
    if is_interactive():
        from rich.logging import RichHandler

        class _RichConsoleHandler(RichHandler):
            def emit(self, record: logging.LogRecord) -> None:
                super().emit(_without_traceback(record))

        handler: logging.Handler = _RichConsoleHandler(show_path=False, markup=False)
    else:
        handler = _PlainConsoleHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    handler.setLevel(logging.INFO)
    return handler
