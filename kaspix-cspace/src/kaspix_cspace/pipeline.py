"""The default ``cspace`` pipeline (README line 1): the seed's whole study on synthesized audio.

Steps, in order, each writing under ``artifacts/`` and reading only what earlier steps wrote:

1. ``audio``     synthesize the analysis clip (speech-like), its delayed copy, and the held-out set
2. ``espace``    reservoir spectrogram, search (self and delayed copy), robustness (part 1)
3. ``cspace``    oscillator-bank spectrogram, split search, robustness (part 2)
4. ``landscape`` mel / mrstft / cspace loss against a shifted copy (part 3)
5. ``quantize``  int8 embeddings against float32 (part 3)
6. ``drift``     FFT bank against the float64 recurrence over 60 s (part 3)
7. ``codecs``    one codec per loss in ``codec_losses`` (``cspace`` and ``mrstft``), equal steps (part 4)
8. ``evaluate``  every codec on held-out speech-like and music-like clips (part 5)
9. ``summary``   ``summary.json`` and ``summary.md``: every claim of the seed with its measured number

This module is imported by ``plugin.py``: only pydantic and kaspix at module level.
"""

from __future__ import annotations

import json
from typing import Any

from kaspix import KaspixError, Pipeline, RunContext, Step

from kaspix_cspace.pipeline_config import CSpaceStudyConfig

__all__ = ["PIPELINE"]

Ctx = RunContext[CSpaceStudyConfig]

ANALYSIS_WAV = "audio/analysis.wav"
DELAYED_WAV = "audio/analysis_delayed.wav"
HELDOUT_DIR = "audio/heldout"


def _read(ctx: Ctx, relative: str) -> Any:
    return json.loads(ctx.artifact(relative).read_text(encoding="utf-8"))


def _analysis_audio(ctx: Ctx) -> tuple[Any, Any, int, int]:
    """The analysis clip, its delayed copy, the rate and the query sample."""
    from kaspix_cspace.audio import read_wav

    cfg = ctx.config
    audio, rate = read_wav(ctx.artifact(ANALYSIS_WAV), what="analysis clip")
    delayed, _ = read_wav(ctx.artifact(DELAYED_WAV), what="delayed analysis clip")
    return audio, delayed, rate, round(cfg.analysis.at_seconds * rate)


def _bank(cfg: CSpaceStudyConfig) -> Any:
    from kaspix_cspace.bank import BankSpec

    b = cfg.bank
    return BankSpec(
        n_oscillators=b.n_oscillators,
        sample_rate=cfg.sample_rate,
        f_min=b.f_min,
        f_max=b.f_max,
        q_rule=b.q_rule,
        q=b.q,
        bandwidth_hz=b.bandwidth_hz,
        seed=cfg.seed,
    )


def _esn(cfg: CSpaceStudyConfig) -> Any:
    from kaspix_cspace.espace import EsnSpec

    e = cfg.esn
    return EsnSpec(n_units=e.n_units, leak_low=e.leak_low, spectral_radius=e.spectral_radius, sparsity=e.sparsity, seed=cfg.seed)


def synthesize_audio(ctx: Ctx) -> None:
    """Synthesize the analysis clip (speech-like), a copy delayed by ``analysis.shift`` samples, and the held-out set."""
    from kaspix_cspace.audio import write_wav
    from kaspix_cspace.codec_eval import write_heldout_set
    from kaspix_cspace.search import delayed_copy
    from kaspix_cspace.synth import speech_like

    cfg = ctx.config
    audio = speech_like(cfg.analysis.seconds, sample_rate=cfg.sample_rate, seed=cfg.seed)
    _check_query_has_sound(audio, round(cfg.analysis.at_seconds * cfg.sample_rate), cfg.sample_rate)
    delayed = delayed_copy(audio, cfg.analysis.shift)
    write_wav(ctx.artifact(ANALYSIS_WAV), audio, cfg.sample_rate, subtype="FLOAT")
    write_wav(ctx.artifact(DELAYED_WAV), delayed, cfg.sample_rate, subtype="FLOAT")
    held = write_heldout_set(
        ctx.artifact_dir(HELDOUT_DIR),
        sample_rate=cfg.sample_rate,
        seconds=cfg.evaluation.seconds,
        clips=cfg.evaluation.clips,
        seed=cfg.seed,
    )
    ctx.write_json(
        "audio/manifest.json", {"analysis": ANALYSIS_WAV, "delayed": DELAYED_WAV, "heldout": {k: str(v) for k, v in held.items()}}
    )


def _check_query_has_sound(audio: Any, at: int, rate: int) -> None:
    """A query in digital silence has no unique match (every silent sample has the same state): refuse it."""
    import numpy as np

    window = audio[max(0, at - rate // 100) : at + rate // 100]
    level, overall = float(np.sqrt(np.mean(window**2))), float(np.sqrt(np.mean(audio**2)))
    if level < 1e-3 * overall:
        loud = np.flatnonzero(np.abs(audio) > 0.1 * np.abs(audio).max())
        raise KaspixError(
            f"analysis.at_seconds = {at / rate:g} s falls in silence (RMS {level:.1e} around it), where the search has no unique answer",
            where="analysis.at_seconds",
            hint=f"choose a time with sound, e.g. {loud[len(loud) // 2] / rate:.2f} s (then --resume RUN --set analysis.at_seconds=T)",
        )


def espace_step(ctx: Ctx) -> None:
    """Part 1: the reservoir's neural spectrogram, its search on the clip and on the delayed copy, robustness."""
    from kaspix_cspace.espace import esn_robustness_study, esn_search_study, esn_spectrogram_study

    cfg = ctx.config
    audio, delayed, rate, at = _analysis_audio(ctx)
    spec = _esn(cfg)
    folder = ctx.artifact_dir("espace")
    result = {
        "spectrogram": esn_spectrogram_study(audio, rate, folder / "esn_spectrogram.png", spec=spec, at=at),
        "search_self": esn_search_study(audio, audio, rate, at, folder / "esn_search_self.png", spec=spec),
        "search_delayed": esn_search_study(audio, delayed, rate, at, folder / "esn_search_delayed.png", spec=spec),
    }
    if cfg.analysis.robustness:
        result["robustness"] = esn_robustness_study(audio, rate, at, folder / "esn_robustness.png", spec=spec, seed=cfg.seed)
    ctx.write_json("espace/espace.json", _jsonable(result))


def cspace_step(ctx: Ctx) -> None:
    """Part 2: the oscillator bank's forward/backward spectrogram, split search, robustness."""
    from kaspix_cspace.studies import robustness_study, search_study, spectrogram_study

    cfg = ctx.config
    audio, delayed, rate, at = _analysis_audio(ctx)
    spec = _bank(cfg)
    folder = ctx.artifact_dir("cspace")
    result = {
        "spectrogram": spectrogram_study(audio, rate, folder / "cspace_spectrogram.png", spec=spec, at=at),
        "search_self": search_study(audio, audio, rate, at, folder / "cspace_search_self.png", spec=spec),
        "search_delayed": search_study(audio, delayed, rate, at, folder / "cspace_search_delayed.png", spec=spec),
    }
    if cfg.analysis.robustness:
        result["robustness"] = robustness_study(audio, rate, at, folder / "cspace_robustness.png", spec=spec, seed=cfg.seed)
    ctx.write_json("cspace/cspace.json", _jsonable(result))


def landscape_step(ctx: Ctx) -> None:
    """Part 3: the loss of a segment against itself shifted, for mel, mrstft and cspace."""
    from kaspix_cspace.studies import landscape_study

    audio, _, rate, at = _analysis_audio(ctx)
    result = landscape_study(audio, rate, at, ctx.artifact("landscape/loss_landscape.png"))
    ctx.write_json("landscape/landscape.json", _jsonable(result))


def quantize_step(ctx: Ctx) -> None:
    """Part 3: int8 per-channel embeddings against float32 (search and landscape)."""
    from kaspix_cspace.studies import quantize_study

    audio, _, rate, at = _analysis_audio(ctx)
    result = quantize_study(audio, rate, at, ctx.artifact("quantize/quantize.png"), spec=_bank(ctx.config))
    ctx.write_json("quantize/quantize.json", _jsonable(result))


def drift_step(ctx: Ctx) -> None:
    """Part 3: FFT bank states against the float64 recurrence over ``analysis.drift_seconds``."""
    from kaspix_cspace.studies import drift_study

    cfg = ctx.config
    audio, _, rate, _ = _analysis_audio(ctx)
    result = drift_study(audio, rate, ctx.artifact("drift/drift.png"), spec=_bank(cfg), seconds=cfg.analysis.drift_seconds)
    ctx.write_json("drift/drift.json", _jsonable(result))


def codecs_step(ctx: Ctx) -> None:
    """Part 4: train the codec once per loss in ``codec_losses`` (that loss only, no discriminator), equal steps.

    A codec already trained with the same settings (its fingerprint in ``codec_<loss>/trained.json``)
    is kept; one trained with other settings is discarded and trained again, never resumed.
    """
    import shutil

    from kaspix.fingerprint import fingerprint as facts_fingerprint

    from kaspix_cspace.codec_train import train_codec

    cfg = ctx.config
    codec = cfg.codec.model_copy(update={"seed": cfg.seed})
    validation = ctx.artifact(f"{HELDOUT_DIR}/speech_0.wav")
    for loss in cfg.codec_losses:
        folder = ctx.artifact(_codec_dir(loss))
        fingerprint = facts_fingerprint({"codec": codec.model_dump(mode="json"), "loss": loss, "validation": str(validation)})
        marker = folder / "trained.json"
        if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fingerprint:
            ctx.log.info("codec %r: already trained with these settings", loss)
            continue
        if folder.exists():
            ctx.log.warning("codec %r: %s holds a codec of other settings; training anew", loss, folder)
            shutil.rmtree(folder)
        result = train_codec(codec, loss, folder, ctx, validation=validation)
        ctx.log_metrics(
            {"si_snr_db": result["final"]["si_snr_db"], "steps": result["steps"], "seconds": result["seconds"]}, prefix=_codec_dir(loss)
        )
        ctx.write_json(f"{_codec_dir(loss)}/trained.json", {"fingerprint": fingerprint, "loss": loss})


def evaluate_step(ctx: Ctx) -> None:
    """Part 5: every trained codec on the held-out speech-like (seen kind) and music-like (never seen) clips."""
    from kaspix_cspace.codec_eval import evaluate_codec

    cfg = ctx.config
    heldout = _read(ctx, "audio/manifest.json")["heldout"]
    results = {}
    for loss in cfg.codec_losses:
        folder = ctx.artifact(_codec_dir(loss))
        results[loss] = evaluate_codec(folder / "codec.pt", heldout, out_dir=ctx.artifact_dir(f"evaluation/{_slug(loss)}"))
        for group, scores in results[loss]["mean"].items():
            ctx.log_metrics({f"{group}_si_snr_db": scores["si_snr_db"]}, prefix=_codec_dir(loss))
    ctx.write_json("evaluation/evaluation.json", _jsonable(results))


def summary_step(ctx: Ctx) -> None:
    """Collect every measured claim into ``summary.json`` and a ``summary.md`` table."""
    from kaspix_cspace.summary import study_summary, summary_markdown

    artifacts = ctx.artifacts
    summary = study_summary(artifacts, ctx.config)
    ctx.write_json("summary.json", summary)
    ctx.write_text("summary.md", summary_markdown(summary))
    ctx.log_metrics({row["key"]: row["value"] for row in summary["claims"] if isinstance(row["value"], (int, float))})


def _slug(loss: str) -> str:
    """A loss name as a folder name (``cspace:mrstft`` -> ``cspace_mrstft``)."""
    return loss.replace(":", "_")


def _codec_dir(loss: str) -> str:
    return f"codec_{_slug(loss)}"


def _jsonable(result: Any) -> Any:
    from kaspix_cspace.cli_common import to_jsonable

    return to_jsonable(result)


#: The default pipeline, registered by the plugin.
PIPELINE = Pipeline(
    name="cspace",
    config_model=CSpaceStudyConfig,
    steps=(
        Step("audio", synthesize_audio),
        Step("espace", espace_step),
        Step("cspace", cspace_step),
        Step("landscape", landscape_step),
        Step("quantize", quantize_step),
        Step("drift", drift_step),
        Step("codecs", codecs_step),
        Step("evaluate", evaluate_step),
        Step("summary", summary_step),
    ),
    description="The CSpace study: ESN and oscillator embeddings, search, loss landscapes, int8, drift, codecs",
)
