"""The CSpace analyses as functions of audio: each computes its numbers, writes its PNG and returns a result dict.

Used by the ``kaspix cspace`` commands (on the user's WAV files) and by the default pipeline (on
synthesized audio). Results hold plain numbers, short lists and the PNG path (``"png"``), ready
for JSON. Mistakes in the arguments (``at`` out of range, a segment that does not fit) raise
:class:`kaspix.KaspixError` naming ``where`` (the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from kaspix import KaspixError

from kaspix_cspace.analysis_plots import plot_drift, plot_landscape, plot_quantize, plot_robustness, plot_spectrogram, plot_split_search
from kaspix_cspace.audio import check_sample_index
from kaspix_cspace.bank import BankSpec, bank_features, features_at, oscillator_states, output_times
from kaspix_cspace.drift import drift_report, loop_to_length
from kaspix_cspace.landscape import DEFAULT_LOSSES, landscape_losses, landscape_measures, shift_landscape
from kaspix_cspace.quantize import compare_quantized
from kaspix_cspace.robustness import DEFAULT_VARIANTS, robustness_table
from kaspix_cspace.search import best_match, v_sharpness
from kaspix_cspace.split_search import split_curves

__all__ = [
    "MAX_FEATURE_BYTES",
    "bank_for",
    "drift_study",
    "landscape_study",
    "quantize_study",
    "robustness_study",
    "search_study",
    "spectrogram_study",
]

#: The largest full feature array a study builds in memory (search targets).
MAX_FEATURE_BYTES = 1 << 30


def bank_for(rate: int, spec: BankSpec | None = None) -> BankSpec:
    """``spec`` (default :class:`~kaspix_cspace.bank.BankSpec`) at sample rate ``rate``."""
    return (spec or BankSpec()).with_(sample_rate=rate)


def spectrogram_study(
    audio: np.ndarray,
    rate: int,
    out: Path,
    *,
    spec: BankSpec | None = None,
    at: int | None = None,
    columns: int = 2000,
    where: str = "audio",
) -> dict[str, Any]:
    """Forward and backward state magnitudes over time (every ``T / columns`` samples), as a PNG."""
    spec = bank_for(rate, spec)
    if at is not None:
        check_sample_index(at, audio.shape[0], where)
    hop = max(1, audio.shape[0] // columns)
    poles, gains = spec.poles(), spec.gains()
    forward = np.abs(oscillator_states(audio, poles, hop=hop)) * gains
    backward = np.abs(oscillator_states(audio, poles, hop=hop, direction="backward")) * gains
    times = output_times(audio.shape[0], hop)
    png = plot_spectrogram(audio, rate, times, spec.frequencies(), forward, backward, at, out)
    result: dict[str, Any] = {
        "samples": audio.shape[0],
        "sample_rate": rate,
        "oscillators": spec.n_oscillators,
        "frequency_range_hz": [float(spec.frequencies()[0]), float(spec.frequencies()[-1])],
        "hop": hop,
        "peak_forward": float(forward.max()),
        "peak_backward": float(backward.max()),
        "png": str(png),
    }
    if at is not None:
        i = min(at // hop, len(times) - 1)
        result["at"] = at
        result["strongest_forward_hz_at"] = float(spec.frequencies()[int(np.argmax(forward[i]))])
        result["strongest_backward_hz_at"] = float(spec.frequencies()[int(np.argmax(backward[i]))])
    return result


def search_study(
    query: np.ndarray,
    target: np.ndarray,
    rate: int,
    at: int,
    out: Path,
    *,
    spec: BankSpec | None = None,
    hop: int = 1,
    zoom: int | None = None,
    where: str = "query",
) -> dict[str, Any]:
    """Split search of the query's state at ``at`` in the target: forward, backward and summed curves.

    The target's states are computed every ``hop`` samples on the grid through ``at % hop``.
    ``zoom`` (default 10 ms) is the half-width of the zoomed plot and of the windows in which the
    forward and backward distances are compared before and after the match.
    """
    spec = bank_for(rate, spec)
    check_sample_index(at, query.shape[0], where)
    offset = at % hop
    if offset >= target.shape[0]:
        raise KaspixError(f"the target ({target.shape[0]} samples) is shorter than the hop grid offset {offset}", where=where)
    n_out = len(range(offset, target.shape[0], hop))
    if n_out * 4 * spec.n_oscillators * 4 > MAX_FEATURE_BYTES:
        raise KaspixError(
            f"the target's full features would take {n_out * 16 * spec.n_oscillators / 2**30:.1f} GiB",
            where=where,
            hint=f"search every few samples with --hop (e.g. --hop {-(-n_out * 16 * spec.n_oscillators // MAX_FEATURE_BYTES) * hop})",
        )
    zoom = zoom or max(1, rate // 100)
    curves = split_curves(features_at(query, spec, at), bank_features(target, spec, hop=hop, offset=offset))
    times = output_times(target.shape[0], hop, offset)
    width = max(1, rate // 2000)
    result: dict[str, Any] = {"at": at, "hop": hop, "target_samples": target.shape[0], "sharpness_width": width * hop}
    for name, curve in curves.items():
        index, distance = best_match(curve)
        result[f"{name}_match"] = int(times[index])
        result[f"{name}_distance"] = distance
        result[f"{name}_sharpness"] = v_sharpness(curve, index, max(1, width // hop))
    match = result["sum_match"]
    before = (times >= match - zoom) & (times < match)
    after = (times > match) & (times <= match + zoom)
    for name in ("forward", "backward"):
        curve = curves[name]
        mean_before = float(curve[before].mean()) if before.any() else float("nan")
        mean_after = float(curve[after].mean()) if after.any() else float("nan")
        result[f"{name}_mean_before"] = mean_before
        result[f"{name}_mean_after"] = mean_after
    result["forward_lower_after"] = bool(result["forward_mean_after"] < result["forward_mean_before"])
    result["backward_lower_before"] = bool(result["backward_mean_before"] < result["backward_mean_after"])
    result["png"] = str(plot_split_search(curves, times, at, match, zoom, out))
    return result


def robustness_study(
    audio: np.ndarray,
    rate: int,
    at: int,
    out: Path,
    *,
    spec: BankSpec | None = None,
    shift: int = 37,
    snr_db: float = 20.0,
    radius: int | None = None,
    variants: tuple[tuple[str, dict[str, Any]], ...] = DEFAULT_VARIANTS,
    seed: int = 0,
    where: str = "audio",
) -> dict[str, Any]:
    """:func:`~kaspix_cspace.robustness.robustness_table` plus its PNG and a count of exact matches."""
    spec = bank_for(rate, spec)
    check_sample_index(at, audio.shape[0], where)
    radius = radius or rate // 2
    if at + shift >= min(audio.shape[0], at + radius + 1) or shift < 0:
        raise KaspixError(
            f"the shifted match at {at} + {shift} falls outside the searched excerpt",
            where=where,
            hint=f"choose --at below {audio.shape[0] - shift} and a shift below the search radius {radius}",
        )
    rows = robustness_table(audio, at, spec, variants=variants, radius=radius, shift=shift, snr_db=snr_db, seed=seed)
    png = plot_robustness(rows, out)
    return {
        "at": at,
        "shift": shift,
        "snr_db": snr_db,
        "radius": radius,
        "rows": rows,
        "exact_self_matches": sum(row["self_error"] == 0 for row in rows),
        "exact_shift_matches": sum(row["shift_error"] == 0 for row in rows),
        "variants": len(rows),
        "png": str(png),
    }


def landscape_study(
    audio: np.ndarray,
    rate: int,
    at: int,
    out: Path,
    *,
    length: int | None = None,
    max_shift: int | None = None,
    step: int = 2,
    losses: tuple[str, ...] = DEFAULT_LOSSES,
    where: str = "audio",
) -> dict[str, Any]:
    """Loss of ``audio[at : at + length]`` against itself shifted by ``-max_shift .. max_shift`` (defaults 0.25 s, 20 ms)."""
    check_sample_index(at, audio.shape[0], where)
    length = length or rate // 4
    max_shift = max_shift or rate // 50
    shifts, curves = shift_landscape(audio, at, length=length, max_shift=max_shift, losses=landscape_losses(rate, losses), step=step)
    measures = {name: landscape_measures(shifts, curve) for name, curve in curves.items()}
    png = plot_landscape(shifts, curves, measures, out)
    return {
        "at": at,
        "length": length,
        "max_shift": max_shift,
        "step": step,
        "measures": measures,
        "shifts": shifts,
        "curves": curves,
        "png": str(png),
    }


def quantize_study(
    audio: np.ndarray,
    rate: int,
    at: int,
    out: Path,
    *,
    spec: BankSpec | None = None,
    length: int | None = None,
    max_shift: int | None = None,
    radius: int | None = None,
    where: str = "audio",
) -> dict[str, Any]:
    """Int8 vs float32 embeddings: search and embedding landscape on the excerpt ``at +- radius`` (default 1 s).

    The landscape compares ``length`` samples (default 0.25 s) shifted by up to ``max_shift`` (20 ms).
    """
    spec = bank_for(rate, spec)
    check_sample_index(at, audio.shape[0], where)
    length = length or rate // 4
    max_shift = max_shift or rate // 50
    radius = max(radius or rate, max_shift + length)
    lo, hi = max(0, at - radius), min(audio.shape[0], at + radius)
    if at - max_shift < lo or at + max_shift + length > hi:
        raise KaspixError(
            f"the segment {at} .. {at + length} shifted by +-{max_shift} samples does not fit in the audio ({audio.shape[0]} samples)",
            where=where,
            hint=f"choose --at between {max_shift} and {audio.shape[0] - max_shift - length}",
        )
    features = bank_features(audio[lo:hi], spec)
    measures, curves = compare_quantized(features, features, at - lo, length=length, max_shift=max_shift)
    png = plot_quantize(curves, np.arange(lo, hi), out)
    measures["best_match_float"] += lo
    measures["best_match_int8"] += lo
    return {"at": at, "excerpt": [lo, hi], "length": length, "max_shift": max_shift, **measures, "png": str(png)}


def drift_study(
    audio: np.ndarray,
    rate: int,
    out: Path,
    *,
    spec: BankSpec | None = None,
    seconds: float = 60.0,
    precisions: tuple[str, ...] = ("float32", "float64"),
) -> dict[str, Any]:
    """FFT bank vs the float64 recurrence over ``seconds`` of the audio, looped if it is shorter."""
    spec = bank_for(rate, spec)
    n = round(seconds * rate)
    if n < 1:
        raise KaspixError(f"--seconds must be positive, got {seconds}", where="--seconds")
    looped = audio.shape[0] < n
    x = loop_to_length(audio, n)
    report = drift_report(x, spec, precisions=precisions)  # type: ignore[arg-type]
    png = plot_drift(report, precisions, out)
    result: dict[str, Any] = {"seconds": n / rate, "looped": looped, "oscillators": spec.n_oscillators, "q": spec.q, "png": str(png)}
    for p in precisions:
        result[p] = {k: report[p][k] for k in ("max_relative", "max_worst_channel", "final_relative")}
        result[p]["relative_per_second"] = report[p]["relative"]
    return result
