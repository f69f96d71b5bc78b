"""Spec-conditioned generation, scored: specs taken from test circuits, designs verified by simulation.

For each spec (the filter type, cutoff or centre frequency and Q of a held-out circuit) the model's
spec encoder proposes component values for every family of that type; :func:`kaspix_circuitgen.design.design_batch`
fits them to the spec by exact MNA, snaps them to the E-series and keeps the best circuit. Two
results are reported:

* **model proposal**: the family the model ranks first for the type, with its decoded values snapped
  to the nearest E-series values, measured by MNA (what the network alone gets right);
* **design**: the verified design (fit + E-series search).

Scores: right type (the type measured from the circuit's exact poles and zeros), frequency within 5%
and within 1%, Q within 10% (specs with a Q), netlist validity (the printed netlist reads back through
the spice plugin's template reader and gives the same response by MNA), and for a few designs the
largest deviation of ngspice's AC analysis from MNA.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kaspix_circuitgen.data import CircuitSet, spec_features
from kaspix_circuitgen.design import Design, Spec, candidate_families, design_batch, measure, objective, render_netlist, spice_check
from kaspix_circuitgen.eseries import nearest
from kaspix_circuitgen.families import FAMILIES, FILTER_TYPES, family_names
from kaspix_circuitgen.physics import knob_values_from_unit

__all__ = ["evaluate_generation", "sample_specs"]


def sample_specs(data: CircuitSet, test: np.ndarray, count: int, seed: int) -> list[tuple[int, Spec]]:
    """``count`` specs from test circuits, as evenly as possible over the families (seeded)."""
    rng = np.random.default_rng(seed + 2)
    per_family = [rng.permutation(test[data.family[test] == i]).tolist() for i in range(len(FAMILIES))]
    chosen: list[int] = []
    while len(chosen) < count and any(per_family):
        for rows in per_family:
            if rows and len(chosen) < count:
                chosen.append(rows.pop())
    specs = []
    for row in chosen:
        q = float(data.q[row])
        spec = Spec(FILTER_TYPES[int(data.filter_type[row])], float(data.frequency_hz[row]), q if math.isfinite(q) else None)
        specs.append((row, spec))
    return specs


def _rate(values: list[bool]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _proposals(model: Any, types: np.ndarray, spec_f: np.ndarray, spec_q: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The spec encoder's topology logits ``(N, families)`` and its part values for every family."""
    features = torch.from_numpy(spec_features(types, spec_f, spec_q))
    model.eval()
    values = {}
    with torch.no_grad():
        logits, _ = model.propose(features, torch.zeros(len(types), dtype=torch.long))
        for index, fam in enumerate(FAMILIES):
            unit = model.propose(features, torch.full((len(types),), index))[1].clamp(-0.5, 1.5)
            values[index] = knob_values_from_unit(fam, unit).numpy()
    return logits.numpy(), values


def _model_alone(
    logits: np.ndarray, proposals: dict[int, np.ndarray], candidates: list[list[int]], specs: tuple[np.ndarray, ...], series: str
) -> dict[str, list[bool]]:
    """Scores of the network alone: its first family among the candidates, values snapped to the series."""
    spec_f, spec_q, types = specs
    scores: dict[str, list[bool]] = {"right_type": [], "within_5pct": [], "within_1pct": [], "q_within_10pct": []}
    top = np.array([max(c, key=lambda i, row=row: logits[row, i]) for row, c in enumerate(candidates)])
    for index in np.unique(top):
        rows = np.flatnonzero(top == index)
        fam = FAMILIES[index]
        values = proposals[index][rows]
        if series.lower() != "exact":
            values = np.stack([nearest(values[:, j], series, *fam.design_range(k))[..., 0] for j, k in enumerate(fam.knobs)], axis=-1)
        _score_into(scores, measure(fam, values), spec_f[rows], spec_q[rows], types[rows])
    return scores


def _best_designs(
    proposals: dict[int, np.ndarray], candidates: list[list[int]], spec_f: np.ndarray, spec_q: np.ndarray, series: str, budget: int
) -> list[tuple[int, np.ndarray]]:
    """Per spec: the family and part values of the best verified design over its candidate families."""
    best: list[tuple[float, int, np.ndarray] | None] = [None] * len(candidates)
    for index, fam in enumerate(FAMILIES):
        rows = np.array([row for row, c in enumerate(candidates) if index in c], dtype=int)
        if len(rows) == 0:
            continue
        results = design_batch(fam, spec_f[rows], spec_q[rows], proposals[index][rows], series=series, budget=budget, keep=1)
        for row, [(values, _fitted, f_err, q_err)] in zip(rows, results, strict=True):
            score = float(objective(np.array(f_err), np.array(q_err)))
            if best[row] is None or score < best[row][0]:
                best[row] = (score, index, values)
    return [(index, values) for _, index, values in best]


def evaluate_generation(
    model: Any,
    data: CircuitSet,
    test: np.ndarray,
    out_dir: Path,
    *,
    specs: int = 240,
    series: str = "E24",
    budget: int = 512,
    ngspice_checks: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """Score spec-conditioned generation; write ``generation.json`` and every design's netlist under ``out_dir``."""
    from kaspix_spice.ac import ngspice_available

    chosen = sample_specs(data, test, specs, seed)
    types = np.array([FILTER_TYPES.index(s.filter_type) for _, s in chosen])
    spec_f = np.array([s.frequency_hz for _, s in chosen])
    spec_q = np.array([np.nan if s.q is None else s.q for _, s in chosen])
    names = family_names()
    candidates = [[names.index(f.name) for f in candidate_families(s, None)] for _, s in chosen]
    logits, proposals = _proposals(model, types, spec_f, spec_q)
    alone = _model_alone(logits, proposals, candidates, (spec_f, spec_q, types), series)
    final: dict[str, list[bool]] = {"right_type": [], "within_5pct": [], "within_1pct": [], "q_within_10pct": [], "netlist_valid": []}
    folder = out_dir / "netlists"
    folder.mkdir(parents=True, exist_ok=True)
    spice: list[dict[str, Any]] = []
    records = []
    for row, ((source, spec), (index, values)) in enumerate(
        zip(chosen, _best_designs(proposals, candidates, spec_f, spec_q, series, budget), strict=True)
    ):
        fam = FAMILIES[index]
        achieved = measure(fam, values[None])
        _score_into(final, achieved, spec_f[row : row + 1], spec_q[row : row + 1], types[row : row + 1])
        f_err = abs(float(achieved.frequency_hz[0]) / spec.frequency_hz - 1)
        q_err = abs(float(achieved.q[0]) / spec.q - 1) if spec.q else float("nan")
        d = Design(fam, dict(zip(fam.knobs, values.tolist(), strict=True)), {}, achieved, f_err, q_err, series)
        netlist = render_netlist(d, spec)
        path = folder / f"spec{row:03d}_{fam.name}.cir"
        path.write_text(netlist, encoding="utf-8")
        final["netlist_valid"].append(bool(abs(_read_back(path) / float(achieved.frequency_hz[0]) - 1) < 1e-6))
        if len(spice) < ngspice_checks and ngspice_available():
            spice.append({"design": path.name, **spice_check(d, spec, netlist)})
        records.append(
            {"test_circuit": int(source), "spec": spec.describe(), "family": fam.name, "frequency_error": f_err, "q_error": q_err}
        )
    report = {
        "specs": len(chosen),
        "series": series,
        "model_proposal": {k: _rate(v) for k, v in alone.items()},
        "design": {k: _rate(v) for k, v in final.items()},
        "ngspice": spice if spice else ("ngspice is not installed: AC check skipped" if not ngspice_available() else []),
        "designs": records,
    }
    (out_dir / "generation.json").write_text(json.dumps(report, indent=2))
    return report


def _read_back(path: Path) -> float:
    """The characteristic frequency of a netlist read back from its file by the spice plugin's reader (MNA)."""
    from kaspix_spice.mna import read_circuit

    from kaspix_circuitgen.characteristics import characteristics

    zpk = read_circuit(path).zpk()
    return float(characteristics(zpk.zeros.values, zpk.poles.values, zpk.gain).frequency_hz[0])


def _score_into(scores: dict[str, list[bool]], achieved: Any, spec_f: np.ndarray, spec_q: np.ndarray, types: np.ndarray) -> None:
    with np.errstate(invalid="ignore", divide="ignore"):
        f_err = np.abs(achieved.frequency_hz / spec_f - 1)
        q_err = np.abs(achieved.q / spec_q - 1)
    scores["right_type"] += list(achieved.filter_type == np.array(FILTER_TYPES)[types])
    scores["within_5pct"] += list(np.nan_to_num(f_err, nan=np.inf) <= 0.05)
    scores["within_1pct"] += list(np.nan_to_num(f_err, nan=np.inf) <= 0.01)
    scores["q_within_10pct"] += [bool(e <= 0.10) for e, q in zip(np.nan_to_num(q_err, nan=np.inf), spec_q, strict=True) if np.isfinite(q)]
