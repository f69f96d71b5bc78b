"""The kaspix hooks of the ``spice`` plugin.

Only light modules are imported here; torch, h5py, scipy and ngspice load when a factory runs.
"""

from __future__ import annotations

import importlib

from kaspix import RegisterCommand, RegisterPart, RegisterPipeline, hookimpl, lazy_factory

from kaspix_spice.commands import COMMANDS
from kaspix_spice.pipeline import PIPELINE


@hookimpl
def register_data_sources(register: RegisterPart) -> None:
    register("spice", lazy_factory("kaspix_spice.dataset", "SpiceDataset", "ngspice-simulated circuit clips (HDF5), split by knob setting"))


@hookimpl
def register_models(register: RegisterPart) -> None:
    register("film_modal", lazy_factory("kaspix_spice.modal", "film_modal", "Knob-conditioned modal state-space circuit emulator"))
    register("film_gru", lazy_factory("kaspix_spice.models", "film_gru", "FiLM-conditioned GRU circuit emulator"))
    register("film_lstm", lazy_factory("kaspix_spice.models", "film_lstm", "FiLM-conditioned LSTM circuit emulator"))
    register("concat_lstm", lazy_factory("kaspix_spice.models", "concat_lstm", "Concat-conditioned LSTM baseline"))
    register("film_tcn", lazy_factory("kaspix_spice.models", "film_tcn", "FiLM-conditioned temporal convolutional network"))


@hookimpl
def register_losses(register: RegisterPart) -> None:
    register("esr", lazy_factory("kaspix_spice.losses", "esr", "Error-to-signal ratio, optional pre-emphasis"))
    register("esr_dc", lazy_factory("kaspix_spice.losses", "esr_dc", "ESR plus DC error"))
    register("mse", lazy_factory("kaspix_spice.losses", "mse", "Mean squared error"))


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
