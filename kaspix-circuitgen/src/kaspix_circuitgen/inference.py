"""Running trained models: batched outputs as numpy, decoded component values, a saved model rebuilt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kaspix_circuitgen.data import GRID_HZ, MAX_KNOBS
from kaspix_circuitgen.families import FAMILIES
from kaspix_circuitgen.models import SetDecoderModel
from kaspix_circuitgen.physics import knob_values_from_unit

__all__ = ["MODEL_SIZES", "decoded_knobs", "load_set_model", "outputs", "save_model"]

#: Input and output sizes of both models (fixed by the data layout).
MODEL_SIZES = {"n_features": 3 * len(GRID_HZ), "n_families": len(FAMILIES)}


@torch.no_grad()
def outputs(model: torch.nn.Module, *tensors: torch.Tensor, chunk: int = 2048) -> dict[str, np.ndarray]:
    """``model(*tensors)`` in evaluation mode and in chunks, as numpy arrays."""
    model.eval()
    device = next(model.parameters()).device
    parts: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(tensors[0]), chunk):
        args = [t[start : start + chunk].to(device) for t in tensors]
        if isinstance(model, SetDecoderModel):
            args.append(None)
        parts.append(model(*args))
    return {k: torch.cat([p[k] for p in parts]).cpu().numpy() for k in parts[0]}


def decoded_knobs(family: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Component values (SI) ``(N, MAX_KNOBS)`` from decoded 0..1 log coordinates, per circuit's family."""
    out = np.full((len(family), MAX_KNOBS), np.nan)
    for index, fam in enumerate(FAMILIES):
        rows = np.flatnonzero(family == index)
        if len(rows):
            out[rows, : len(fam.knobs)] = knob_values_from_unit(fam, torch.from_numpy(unit[rows]).clamp(-0.5, 1.5)).numpy()
    return out


def save_model(model: torch.nn.Module, path: Path, sizes: dict[str, Any]) -> None:
    """The weights (``path``) and the constructor arguments (``path`` with ``.json``)."""
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, path)
    path.with_suffix(".json").write_text(json.dumps(sizes, indent=2))


def load_set_model(path: Path) -> SetDecoderModel:
    """A :class:`SetDecoderModel` saved by :func:`save_model`."""
    sizes = json.loads(path.with_suffix(".json").read_text())
    model = SetDecoderModel(**sizes)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()
