"""Tensors for training: model inputs, the targets of both losses, and shuffled re-iterable batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from kaspix_circuitgen.data import CircuitSet, response_features, spec_features
from kaspix_circuitgen.elements import OMEGA_REF, SLOTS, to_elements
from kaspix_circuitgen.families import FAMILIES
from kaspix_circuitgen.physics import FamilyPhysics, unit_from_knob_values

__all__ = ["COEFFICIENTS", "Bundle", "ShuffledBatches", "inputs", "targets"]

#: Width of the padded coefficient targets: ``2 (r + 1)`` for the largest family (r = 4).
COEFFICIENTS = 10


class Bundle(dict):
    """Named tensors of one batch: moves to a device as a whole and has the batch's length."""

    def to(self, device: Any) -> Bundle:
        return Bundle({k: v.to(device) for k, v in self.items()})

    def __len__(self) -> int:
        return len(next(iter(self.values())))

    def rows(self, index: torch.Tensor) -> Bundle:
        """The rows at ``index``."""
        return Bundle({k: v[index] for k, v in self.items()})


def inputs(data: CircuitSet) -> tuple[torch.Tensor, torch.Tensor]:
    """Response features and spec features of every circuit."""
    return (
        torch.from_numpy(response_features(data.response)),
        torch.from_numpy(spec_features(data.filter_type, data.frequency_hz, data.q)),
    )


def _roots_re_im(roots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Roots in units of OMEGA_REF as ``(N, k, 2)`` (NaN rows for padding) and their counts."""
    scaled = roots / OMEGA_REF
    return np.stack([scaled.real, scaled.imag], axis=-1).astype(np.float32), (~np.isnan(roots)).sum(-1)


def targets(data: CircuitSet, physics: list[FamilyPhysics]) -> Bundle:
    """Everything both losses compare with, per circuit."""
    unit = np.full(data.knobs.shape, np.nan)
    coefficients = np.zeros((len(data), COEFFICIENTS))
    for index, family in enumerate(FAMILIES):
        rows = np.flatnonzero(data.family == index)
        if len(rows) == 0:
            continue
        k = len(family.knobs)
        unit[rows] = unit_from_knob_values(family, data.knobs[rows])
        with torch.no_grad():
            values = physics[index].coefficients(torch.from_numpy(data.knobs[rows, :k]))
        coefficients[rows, : values.shape[1]] = values.numpy()
    poles, pole_count = _roots_re_im(data.poles)
    zeros, zero_count = _roots_re_im(data.zeros)
    return Bundle(
        family=torch.from_numpy(data.family.astype(np.int64)),
        unit=torch.from_numpy(np.nan_to_num(unit).astype(np.float32)),
        knob_mask=torch.from_numpy(~np.isnan(unit)),
        pole_elements=torch.from_numpy(to_elements(data.poles, SLOTS).astype(np.float32)),
        zero_elements=torch.from_numpy(to_elements(data.zeros, SLOTS).astype(np.float32)),
        coefficients=torch.from_numpy(coefficients),
        poles=torch.from_numpy(poles),
        zeros=torch.from_numpy(zeros),
        pole_count=torch.from_numpy(pole_count.astype(np.int64)),
        zero_count=torch.from_numpy(zero_count.astype(np.int64)),
    )


class ShuffledBatches:
    """Batches of ``(*inputs, target)`` in a new seeded order each pass; re-iterable, with a length.

    Args:
        tensors: Input tensors (first axis: circuits).
        target: The targets of the same circuits.
        batch_size: Circuits per batch (the last batch may be smaller).
        seed: Seeds the order; ``None`` keeps the order.
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], target: Bundle, batch_size: int, seed: int | None) -> None:
        self.tensors, self.target, self.batch_size = tensors, target, batch_size
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def __len__(self) -> int:
        return -(-len(self.target) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        n = len(self.target)
        order = torch.randperm(n, generator=self.generator) if self.generator is not None else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            yield (*(t[index] for t in self.tensors), self.target.rows(index))
