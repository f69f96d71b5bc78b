"""The ``snn`` pipeline: build network -> record activity -> prepare data -> train -> evaluate.

Steps talk through files in the run's ``artifacts/`` only (see :mod:`kaspix_snn.files`), so a
run can be resumed at any step. The step modules (torch, norse, h5py) load when a step runs.
"""

from __future__ import annotations

import importlib

from kaspix import Pipeline, RunContext, Step

from kaspix_snn.config import SnnConfig

__all__ = ["PIPELINE", "STEPS"]


def _lazy(name: str, module: str, function: str, doc: str) -> Step:
    """A step that imports ``kaspix_snn.<module>`` and calls its ``function`` when it runs."""

    def run(ctx: RunContext[SnnConfig]) -> None:
        getattr(importlib.import_module(f"kaspix_snn.{module}"), function)(ctx)

    run.__doc__ = doc
    run.__name__ = function
    return Step(name, run, doc)


STEPS = (
    _lazy("build_network", "build", "build_network_step", "network.json: layers, LIF neurons, inhibition, encoding; seeded weights"),
    _lazy(
        "record_activity",
        "record",
        "record_step",
        "activity_dataset.h5: spikes (bit-packed) and potentials per layer, streamed; raster and rate plots",
    ),
    _lazy("prepare_data", "prepare", "prepare_step", "train_data.pt, test_data.pt, scaler.pt: features, stratified split"),
    _lazy("train", "train", "train_step", "model.pth: the readout trained with kaspix.training.fit; curves and per-epoch metrics"),
    _lazy(
        "evaluate",
        "evaluate",
        "evaluate_step",
        "evaluation_summary.json: accuracy, per-class P/R/F1, confusion, pixel baseline, think_longer",
    ),
)

PIPELINE = Pipeline(
    name="snn",
    config_model=SnnConfig,
    steps=STEPS,
    description="Spiking network on norse: record its activity on images, train a readout, evaluate against a pixel baseline",
)
