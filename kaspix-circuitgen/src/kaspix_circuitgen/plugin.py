"""The ``circuitgen`` kaspix plugin: a circuit encoder with a set-based / analytic pole-zero decoder.

Only light modules are imported here; numpy, scipy, torch and the MNA solver load when a part is built
or a command runs (ngspice only for the AC checks).
"""

from __future__ import annotations

from kaspix import RegisterCommand, RegisterPart, RegisterPipeline, hookimpl, lazy_factory

from kaspix_circuitgen.commands import COMMANDS
from kaspix_circuitgen.pipeline import PIPELINE


@hookimpl
def register_data_sources(register: RegisterPart) -> None:
    register(
        "circuits",
        lazy_factory(
            "kaspix_circuitgen.data", "load_or_generate", "Random filter circuits of 12 families with exact poles/zeros (HDF5 cache)"
        ),
    )


@hookimpl
def register_models(register: RegisterPart) -> None:
    register(
        "set_decoder",
        lazy_factory("kaspix_circuitgen.models", "set_decoder", "Response encoder; topology, components and pole/zero sets (DETR-style)"),
    )
    register(
        "fixed_pz_baseline",
        lazy_factory("kaspix_circuitgen.models", "fixed_pz_baseline", "The post-mortem's decoder: always 2 poles and 2 zeros"),
    )


@hookimpl
def register_losses(register: RegisterPart) -> None:
    register("set_loss", lazy_factory("kaspix_circuitgen.losses", "set_loss", "Hungarian-matched pole/zero set loss + physics consistency"))
    register(
        "chamfer",
        lazy_factory("kaspix_circuitgen.losses", "chamfer_loss", "The post-mortem's Chamfer loss for fixed 2+2 pole/zero outputs"),
    )


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
