"""The ``circuitgen`` pipeline: generate -> train -> baseline -> evaluate -> design -> report.

Steps talk through files in the run's artifact folder only: ``data/circuits.h5`` ->
``models/set_decoder.pt`` and ``models/fixed_pz_baseline.pt`` -> ``evaluation/`` (metrics, table,
plots) and ``generation/`` (spec-conditioned designs) -> ``report.md``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kaspix import Pipeline, RunContext, Step

from kaspix_circuitgen.config import CircuitgenConfig

__all__ = ["PIPELINE"]

DATA = "data/circuits.h5"
SET_MODEL = "models/set_decoder.pt"
BASELINE = "models/fixed_pz_baseline.pt"


def _data(ctx: RunContext[CircuitgenConfig]) -> Any:
    return ctx.parts.data_sources.build("circuits", ctx.artifact(DATA), ctx.config.data.per_family, ctx.config.seed)


def _split(ctx: RunContext[CircuitgenConfig], data: Any) -> dict[str, Any]:
    from kaspix_circuitgen.data import split_indices

    cfg = ctx.config.data
    return split_indices(data, cfg.val_fraction, cfg.test_fraction, ctx.config.seed)


def generate_step(ctx: RunContext[CircuitgenConfig]) -> None:
    """Draw the circuits and compute their exact poles, zeros, responses and specs (cached HDF5)."""
    start = time.monotonic()
    data = _data(ctx)
    split = _split(ctx, data)
    ctx.log_metrics(
        {"circuits": len(data), **{k: len(v) for k, v in split.items()}, "seconds": round(time.monotonic() - start, 2)}, prefix="data"
    )


def _training_tensors(ctx: RunContext[CircuitgenConfig]) -> tuple[Any, ...]:
    import torch

    from kaspix_circuitgen.batches import inputs, targets
    from kaspix_circuitgen.physics import all_physics

    data = _data(ctx)
    split = _split(ctx, data)
    physics = all_physics()
    features, spec = inputs(data)
    target = targets(data, physics)
    train, val = (torch.as_tensor(split[k]) for k in ("train", "val"))
    return features, spec, target, train, val, physics


def train_step(ctx: RunContext[CircuitgenConfig]) -> None:
    """Train the set-decoder model (Hungarian set loss + physics consistency), early-stopped on val."""
    from kaspix.training import fit

    from kaspix_circuitgen.batches import ShuffledBatches
    from kaspix_circuitgen.data import MAX_KNOBS
    from kaspix_circuitgen.inference import MODEL_SIZES, save_model

    cfg = ctx.config.train
    features, spec, target, train, val, _physics = _training_tensors(ctx)
    family = target["family"]
    sizes = {**MODEL_SIZES, "n_spec": spec.shape[1], "max_knobs": MAX_KNOBS, "latent": cfg.latent, "hidden": cfg.hidden}
    model = ctx.parts.models.build("set_decoder", **sizes)
    weights = {k.removeprefix("weight_"): v for k, v in cfg.model_dump().items() if k.startswith("weight_")}
    loss = ctx.parts.losses.build("set_loss", **weights)
    train_batches = ShuffledBatches((features[train], spec[train], family[train]), target.rows(train), cfg.batch_size, ctx.config.seed)
    val_batches = ShuffledBatches((features[val], spec[val], family[val]), target.rows(val), 1024, None)

    def terms(_epoch: int, trained: Any) -> dict[str, float]:
        import torch

        trained.eval()
        with torch.no_grad():
            batch = next(iter(val_batches))
            device = next(trained.parameters()).device
            values = loss.terms(trained(*(t.to(device) for t in batch[:3])), batch[3].to(device))
        return {f"val_{k}": float(v) for k, v in values.items()}

    fit(
        model,
        loss,
        train_batches,
        val_batches=val_batches,
        epochs=cfg.epochs,
        lr=cfg.lr,
        grad_clip=cfg.grad_clip,
        schedule="cosine",
        device=cfg.device,
        seed=ctx.config.seed,
        ctx=ctx,
        checkpoint_dir=ctx.artifact_dir("checkpoints/set_decoder"),
        metrics_prefix="train/set_decoder",
        on_epoch_end=terms,
    )
    save_model(model, ctx.artifact(SET_MODEL), sizes)


def baseline_step(ctx: RunContext[CircuitgenConfig]) -> None:
    """Train the post-mortem's fixed 2-pole/2-zero decoder with its Chamfer loss on the same circuits."""
    from kaspix.training import fit

    from kaspix_circuitgen.batches import ShuffledBatches
    from kaspix_circuitgen.inference import MODEL_SIZES, save_model

    cfg = ctx.config.baseline
    features, _spec, target, train, val, _physics = _training_tensors(ctx)
    sizes = {**MODEL_SIZES, "latent": ctx.config.train.latent, "hidden": ctx.config.train.hidden}
    model = ctx.parts.models.build("fixed_pz_baseline", **sizes)
    fit(
        model,
        ctx.parts.losses.build("chamfer", tf_weight=cfg.tf_weight),
        ShuffledBatches((features[train],), target.rows(train), cfg.batch_size, ctx.config.seed),
        val_batches=ShuffledBatches((features[val],), target.rows(val), 1024, None),
        epochs=cfg.epochs,
        lr=cfg.lr,
        grad_clip=ctx.config.train.grad_clip,
        schedule="cosine",
        device=ctx.config.train.device,
        seed=ctx.config.seed,
        ctx=ctx,
        checkpoint_dir=ctx.artifact_dir("checkpoints/fixed_pz_baseline"),
        metrics_prefix="train/fixed_pz_baseline",
    )
    save_model(model, ctx.artifact(BASELINE), sizes)


def _models(ctx: RunContext[CircuitgenConfig]) -> tuple[Any, Any]:
    import torch

    from kaspix_circuitgen.inference import load_set_model

    model = load_set_model(ctx.artifact(SET_MODEL))
    sizes = json.loads(ctx.artifact(BASELINE).with_suffix(".json").read_text())
    baseline = ctx.parts.models.build("fixed_pz_baseline", **sizes)
    baseline.load_state_dict(torch.load(ctx.artifact(BASELINE), weights_only=True))
    return model, baseline.eval()


def _history(ctx: RunContext[CircuitgenConfig], name: str) -> list[dict[str, float]]:
    path = ctx.artifact(f"checkpoints/{name}/history.json")
    return json.loads(path.read_text()) if path.is_file() else []


def evaluate_step(ctx: RunContext[CircuitgenConfig]) -> None:
    """Score the baseline, the set decoder and the analytic decoders on the test split; plots."""
    data = _data(ctx)
    model, baseline = _models(ctx)
    evaluator = ctx.parts.evaluators.build("circuitgen")
    report = evaluator(
        model,
        baseline,
        data,
        _split(ctx, data)["test"],
        ctx.artifact_dir("evaluation"),
        fit_steps=ctx.config.evaluate.fit_steps,
        examples=ctx.config.evaluate.examples,
        histories={"set decoder": _history(ctx, "set_decoder"), "fixed 2+2 (seed)": _history(ctx, "fixed_pz_baseline")},
    )
    for name, metrics in report["decoders"].items():
        ctx.log_metrics(metrics, prefix=f"test/{name.replace(' ', '_')}")
    ctx.log.info("test split, side by side:\n%s", report["table"])


def design_step(ctx: RunContext[CircuitgenConfig]) -> None:
    """Spec-conditioned generation: specs from test circuits, designs verified by MNA (and ngspice)."""
    from kaspix_circuitgen.generation import evaluate_generation

    data = _data(ctx)
    model, _ = _models(ctx)
    cfg = ctx.config.design
    report = evaluate_generation(
        model,
        data,
        _split(ctx, data)["test"],
        ctx.artifact_dir("generation"),
        specs=cfg.specs,
        series=cfg.series,
        budget=cfg.budget,
        ngspice_checks=cfg.ngspice_checks,
        seed=ctx.config.seed,
    )
    ctx.log_metrics(report["design"], prefix="generation/design")
    ctx.log_metrics(report["model_proposal"], prefix="generation/model_proposal")
    ctx.log.info("spec-conditioned generation (%d specs, %s): %s", report["specs"], report["series"], json.dumps(report["design"]))


def report_step(ctx: RunContext[CircuitgenConfig]) -> None:
    """``report.md``: the side-by-side table, generation scores, and each target met or not."""
    from kaspix_circuitgen.report import write_report

    evaluation = json.loads(ctx.artifact("evaluation/evaluation.json").read_text())
    generation = json.loads(ctx.artifact("generation/generation.json").read_text())
    targets = write_report(ctx.artifact("report.md"), evaluation, generation)
    ctx.log_metrics(targets, prefix="targets")
    ctx.log.info("report: %s", ctx.artifact("report.md"))


PIPELINE = Pipeline(
    name="circuitgen",
    config_model=CircuitgenConfig,
    steps=(
        Step("generate", generate_step),
        Step("train", train_step),
        Step("baseline", baseline_step),
        Step("evaluate", evaluate_step),
        Step("design", design_step),
        Step("report", report_step),
    ),
    description="Random filter circuits -> set-decoder model and the fixed 2+2 baseline -> side-by-side evaluation and verified designs",
)
