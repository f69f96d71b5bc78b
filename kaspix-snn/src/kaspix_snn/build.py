"""Step 1, build network: ``network.json`` (topology, neurons, encoding, seed) and ``network_weights.pt``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kaspix import KaspixError, RunContext

from kaspix_snn.config import SnnConfig
from kaspix_snn.data import ImageSet
from kaspix_snn.files import NETWORK, WEIGHTS, save_torch, write_json
from kaspix_snn.network import build_spec, make_weights

__all__ = ["build_network", "build_network_step", "load_images"]


def load_images(ctx: RunContext[SnnConfig]) -> ImageSet:
    """The configured data source's images (``data.source`` is a registered data source)."""
    data = ctx.config.data
    images = ctx.parts.data_sources.build(data.source, path=data.path)
    if not isinstance(images, ImageSet):
        raise KaspixError(
            f"data source {data.source!r} returned a {type(images).__name__}, not a kaspix_snn.data.ImageSet",
            where="data.source",
            hint="use digits, mnist or fashion_mnist, or a source that returns an ImageSet",
        )
    return images


def build_network(cfg: SnnConfig, images: ImageSet, folder: Path) -> dict[str, Any]:
    """Write ``network.json`` and ``network_weights.pt`` into ``folder`` for these images; return the spec."""
    spec: dict[str, Any] = build_spec(cfg.network, images.shape, name=cfg.name, seed=cfg.seed)
    spec["data"] = {
        "source": cfg.data.source,
        "path": cfg.data.path,
        "name": images.name,
        "images_available": len(images.labels),
        "class_names": list(images.class_names),
        "max_value": images.max_value,
    }
    save_torch(make_weights(spec), folder / WEIGHTS)
    write_json(folder / NETWORK, spec)
    return spec


def build_network_step(ctx: RunContext[SnnConfig]) -> None:
    """Lay out the network for the data's image shape and draw its seeded weights."""
    images = load_images(ctx)
    spec = build_network(ctx.config, images, ctx.artifacts)
    shapes = ", ".join(f"{layer['name']} {'x'.join(map(str, layer['out_shape']))}" for layer in spec["layers"])
    ctx.log.info(
        "network for %s images (%s): %s; %d neurons, %d synapses",
        "x".join(map(str, images.shape)),
        images.name,
        shapes,
        spec["neurons"],
        spec["synapses"],
    )
    ctx.log_metrics({"neurons": spec["neurons"], "synapses": spec["synapses"]}, prefix="network")
