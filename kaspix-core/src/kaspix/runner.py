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
from kaspix.config import config_to_yaml, load_config, parse_override
from kaspix.context import RunContext
from kaspix.errors import KaspixError, did_you_mean
from kaspix.pipeline import Pipeline
from kaspix.plugins import PluginHost
from kaspix.progress import is_interactive
from kaspix.registry import QUALIFIER
from kaspix.runlock import RunLock
from kaspix.runs import RunDirectory, RunState, now_iso
from kaspix.seeding import config_seed, seed_everything

__all__ = ["DEFAULT_RUNS_DIR", "RunResult", "StepFailed", "execute", "resume_run", "run_logging", "start_run"]

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
    with RunLock(run.path):
        atomic_write_text(run.config_path, config_to_yaml(config))
        state = RunState(plugin=part.plugin, pipeline=spec.name, steps=spec.step_names, kaspix_version=__version__)
        run.write_state(state)
        return execute(run, spec, config, host, state)


def resume_run(host: PluginHost, run_path: str | Path, overrides: Iterable[str] = (), *, from_step: str | None = None) -> RunResult:
    """Continue a run at its first unfinished step, with the config it was started with.

    Args:
        host: The loaded plugins.
        run_path: The run folder.
        overrides: ``a.b=value`` changes to the run's config (e.g. to fix what made a step fail).
            They are validated, written to ``config.yaml`` and recorded in ``run.json``
            (``changes``) and the log; steps already completed are not run again.
        from_step: Run again from this step (also of a completed run): it and every later step
            are marked unfinished (recorded in ``changes``); earlier steps' artifacts are reused.

    Raises:
        RunInUseError: another live process is running this folder.
    """
    run = RunDirectory.open(run_path)
    with RunLock(run.path):
        state = run.read_state()
        host.require_plugin(state.plugin)
        spec: Pipeline = host.parts.pipelines.get(f"{state.plugin}{QUALIFIER}{state.pipeline}").obj
        if spec.step_names != state.steps:
            raise KaspixError(
                f"pipeline {spec.name!r} now has steps {spec.step_names}, but the run was made with {state.steps}",
                where=str(run.path),
                hint="the plugin changed since this run; start a new run instead",
            )
        overrides = list(overrides)
        config = load_config(spec.config_model, run.config_path, overrides)
        notes = []
        if from_step is not None:
            _rerun_from(run, state, from_step)
            notes.append(f"running again from step {from_step!r}")
        if overrides:
            change = _record_config_change(run, state, load_config(spec.config_model, run.config_path), config, overrides)
            notes.append(f"config changed on resume: {change}")
        return execute(run, spec, config, host, state, notes)


def _rerun_from(run: RunDirectory, state: RunState, step: str) -> None:
    """Mark ``step`` and every later step unfinished, and record it in ``run.json``."""
    if step not in state.steps:
        suggestion = did_you_mean(step, state.steps)
        raise KaspixError(
            f"the run has no step {step!r}" + (f"; {suggestion}" if suggestion else ""),
            where="--from-step",
            hint=f"its steps are: {', '.join(state.steps)}",
        )
    later = set(state.steps[state.steps.index(step) :])
    state.completed_steps = [s for s in state.completed_steps if s not in later]
    state.changes.append({"time": now_iso(), "rerun_from": step})
    run.write_state(state)


def _record_config_change(run: RunDirectory, state: RunState, before: BaseModel, after: BaseModel, overrides: list[str]) -> dict[str, Any]:
    """Write the changed config and note in ``run.json`` what changed, old and new values; return the change."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changed = {}
    for text in overrides:
        path = parse_override(text)[0]
        changed[".".join(path)] = {"from": _dig(old, path), "to": _dig(new, path)}
    state.changes.append({"time": now_iso(), "before_step": state.next_step(), "set": changed})
    atomic_write_text(run.config_path, config_to_yaml(after))
    run.write_state(state)
    return changed


def _dig(data: Any, path: list[str]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def execute(
    run: RunDirectory, spec: Pipeline, config: BaseModel, host: PluginHost, state: RunState, notes: Iterable[str] = ()
) -> RunResult:
    """Run the steps of ``spec`` that ``state`` does not list as completed, recording each.

    The caller owns the run folder (:class:`~kaspix.runlock.RunLock`). Before each step every
    random generator is seeded from the config's ``seed`` (:func:`~kaspix.seeding.seed_everything`),
    so a step gives the same numbers whether it runs in a fresh run or a resumed one. ``notes``
    are logged first (e.g. a config change made on resume).
    """
    with run_logging(run) as log:
        for note in notes:
            log.info("%s", note)
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
            seed_everything(config_seed(config))
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
