"""Step 4, train: the readout on the training features with :func:`kaspix.training.fit`; ``model.pth``, curves and per-epoch metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from kaspix import RunContext
from kaspix.fingerprint import fingerprint as facts_fingerprint
from kaspix.training import fit
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from kaspix_snn.config import SnnConfig
from kaspix_snn.files import MODEL, MODEL_INFO, PLOTS, SCALER, TRAIN_DATA, TRAINING_METRICS, require, save_torch
from kaspix_snn.prepare import load_part, stratified_split
from kaspix_snn.readout import with_scaler

__all__ = ["accuracy", "build_readout", "predict", "train_step"]

CHECKPOINTS = "checkpoints"
FINGERPRINT = "fingerprint.json"


def build_readout(ctx: RunContext[SnnConfig], info: dict[str, Any], scaler: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The registered classifier (``training.model``) behind the scaler, sized as ``info`` says."""
    classifier = ctx.parts.models.build(
        info["model"], input_dim=info["input_dim"], n_classes=info["n_classes"], hidden=info["hidden"], dropout=info["dropout"]
    )
    return with_scaler(classifier, scaler["mean"], scaler["scale"])


def accuracy(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor, batch: int = 1024) -> float:
    """Share of correctly classified samples (model in eval mode, no gradients)."""
    return float((predict(model, features, batch) == labels).float().mean())


def predict(model: torch.nn.Module, features: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Predicted class of every sample."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = torch.cat([model(features[i : i + batch].to(device)).argmax(dim=1).cpu() for i in range(0, len(features), batch)])
    model.train(was_training)
    return out


def _fresh_checkpoints(folder: Path, fingerprint: str, log: Any) -> None:
    """Keep checkpoints only when they were made with the same training settings and data (resume); else clear them."""
    marker = folder / FINGERPRINT
    if folder.is_dir() and (not marker.is_file() or json.loads(marker.read_text())["fingerprint"] != fingerprint):
        log.info("training settings or data changed since the checkpoints in %s were written: training from scratch", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"fingerprint": fingerprint}))


def train_step(ctx: RunContext[SnnConfig]) -> None:
    """Train the readout; the weights with the lowest validation (else training) loss become ``model.pth``."""
    from kaspix_snn.plots import training_curves

    cfg = ctx.config.training
    data = load_part(ctx.artifact(TRAIN_DATA))
    scaler = torch.load(require(ctx.artifact(SCALER), "prepare_data"), weights_only=True)
    features, labels = data["features"], data["labels"]
    fit_features, fit_labels, val_features, val_labels = features, labels, None, None
    if cfg.val_fraction > 0:
        fit_rows, val_rows = stratified_split(labels.numpy(), 1 - cfg.val_fraction, ctx.config.seed, where="training.val_fraction")
        fit_features, fit_labels = features[fit_rows], labels[fit_rows]
        val_features, val_labels = features[val_rows], labels[val_rows]
    info = {
        "model": cfg.model,
        "input_dim": int(features.shape[1]),
        "n_classes": len(data["class_names"]),
        "hidden": list(cfg.hidden),
        "dropout": cfg.dropout,
        "class_names": data["class_names"],
    }
    model = build_readout(ctx, info, scaler)
    generator = torch.Generator().manual_seed(ctx.config.seed)
    train_batches = DataLoader(TensorDataset(fit_features, fit_labels), batch_size=cfg.batch_size, shuffle=True, generator=generator)
    val_batches = None
    if val_features is not None:
        val_batches = DataLoader(TensorDataset(val_features, val_labels), batch_size=1024)

    def measure(epoch: int, net: torch.nn.Module) -> dict[str, float]:
        record = {"train_accuracy": accuracy(net, fit_features, fit_labels)}
        if val_features is not None:
            record["val_accuracy"] = accuracy(net, val_features, val_labels)
        return record

    stamp = require(ctx.artifact(TRAIN_DATA), "prepare_data").stat()
    fingerprint = facts_fingerprint([cfg.model_dump(mode="json"), ctx.config.seed, stamp.st_size, stamp.st_mtime_ns])
    checkpoints = ctx.artifacts / CHECKPOINTS
    _fresh_checkpoints(checkpoints, fingerprint, ctx.log)

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, label_smoothing=cfg.label_smoothing)

    result = fit(
        model,
        loss,
        train_batches,
        val_batches=val_batches,
        epochs=cfg.epochs,
        optimizer=torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay),
        lr=cfg.learning_rate,
        device=cfg.device,
        seed=ctx.config.seed,
        patience=cfg.patience,
        checkpoint_dir=checkpoints,
        ctx=ctx,
        on_epoch_end=measure,
    )
    model.cpu()
    save_torch(model.state_dict(), ctx.artifact(MODEL))
    ctx.write_json(MODEL_INFO, {**info, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run})
    ctx.write_json(TRAINING_METRICS, result.history)
    training_curves(result.history, ctx.artifact(f"{PLOTS}/training_curves.png"))
    best = next((h for h in result.history if h["epoch"] == result.best_epoch), result.history[-1])
    summary = {"train_accuracy": best["train_accuracy"], "best_epoch": result.best_epoch}
    if "val_accuracy" in best:
        summary["val_accuracy"] = best["val_accuracy"]
    ctx.log.info("readout: %s", ", ".join(f"{k} {v:.4g}" for k, v in summary.items()))
    ctx.log_metrics(summary, prefix="train")
