"""The kaspix hooks of the ``spice`` plugin.

Only light modules are imported here; torch, h5py, scipy and ngspice load when a factory runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from kaspix import RegisterCommand, RegisterPart, RegisterPipeline, hookimpl, lazy_factory

from kaspix_spice.commands import COMMANDS
from kaspix_spice.pipeline import PIPELINE


def _lazy(module: str, name: str, doc: str) -> Callable[..., Any]:
    """A factory that imports ``kaspix_spice.<module>`` only when called."""
    return lazy_factory(f"kaspix_spice.{module}", name, doc)


@hookimpl
def register_data_sources(register: RegisterPart) -> None:
    register("spice", _lazy("dataset", "SpiceDataset", "ngspice-simulated circuit clips (HDF5), split by knob setting"))


@hookimpl
def register_models(register: RegisterPart) -> None:
    register("film_modal", _lazy("modal", "film_modal", "Knob-conditioned modal state-space circuit emulator"))
    register("film_gru", _lazy("models", "film_gru", "FiLM-conditioned GRU circuit emulator"))
    register("film_lstm", _lazy("models", "film_lstm", "FiLM-conditioned LSTM circuit emulator"))
    register("concat_lstm", _lazy("models", "concat_lstm", "Concat-conditioned LSTM baseline"))
    register("film_tcn", _lazy("models", "film_tcn", "FiLM-conditioned temporal convolutional network"))


@hookimpl
def register_losses(register: RegisterPart) -> None:
    register("esr", _lazy("losses", "esr", "Error-to-signal ratio, optional pre-emphasis"))
    register("esr_dc", _lazy("losses", "esr_dc", "ESR plus DC error"))
    register("mse", _lazy("losses", "mse", "Mean squared error"))


@hookimpl
def register_evaluators(register: RegisterPart) -> None:
    register(
        "spice",
        lambda: importlib.import_module("kaspix_spice.evaluate").evaluate,
        description="Emulator vs SPICE: ESR, MAE, LSD, cutoff error, plots",
    )


@hookimpl
def register_pipelines(register: RegisterPipeline) -> None:
    register(PIPELINE)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    for command in COMMANDS:
        register(command)
