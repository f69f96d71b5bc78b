"""Helpers for testing kaspix plugins with pytest (or any test runner).

Example::

    from kaspix.testing import plugin_host, run_pipeline

    def test_my_pipeline(tmp_path):
        with plugin_host(my_plugin_module, name="mine") as host:
            result = run_pipeline(host, "my-pipeline", tmp_path, overrides=["epochs=1"])
        assert result.state.status == "completed"

A pipeline that uses another installed plugin's part by name (``loss: spice:esr``) is tested
with that plugin loaded beside yours::

    with plugin_host(my_plugin_module, name="mine", with_installed=["spice"]) as host:
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner, Result

from kaspix.errors import KaspixError
from kaspix.plugins import PluginHost, PluginSource, entry_point_sources, load_plugins, use_host
from kaspix.runner import RunResult, start_run

__all__ = ["invoke", "plugin_host", "run_pipeline"]


@contextmanager
def plugin_host(plugin: object, *, name: str = "test-plugin", with_installed: bool | Iterable[str] = False) -> Iterator[PluginHost]:
    """Load ``plugin`` (a module or object with hook implementations) into a fresh host.

    The host becomes the CLI's host for the duration of the block, so :func:`invoke` sees it.
    Load errors are raised (strict mode), so a broken plugin fails its own tests loudly.

    Args:
        plugin: The module (or object) with your hook implementations.
        name: The plugin name to load it under.
        with_installed: Also load installed plugins: ``True`` for all of them, or the names of
            the ones your test needs (e.g. ``["spice"]``). The plugin under test is never loaded
            twice, even when it is itself installed.
    """
    sources: list[PluginSource] = []
    if with_installed:
        wanted = None if with_installed is True else set(with_installed)
        module = getattr(plugin, "__name__", None)
        installed = [s for s in entry_point_sources() if s.name != name and s.module != module]
        if wanted is not None:
            missing = sorted(wanted - {s.name for s in installed})
            if missing:
                raise KaspixError(f"plugins not installed: {', '.join(missing)}", hint="pip install them into this environment")
            installed = [s for s in installed if s.name in wanted]
        sources.extend(installed)
    sources.append(PluginSource(name=name, load=lambda: plugin, module=getattr(plugin, "__name__", repr(plugin))))
    host = load_plugins(sources, strict=True, disabled=())
    with use_host(host):
        yield host


def run_pipeline(
    host: PluginHost,
    pipeline: str,
    out_dir: str | Path,
    *,
    config_path: str | Path | None = None,
    overrides: Iterable[str] = (),
) -> RunResult:
    """Run ``pipeline`` (a name or ``plugin:name``) into the new folder ``out_dir/run`` and return how it ended."""
    return start_run(host, pipeline=pipeline, config_path=config_path, overrides=overrides, out=Path(out_dir) / "run")


def invoke(args: list[str]) -> Result:
    """Run the ``kaspix`` CLI in-process with ``args`` and return click's result (exit code, output)."""
    from kaspix.cli import cli

    return CliRunner().invoke(cli, args, catch_exceptions=False)
