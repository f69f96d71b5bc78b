"""The ``circuitgen`` kaspix plugin: a circuit encoder with a set-based / analytic pole-zero decoder.

Only light modules are imported here; numpy, scipy, torch and the MNA solver load when a part is built
or a command runs (ngspice only for the AC checks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kaspix import RegisterCommand, RegisterPart, RegisterPipeline, hookimpl, lazy_factory

from kaspix_circuitgen.commands import COMMANDS
from kaspix_circuitgen.pipeline import PIPELINE


def _lazy(module: str, name: str, doc: str) -> Callable[..., Any]:
    """A factory that imports ``kaspix_circuitgen.<module>`` only when called."""
    return lazy_factory(f"kaspix_circuitgen.{module}", name, doc)


@hookimpl
def register_data_sources(register: RegisterPart) -> None:
    register("circuits", _lazy("data", "load_or_generate", "Random filter circuits of 12 families with exact poles/zeros (HDF5 cache)"))


@hookimpl
def register_models(register: RegisterPart) -> None:
    register("set_decoder", _lazy("models", "set_decoder", "Response encoder; topology, components and pole/zero sets (DETR-style)"))
    register("fixed_pz_baseline", _lazy("models", "fixed_pz_baseline", "The post-mortem's decoder: always 2 poles and 2 zeros"))


@hookimpl
def register_losses(register: RegisterPart) -> None:
    register("set_loss", _lazy("losses", "set_loss", "Hungarian-matched pole/zero set loss + physics consistency"))
    register("chamfer", _lazy("losses", "chamfer_loss", "The post-mortem's Chamfer loss for fixed 2+2 pole/zero outputs"))


@hookimpl
def register_evaluators(register: RegisterPart) -> None:
    register(
        "circuitgen",
        lazy_factory("kaspix_circuitgen.evaluate", "evaluate_factory", "Baseline vs set vs analytic decoders: table and plots"),
    )


@hookimpl
def register_pipelines(register: RegisterPipeline) -> None:
    register(PIPELINE)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    for command in COMMANDS:
        register(command)
