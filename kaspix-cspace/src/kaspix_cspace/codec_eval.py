"""Scoring a trained codec: held-out synthesized clips and fidelity of its reconstructions.

The held-out clips use seeds no training pool uses (pools seed clip ``i`` with
``seed * 100003 + i``; these use ``900000007 + 1000 * seed + i``): speech-like ones are in
distribution for a codec trained on ``synth_speech``, music-like ones are out of distribution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kaspix_cspace.audio import read_wav, write_wav
from kaspix_cspace.codec_checkpoint import load_codec
from kaspix_cspace.codec_infer import DEFAULT_CHUNK_SECONDS, reconstruct
from kaspix_cspace.fidelity import fidelity
from kaspix_cspace.synth import SYNTH_KINDS

__all__ = ["HELDOUT_SEED", "evaluate_codec", "heldout_audio", "write_heldout_set"]

#: Base seed of the held-out clips (far from every training pool's seeds).
HELDOUT_SEED = 900_000_007


def heldout_audio(kind: str, seconds: float, *, sample_rate: int = 24000, seed: int = 0, index: int = 0) -> np.ndarray:
    """Held-out clip ``index`` of ``kind`` (``"speech"`` or ``"music"``), float32 ``(T,)``."""
    return SYNTH_KINDS[kind](seconds, sample_rate=sample_rate, seed=HELDOUT_SEED + 1000 * seed + index)


def write_heldout_set(
    folder: str | Path, *, sample_rate: int = 24000, seconds: float = 4.0, clips: int = 2, seed: int = 0
) -> dict[str, Path]:
    """Write ``clips`` held-out speech-like and music-like clips as 32-bit float WAVs into ``folder``.

    Returns:
        ``{"speech_0": path, ..., "music_0": path, ...}``.
    """
    folder = Path(folder)
    paths = {}
    for kind in ("speech", "music"):
        for i in range(clips):
            audio = heldout_audio(kind, seconds, sample_rate=sample_rate, seed=seed, index=i)
            paths[f"{kind}_{i}"] = write_wav(folder / f"{kind}_{i}.wav", audio, sample_rate, subtype="FLOAT")
    return paths


def evaluate_codec(
    checkpoint: str | Path,
    wav_paths: dict[str, str | Path],
    *,
    out_dir: str | Path | None = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
) -> dict[str, Any]:
    """Reconstruct each file with the codec at ``checkpoint`` and score it against the original.

    Args:
        checkpoint: A codec checkpoint (``codec.pt``).
        wav_paths: Name -> audio file (resampled to the codec's rate).
        out_dir: When given, each reconstruction is written there as ``<name>.wav`` (32-bit float).
        chunk_seconds: Chunk length of the overlap-add inference.

    Returns:
        ``{"files": {name: {"mse", "si_snr_db", "cspace_error", "cspace_error_db", ...}},
        "mean": {"<prefix>": {"si_snr_db", "mse", "cspace_error_db"}}}`` where the means are taken over
        the names sharing a prefix before the last ``_`` (``speech_0``, ``speech_1`` -> ``speech``).
    """
    model, info = load_codec(checkpoint)
    files: dict[str, dict[str, Any]] = {}
    for name, path in wav_paths.items():
        audio, rate = read_wav(path, sample_rate=model.sample_rate, what=f"evaluation audio {name!r}")
        y = reconstruct(model, audio, chunk=round(chunk_seconds * rate))
        if out_dir is not None:
            write_wav(Path(out_dir) / f"{name}.wav", y, rate, subtype="FLOAT")
        files[name] = fidelity(audio, y, sample_rate=rate, where=str(path))
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, scores in files.items():
        groups.setdefault(name.rsplit("_", 1)[0], []).append(scores)
    mean = {
        group: {key: float(np.mean([s[key] for s in items])) for key in ("si_snr_db", "mse", "cspace_error_db")}
        for group, items in groups.items()
    }
    return {"checkpoint": str(checkpoint), "info": info, "latent_rate": model.latent_rate, "files": files, "mean": mean}
