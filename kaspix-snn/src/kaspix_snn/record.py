"""Step 2, record activity: drive the network with the drawn images and stream what it does into ``activity_dataset.h5``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from kaspix import KaspixError, RunContext
from kaspix.fingerprint import fingerprint
from kaspix.training import choose_device

from kaspix_snn.activity import ActivityWriter, stored_fingerprint
from kaspix_snn.build import load_images
from kaspix_snn.config import SnnConfig
from kaspix_snn.data import ImageSet, select_per_label
from kaspix_snn.files import ACTIVITY, NETWORK, PLOTS, WEIGHTS, read_json, require
from kaspix_snn.simulate import SpikingNetwork, batch_generator

__all__ = ["load_network", "record_activity", "record_step", "recording_fingerprint"]


def load_network(artifacts: Path, device: str = "cpu") -> SpikingNetwork:
    """The network of step 1 (``network.json`` and ``network_weights.pt``)."""
    spec = read_json(artifacts / NETWORK, "build_network")
    weights = torch.load(require(artifacts / WEIGHTS, "build_network"), weights_only=True)
    return SpikingNetwork(spec, weights, choose_device(device))


def recording_fingerprint(cfg: SnnConfig, spec: dict[str, Any]) -> str:
    """What a recording depends on: the network, the simulation and data settings, the seed."""
    facts = [spec, cfg.simulation.model_dump(mode="json"), cfg.data.model_dump(mode="json"), cfg.seed]
    return fingerprint(facts)


def record_activity(
    cfg: SnnConfig,
    artifacts: Path,
    images: ImageSet,
    *,
    track: Callable[[range], Iterable[int]] = iter,
    log: logging.Logger | None = None,
) -> dict[str, float]:
    """Simulate the drawn images batch by batch into ``artifacts/activity_dataset.h5``; return timing figures.

    A partial recording from an interrupted attempt with the same settings is continued; the file
    gets its final name only when complete. Memory is bounded by ``simulation.batch_size``.
    """
    sim = cfg.simulation
    network = load_network(artifacts, sim.device)
    spec = network.spec
    if tuple(spec["input"]["shape"]) != images.shape:
        raise KaspixError(
            f"the images are {images.shape} but network.json was built for {tuple(spec['input']['shape'])}",
            where="data",
            hint="the data changed since the build_network step; start a new run",
        )
    record = sim.record_layers or network.layer_names
    rows = select_per_label(images.labels, sim.images_per_label, cfg.seed)
    counts = np.bincount(images.labels[rows], minlength=images.n_classes)
    if sim.images_per_label is not None and counts.min() < sim.images_per_label and log is not None:
        log.warning("fewer than %d images for some classes: %s", sim.images_per_label, dict(enumerate(counts.tolist())))
    layers = {layer["name"]: layer for layer in spec["layers"] if layer["name"] in record}
    metadata = {
        "experiment": cfg.name,
        "dataset_name": sim.dataset_name_base,
        "data_source": images.name,
        "class_names": list(images.class_names),
        "max_value": images.max_value,
        "ticks_per_image": sim.ticks_per_image,
        "encoding": spec["input"]["encoding"],
        "potentials": sim.potentials,
        "recorded_layers": record,
        "images_per_label": sim.images_per_label,
        "images": len(rows),
        "seed": cfg.seed,
        "spike_packing": "numpy.packbits along units, bitorder little",
    }
    fingerprint = recording_fingerprint(cfg, spec)
    final = artifacts / ACTIVITY
    partial = final.with_name(final.name + ".partial")
    simulated = 0.0
    writer = ActivityWriter(
        partial,
        layers={
            name: {"units": layer["units"], "shape": layer["out_shape"], "has_neurons": layer["has_neurons"]}
            for name, layer in layers.items()
        },
        image_shape=images.shape,
        image_dtype=images.images.dtype,
        ticks=sim.ticks_per_image,
        potentials=sim.potentials,
        metadata=metadata,
        fingerprint=fingerprint,
        batch=sim.batch_size,
        compression=sim.compression,
    )
    start = time.monotonic()
    first = writer.complete
    if first and log is not None:
        log.info("continuing the recording at image %d of %d", first, len(rows))
    with writer:
        for begin in track(range(first, len(rows), sim.batch_size)):
            chosen = rows[begin : begin + sim.batch_size]
            pixels = images.images[chosen]
            tic = time.monotonic()
            activity = network.run(
                torch.from_numpy(pixels.astype(np.float32) / images.max_value),
                sim.ticks_per_image,
                generator=batch_generator(cfg.seed, begin, network.device),
                record=record,
                potentials=sim.potentials,
            )
            simulated += time.monotonic() - tic
            writer.append(
                images=pixels,
                labels=images.labels[chosen],
                source_index=chosen,
                spikes={name: value.cpu().numpy() for name, value in activity.spikes.items()},
                potentials={name: value.cpu().numpy() for name, value in activity.potentials.items()},
            )
    partial.replace(final)
    done = len(rows) - first
    neuron_ticks = done * sim.ticks_per_image * network.neurons_per_image_tick()
    total = time.monotonic() - start
    return {
        "images": len(rows),
        "seconds": round(total, 3),
        "simulation_seconds": round(simulated, 3),
        "neuron_ticks_per_s": round(neuron_ticks / max(total, 1e-9)),
        "simulation_neuron_ticks_per_s": round(neuron_ticks / max(simulated, 1e-9)),
    }


def record_step(ctx: RunContext[SnnConfig]) -> None:
    """Record the activity, then draw the static plots of ``visualizations.network_activity``."""
    from kaspix_snn.plots import activity_plots

    cfg = ctx.config
    final = ctx.artifact(ACTIVITY)
    fingerprint = recording_fingerprint(cfg, read_json(ctx.artifact(NETWORK), "build_network"))
    if final.is_file() and stored_fingerprint(final) == fingerprint:
        ctx.log.info("%s is complete from an earlier attempt with these settings; drawing the plots", ACTIVITY)
    else:
        images = load_images(ctx)
        figures = record_activity(
            cfg, ctx.artifacts, images, track=lambda it: ctx.track(it, description="recording", total=len(it)), log=ctx.log
        )
        ctx.log.info(
            "recorded %d images in %.1f s (%.3g neuron-ticks/s, simulation alone %.3g)",
            figures["images"],
            figures["seconds"],
            figures["neuron_ticks_per_s"],
            figures["simulation_neuron_ticks_per_s"],
        )
        ctx.log_metrics(figures, prefix="record")
    viz = cfg.visualizations.network_activity
    if viz.enabled and viz.params.plots:
        written = activity_plots(
            final, ctx.artifact_dir(PLOTS), viz.params.plots, images=viz.params.images, neurons_per_layer=viz.params.neurons_per_layer
        )
        ctx.log.info("plots: %s", ", ".join(p.name for p in written))
