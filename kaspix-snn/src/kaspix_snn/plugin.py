"""The kaspix hooks of the ``snn`` plugin: image data sources, the readout model, the ``snn`` pipeline, ``kaspix snn inspect``.

Only light modules are imported here; numpy, scikit-learn, torch, norse and h5py load when a factory or a step runs.
"""

from __future__ import annotations

from kaspix import RegisterCommand, RegisterPart, RegisterPipeline, hookimpl, lazy_factory

from kaspix_snn.commands import COMMANDS
from kaspix_snn.pipeline import PIPELINE


@hookimpl
def register_data_sources(register: RegisterPart) -> None:
    register("digits", lazy_factory("kaspix_snn.data", "digits", "scikit-learn's 8x8 digits, embedded (1797 images)"))
    register("mnist", lazy_factory("kaspix_snn.data", "mnist", "MNIST from local IDX files or a .npz (data.path)"))
    register(
        "fashion_mnist", lazy_factory("kaspix_snn.data", "fashion_mnist", "Fashion-MNIST from Debian's dataset-fashion-mnist or data.path")
    )


@hookimpl
def register_models(register: RegisterPart) -> None:
    register("mlp", lazy_factory("kaspix_snn.readout", "mlp", "MLP readout classifier (hidden=[] is linear)"))


@hookimpl
def register_pipelines(register: RegisterPipeline) -> None:
    register(PIPELINE)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    for command in COMMANDS:
        register(command)
