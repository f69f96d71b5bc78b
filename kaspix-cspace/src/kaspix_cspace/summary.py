"""The study's report: every claim of the seed next to the number this run measured.

Reads the JSON files the pipeline's steps wrote under ``artifacts/`` and returns one row per claim:
``key`` (stable, also a metric name), ``claim`` (what the seed says), ``measured`` (text),
``value`` (the number) and ``holds`` (True, False, or None when the claim has no threshold).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["study_summary", "summary_markdown"]

#: The seed's goal for codec SI-SNR on music it never saw.
OOD_SI_SNR_GOAL_DB = 20.0
#: The seed's bound on relative drift over 60 s.
DRIFT_BOUND = 1e-6


def _load(artifacts: Path, relative: str) -> dict[str, Any]:
    path = artifacts / relative
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _row(key: str, claim: str, value: Any, measured: str, holds: bool | None) -> dict[str, Any]:
    return {"key": key, "claim": claim, "value": value, "measured": measured, "holds": holds}


def _search_rows(prefix: str, label: str, result: dict[str, Any], at: int, shift: int) -> list[dict[str, Any]]:
    rows = []
    self_match = result.get("search_self", {})
    delayed = result.get("search_delayed", {})
    own = self_match.get("best_match", self_match.get("sum_match"))
    moved = delayed.get("best_match", delayed.get("sum_match"))
    if own is not None:
        rows.append(
            _row(
                f"{prefix}/self_match_error",
                f"{label}: the search finds the query sample itself",
                own - at,
                f"off by {own - at} samples",
                own == at,
            )
        )
    if moved is not None:
        error = moved - (at + shift)
        rows.append(
            _row(
                f"{prefix}/shift_match_error",
                f"{label}: on a copy delayed by {shift} samples, the match moves by {shift}",
                error,
                f"off by {error} samples",
                error == 0,
            )
        )
    robustness = result.get("robustness")
    if robustness and robustness.get("rows"):
        n = len(robustness["rows"])
        exact = sum(row.get("self_error") == 0 and row.get("shift_error") == 0 for row in robustness["rows"])
        rows.append(
            _row(
                f"{prefix}/robust_variants",
                f"{label}: the ruler holds across sizes, seeds and settings",
                exact / n,
                f"{exact} of {n} variants exact",
                exact == n,
            )
        )
    return rows


def study_summary(artifacts: str | Path, config: Any) -> dict[str, Any]:
    """Every measured claim of the study, from the files under ``artifacts``.

    Args:
        artifacts: The run's ``artifacts/`` folder.
        config: The run's :class:`~kaspix_cspace.pipeline_config.CSpaceStudyConfig`.

    Returns:
        ``{"claims": [row, ...], "codecs": {...}, "config": {...}}`` (JSON-ready).
    """
    artifacts = Path(artifacts)
    at = round(config.analysis.at_seconds * config.sample_rate)
    shift = config.analysis.shift
    claims: list[dict[str, Any]] = []
    claims += _search_rows("espace", "ESN", _load(artifacts, "espace/espace.json"), at, shift)
    cspace = _load(artifacts, "cspace/cspace.json")
    claims += _search_rows("cspace", "CSpace", cspace, at, shift)
    split = cspace.get("search_delayed", {})
    if "forward_lower_after" in split:
        holds = bool(split["forward_lower_after"] and split["backward_lower_before"])
        claims.append(
            _row(
                "cspace/split_triangulates",
                "CSpace: forward distance drops after the event, backward before it",
                int(holds),
                f"forward lower after: {split['forward_lower_after']}, backward lower before: {split['backward_lower_before']}",
                holds,
            )
        )
    landscape = _load(artifacts, "landscape/landscape.json").get("measures", {})
    for loss, m in landscape.items():
        claims.append(
            _row(
                f"landscape/{loss}_convex_bowl",
                f"{loss}: a smooth convex bowl around the true alignment" if loss == "cspace" else f"{loss}: flat or jagged (phase blind)",
                int(bool(m.get("convex_bowl"))),
                f"minimum at {m.get('argmin_shift')} samples, {m.get('local_minima')} local minima, "
                f"basin {m.get('basin_width')} samples, monotone {m.get('monotone_left', 0):.2f}/{m.get('monotone_right', 0):.2f}, "
                f"roughness {m.get('roughness', float('nan')):.2f}",
                bool(m.get("convex_bowl")) if loss == "cspace" else not bool(m.get("convex_bowl")),
            )
        )
    quantize = _load(artifacts, "quantize/quantize.json")
    if quantize:
        claims.append(
            _row(
                "quantize/landscape_correlation",
                "int8 landscape overlaps float32 almost perfectly",
                quantize["landscape_correlation"],
                f"correlation {quantize['landscape_correlation']:.6f}, same best match: {quantize['same_best_match']}, "
                f"{quantize['compression_ratio']:.1f}x smaller",
                bool(quantize["same_best_match"] and quantize["landscape_correlation"] > 0.99),
            )
        )
    drift = _load(artifacts, "drift/drift.json")
    for precision in ("float32", "float64"):
        if precision in drift:
            value = drift[precision]["max_relative"]
            claims.append(
                _row(
                    f"drift/{precision}_max_relative",
                    f"relative drift over {drift['seconds']:.0f} s below {DRIFT_BOUND:g} ({precision} convolution)",
                    value,
                    f"{value:.2e}",
                    value < DRIFT_BOUND,
                )
            )
    evaluation = _load(artifacts, "evaluation/evaluation.json")
    codecs: dict[str, Any] = {}
    for loss, result in evaluation.items():
        trained = _load(artifacts, f"codec_{loss.replace(':', '_')}/train.json")
        means = result.get("mean", {})
        codecs[loss] = {
            "steps": trained.get("steps"),
            "train_seconds": trained.get("seconds"),
            "latent_rate": result.get("latent_rate"),
            "speech_si_snr_db": means.get("speech", {}).get("si_snr_db"),
            "music_si_snr_db": means.get("music", {}).get("si_snr_db"),
        }
        music = codecs[loss]["music_si_snr_db"]
        if music is not None:
            claims.append(
                _row(
                    f"codec/{loss}_music_si_snr_db",
                    f"codec trained with {loss} only: SI-SNR > {OOD_SI_SNR_GOAL_DB:g} dB on music never seen",
                    music,
                    f"{music:.2f} dB on music-like, {codecs[loss]['speech_si_snr_db']:.2f} dB on held-out speech-like "
                    f"({codecs[loss]['steps']} steps, {codecs[loss]['latent_rate']:.0f} latent numbers/s)",
                    music > OOD_SI_SNR_GOAL_DB,
                )
            )
    return {"claims": claims, "codecs": codecs, "config": config.model_dump(mode="json")}


def summary_markdown(summary: dict[str, Any]) -> str:
    """The claims as a Markdown table, then the codecs side by side."""
    mark = {True: "holds", False: "does not hold", None: "-"}
    lines = ["# CSpace study: the seed's claims, measured", "", "| claim | measured | verdict |", "|---|---|---|"]
    lines += [f"| {row['claim']} | {row['measured']} | {mark[row['holds']]} |" for row in summary["claims"]]
    if summary["codecs"]:
        lines += [
            "",
            "## Codecs (equal steps)",
            "",
            "| loss | steps | train s | latent/s | speech SI-SNR dB | music SI-SNR dB |",
            "|---|---|---|---|---|---|",
        ]
        for loss, c in summary["codecs"].items():
            cells = [c["steps"], c["train_seconds"], c["latent_rate"], c["speech_si_snr_db"], c["music_si_snr_db"]]
            lines.append(f"| {loss} | " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in cells) + " |")
    return "\n".join(lines) + "\n"
