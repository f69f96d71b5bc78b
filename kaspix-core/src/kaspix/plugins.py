"""Plugin discovery: entry points, per-plugin error isolation and the registries they fill."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from kaspix import hookspecs
from kaspix.errors import KaspixError, did_you_mean
from kaspix.registry import PART_KINDS, QUALIFIER, Part, Registries

__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "STRICT_ENV",
    "PluginHost",
    "PluginInfo",
    "PluginLoadError",
    "PluginSource",
    "entry_point_sources",
    "get_host",
    "load_plugins",
    "use_host",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
STRICT_ENV = "KASPIX_STRICT_PLUGINS"
DISABLE_ENV = "KASPIX_DISABLE_PLUGINS"

#: Part-registering hooks and the kind of part each fills.
PART_HOOKS: dict[str, str] = {
    "register_data_sources": "data_source",
    "register_models": "model",
    "register_losses": "loss",
    "register_evaluators": "evaluator",
    "register_pipelines": "pipeline",
}


class PluginLoadError(KaspixError):
    """A plugin failed to import or register (raised only in strict mode)."""


@dataclass
class PluginInfo:
    """What is known about one plugin after loading."""

    name: str
    module: str
    version: str | None = None
    distribution: str | None = None
    error: str | None = None
    disabled: bool = False
    parts: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the plugin loaded and registered without error."""
        return self.error is None and not self.disabled

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "module": self.module,
            "version": self.version,
            "distribution": self.distribution,
            "status": "disabled" if self.disabled else ("error" if self.error else "ok"),
            "error": self.error,
            "parts": self.parts,
            "commands": self.commands,
        }


@dataclass(frozen=True)
class PluginSource:
    """A plugin to load: its name, a loader returning the module/object, and where it came from."""

    name: str
    load: Callable[[], object]
    module: str
    version: str | None = None
    distribution: str | None = None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> set[str]:
    return {item.strip() for item in os.environ.get(name, "").split(",") if item.strip()}


def entry_point_sources() -> list[PluginSource]:
    """Every plugin advertised in the ``kaspix`` entry-point group, sorted by name."""
    sources = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        sources.append(
            PluginSource(
                name=ep.name,
                load=ep.load,
                module=ep.value,
                version=dist.version if dist else None,
                distribution=dist.metadata["Name"] if dist else None,
            )
        )
    return sorted(sources, key=lambda s: s.name)


class PluginHost:
    """The loaded plugins, their parts and their commands.

    Build one with :func:`load_plugins`; the CLI uses the process-wide :func:`get_host`.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.parts = Registries()
        self.plugins: dict[str, PluginInfo] = {}
        self.commands: dict[str, list[Any]] = {}

    # -- loading -----------------------------------------------------------------
    def add(self, source: PluginSource, *, disabled: bool = False) -> PluginInfo:
        """Import, vet and register one plugin; failures are recorded (or raised when strict)."""
        info = PluginInfo(source.name, source.module, source.version, source.distribution, disabled=disabled)
        self.plugins[source.name] = info
        if disabled:
            return info
        try:
            plugin = source.load()
            self._register(source.name, plugin)
        except Exception as exc:  # a broken plugin must not break the others
            info.error = f"{type(exc).__name__}: {exc}"
            if self.strict:
                raise PluginLoadError(
                    f"plugin {source.name!r} ({source.module}) failed to load: {info.error}",
                    hint=f"unset {STRICT_ENV} to skip broken plugins\n{traceback.format_exc()}",
                ) from exc
        return info

    def _register(self, name: str, plugin: object) -> None:
        if self.pm.is_registered(plugin):
            raise KaspixError(f"the same plugin object is already registered as {self.pm.get_name(plugin)!r}")
        self.pm.register(plugin, name=name)
        try:
            self._check_unknown_hooks(name, plugin)
            staged_parts, staged_commands = self._collect(name, plugin)
            self._commit(name, staged_parts, staged_commands)
        except Exception:
            self.pm.unregister(plugin)
            raise

    def _check_unknown_hooks(self, name: str, plugin: object) -> None:
        known = [*PART_HOOKS, "register_commands"]
        for caller in self.pm.get_hookcallers(plugin) or []:
            if not caller.has_spec():
                suggestion = did_you_mean(caller.name, known)
                raise KaspixError(
                    f"implements unknown hook {caller.name!r}" + (f"; {suggestion}" if suggestion else ""),
                    where=f"plugin {name!r}",
                    hint=f"the hooks are: {', '.join(sorted(known))}",
                )

    def _collect(self, name: str, plugin: object) -> tuple[list[tuple[str, str, Any, str]], list[Any]]:
        """Run the plugin's own hook implementations, staging what they register."""
        parts: list[tuple[str, str, Any, str]] = []
        commands: list[Any] = []
        for hook_name, kind in PART_HOOKS.items():
            for impl in self._impls_of(hook_name, plugin):
                if kind == "pipeline":
                    impl(register=lambda pipeline: parts.append(("pipeline", pipeline.name, pipeline, pipeline.description)))
                else:
                    impl(register=lambda n, factory, *, description="", _k=kind: parts.append((_k, n, factory, description)))
        for impl in self._impls_of("register_commands", plugin):
            impl(register=commands.append)
        return parts, commands

    def _impls_of(self, hook_name: str, plugin: object) -> Iterator[Callable[..., None]]:
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                yield impl.function

    def _commit(self, name: str, parts: list[tuple[str, str, Any, str]], commands: list[Any]) -> None:
        added: list[tuple[str, str]] = []
        try:
            for kind, part_name, obj, description in parts:
                part = self.parts.of_kind(kind).add(part_name, obj, plugin=name, description=description)
                added.append((kind, part.qualified_name))
        except Exception:
            for kind, qualified in added:  # all or nothing: a half-registered plugin is worse than none
                self.parts.of_kind(kind).remove(qualified)
            raise
        info = self.plugins[name]
        for kind in PART_KINDS:
            names = [p.name for p in self.parts.of_kind(kind).from_plugin(name)]
            if names:
                info.parts[kind] = names
        if commands:
            self.commands[name] = commands
            info.commands = [c.name for c in commands]

    # -- queries -----------------------------------------------------------------
    def pipeline_part(self, *, plugin: str | None = None, pipeline: str | None = None) -> Part[Any]:
        """Resolve ``--plugin`` / ``--pipeline`` to a registered pipeline.

        With only ``plugin``: the plugin's pipeline named like the plugin, else its first one.
        """
        if plugin is not None:
            self.require_plugin(plugin)
        if pipeline is not None:
            qualified = plugin is not None and QUALIFIER not in pipeline
            part = self.parts.pipelines.get(f"{plugin}{QUALIFIER}{pipeline}" if qualified else pipeline)
            if plugin is not None and part.plugin != plugin:
                raise KaspixError(
                    f"pipeline {pipeline!r} belongs to plugin {part.plugin!r}, not {plugin!r}",
                    hint=f"use --plugin {part.plugin}, or leave --plugin out",
                )
            return part
        if plugin is None:
            raise KaspixError("say which pipeline to run", hint="use --plugin NAME (see `kaspix plugins`)")
        own = self.parts.pipelines.from_plugin(plugin)
        if not own:
            raise KaspixError(f"plugin {plugin!r} registers no pipeline", hint="`kaspix plugins` shows which plugins have pipelines")
        return next((p for p in own if p.name == plugin), own[0])

    def require_plugin(self, name: str) -> PluginInfo:
        """The loaded plugin ``name``; unknown, disabled or broken plugins raise a clear error."""
        info = self.plugins.get(name)
        if info is None:
            suggestion = did_you_mean(name, self.plugins)
            raise KaspixError(
                f"unknown plugin {name!r}" + (f"; {suggestion}" if suggestion else ""),
                hint=f"installed plugins: {', '.join(sorted(self.plugins)) or 'none'}; plugins are packages (pip install kaspix-spice)",
            )
        if info.disabled:
            raise KaspixError(f"plugin {name!r} is disabled", hint=f"remove it from {DISABLE_ENV}")
        if info.error:
            raise KaspixError(
                f"plugin {name!r} failed to load: {info.error} (see kaspix plugins)",
                hint=f"run with {STRICT_ENV}=1 for the full traceback",
            )
        return info

    def warnings(self) -> list[str]:
        """Problems that do not stop any plugin: bare part names that several plugins register."""
        return self.parts.clash_warnings()


def load_plugins(
    sources: Iterable[PluginSource] | None = None,
    *,
    strict: bool | None = None,
    disabled: Iterable[str] | None = None,
) -> PluginHost:
    """Load plugins into a new :class:`PluginHost`.

    Args:
        sources: Plugins to load; by default every entry point in the ``kaspix`` group.
        strict: Raise on the first broken plugin; defaults to ``KASPIX_STRICT_PLUGINS``.
        disabled: Plugin names to skip; defaults to ``KASPIX_DISABLE_PLUGINS`` (comma-separated).
    """
    host = PluginHost(strict=_env_flag(STRICT_ENV) if strict is None else strict)
    skip = _env_list(DISABLE_ENV) if disabled is None else set(disabled)
    for source in entry_point_sources() if sources is None else sources:
        host.add(source, disabled=source.name in skip)
    host.pm.check_pending()  # every remaining hook implementation has a spec
    return host


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded from entry points on first use."""
    global _host
    if _host is None:
        _host = load_plugins()
    return _host


@contextmanager
def use_host(host: PluginHost) -> Iterator[PluginHost]:
    """Make ``host`` the process-wide host for the duration of the block (tests, embedding)."""
    global _host
    previous, _host = _host, host
    try:
        yield host
    finally:
        _host = previous
