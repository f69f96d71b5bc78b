"""``kaspix cspace`` ESpace commands: esn-spectrogram, esn-search, esn-robustness.

Each reads the user's WAV files (float32 mono; stereo mixed down, other rates resampled with
``--sample-rate``; see :mod:`kaspix_cspace.audio`), runs one study of :mod:`kaspix_cspace.espace`
on the Rust reservoir ``kaspix_esn``, writes its PNG at ``--out`` and prints a short summary, or
JSON with ``--json``. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kaspix_cspace.cli_common import at_option, emit, json_option, load_input, noisy_copy_options, out_option, sample_rate_option

__all__ = ["ESPACE_COMMANDS"]


def _reservoir_options(function: Any) -> Any:
    """``--units``, ``--seed``, ``--sparsity``, ``--precision``: the reservoir (log-spaced leak rates 0.01..1)."""
    function = click.option(
        "--precision", type=click.Choice(["float64", "float32"]), default="float64", show_default=True, help="Float type of the states."
    )(function)
    function = click.option(
        "--sparsity",
        type=click.FloatRange(min=0, max=1, max_open=True),
        default=0.9,
        show_default=True,
        help="Fraction of zero weights in the recurrent matrix.",
    )(function)
    function = click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the reservoir's weights.")(
        function
    )
    return click.option("--units", type=click.IntRange(min=1, max=4096), default=64, show_default=True, help="Reservoir units.")(function)


def _spec(units: int, seed: int, sparsity: float, precision: str) -> Any:
    from kaspix_cspace.espace import EsnSpec

    return EsnSpec(n_units=units, seed=seed, sparsity=sparsity, precision=precision)


@click.command("esn-spectrogram")
@click.argument("file")
@at_option(required=False, help="Mark this sample on the plot.")
@_reservoir_options
@sample_rate_option
@out_option("esn_spectrogram.png")
@json_option
def esn_spectrogram_command(
    file: str, at: int | None, units: int, seed: int, sparsity: float, precision: str, sample_rate: int | None, out: Path, as_json: bool
) -> None:
    """Echo-state reservoir states of FILE over time (units sorted by leak rate) under the waveform, as a PNG."""
    from kaspix_cspace.espace import esn_spectrogram_study

    audio, rate, path = load_input(file, what="audio", sample_rate=sample_rate)
    result = esn_spectrogram_study(audio, rate, out, spec=_spec(units, seed, sparsity, precision), at=at, where=str(path))
    low, high = result["leak_rate_range"]
    lines = [
        f"{path}: {result['samples']} samples at {rate} Hz, {units} units (leak rates {low:g}..{high:g}, {precision}), "
        f"plotted every {result['hop']} samples",
        f"peak |state| {result['peak_abs_state']:.3g}; state std over time: fastest quarter of units "
        f"{result['std_fastest_quarter']:.3g}, slowest quarter {result['std_slowest_quarter']:.3g}",
    ]
    if at is not None:
        strongest = result["strongest_unit_at"]
        lines.append(
            f"at sample {at}: |state| {result['state_norm_at']:.3g}, "
            f"strongest unit {strongest['unit']} (leak rate {strongest['leak_rate']:.3g})"
        )
    emit([*lines, f"wrote {result['png']}"], result, as_json)


@click.command("esn-search")
@click.argument("query")
@click.argument("target")
@at_option(help="Sample of QUERY whose reservoir state is searched for in TARGET.")
@_reservoir_options
@sample_rate_option
@out_option("esn_search.png")
@json_option
def esn_search_command(
    query: str,
    target: str,
    at: int,
    units: int,
    seed: int,
    sparsity: float,
    precision: str,
    sample_rate: int | None,
    out: Path,
    as_json: bool,
) -> None:
    """Euclidean distance from QUERY's reservoir state at --at to every state of TARGET; the best match and the V."""
    from kaspix_cspace.espace import esn_search_study

    query_audio, rate, query_path = load_input(query, what="query audio", sample_rate=sample_rate)
    target_audio, _, _ = load_input(target, what="target audio", sample_rate=rate)
    spec = _spec(units, seed, sparsity, precision)
    result = esn_search_study(query_audio, target_audio, rate, at, out, spec=spec, where=str(query_path))
    lines = [
        f"best match: sample {result['best_match']} (distance {result['distance']:.4g}, offset {result['offset']:+d} from --at)",
        f"V sharpness {result['sharpness']:.3g} at +-{result['sharpness_width']} samples; closest rival sample "
        f"{result['runner_up']} at {result['margin']:.3g} x the median distance {result['median_distance']:.4g}",
        f"wrote {result['png']}",
    ]
    emit(lines, result, as_json)


@click.command("esn-robustness")
@click.argument("file")
@at_option()
@noisy_copy_options
@click.option(
    "--precision", type=click.Choice(["float64", "float32"]), default="float64", show_default=True, help="Float type of the states."
)
@sample_rate_option
@out_option("esn_robustness.png")
@json_option
def esn_robustness_command(
    file: str,
    at: int,
    shift: int,
    snr_db: float,
    seed: int,
    radius: int | None,
    precision: str,
    sample_rate: int | None,
    out: Path,
    as_json: bool,
) -> None:
    """The reservoir search over network sizes (16-256), seeds and sparsity levels, in FILE itself, a delayed
    copy and a delayed noisy copy: match errors and V sharpness."""
    from kaspix_cspace.espace import EsnSpec, esn_robustness_study

    audio, rate, path = load_input(file, what="audio", sample_rate=sample_rate)
    spec = EsnSpec(precision=precision)
    result = esn_robustness_study(audio, rate, at, out, spec=spec, shift=shift, snr_db=snr_db, radius=radius, seed=seed, where=str(path))
    lines = [
        f"match error (samples) and V sharpness in: the audio itself, delayed by {shift}, delayed + noise at {snr_db:g} dB SNR",
        f"{'reservoir':<14} {'self':>5} {'delay':>6} {'noisy':>6}  {'sharp':>5} {'delay':>5} {'noisy':>5}  {'margin':>6}",
    ]
    lines += [
        f"{r['label']:<14} {r['self_error']:>5d} {r['shift_error']:>6d} {r['noisy_error']:>6d}  "
        f"{r['self_sharpness']:>5.2f} {r['shift_sharpness']:>5.2f} {r['noisy_sharpness']:>5.2f}  {r['margin']:>6.3f}"
        for r in result["rows"]
    ]
    n = result["variants"]
    lines.append(
        f"exact matches: itself {result['exact_self_matches']}/{n}, delayed {result['exact_shift_matches']}/{n}, "
        f"delayed + noise {result['exact_noisy_matches']}/{n} (margin: closest rival beyond +-{result['sharpness_width']} "
        "samples / median distance)"
    )
    emit([*lines, f"wrote {result['png']}"], result, as_json)


#: The commands, in the order ``kaspix cspace --help`` lists them.
ESPACE_COMMANDS = (esn_spectrogram_command, esn_search_command, esn_robustness_command)
