"""Codec inference over audio of any length by chunks with context ("overlap-add" by exact trimming).

Each chunk of ``chunk`` samples is run with ``context`` extra samples on both sides (fewer at the
file's ends), and only the chunk's own samples are kept. Chunk starts and contexts are whole
multiples of the model's hop and the context covers the model's receptive field, so every kept
sample sees exactly the input it would see in one pass over the whole file: chunked and one-pass
outputs agree to float rounding, and there is no seam to crossfade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from kaspix_cspace.audio import read_wav, write_wav
from kaspix_cspace.codec_checkpoint import load_codec
from kaspix_cspace.codec_model import CodecModel

__all__ = ["DEFAULT_CHUNK_SECONDS", "codec_file", "context_samples", "reconstruct"]

#: Chunk length of :func:`reconstruct` when none is given.
DEFAULT_CHUNK_SECONDS = 5.0


def context_samples(model: CodecModel) -> int:
    """The context each side of a chunk: the receptive field rounded up to whole hops."""
    reach = max(model.receptive_field)
    return -(-reach // model.hop) * model.hop


@torch.no_grad()
def reconstruct(model: CodecModel, audio: np.ndarray | torch.Tensor, *, chunk: int | None = None) -> np.ndarray:
    """Encode and decode ``audio`` chunk by chunk.

    Args:
        model: The codec (put in eval mode here).
        audio: Mono audio of shape ``(T,)`` at the model's sample rate.
        chunk: Samples per chunk (rounded up to whole hops); ``None`` for
            :data:`DEFAULT_CHUNK_SECONDS`, ``0`` for one pass over the whole input.

    Returns:
        float32 array of shape ``(T,)``.
    """
    model.eval()
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32) if not isinstance(audio, torch.Tensor) else audio, dtype=torch.float32)
    x = x.reshape(-1).to(device)
    n = x.shape[0]
    hop = model.hop
    if chunk is None:
        chunk = round(DEFAULT_CHUNK_SECONDS * model.sample_rate)
    if chunk <= 0 or chunk >= n:
        return model(x[None]).reshape(-1).cpu().numpy()
    chunk = -(-chunk // hop) * hop
    context = context_samples(model)
    out = torch.empty(n, device=device)
    for start in range(0, n, chunk):
        lo, hi = max(0, start - context), min(n, start + chunk + context)
        y = model(x[None, lo:hi]).reshape(-1)
        stop = min(n, start + chunk)
        out[start:stop] = y[start - lo : stop - lo]
    return out.cpu().numpy()


def codec_file(
    checkpoint: str | Path, in_wav: str | Path, out_wav: str | Path, *, chunk_seconds: float = DEFAULT_CHUNK_SECONDS
) -> dict[str, Any]:
    """Run the codec saved at ``checkpoint`` over ``in_wav`` (resampled to its rate) into ``out_wav`` (32-bit float WAV).

    Returns:
        ``{"samples", "sample_rate", "seconds", "chunk_samples", "context_samples", "latent_rate", "out"}``.
    """
    model, _ = load_codec(checkpoint)
    audio, rate = read_wav(in_wav, sample_rate=model.sample_rate, what="input audio")
    chunk = round(chunk_seconds * rate)
    y = reconstruct(model, audio, chunk=chunk)
    path = write_wav(out_wav, y, rate, subtype="FLOAT")
    return {
        "samples": len(y),
        "sample_rate": rate,
        "seconds": len(y) / rate,
        "chunk_samples": chunk,
        "context_samples": context_samples(model),
        "latent_rate": model.latent_rate,
        "out": str(path),
    }
