"""The ``kaspix`` command line: run pipelines, inspect plugins, configs and runs.

Plugin commands appear as ``kaspix <plugin> <command>``. Nothing here imports torch.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from kaspix import __version__
from kaspix.config import config_schema, config_to_yaml
from kaspix.errors import KaspixError
from kaspix.plugins import get_host
from kaspix.registry import PART_KINDS

__all__ = ["cli", "main"]


def _console() -> Console:
    return Console(stderr=False, highlight=False, soft_wrap=True)


class KaspixGroup(click.Group):
    """Built-in commands plus one sub-group per plugin that registers commands."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(super().list_commands(ctx)) + sorted(get_host().commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        builtin = super().get_command(ctx, name)
        host = get_host()
        if builtin is not None:
            return builtin
        if name in host.commands:
            group = click.Group(name=name, help=f"Commands of the {name!r} plugin.")
            for command in host.commands[name]:
                group.add_command(command)
            return group
        if name in host.plugins:
            host.require_plugin(name)  # a disabled or broken plugin: say so and why
            raise KaspixError(f"plugin {name!r} has no commands", hint="`kaspix plugins` lists each plugin's commands")
        return None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KaspixError as exc:
            raise UserError(exc) from None


class UserError(click.ClickException):
    """A :class:`KaspixError` shown the click way: one message, exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, error: KaspixError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(cls=KaspixGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kaspix")
def cli() -> None:
    """kaspix: simulate analog systems, build datasets, train and evaluate neural models of them.

    Start with `kaspix plugins` to see what is installed, then `kaspix run --plugin NAME`.
    """


@cli.command()
@click.option("--plugin", "plugin", help="Plugin whose default pipeline to run (see `kaspix plugins`).")
@click.option("--pipeline", "pipeline", help="Pipeline to run, when a plugin has several.")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config; omitted fields keep their defaults.",
)
@click.option("--set", "overrides", multiple=True, metavar="a.b=VALUE", help="Override one config field (repeatable).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Run folder to create (default: runs/<pipeline>-<timestamp>)."
)
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where new run folders go.",
)
@click.option(
    "--resume",
    "resume",
    type=click.Path(file_okay=False, path_type=Path),
    help="Continue an interrupted or failed run at its first unfinished step (--set may change its config).",
)
@click.option(
    "--from-step",
    "from_step",
    metavar="STEP",
    help="With --resume: run again from this step (also of a completed run), reusing earlier steps' artifacts.",
)
def run(
    plugin: str | None,
    pipeline: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    out: Path | None,
    runs_dir: Path,
    resume: Path | None,
    from_step: str | None,
) -> None:
    """Run a pipeline into a fresh run folder, or resume one."""
    from kaspix.runner import StepFailed, resume_run, start_run

    host = get_host()
    try:
        if resume is not None:
            given = (("--plugin", plugin), ("--pipeline", pipeline), ("-c", config_path), ("--out", out))
            refused = [flag for flag, value in given if value]
            if refused:
                raise KaspixError(
                    f"--resume continues a run in its own folder with its own pipeline and config; {', '.join(refused)} cannot change that",
                    hint=f"drop {', '.join(refused)}; to change a config field for the remaining steps use --resume DIR --set a.b=VALUE",
                )
            result = resume_run(host, resume, overrides, from_step=from_step)
        else:
            if from_step is not None:
                raise KaspixError("--from-step reruns part of an existing run", hint="use it with --resume RUN_FOLDER")
            result = start_run(
                host, plugin=plugin, pipeline=pipeline, config_path=config_path, overrides=overrides, out=out, runs_dir=runs_dir
            )
    except StepFailed as exc:
        click.echo(
            f"error: {exc}\n  the traceback is in {exc.run.log_path}\n  after fixing it: kaspix run --resume {exc.run.path}", err=True
        )
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    console = _console()
    console.print(f"[bold green]done[/] {result.run.path}")
    for key, value in sorted(result.metrics.items()):
        console.print(f"  {key}: {_short(value)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their versions, the parts they register, and load errors."""
    host = get_host()
    infos = [host.plugins[name] for name in sorted(host.plugins)]
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in infos], indent=2))
        for warning in host.warnings():
            click.echo(f"warning: {warning}", err=True)
        return
    console = _console()
    if not infos:
        console.print("no kaspix plugins installed; install one, e.g. pip install -e kaspix-spice")
        return
    table = Table("plugin", "version", "status", "parts", "commands", show_lines=True)
    for info in infos:
        status = "[yellow]disabled[/]" if info.disabled else (f"[red]error[/]: {info.error}" if info.error else "[green]ok[/]")
        parts = "\n".join(f"{kind}: {', '.join(info.parts[kind])}" for kind in PART_KINDS if kind in info.parts) or "-"
        table.add_row(info.name, info.version or "?", status, parts, ", ".join(info.commands) or "-")
    console.print(table)
    for warning in host.warnings():
        console.print(f"[yellow]warning[/]: {warning}")


@cli.command("config")
@click.option("--plugin", "plugin", help="Plugin whose default pipeline config to print.")
@click.option("--pipeline", "pipeline", help="Pipeline, when a plugin has several.")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Validate this YAML config and print it resolved (nothing runs).",
)
@click.option("--set", "overrides", multiple=True, metavar="a.b=VALUE", help="Override one config field (repeatable).")
@click.option("--schema", is_flag=True, help="Print the JSON Schema instead of the defaults.")
def config_command(plugin: str | None, pipeline: str | None, config_path: Path | None, overrides: tuple[str, ...], schema: bool) -> None:
    """Print a pipeline's default config as YAML, or check -c FILE / --set and print the result.

    Errors are reported exactly as `kaspix run` would report them (exit code 2); nothing runs.
    """
    from kaspix.config import load_config

    part = get_host().pipeline_part(plugin=plugin, pipeline=pipeline)
    model = part.obj.config_model
    if schema:
        click.echo(json.dumps(config_schema(model), indent=2))
        return
    config = load_config(model, config_path, overrides)
    source = f"{config_path} with --set {' '.join(overrides)}" if config_path and overrides else (config_path or "")
    if source or overrides:
        click.echo(f"# config of pipeline {part.name!r} (plugin {part.plugin!r}), resolved from {source or '--set ' + ' '.join(overrides)}")
    else:
        click.echo(f"# default config of pipeline {part.name!r} (plugin {part.plugin!r})")
    click.echo(config_to_yaml(config), nl=False)


@cli.command()
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True)
@click.option("-n", "--limit", type=int, default=20, show_default=True, help="How many runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs(runs_dir: Path, limit: int, as_json: bool) -> None:
    """List recent runs with their status and key metrics."""
    from kaspix.runs import list_runs

    summaries = list_runs(runs_dir, limit=limit)
    if as_json:
        click.echo(json.dumps([s.model_dump() for s in summaries], indent=2))
        return
    console = _console()
    if not summaries:
        console.print(f"no runs under {runs_dir}")
        return
    table = Table("run", "pipeline", "status", "steps", "metrics")
    for s in summaries:
        metrics = ", ".join(f"{k}={_short(v)}" for k, v in list(s.metrics.items())[:4])
        status = s.status if s.status in ("completed", "running", "created") or not s.error else f"{s.status}: {s.error}"
        table.add_row(s.path, f"{s.plugin}/{s.pipeline}", status, s.progress, metrics or "-")
    console.print(table)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; beyond loopback it needs a token.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kaspix-server"),
    show_default=True,
    help="Folder for the job database, uploaded configs and the jobs' console output.",
)
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where run folders go; jobs run in it, so relative paths in configs start there.  [default: DATA/runs]",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(1),
    help="Jobs that run at once; the others wait, in submit order.  [default: 1 on up to 2 cores, else half the cores]",
)
@click.option(
    "--token",
    envvar="KASPIX_SERVE_TOKEN",
    show_envvar=True,
    help="Require this token on every request: 'Authorization: Bearer TOKEN', or the page's login form (prefer the variable: "
    "arguments show in ps).",
)
@click.option("--insecure", is_flag=True, help="Listen beyond loopback without a token (only behind a proxy that authenticates).")
@click.option(
    "--max-upload", default="1M", show_default=True, help="Largest upload accepted (bytes, or 512K, 2M); larger ones get 413 unread."
)
@click.option(
    "--cancel-grace",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Seconds a cancelled job gets after SIGINT before SIGTERM, and after SIGTERM before SIGKILL.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    runs_dir: Path | None,
    max_jobs: int | None,
    token: str | None,
    insecure: bool,
    max_upload: str,
    cancel_grace: float,
) -> None:
    """Serve a web page and JSON API: queue any plugin's pipeline, follow it live, cancel, resume, download its files.

    Jobs are separate `kaspix run` processes: they go on when the server stops, and a restarted
    server finds them again; queued jobs wait in the job database.
    """
    try:
        from kaspix.server.app import create_app, run_server
    except ImportError as exc:
        raise KaspixError(f"the job server needs {exc.name}", hint='pip install "kaspix-core[serve]"') from None
    from kaspix.server.guard import check_exposure, parse_size
    from kaspix.server.jobs import default_max_jobs

    token = token or None
    check_exposure(host, token=token, insecure=insecure)
    limit = parse_size(max_upload)
    jobs = max_jobs or default_max_jobs()
    runs = runs_dir or data_dir / "runs"
    address = f"[{host}]" if ":" in host else host
    access = "token required" if token else "no token"
    click.echo(
        f"kaspix job server on http://{address}:{port}/ (data in {data_dir}, runs in {runs}, {jobs} job(s) at once, {access})", err=True
    )
    app = create_app(data_dir, get_host(), runs_dir=runs, max_jobs=jobs, token=token, max_upload=limit, cancel_grace=cancel_grace)
    run_server(app, host=host, port=port)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``kaspix`` script."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started from a shell's background job (which ignores SIGINT): Ctrl-C and the job server's
        # cancel must still stop a run cleanly, recorded as interrupted and resumable.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cli.main(args=argv, prog_name="kaspix", standalone_mode=True)
    except KaspixError as exc:  # raised while plugins load (strict mode) or outside a command
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
