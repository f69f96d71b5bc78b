"""The ``spice`` pipeline: generate (ngspice) -> train (an emulator) -> evaluate (against SPICE).

Steps talk through files in the run's artifact folder only:
``data/dataset.h5`` -> ``model.pt`` + ``model.json`` -> ``evaluation/evaluation.json`` and PNG plots.
"""

from __future__ import annotations

import json
from typing import Any

from kaspix import KaspixError, Pipeline, RunContext, Step

from kaspix_spice.config import SpiceConfig

__all__ = ["CHECKPOINT_STAMP", "DATASET", "PIPELINE", "build_model", "evaluate_step", "generate_step", "train_step"]

DATASET = "data/dataset.h5"
#: In ``checkpoints/``: the fingerprint of what the checkpoints there were trained with.
CHECKPOINT_STAMP = "fingerprint.json"


def generate_step(ctx: RunContext[SpiceConfig]) -> None:
    """Simulate the dataset (sharded; a resumed run continues the shards whose inputs still hold)."""
    from kaspix_spice.dataset import read_metadata
    from kaspix_spice.generate import generate

    cfg = ctx.config.generate
    path = generate(cfg, ctx.artifact(DATASET).parent, progress=lambda it, n: ctx.track(it, description="simulating shards", total=n))
    meta = read_metadata(path)
    ctx.log_metrics(
        {
            "samples": meta["accuracy"]["mna_samples"] + meta["accuracy"]["ngspice_samples"],
            "failed": len(meta["failed"]),
            **{k: v for k, v in meta["accuracy"].items() if v is not None},
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


def _fresh_checkpoints(ctx: RunContext[SpiceConfig], metadata: dict[str, Any]) -> None:
    """Remove training checkpoints made with another train config, seed or dataset, so that a resume never continues them.

    What makes them: ``train`` (but ``max_seconds``, ``device``: raising the time cap and resuming is
    what resuming is for), the seed, and the dataset (its ``fingerprint``, made at merge from the
    facts of every shard: config, generator version, netlists as parsed, simulators).
    """
    from kaspix.atomic import atomic_write_json
    from kaspix.fingerprint import fingerprint

    folder = ctx.artifact_dir("checkpoints")
    stamp = folder / CHECKPOINT_STAMP
    facts = {
        "train": ctx.config.train.model_dump(mode="json", exclude={"max_seconds", "device"}),
        "seed": ctx.config.seed,
        "data": [metadata.get("fingerprint"), metadata.get("config"), int(metadata.get("n_samples_total", 0))],
    }
    key = fingerprint(facts)
    if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == key:
        return
    stale = [path for path in folder.iterdir() if path.is_file()]
    if stale:
        ctx.log.info("training from scratch: the checkpoints in %s were made with another train config, seed or dataset", folder)
        for path in stale:
            path.unlink()
    atomic_write_json(stamp, {"fingerprint": key})


def train_step(ctx: RunContext[SpiceConfig]) -> None:
    """Train the emulator on the train split, early-stopped on the val split; save ``model.pt``.

    A resumed run continues its checkpoints only if they were made with the same train config,
    seed and dataset; otherwise training starts again. Torch's CPU thread count is set to
    ``train.threads`` whatever the environment says (``OMP_NUM_THREADS`` set by an earlier step
    would otherwise change it, and with it the floating-point results).
    """
    import torch
    from kaspix.atomic import atomic_path
    from kaspix.training import fit, seed_everything
    from torch.utils.data import DataLoader

    cfg = ctx.config.train
    torch.set_num_threads(cfg.threads)
    seed_everything(ctx.config.seed)
    train, val = _datasets(ctx)
    if len(train) == 0:
        raise KaspixError("the train split is empty", where="train", hint="generate more settings_per_circuit or shorten train.segment")
    model = build_model(ctx, train.metadata)
    _fresh_checkpoints(ctx, train.metadata)
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
        spike_factor=cfg.spike_factor,
        ctx=ctx,
    )
    with atomic_path(ctx.artifact("model.pt")) as tmp:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    ctx.write_json(
        "model.json",
        {
            "model": cfg.model,
            "model_args": cfg.model_args,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "time_capped": result.time_capped,
        },
    )


def evaluate_step(ctx: RunContext[SpiceConfig]) -> None:
    """Score the emulator on the test split against SPICE, from both starting conditions; write metrics and plots."""
    import torch

    from kaspix_spice.dataset import read_metadata

    torch.set_num_threads(ctx.config.train.threads)
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
        starts=ctx.config.score_starts,
    )
    ctx.log_metrics(result["overall"], prefix="test")
    for name, scores in result["per_circuit"].items():
        ctx.log_metrics({k: v for k, v in scores.items() if v is not None}, prefix=f"test/{name}")
    for start, scored in result.get("starts", {}).items():
        ctx.log_metrics(scored["overall"], prefix=f"test/{start}")
        for name, scores in scored["per_circuit"].items():
            ctx.log_metrics(scores, prefix=f"test/{start}/{name}")
    for line in _table(result):
        ctx.log.info("%s", line)


def _table(result: dict[str, Any]) -> list[str]:
    """The per-circuit scores as text lines: ESR, MAE, LSD for each starting condition, then |H| and f_c errors."""
    starts = result.get("starts") or {"as stored": result}
    head = "".join(f" | {start:^26}" for start in starts)
    lines = [f"{'circuit':<20}{head} | |H| err dB | f_c err", f"{'':<20}" + " |      ESR     MAE  LSD dB" * len(starts)]
    for name, stored in result["per_circuit"].items():
        cells = ""
        for scored in starts.values():
            s = scored["per_circuit"].get(name)
            cells += f" | {s['esr']:8.4f} {s['mae']:7.4f} {s['lsd_db']:7.2f}" if s else f" | {'-':>24}"
        response = stored.get("response_error_db")
        fc, rel = stored.get("freq_error_hz"), stored.get("freq_error_rel")
        lines.append(
            f"{name:<20}{cells} | {response if response is None else round(response, 2)!s:>10} | "
            + (f"{fc:.0f} Hz ({100 * rel:.1f}%)" if fc is not None and rel is not None else "-")
        )
    return lines


PIPELINE = Pipeline(
    name="spice",
    config_model=SpiceConfig,
    steps=(Step("generate", generate_step), Step("train", train_step), Step("evaluate", evaluate_step)),
    description="Simulate circuits with ngspice, train a knob-conditioned emulator, evaluate it against SPICE",
)
