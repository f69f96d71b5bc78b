"""The ``spice`` pipeline: generate (ngspice) -> train (an emulator) -> evaluate (against SPICE).

Steps talk through files in the run's artifact folder only:
``data/dataset.h5`` -> ``model.pt`` + ``model.json`` -> ``evaluation/evaluation.json`` and PNG plots.
"""

from __future__ import annotations

import json
from typing import Any

from kaspix import KaspixError, Pipeline, RunContext, Step

from kaspix_spice.config import SpiceConfig

DATASET = "data/dataset.h5"


def generate_step(ctx: RunContext[SpiceConfig]) -> None:
    """Simulate the dataset with ngspice (sharded; a resumed run continues the shards)."""
    from kaspix_spice.dataset import read_metadata
    from kaspix_spice.generate import accuracy_summary, generate

    cfg = ctx.config.generate
    path = generate(cfg, ctx.artifact(DATASET).parent, progress=lambda it, n: ctx.track(it, description="simulating shards", total=n))
    meta = read_metadata(path)
    ctx.log_metrics(
        {
            "samples": int(meta["n_samples_total"] // round(cfg.clip_seconds * cfg.fs)),
            "failed": len(meta["failed"]),
            **{k: v for k, v in accuracy_summary(path, cfg.tolerance).items() if v is not None},
        },
        prefix="generate",
    )


def _datasets(ctx: RunContext[SpiceConfig]) -> tuple[Any, Any]:
    cfg = ctx.config.train
    split = {"segment": cfg.segment, "val_fraction": cfg.val_fraction, "test_fraction": cfg.test_fraction, "seed": ctx.config.seed}
    return (
        ctx.parts.data_sources.build("spice", ctx.artifact(DATASET), "train", **split),
        ctx.parts.data_sources.build("spice", ctx.artifact(DATASET), "val", **split),
    )


def build_model(ctx: RunContext[SpiceConfig], meta: dict[str, Any]) -> Any:
    """The configured model, sized from the dataset's knob and circuit counts."""
    n_knobs = max(len(v) for v in meta["knob_names"].values())
    return ctx.parts.models.build(
        ctx.config.train.model, n_knobs=n_knobs, n_circuits=len(meta["circuit_mapping"]), **ctx.config.train.model_args
    )


def train_step(ctx: RunContext[SpiceConfig]) -> None:
    """Train the emulator on the train split, early-stopped on the val split; save ``model.pt``."""
    import torch
    from kaspix.training import fit, seed_everything
    from torch.utils.data import DataLoader

    cfg = ctx.config.train
    seed_everything(ctx.config.seed)
    train, val = _datasets(ctx)
    if len(train) == 0:
        raise KaspixError("the train split is empty", where="train", hint="generate more settings_per_circuit or shorten train.segment")
    model = build_model(ctx, train.metadata)
    loss = ctx.parts.losses.build(cfg.loss, **cfg.loss_args)
    generator = torch.Generator().manual_seed(ctx.config.seed)
    result = fit(
        model,
        loss,
        DataLoader(train, batch_size=cfg.batch_size, shuffle=True, generator=generator),
        val_batches=DataLoader(val, batch_size=cfg.batch_size) if len(val) else None,
        epochs=cfg.epochs,
        lr=cfg.lr,
        device=cfg.device,
        seed=ctx.config.seed,
        patience=cfg.patience,
        grad_clip=cfg.grad_clip,
        schedule=cfg.schedule,
        max_seconds=cfg.max_seconds,
        ctx=ctx,
    )
    buffer = ctx.artifact("model.pt")
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buffer)
    ctx.write_json(
        "model.json",
        {"model": cfg.model, "model_args": cfg.model_args, "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss},
    )


def evaluate_step(ctx: RunContext[SpiceConfig]) -> None:
    """Score the emulator on the test split against SPICE; write metrics and plots."""
    import torch

    from kaspix_spice.dataset import read_metadata

    meta = read_metadata(ctx.artifact(DATASET))
    model = build_model(ctx, meta)
    model.load_state_dict(torch.load(ctx.artifact("model.pt"), weights_only=True))
    evaluator = ctx.parts.evaluators.build("spice")
    result = evaluator(
        model,
        ctx.artifact(DATASET),
        ctx.artifact_dir("evaluation"),
        val_fraction=ctx.config.train.val_fraction,
        test_fraction=ctx.config.train.test_fraction,
        seed=ctx.config.seed,
        probe=ctx.config.probe_responses,
    )
    ctx.log_metrics(result["overall"], prefix="test")
    for name, scores in result["per_circuit"].items():
        ctx.log_metrics({k: v for k, v in scores.items() if v is not None}, prefix=f"test/{name}")
        ctx.log.info("%s: %s", name, json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in scores.items()}))


PIPELINE = Pipeline(
    name="spice",
    config_model=SpiceConfig,
    steps=(Step("generate", generate_step), Step("train", train_step), Step("evaluate", evaluate_step)),
    description="Simulate circuits with ngspice, train a knob-conditioned emulator, evaluate it against SPICE",
)
