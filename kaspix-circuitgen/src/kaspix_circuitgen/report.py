"""``report.md``: the decoders side by side, spec-conditioned generation, and the targets met or not."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "write_report"]

#: (metric, threshold, at least?) per target; decoder metrics are checked for the set and analytic decoders.
TARGETS = (
    ("topology_accuracy", 0.99, True),
    ("count_accuracy", 0.99, True),
    ("tf_type_accuracy", 0.99, True),
    ("matched_error_median", 0.02, False),
)
GENERATION_TARGETS = (("within_5pct", 0.90), ("within_1pct", 0.50))


def _pct(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}%"


def write_report(path: Path, evaluation: dict[str, Any], generation: dict[str, Any]) -> dict[str, float]:
    """Write the report; return ``{target: 1.0 met / 0.0 missed}``."""
    decoders = evaluation["decoders"]
    met: dict[str, float] = {}
    lines = ["# circuitgen: test split", "", evaluation["table"], "", "TF-type inference accuracy by true type:", ""]
    names = list(evaluation["tf_type_by_type"])
    types = list(next(iter(evaluation["tf_type_by_type"].values())))
    lines += ["| type | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for t in types:
        lines.append(f"| {t} | " + " | ".join(_pct(evaluation["tf_type_by_type"][n].get(t, float("nan"))) for n in names) + " |")
    lines += [
        "",
        "## Spec-conditioned generation",
        "",
        f"{generation['specs']} specs from test circuits, {generation['series']} values.",
        "",
    ]
    lines += ["| score | model proposal | verified design |", "|---|---:|---:|"]
    for key in ("right_type", "within_5pct", "within_1pct", "q_within_10pct", "netlist_valid"):
        lines.append(
            f"| {key} | {_pct(generation['model_proposal'].get(key, float('nan')))} | {_pct(generation['design'].get(key, float('nan')))} |"
        )
    spice = generation.get("ngspice")
    if isinstance(spice, list) and spice:
        worst = max(item["max_relative_deviation"] for item in spice)
        lines += ["", f"ngspice AC analysis of {len(spice)} designs: largest deviation from MNA {worst:.2g} (relative)."]
    elif isinstance(spice, str):
        lines += ["", spice]
    lines += ["", "## Targets", "", "| target | decoder | value | met |", "|---|---|---:|---|"]
    for key, threshold, at_least in TARGETS:
        for decoder in ("set decoder", "analytic", "analytic + fit"):
            value = decoders[decoder][key]
            ok = value >= threshold if at_least else value <= threshold
            met[f"{key}/{decoder.replace(' ', '_')}"] = float(ok)
            sign = ">=" if at_least else "<="
            lines.append(f"| {key} {sign} {_pct(threshold)} | {decoder} | {_pct(value)} | {'yes' if ok else 'NO'} |")
    for key, threshold in GENERATION_TARGETS:
        value = generation["design"][key]
        ok = value >= threshold
        met[f"generation/{key}"] = float(ok)
        lines.append(f"| design {key} >= {_pct(threshold)} | verified design | {_pct(value)} | {'yes' if ok else 'NO'} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return met
