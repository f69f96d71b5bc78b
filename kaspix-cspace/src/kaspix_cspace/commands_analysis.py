"""``kaspix cspace`` analysis commands: spectrogram, search, robustness, landscape, quantize, drift.

Each reads the user's WAV files (float32 mono; stereo mixed down, other rates resampled with
``--sample-rate``; see :mod:`kaspix_cspace.audio`), runs one study of :mod:`kaspix_cspace.studies`,
writes its PNG at ``--out`` and prints a short summary, or JSON with ``--json``. Nothing heavy is
imported until a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kaspix_cspace.cli_common import at_option, emit, json_option, load_input, noisy_copy_options, out_option, sample_rate_option

__all__ = ["ANALYSIS_COMMANDS"]


def _bank(rate: int, oscillators: int, q: float) -> Any:
    from kaspix_cspace.bank import BankSpec

    return BankSpec(n_oscillators=oscillators, sample_rate=rate, q=q)


def _bank_options(default_q: float = 8.0) -> Any:
    def decorate(function: Any) -> Any:
        positive = click.FloatRange(min=0, min_open=True)
        function = click.option("--q", "q", type=positive, default=default_q, show_default=True, help="Oscillator quality factor.")(
            function
        )
        return click.option("--oscillators", type=click.IntRange(min=1), default=64, show_default=True, help="Oscillators in the bank.")(
            function
        )

    return decorate


@click.command("spectrogram")
@click.argument("file")
@at_option(required=False, help="Mark this sample on the plot.")
@_bank_options()
@sample_rate_option
@out_option("cspace_spectrogram.png")
@json_option
def spectrogram_command(file: str, at: int | None, oscillators: int, q: float, sample_rate: int | None, out: Path, as_json: bool) -> None:
    """Forward (past) and backward (future) oscillator magnitudes of FILE over time, as a PNG."""
    from kaspix_cspace.studies import spectrogram_study

    audio, rate, path = load_input(file, what="audio", sample_rate=sample_rate)
    result = spectrogram_study(audio, rate, out, spec=_bank(rate, oscillators, q), at=at, where=str(path))
    lines = [
        f"{path}: {result['samples']} samples at {rate} Hz, {oscillators} oscillators "
        f"{result['frequency_range_hz'][0]:.0f}..{result['frequency_range_hz'][1]:.0f} Hz, every {result['hop']} samples",
        f"peak magnitude: forward {result['peak_forward']:.3g}, backward {result['peak_backward']:.3g}",
    ]
    if at is not None:
        lines.append(
            f"strongest at sample {at}: forward {result['strongest_forward_hz_at']:.0f} Hz, "
            f"backward {result['strongest_backward_hz_at']:.0f} Hz"
        )
    emit([*lines, f"wrote {result['png']}"], result, as_json)


@click.command("search")
@click.argument("query")
@click.argument("target")
@at_option(help="Sample of QUERY whose state is searched for in TARGET.")
@click.option("--hop", type=click.IntRange(min=1), default=1, show_default=True, help="Search every HOP samples of TARGET.")
@_bank_options()
@sample_rate_option
@out_option("cspace_search.png")
@json_option
def search_command(
    query: str, target: str, at: int, hop: int, oscillators: int, q: float, sample_rate: int | None, out: Path, as_json: bool
) -> None:
    """Split-state search: forward-only, backward-only and summed distance curves of QUERY's state at --at in TARGET."""
    from kaspix_cspace.studies import search_study

    query_audio, rate, query_path = load_input(query, what="query audio", sample_rate=sample_rate)
    target_audio, _, _ = load_input(target, what="target audio", sample_rate=rate)
    spec = _bank(rate, oscillators, q)
    result = search_study(query_audio, target_audio, rate, at, out, spec=spec, hop=hop, where=str(query_path))
    lines = [
        f"best match (forward + backward): sample {result['sum_match']} (distance {result['sum_distance']:.4g}, "
        f"offset {result['sum_match'] - at:+d} from --at), V sharpness {result['sum_sharpness']:.3g}",
        f"forward only: sample {result['forward_match']}, sharpness {result['forward_sharpness']:.3g}; "
        f"lower after the match than before: {result['forward_lower_after']}",
        f"backward only: sample {result['backward_match']}, sharpness {result['backward_sharpness']:.3g}; "
        f"lower before the match than after: {result['backward_lower_before']}",
        f"wrote {result['png']}",
    ]
    emit(lines, result, as_json)


@click.command("robustness")
@click.argument("file")
@at_option()
@noisy_copy_options
@sample_rate_option
@out_option("cspace_robustness.png")
@json_option
def robustness_command(
    file: str, at: int, shift: int, snr_db: float, seed: int, radius: int | None, sample_rate: int | None, out: Path, as_json: bool
) -> None:
    """The split search over bank sizes, Q rules and jitter seeds: match errors and V sharpness per bank."""
    from kaspix_cspace.studies import robustness_study

    audio, rate, path = load_input(file, what="audio", sample_rate=sample_rate)
    result = robustness_study(audio, rate, at, out, shift=shift, snr_db=snr_db, radius=radius, seed=seed, where=str(path))
    lines = [f"{'bank':<20} {'self err':>8} {'shift err':>9} {'sharp self':>10} {'sharp shift':>11}"]
    lines += [
        f"{r['label']:<20} {r['self_error']:>8d} {r['shift_error']:>9d} {r['self_sharpness']:>10.3g} {r['shift_sharpness']:>11.3g}"
        for r in result["rows"]
    ]
    lines.append(
        f"exact matches: itself {result['exact_self_matches']}/{result['variants']}, "
        f"delayed by {shift} at {snr_db:g} dB SNR {result['exact_shift_matches']}/{result['variants']}"
    )
    emit([*lines, f"wrote {result['png']}"], result, as_json)


@click.command("landscape")
@click.argument("file")
@at_option(help="First sample of the reference segment.")
@click.option("--length", type=click.IntRange(min=1), help="Segment length in samples (default 0.25 s).")
@click.option("--max-shift", type=click.IntRange(min=1), help="Largest shift in samples (default 20 ms).")
@click.option("--step", type=click.IntRange(min=1), default=2, show_default=True, help="Shift step in samples.")
@sample_rate_option
@out_option("cspace_landscape.png")
@json_option
def landscape_command(
    file: str, at: int, length: int | None, max_shift: int | None, step: int, sample_rate: int | None, out: Path, as_json: bool
) -> None:
    """Loss of a segment against itself shifted by -N..+N samples, for mel, mrstft and cspace, with measures."""
    from kaspix_cspace.studies import landscape_study

    audio, rate, path = load_input(file, what="audio", sample_rate=sample_rate)
    result = landscape_study(audio, rate, at, out, length=length, max_shift=max_shift, step=step, where=str(path))
    lines = [f"shifts -{result['max_shift']}..+{result['max_shift']} (step {step}) of {result['length']} samples at {at}:"]
    lines.append(f"{'loss':<8} {'argmin':>6} {'minima':>6} {'basin':>6} {'monotone L/R':>13} {'convex':>6} {'rough':>6} {'rival':>6} bowl")
    for name, m in result["measures"].items():
        lines.append(
            f"{name:<8} {m['argmin_shift']:>6d} {m['local_minima']:>6d} {m['basin_width']:>6d} "
            f"{m['monotone_left']:>6.2f}/{m['monotone_right']:<6.2f} {m['convex_fraction']:>6.2f} {m['roughness']:>6.2f} "
            f"{m['rival_depth']:>6.3f} {m['convex_bowl']}"
        )
    emit([*lines, f"wrote {result['png']}"], result, as_json)


@click.command("quantize")
@click.argument("file")
@at_option(help="Query sample and start of the landscape segment.")
@_bank_options()
@sample_rate_option
@out_option("cspace_quantize.png")
@json_option
def quantize_command(file: str, at: int, oscillators: int, q: float, sample_rate: int | None, out: Path, as_json: bool) -> None:
    """Int8 per-channel affine quantization of the embeddings: search and landscape, int8 vs float32."""
    from kaspix_cspace.studies import quantize_study

    audio, rate, path = load_input(file, what="audio", sample_rate=sample_rate)
    result = quantize_study(audio, rate, at, out, spec=_bank(rate, oscillators, q), where=str(path))
    lines = [
        f"compression {result['compression_ratio']:.2f}x; round-trip error {result['max_error']:.3g} <= bound "
        f"{result['error_bound']:.3g}: {result['bound_holds']}",
        f"search: correlation {result['search_correlation']:.6f}, best match float {result['best_match_float']} "
        f"int8 {result['best_match_int8']} (same: {result['same_best_match']})",
        f"landscape: correlation {result['landscape_correlation']:.6f}, argmin float {result['landscape_argmin_float']:+d} "
        f"int8 {result['landscape_argmin_int8']:+d}",
        f"wrote {result['png']}",
    ]
    emit(lines, result, as_json)


@click.command("drift")
@click.argument("file")
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Length tested; a shorter file is looped.",
)
@click.option(
    "--precision",
    type=click.Choice(["float32", "float64", "both"]),
    default="both",
    show_default=True,
    help="Precision of the FFT path.",
)
@_bank_options(default_q=1000.0)
@sample_rate_option
@out_option("cspace_drift.png")
@json_option
def drift_command(
    file: str, seconds: float, precision: str, oscillators: int, q: float, sample_rate: int | None, out: Path, as_json: bool
) -> None:
    """States of the FFT bank vs the float64 recurrence over --seconds: relative drift against time."""
    from kaspix_cspace.studies import drift_study

    audio, rate, path = load_input(file, what="audio", sample_rate=sample_rate)
    precisions = ("float32", "float64") if precision == "both" else (precision,)
    result = drift_study(audio, rate, out, spec=_bank(rate, oscillators, q), seconds=seconds, precisions=precisions)
    lines = [f"{path}: {result['seconds']:g} s{' (looped)' if result['looped'] else ''}, {oscillators} oscillators, Q {q:g}"]
    for p in precisions:
        r = result[p]
        lines.append(
            f"{p}: max relative drift {r['max_relative']:.3g} (last second {r['final_relative']:.3g}), "
            f"worst channel {r['max_worst_channel']:.3g}; <= 1e-6: {r['max_relative'] <= 1e-6}"
        )
    emit([*lines, f"wrote {result['png']}"], result, as_json)


#: The analysis commands, registered by the plugin as ``kaspix cspace <name>``.
ANALYSIS_COMMANDS = (spectrogram_command, search_command, robustness_command, landscape_command, quantize_command, drift_command)
