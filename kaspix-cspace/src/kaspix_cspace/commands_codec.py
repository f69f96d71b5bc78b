"""``kaspix cspace train-codec | codec | fidelity``: train the codec, run it over a file, score a reconstruction.

Light at import time (click and kaspix only); torch loads when a command runs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
from kaspix import KaspixError

from kaspix_cspace.cli_common import DEFAULT_OUT_DIR, emit, input_wav_path, json_option

__all__ = ["CODEC_COMMANDS", "codec_command", "fidelity_command", "train_codec_command"]


def _data_fields(data: str) -> dict[str, Any]:
    """``synth`` -> the synthesized speech-like source; ``libritts:DIR`` -> LibriTTS; ``DIR`` -> a WAV folder."""
    if data == "synth":
        return {"data": "synth_speech"}
    kind, _, root = data.partition(":") if data.startswith("libritts:") else ("wav_folder", "", data)
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise KaspixError(
            "training data folder not found" if not folder.exists() else "training data path is not a folder",
            where=str(folder),
            hint="--data takes 'synth', a folder of WAV files, or libritts:FOLDER",
        )
    return {"data": kind, "data_args": {"root": str(folder.resolve())}}


@click.command("train-codec")
@click.argument("validation", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--loss", type=click.Choice(["cspace", "mrstft"]), default=None, help="The only training loss [default: cspace].")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimizer steps [default: 400].")
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=None,
    help="Steps between checkpoints [default: 200; with --steps N: N up to 500, else a divisor of N that divides 500].",
)
@click.option("--data", default=None, help="synth (speech-like, default), a folder of WAVs, or libritts:FOLDER.")
@click.option("--size", type=click.Choice(["small", "full"]), default=None, help="Model size [default: small].")
@click.option("--device", default=None, help="cpu, cuda or auto [default: cpu].")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML with CodecConfig fields.")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE", help="Override a config field, e.g. --set lr=1e-3.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Output folder [default: results/codec_<loss>]."
)
@json_option
def train_codec_command(
    validation: Path | None,
    loss: str | None,
    steps: int | None,
    checkpoint_every: int | None,
    data: str | None,
    size: str | None,
    device: str | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    out: Path | None,
    as_json: bool,
) -> None:
    """Train the codec on one loss; every checkpoint writes the VALIDATION file's reconstruction and fidelity.

    Without VALIDATION a held-out speech-like clip is synthesized. The result is OUT/codec.pt, for
    `kaspix cspace codec`. Rerunning into the same OUT resumes an interrupted training.
    """
    import logging

    from kaspix.config import apply_overrides, read_yaml_mapping, validate_config

    from kaspix_cspace.codec_config import CodecConfig
    from kaspix_cspace.codec_train import train_codec

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if validation is not None:
        validation = input_wav_path(validation, what="validation audio")
    fields = apply_overrides(read_yaml_mapping(config_path) if config_path is not None else {}, overrides)
    given = {"loss": loss, "steps": steps, "checkpoint_every": checkpoint_every, "device": device}
    fields.update({k: v for k, v in given.items() if v is not None})
    fields.update(_data_fields(data) if data else {})
    if size:
        fields["model"] = {**(fields.get("model") or {}), "size": size}
    if "checkpoint_every" not in fields and "steps" in fields and isinstance(fields["steps"], int):
        fields["checkpoint_every"] = math.gcd(fields["steps"], 500) if fields["steps"] > 500 else fields["steps"]
    cfg = validate_config(
        CodecConfig, fields, source=str(config_path or "train-codec options"), overridden={o.partition("=")[0] for o in overrides}
    )
    folder = out or DEFAULT_OUT_DIR / f"codec_{cfg.loss}"
    result = train_codec(cfg, None, folder, validation=validation)
    final = result["final"]
    emit(
        [
            f"trained the codec with the {result['loss']} loss: {result['steps']} steps in {result['seconds']:.1f} s "
            f"({result['steps_per_second']:.2f} steps/s), latent rate {result['latent_rate']:.0f} numbers/s",
            f"validation ({result['validation']}): SI-SNR {final['si_snr_db']:.2f} dB, MSE {final['mse']:.3g}, "
            f"CSpace error {final['cspace_error_db']:.2f} dB",
            f"wrote {result['checkpoint']} and the reconstructions in {folder / 'checkpoints'}",
        ],
        result,
        as_json,
    )


@click.command("codec")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("input_wav", metavar="IN.wav")
@click.argument("output_wav", metavar="OUT.wav", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--chunk-seconds", type=click.FloatRange(min=0.01), default=5.0, show_default=True, help="Chunk length of the inference.")
@json_option
def codec_command(checkpoint: Path, input_wav: str, output_wav: Path, chunk_seconds: float, as_json: bool) -> None:
    """Encode and decode IN.wav with a trained codec into OUT.wav (any length; chunks with context, no seams)."""
    from kaspix_cspace.codec_infer import codec_file

    path = input_wav_path(input_wav, what="input audio")
    result: dict[str, Any] = codec_file(checkpoint, path, output_wav, chunk_seconds=chunk_seconds)
    emit(
        [
            f"wrote {result['out']}: {result['samples']} samples at {result['sample_rate']} Hz ({result['seconds']:.2f} s)",
            f"chunks of {result['chunk_samples']} samples with {result['context_samples']} samples of context each side; "
            f"latent rate {result['latent_rate']:.0f} numbers/s",
        ],
        result,
        as_json,
    )


@click.command("fidelity")
@click.argument("reference", metavar="REF.wav")
@click.argument("output", metavar="OUT.wav")
@click.option("--trim", is_flag=True, help="When lengths differ, compare the first min(len) samples instead of failing.")
@json_option
def fidelity_command(reference: str, output: str, trim: bool, as_json: bool) -> None:
    """Time-domain MSE, CSpace error and SI-SNR of OUT.wav against REF.wav (OUT is resampled to REF's rate)."""
    from kaspix_cspace.fidelity import fidelity_files

    ref = input_wav_path(reference, what="reference audio")
    out = input_wav_path(output, what="output audio")
    result = fidelity_files(ref, out, trim=trim)
    lines = [
        f"SI-SNR {result['si_snr_db']:.2f} dB",
        f"MSE {result['mse']:.4g}",
        f"CSpace error {result['cspace_error']:.4g} ({result['cspace_error_db']:.2f} dB)",
        f"{result['samples']} samples at {result['sample_rate']} Hz compared",
    ]
    if result["trimmed_samples"]:
        lines.append(
            f"warning: the lengths differ by {result['trimmed_samples']} samples; only the first {result['samples']} were compared"
        )
    emit(lines, result, as_json)


#: The codec's commands, for the plugin's ``register_commands``.
CODEC_COMMANDS = (train_codec_command, codec_command, fidelity_command)
