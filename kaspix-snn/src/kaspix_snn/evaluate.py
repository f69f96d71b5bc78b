"""Step 5, evaluate: the readout on the test split, a raw-pixel logistic regression on the same split, and think_longer.

Writes ``evaluation_summary.json`` and the confusion-matrix PNGs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from kaspix import KaspixError, RunContext

from kaspix_snn.activity import ActivityReader
from kaspix_snn.config import SnnConfig
from kaspix_snn.features import features
from kaspix_snn.files import ACTIVITY, MODEL, MODEL_INFO, PLOTS, SCALER, SUMMARY, TEST_DATA, TRAIN_DATA, read_json, require
from kaspix_snn.prepare import load_part
from kaspix_snn.record import load_network
from kaspix_snn.simulate import batch_generator
from kaspix_snn.train import build_readout, predict

__all__ = ["classification_summary", "evaluate_step", "pixel_baseline", "think_longer_features"]

#: Seed offset of the Poisson input of think_longer (fresh input noise, not a replay of the recording's).
THINK_LONGER_SEED_OFFSET = 7919


def classification_summary(labels: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Accuracy, macro F1, per-class precision / recall / F1 / support, and the confusion matrix (rows: true class)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    classes = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    return {
        "accuracy": float(np.mean(labels == predicted)),
        "f1_macro": float(np.mean(f1)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
    }


def pixel_baseline(reader: ActivityReader, train_rows: np.ndarray, test_rows: np.ndarray, max_iter: int) -> dict[str, Any]:
    """Logistic regression (scikit-learn, lbfgs, C=1) on the raw pixels scaled to [0, 1], trained and tested on the same rows."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    scale = float(reader.metadata["max_value"])
    pixels = reader.images(slice(None))  # one read: h5py's fancy indexing is slow for long index lists
    x_train = pixels[train_rows].reshape(len(train_rows), -1) / scale
    x_test = pixels[test_rows].reshape(len(test_rows), -1) / scale
    labels = reader.labels
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = LogisticRegression(max_iter=max_iter).fit(x_train, labels[train_rows])
    predicted = model.predict(x_test)
    return {
        "model": "logistic regression on raw pixels (scikit-learn LogisticRegression, lbfgs, C=1, pixels / max_value)",
        "accuracy": float(np.mean(predicted == labels[test_rows])),
        "train_images": len(train_rows),
        "test_images": len(test_rows),
        "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        "seconds": round(time.monotonic() - start, 2),
    }


def think_longer_features(
    ctx: RunContext[SnnConfig], reader: ActivityReader, rows: np.ndarray, blocks: list[Any]
) -> tuple[np.ndarray, int]:
    """Features of ``rows`` re-simulated for ``think_longer_factor`` times the ticks; returns them and the tick count."""
    cfg = ctx.config
    ticks = cfg.simulation.ticks_per_image * cfg.evaluation.think_longer_factor
    network = load_network(ctx.artifacts, cfg.simulation.device)
    layers = list(dict.fromkeys(block[0] for block in blocks))
    kinds = list(cfg.preparation.feature_types)
    potentials = "final" if "final_v" in kinds else "none"
    batch = cfg.simulation.batch_size
    out = []
    for start in ctx.track(range(0, len(rows), batch), description="think_longer", total=-(-len(rows) // batch)):
        chosen = rows[start : start + batch]
        pixels = torch.from_numpy(reader.images(chosen).astype(np.float32) / float(reader.metadata["max_value"]))
        generator = batch_generator(cfg.seed + THINK_LONGER_SEED_OFFSET, start, network.device)
        activity = network.run(pixels, ticks, generator=generator, record=layers, potentials=potentials)
        spikes = {name: value.cpu().numpy() for name, value in activity.spikes.items()}
        volts = {name: value.cpu().numpy() for name, value in activity.potentials.items()}
        out.append(features(spikes, volts, layers, kinds, cfg.preparation.time_bins).astype(np.float16))
    return np.concatenate(out), ticks


def evaluate_step(ctx: RunContext[SnnConfig]) -> None:
    """Measure the readout on the test split beside the pixel baseline; optionally think longer."""
    from kaspix_snn.plots import confusion_matrix_plot

    cfg = ctx.config.evaluation
    test = load_part(ctx.artifact(TEST_DATA))
    info = read_json(ctx.artifact(MODEL_INFO), "train")
    scaler = torch.load(require(ctx.artifact(SCALER), "prepare_data"), weights_only=True)
    model = build_readout(ctx, info, scaler)
    model.load_state_dict(torch.load(require(ctx.artifact(MODEL), "train"), weights_only=True))
    count = len(test["labels"]) if cfg.eval_samples is None else min(cfg.eval_samples, len(test["labels"]))
    feats, labels, rows = test["features"][:count], test["labels"][:count].numpy(), test["rows"][:count].numpy()
    class_names = list(test["class_names"])
    result = classification_summary(labels, predict(model, feats).numpy(), class_names)
    summary: dict[str, Any] = {
        "experiment": ctx.config.name,
        "test_images": count,
        "ticks_per_image": ctx.config.simulation.ticks_per_image,
        "class_names": class_names,
        **result,
    }
    plots = ctx.artifact_dir(PLOTS)
    title = f"{ctx.config.name}: accuracy {result['accuracy']:.4f} on {count} test images"
    confusion_matrix_plot(np.array(result["confusion_matrix"]), class_names, plots / "confusion_matrix.png", title=title)
    confusion_matrix_plot(
        np.array(result["confusion_matrix"]), class_names, plots / "confusion_matrix_normalized.png", title=title, normalize=True
    )
    metrics: dict[str, Any] = {"accuracy": result["accuracy"], "f1_macro": result["f1_macro"]}
    with ActivityReader(require(ctx.artifact(ACTIVITY), "record_activity")) as reader:
        summary["data_source"] = reader.metadata["data_source"]
        if cfg.baseline:
            train_rows = load_part(ctx.artifact(TRAIN_DATA))["rows"].numpy()
            baseline = pixel_baseline(reader, train_rows, rows, cfg.baseline_max_iter)
            summary["baseline"] = baseline
            summary["beats_baseline"] = result["accuracy"] > baseline["accuracy"]
            metrics["baseline_accuracy"] = baseline["accuracy"]
            ctx.log.info("raw-pixel logistic regression: accuracy %.4f (%.1f s)", baseline["accuracy"], baseline["seconds"])
        if cfg.think_longer:
            longer, ticks = think_longer_features(ctx, reader, rows, test["feature_blocks"])
            if longer.shape[1] != feats.shape[1]:
                raise KaspixError(f"think_longer made {longer.shape[1]} features, the readout takes {feats.shape[1]}", where="evaluation")
            predicted = predict(model, torch.from_numpy(longer)).numpy()
            extra = classification_summary(labels, predicted, class_names)
            summary["think_longer"] = {"ticks_per_image": ticks, **extra}
            metrics["think_longer_accuracy"] = extra["accuracy"]
            confusion_matrix_plot(
                np.array(extra["confusion_matrix"]),
                class_names,
                plots / "confusion_matrix_think_longer.png",
                title=f"think_longer ({ticks} ticks): accuracy {extra['accuracy']:.4f}",
            )
            ctx.log.info("think_longer (%d ticks): accuracy %.4f", ticks, extra["accuracy"])
    ctx.write_json(SUMMARY, summary)
    ctx.log.info("test accuracy %.4f, macro F1 %.4f on %d images", result["accuracy"], result["f1_macro"], count)
    ctx.log_metrics(metrics)
