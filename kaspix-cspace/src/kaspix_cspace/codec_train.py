"""Training the codec with one loss (``cspace`` or ``mrstft``, no discriminator) through :func:`kaspix.training.fit`.

One fit "epoch" is ``checkpoint_every`` optimizer steps drawn from an endless seeded data source
(:mod:`kaspix_cspace.sources`). After each, the validation file is reconstructed (chunked inference,
:mod:`kaspix_cspace.codec_infer`) and written as ``checkpoints/recon_step<N>.wav`` (32-bit float) and
its fidelity figures (SI-SNR dB, MSE, CSpace error) go into the epoch's history record, so progress
can be heard as well as read. ``fit`` keeps the weights with the lowest loss on fixed held-out
batches (from the source built with ``seed + 1``: for ``synth_speech`` a pool of other synthetic
speakers); they are saved as ``codec.pt`` (:mod:`kaspix_cspace.codec_checkpoint`). An interrupted
training resumes from ``checkpoints/last.pt`` (weights, optimizer, history); its data stream starts
again from the seed.

Output folder::

    codec.pt              the codec (config + best weights)
    train.json            what train_codec returns
    validation.wav        the validation audio (when it is synthesized)
    checkpoints/          fit's last.pt / best.pt / history.json and recon_step<N>.wav
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from kaspix import KaspixError
from kaspix.atomic import atomic_write_json
from kaspix.training import fit, seed_everything

from kaspix_cspace import sources
from kaspix_cspace.audio import read_wav, write_wav
from kaspix_cspace.codec_checkpoint import save_codec
from kaspix_cspace.codec_config import CodecConfig
from kaspix_cspace.codec_eval import heldout_audio
from kaspix_cspace.codec_infer import reconstruct
from kaspix_cspace.codec_model import CodecModel
from kaspix_cspace.fidelity import fidelity
from kaspix_cspace.losses import CSpaceLoss, MultiResolutionSTFTLoss

if TYPE_CHECKING:
    from kaspix import RunContext

__all__ = ["CODEC_FILE", "VALIDATION_INDEX", "VALIDATION_SECONDS", "StepBatches", "build_data_source", "build_loss", "train_codec"]

CODEC_FILE = "codec.pt"
#: Duration of the synthesized validation clip (when no validation file is given).
VALIDATION_SECONDS = 3.0
#: Its held-out clip index (:func:`~kaspix_cspace.codec_eval.heldout_audio`), apart from the evaluation clips 0, 1, ...
VALIDATION_INDEX = 999

#: The codec's training losses by name, for use without a run context (commands).
_LOSSES = {"cspace": CSpaceLoss, "mrstft": MultiResolutionSTFTLoss}
#: The data sources by name, for use without a run context.
_SOURCES = {
    "synth_speech": sources.synth_speech,
    "synth_music": sources.synth_music,
    "wav_folder": sources.wav_folder,
    "libritts": sources.libritts,
    "hf_stream": sources.hf_stream,
}


class StepBatches:
    """A re-iterable of ``steps`` batches ``(x, x)`` that continues one endless segment stream.

    Each iteration (one fit "epoch") draws the next ``steps * batch_size`` segments, so epochs see
    new data; ``len()`` is ``steps``.
    """

    def __init__(self, source: Iterable[torch.Tensor], batch_size: int, steps: int) -> None:
        self._stream: Iterator[torch.Tensor] = iter(source)
        self.batch_size = batch_size
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for _ in range(self.steps):
            batch = torch.stack([next(self._stream) for _ in range(self.batch_size)])
            yield batch, batch


def build_loss(name: str, config: CodecConfig, ctx: RunContext[Any] | None = None) -> torch.nn.Module:
    """The loss ``name`` with ``config.loss_args`` (and the sample rate for ``cspace``): from the registry with a ``ctx``."""
    args = dict(config.loss_args)
    if name == "cspace":
        args.setdefault("sample_rate", config.sample_rate)
    if ctx is not None:
        return ctx.parts.losses.build(name, **args)
    if name not in _LOSSES:
        raise KaspixError(f"unknown codec loss {name!r}", hint=f"use one of {', '.join(_LOSSES)}")
    return _LOSSES[name](**args)


def build_data_source(config: CodecConfig, seed: int, ctx: RunContext[Any] | None = None) -> Iterable[torch.Tensor]:
    """The configured data source (``config.data`` with ``config.data_args``), seeded with ``seed``."""
    args = {"sample_rate": config.sample_rate, "segment_samples": config.segment_samples, "seed": seed, **config.data_args}
    if ctx is not None:
        return ctx.parts.data_sources.build(config.data, **args)
    if config.data not in _SOURCES:
        raise KaspixError(f"unknown data source {config.data!r}", hint=f"use one of {', '.join(_SOURCES)}")
    return _SOURCES[config.data](**args)


def _validation_audio(config: CodecConfig, validation: str | Path | None, out: Path) -> tuple[np.ndarray, Path]:
    if validation is not None:
        audio, _ = read_wav(validation, sample_rate=config.sample_rate, what="validation audio")
        return audio, Path(validation)
    audio = heldout_audio("speech", VALIDATION_SECONDS, sample_rate=config.sample_rate, seed=config.seed, index=VALIDATION_INDEX)
    return audio, write_wav(out / "validation.wav", audio, config.sample_rate, subtype="FLOAT")


def train_codec(
    config: CodecConfig,
    loss_name: str | None,
    out_dir: str | Path,
    ctx: RunContext[Any] | None = None,
    *,
    validation: str | Path | None = None,
) -> dict[str, Any]:
    """Train one codec variant and save it as ``<out_dir>/codec.pt``.

    Args:
        config: The codec config (model, steps, data, ...).
        loss_name: ``"cspace"`` or ``"mrstft"``; ``None`` for ``config.loss``. With ``ctx`` any
            registered loss name works.
        out_dir: The variant's folder (see the module docstring); a ``checkpoints/last.pt`` there is
            resumed from.
        ctx: A run context: loss and data source come from its registries, and progress, log lines
            and final metrics go to the run.
        validation: The audio reconstructed at every checkpoint; default a held-out speech-like clip.

    Returns:
        ``{"loss", "steps", "seconds", "steps_per_second", "latent_rate", "n_parameters",
        "receptive_field", "checkpoint", "validation", "best_step", "initial": {...}, "final": {"si_snr_db",
        "mse", "cspace_error", ...}, "history": [...]}``, also written to ``<out_dir>/train.json``;
        ``initial`` scores the untrained model on the validation audio, ``final`` the saved one.
    """
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _train(config, loss_name or config.loss, Path(out_dir), ctx, validation)
    finally:
        torch.set_num_threads(threads)


def _train(config: CodecConfig, loss_name: str, out: Path, ctx: RunContext[Any] | None, validation: str | Path | None) -> dict[str, Any]:
    """:func:`train_codec` with the loss name resolved."""
    checkpoints = out / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    loss_fn = build_loss(loss_name, config, ctx)
    source = build_data_source(config, config.seed, ctx)
    held_out = iter(build_data_source(config, config.seed + 1, ctx))
    val_batches = [next(iter(StepBatches(held_out, config.batch_size, 1))) for _ in range(config.val_batches)]
    val_audio, val_path = _validation_audio(config, validation, out)
    model = CodecModel(config.model, sample_rate=config.sample_rate)
    initial = fidelity(val_audio, reconstruct(model, val_audio), sample_rate=config.sample_rate)
    epoch_start = [time.monotonic()]

    def on_epoch_end(epoch: int, trained: torch.nn.Module) -> dict[str, float]:
        step = epoch * config.checkpoint_every
        train_seconds = time.monotonic() - epoch_start[0]
        y = reconstruct(trained, val_audio)
        write_wav(checkpoints / f"recon_step{step:06d}.wav", y, config.sample_rate, subtype="FLOAT")
        scores = fidelity(val_audio, y, sample_rate=config.sample_rate)
        if ctx is not None:
            ctx.log.info("step %d: validation SI-SNR %.2f dB, CSpace error %.2f dB", step, scores["si_snr_db"], scores["cspace_error_db"])
        epoch_start[0] = time.monotonic()
        return {
            "step": step,
            "seconds": train_seconds,
            "si_snr_db": scores["si_snr_db"],
            "mse": scores["mse"],
            "cspace_error": scores["cspace_error"],
        }

    result = fit(
        model,
        loss_fn,
        StepBatches(source, config.batch_size, config.checkpoint_every),
        val_batches=val_batches or None,
        epochs=config.steps // config.checkpoint_every,
        lr=config.lr,
        device=config.device,
        seed=config.seed,
        grad_clip=config.grad_clip,
        schedule=config.schedule,
        checkpoint_dir=checkpoints,
        ctx=ctx,
        metrics_prefix=f"codec_{loss_name}",
        on_epoch_end=on_epoch_end,
    )
    model.cpu()
    steps = result.epochs_run * config.checkpoint_every
    train_seconds = float(sum(r.get("seconds", 0.0) for r in result.history))
    checkpoint = save_codec(
        out / CODEC_FILE, model, {"loss": loss_name, "steps": steps, "best_step": result.best_epoch * config.checkpoint_every}
    )
    final = fidelity(val_audio, reconstruct(model, val_audio), sample_rate=config.sample_rate)
    summary = {
        "loss": loss_name,
        "steps": steps,
        "seconds": train_seconds,
        "steps_per_second": steps / train_seconds if train_seconds > 0 else None,
        "latent_rate": model.latent_rate,
        "n_parameters": model.n_parameters,
        "receptive_field": list(model.receptive_field),
        "checkpoint": str(checkpoint),
        "validation": str(val_path),
        "best_step": result.best_epoch * config.checkpoint_every,
        "initial": initial,
        "final": final,
        "history": result.history,
    }
    atomic_write_json(out / "train.json", summary)
    return summary
