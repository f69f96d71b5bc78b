"""Evaluation on the held-out test split: the three decoders side by side.

* **fixed 2+2 (seed)**: the baseline's 2 poles and 2 zeros, as predicted;
* **set decoder**: the slots whose most likely kind is not "none", as elements (a pair = 2 roots);
* **analytic**: the poles and zeros of the decoded circuit (predicted topology + decoded component
  values), computed by exact MNA; **analytic + fit**: the same circuit after a few
  Levenberg-Marquardt steps of its component values against the response the encoder read
  (:func:`kaspix_circuitgen.fitting.fit_response`), again by exact MNA.

Metrics (:func:`decoder_metrics`): topology accuracy; pole-count, zero-count and both-counts
accuracy (roots counted with multiplicity); the relative error of each true root matched to a
predicted one (Hungarian; ``|p - s| / |s|``, for a root at the origin ``|p|`` over the circuit's
pole scale) as median and 90th percentile, poles and zeros together; F1 at 5% (a match within 5%
is a true positive; precision over all predicted roots, recall over all true roots); and the
transfer-function type inferred from the predicted poles and zeros by the rules of
:mod:`kaspix_circuitgen.characteristics`, compared with the family's type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kaspix_circuitgen.characteristics import filter_types
from kaspix_circuitgen.data import GRID_HZ, CircuitSet
from kaspix_circuitgen.elements import NONE, OMEGA_REF, roots_from_elements
from kaspix_circuitgen.families import FAMILIES, FILTER_TYPES
from kaspix_circuitgen.fitting import fit_response
from kaspix_circuitgen.matching import root_errors

__all__ = [
    "DECODERS",
    "analytic_roots",
    "baseline_roots",
    "decoder_metrics",
    "evaluate",
    "evaluate_factory",
    "fit_decoded",
    "format_table",
    "pad_roots",
    "set_roots",
]

#: The decoders in the order of the table's columns.
DECODERS = ("fixed 2+2 (seed)", "set decoder", "analytic", "analytic + fit")


def pad_roots(roots: list[np.ndarray], width: int | None = None) -> np.ndarray:
    """Root lists as a NaN-padded complex array ``(N, width)``."""
    width = max([len(r) for r in roots] + [1]) if width is None else width
    out = np.full((len(roots), width), np.nan, dtype=complex)
    for i, r in enumerate(roots):
        out[i, : len(r)] = r[:width]
    return out


def set_roots(logits: np.ndarray, params: np.ndarray) -> list[np.ndarray]:
    """The roots a set head predicts: each slot whose most likely kind is not "none" is an element."""
    kinds = logits.argmax(-1)
    elements = np.concatenate([kinds[..., None].astype(float), params], axis=-1)
    elements[kinds == NONE] = 0.0
    return roots_from_elements(elements)


def baseline_roots(pairs: np.ndarray) -> list[np.ndarray]:
    """The baseline's ``(N, 2, 2)`` ``(re, im)`` outputs as roots in rad/s."""
    return list((pairs[..., 0] + 1j * pairs[..., 1]) * OMEGA_REF)


def analytic_roots(family: np.ndarray, knobs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact zeros, poles (``(N, 4)``, NaN-padded) and gains of circuits given by family and component values."""
    n = len(family)
    zeros, poles, gain = np.full((n, 4), np.nan, dtype=complex), np.full((n, 4), np.nan, dtype=complex), np.zeros(n)
    for index, fam in enumerate(FAMILIES):
        rows = np.flatnonzero(family == index)
        if len(rows) == 0:
            continue
        zpk = fam.circuit.zpk(dict(zip(fam.knobs, knobs[rows, : len(fam.knobs)].T, strict=True)))
        zeros[rows, : zpk.zeros.values.shape[1]] = zpk.zeros.values[:, :4]
        poles[rows, : zpk.poles.values.shape[1]] = zpk.poles.values[:, :4]
        gain[rows] = zpk.gain
    return zeros, poles, gain


def _as_lists(roots: np.ndarray | list[np.ndarray]) -> list[np.ndarray]:
    if isinstance(roots, np.ndarray):
        return [r[~np.isnan(r)] for r in roots]
    return list(roots)


def decoder_metrics(
    topology: np.ndarray, zeros: np.ndarray | list[np.ndarray], poles: np.ndarray | list[np.ndarray], truth: CircuitSet
) -> dict[str, float]:
    """The metrics of one decoder on the test circuits ``truth`` (see the module docstring)."""
    zeros, poles = _as_lists(zeros), _as_lists(poles)
    true_zeros, true_poles = _as_lists(truth.zeros), _as_lists(truth.poles)
    pole_ok = np.array([len(p) == len(t) for p, t in zip(poles, true_poles, strict=True)])
    zero_ok = np.array([len(z) == len(t) for z, t in zip(zeros, true_zeros, strict=True)])
    errors: list[np.ndarray] = []
    pole_errors: list[np.ndarray] = []
    predicted = true = 0
    for p, z, tp, tz in zip(poles, zeros, true_poles, true_zeros, strict=True):
        scale = float(np.exp(np.mean(np.log(np.abs(tp)))))
        ep, ez = root_errors(p, tp, scale), root_errors(z, tz, scale)
        errors += [ep, ez]
        pole_errors.append(ep)
        predicted += len(p) + len(z)
        true += len(tp) + len(tz)
    matched = np.concatenate(errors) if errors else np.zeros(0)
    hits = float(np.sum(matched <= 0.05))
    precision, recall = hits / max(predicted, 1), hits / max(true, 1)
    types = filter_types(pad_roots(zeros), pad_roots(poles))
    expected = np.array(FILTER_TYPES)[truth.filter_type]
    return {
        "topology_accuracy": float(np.mean(topology == truth.family)),
        "pole_count_accuracy": float(pole_ok.mean()),
        "zero_count_accuracy": float(zero_ok.mean()),
        "count_accuracy": float((pole_ok & zero_ok).mean()),
        "tf_type_accuracy": float(np.mean(types == expected)),
        "matched_error_median": float(np.median(matched)) if len(matched) else float("nan"),
        "matched_error_p90": float(np.percentile(matched, 90)) if len(matched) else float("nan"),
        "pole_error_median": float(np.median(np.concatenate(pole_errors))) if pole_errors else float("nan"),
        "f1_at_5pct": 2 * precision * recall / max(precision + recall, 1e-12),
    }


_ROWS = (
    ("topology_accuracy", "topology accuracy", "pct"),
    ("pole_count_accuracy", "pole-count accuracy", "pct"),
    ("zero_count_accuracy", "zero-count accuracy", "pct"),
    ("count_accuracy", "both counts right", "pct"),
    ("tf_type_accuracy", "TF-type inference accuracy", "pct"),
    ("matched_error_median", "matched root error, median", "pct2"),
    ("matched_error_p90", "matched root error, 90th pct", "pct2"),
    ("f1_at_5pct", "F1 at 5%", "num"),
)


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per metric, one column per decoder."""
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label, style in _ROWS:
        cells = []
        for name in names:
            value = results[name].get(key, float("nan"))
            if not np.isfinite(value):
                cells.append("n/a")
            elif style == "pct":
                cells.append(f"{100 * value:.1f}%")
            elif style == "pct2":
                cells.append(f"{100 * value:.3g}%")
            else:
                cells.append(f"{value:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fit_decoded(family: np.ndarray, knobs: np.ndarray, response: np.ndarray, steps: int) -> np.ndarray:
    """The decoded component values fitted to the responses the encoder read (per predicted family)."""
    fitted = knobs.copy()
    if steps == 0:
        return fitted
    for index, fam in enumerate(FAMILIES):
        rows = np.flatnonzero(family == index)
        if len(rows):
            k = len(fam.knobs)
            fitted[rows, :k] = fit_response(fam, knobs[rows, :k], GRID_HZ, response[rows], steps=steps)
    return fitted


def _per_type(zeros: Any, poles: Any, truth: CircuitSet) -> dict[str, float]:
    types = filter_types(pad_roots(_as_lists(zeros)), pad_roots(_as_lists(poles)))
    expected = np.array(FILTER_TYPES)[truth.filter_type]
    return {t: float(np.mean(types[expected == t] == t)) for t in FILTER_TYPES if np.any(expected == t)}


def _zpk_response(zeros: np.ndarray, poles: np.ndarray, freqs_hz: np.ndarray, reference: np.ndarray, gain: float | None) -> np.ndarray:
    """``H`` on ``freqs_hz`` from roots; without a gain, scaled to ``reference`` (median log ratio where
    the reference is within 40 dB of its peak)."""
    s = 2j * np.pi * freqs_hz
    h = np.prod([s - z for z in zeros], axis=0) / np.prod([s - p for p in poles], axis=0) * np.ones_like(s)
    if gain is not None:
        return gain * h
    band = np.abs(reference) >= 0.01 * np.abs(reference).max()
    ratio = np.log(np.abs(reference[band])) - np.log(np.maximum(np.abs(h[band]), 1e-300))
    return h * float(np.exp(np.median(ratio)))


def evaluate_factory() -> Callable[..., dict[str, Any]]:
    """The registered ``circuitgen`` evaluator: returns :func:`evaluate`."""
    return evaluate


def evaluate(
    model: Any,
    baseline: Any,
    data: CircuitSet,
    test: np.ndarray,
    out_dir: Path,
    *,
    fit_steps: int = 12,
    examples: int = 6,
    histories: dict[str, list[dict[str, float]]] | None = None,
) -> dict[str, Any]:
    """Score both models on the test circuits; write ``evaluation.json``, ``table.md`` and PNG plots.

    Args:
        model: The trained :class:`~kaspix_circuitgen.models.SetDecoderModel`.
        baseline: The trained :class:`~kaspix_circuitgen.models.FixedPoleZeroBaseline`.
        data: All circuits; ``test`` indexes the test split.
        out_dir: Where the files go.
        fit_steps: Levenberg-Marquardt steps per stage of the "analytic + fit" decoder.
        examples: Circuits shown in the plots.
        histories: Training histories to plot, by model name.

    Returns:
        ``{"decoders": {name: metrics}, "tf_type_by_type": {name: {type: accuracy}}, "table": str}``.
    """
    from kaspix_circuitgen import plots
    from kaspix_circuitgen.batches import inputs
    from kaspix_circuitgen.inference import decoded_knobs, outputs

    truth = data.subset(test)
    features, spec = inputs(truth)
    out = outputs(model, features, spec)
    base = outputs(baseline, features)
    topology = out["topology"].argmax(-1)
    knobs = decoded_knobs(topology, out["components"])
    fitted = fit_decoded(topology, knobs, truth.response, fit_steps)
    raw_z, raw_p, raw_g = analytic_roots(topology, knobs)
    fit_z, fit_p, fit_g = analytic_roots(topology, fitted)
    predictions = {
        "fixed 2+2 (seed)": (base["topology"].argmax(-1), baseline_roots(base["zeros"]), baseline_roots(base["poles"]), None),
        "set decoder": (
            topology,
            set_roots(out["zero_logits"], out["zero_params"]),
            set_roots(out["pole_logits"], out["pole_params"]),
            None,
        ),
        "analytic": (topology, raw_z, raw_p, raw_g),
        "analytic + fit": (topology, fit_z, fit_p, fit_g),
    }
    lists = {name: (_as_lists(z), _as_lists(p)) for name, (_, z, p, _) in predictions.items()}
    results = {name: decoder_metrics(t, z, p, truth) for name, (t, z, p, _) in predictions.items()}
    by_type = {name: _per_type(z, p, truth) for name, (_, z, p, _) in predictions.items()}
    table = format_table(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    confusion = np.zeros((len(FAMILIES), len(FAMILIES)), dtype=int)
    np.add.at(confusion, (truth.family, topology), 1)
    names = [f.name for f in FAMILIES]
    plots.confusion_plot(confusion, names, out_dir / "topology_confusion.png")
    rng = np.random.default_rng(0)
    chosen = [
        int(rng.choice(np.flatnonzero(truth.family == i))) for i in rng.permutation(len(FAMILIES))[:examples] if np.any(truth.family == i)
    ]
    freqs = GRID_HZ
    shown = []
    for i in chosen:
        roots = {"true": (truth.zeros[i][~np.isnan(truth.zeros[i])], truth.poles[i][~np.isnan(truth.poles[i])])}
        responses = {"true": truth.response[i]}
        for name, (_, _z, _p, g) in predictions.items():
            zi, pi = lists[name][0][i], lists[name][1][i]
            roots[name] = (zi, pi)
            responses[name] = _zpk_response(zi, pi, freqs, truth.response[i], None if g is None else float(g[i]))
        shown.append(plots.Example(f"{names[truth.family[i]]} (test #{i})", roots, responses, freqs))
    plots.pole_zero_maps(shown, out_dir / "pole_zero_maps.png")
    plots.response_overlays(shown, out_dir / "response_overlays.png")
    if histories:
        plots.training_curves(histories, out_dir / "training_curves.png")
    report = {"decoders": results, "tf_type_by_type": by_type, "topology_confusion": confusion.tolist(), "families": names, "table": table}
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    (out_dir / "table.md").write_text(table + "\n")
    return report
