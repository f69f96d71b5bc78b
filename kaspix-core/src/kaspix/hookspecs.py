"""The kaspix plugin contract: every hook a plugin may implement.

A plugin is a module (or object) exposed through the ``kaspix`` entry-point group, e.g. in
its ``pyproject.toml``::

    [project.entry-points.kaspix]
    myplugin = "my_package.plugin"

The module implements any of the hooks below, marked with :data:`kaspix.hookimpl`. Every
hook receives a ``register`` callback; the core knows which plugin is calling, so parts are
recorded with their plugin and name clashes can be reported precisely.

Keep the plugin module light: register *factories*, and import heavy libraries (torch,
norse, PySpice) inside them, so that ``kaspix --help`` and ``kaspix plugins`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

    from kaspix.pipeline import Pipeline

#: The pluggy project name and the entry-point group plugins are found under.
PROJECT_NAME = "kaspix"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


__all__ = [
    "PROJECT_NAME",
    "RegisterCommand",
    "RegisterPart",
    "RegisterPipeline",
    "hookimpl",
    "hookspec",
    "register_commands",
    "register_data_sources",
    "register_evaluators",
    "register_losses",
    "register_models",
    "register_pipelines",
]


class RegisterPart(Protocol):
    """The ``register`` callback of the part hooks (data sources, models, losses, evaluators)."""

    def __call__(self, name: str, factory: Callable[..., Any], *, description: str = "") -> None:
        """Register ``factory`` under ``name`` (bare: kaspix adds ``plugin:``); ``description`` defaults to its docstring's first line."""


class RegisterPipeline(Protocol):
    """The ``register`` callback of :func:`register_pipelines`."""

    def __call__(self, pipeline: Pipeline) -> None:
        """Register a :class:`kaspix.Pipeline`."""


class RegisterCommand(Protocol):
    """The ``register`` callback of :func:`register_commands`."""

    def __call__(self, command: click.Command) -> None:
        """Register a click command; it appears as ``kaspix <plugin> <command name>``."""


@hookspec
def register_data_sources(register: RegisterPart) -> None:
    """Register data sources: factories that return datasets or iterables of samples.

    Example::

        @hookimpl
        def register_data_sources(register):
            register("spice", make_spice_dataset)
    """


@hookspec
def register_models(register: RegisterPart) -> None:
    """Register models: factories that return a model (usually a ``torch.nn.Module``)."""


@hookspec
def register_losses(register: RegisterPart) -> None:
    """Register losses: factories that return a callable ``loss(prediction, target) -> scalar``.

    Any plugin's pipeline can use any registered loss by name.
    """


@hookspec
def register_evaluators(register: RegisterPart) -> None:
    """Register evaluators: factories that return a callable computing metrics (a dict of numbers)."""


@hookspec
def register_pipelines(register: RegisterPipeline) -> None:
    """Register pipelines: :class:`kaspix.Pipeline` objects that ``kaspix run`` executes.

    A plugin's default pipeline (``kaspix run --plugin NAME``) is the one named like the
    plugin, else the first it registers.
    """


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Register click commands; each appears as ``kaspix <plugin> <command>``."""
