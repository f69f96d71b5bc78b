"""Codec checkpoint files: the weights together with the config that rebuilds the model.

A checkpoint is a ``torch.save`` of a plain dict (readable with ``torch.load(weights_only=True)``)::

    {"format": "kaspix-cspace-codec", "version": 1, "sample_rate": 24000,
     "model": {...CodecModelConfig fields...}, "state_dict": {...}, "info": {"loss": "cspace", "steps": 1000, ...}}

:func:`load_codec` checks every part of it and turns any mismatch into a :class:`~kaspix.KaspixError`
(exit code 2 in the CLI): a file that is not a checkpoint, a training-state file (``last.pt``), an
unknown version, a config that does not validate, or weights that do not fit that config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from kaspix import KaspixError
from pydantic import ValidationError

from kaspix_cspace.codec_config import CodecModelConfig
from kaspix_cspace.codec_model import CodecModel

__all__ = ["FORMAT", "VERSION", "load_codec", "save_codec"]

FORMAT = "kaspix-cspace-codec"
VERSION = 1


def save_codec(path: str | Path, model: CodecModel, info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` with its config (and ``info``: plain numbers and strings) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "sample_rate": model.sample_rate,
        "model": model.config.model_dump(mode="json"),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "info": dict(info or {}),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_codec(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[CodecModel, dict[str, Any]]:
    """Rebuild the codec saved at ``path``: ``(model in eval mode, info)``.

    Raises:
        KaspixError: the file is missing, not a codec checkpoint, or its weights do not fit its config.
    """
    path = Path(path)
    where = str(path)
    hint = "give a codec.pt written by `kaspix cspace train-codec` or the cspace pipeline"
    if not path.is_file():
        raise KaspixError("checkpoint file not found" if not path.exists() else "checkpoint path is not a file", where=where, hint=hint)
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many kinds (UnpicklingError, RuntimeError, EOFError, ...)
        raise KaspixError(f"not a kaspix codec checkpoint (torch.load failed: {type(exc).__name__})", where=where, hint=hint) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        extra = " (it looks like a training-state file such as last.pt)" if isinstance(payload, dict) and "optimizer" in payload else ""
        raise KaspixError(f"not a kaspix codec checkpoint{extra}", where=where, hint=hint)
    if payload.get("version") != VERSION:
        raise KaspixError(f"codec checkpoint version {payload.get('version')!r} is not supported (this is version {VERSION})", where=where)
    try:
        config = CodecModelConfig.model_validate(payload.get("model"))
        sample_rate = int(payload["sample_rate"])
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        raise KaspixError(f"the checkpoint's model config is invalid: {exc}", where=where, hint=hint) from None
    model = CodecModel(config, sample_rate=sample_rate)
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        raise KaspixError(
            f"the checkpoint's weights do not fit its model config ({first[1].strip() if len(first) > 1 else first[0]})",
            where=where,
            hint="the file was edited or written by another version; train again",
        ) from None
    return model.to(device).eval(), dict(payload.get("info") or {})
