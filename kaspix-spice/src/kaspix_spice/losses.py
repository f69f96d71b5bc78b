"""Losses for audio emulation: ESR (optionally pre-emphasized), ESR + DC, MSE.

Each factory returns ``loss(prediction, target) -> scalar``; tensors are ``(B, T, 1)`` or ``(B, T)``.
``warmup`` ignores the first samples of each segment, where a recurrent model starts from rest
while the circuit does not.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EPS = 1e-8


def _flat(t: torch.Tensor, warmup: int) -> torch.Tensor:
    t = t.reshape(t.shape[0], -1) if t.dim() > 1 else t[None]
    return t[:, warmup:]


def _pre_emphasis(t: torch.Tensor, coefficient: float | None) -> torch.Tensor:
    if not coefficient:
        return t
    return torch.cat([t[:, :1], t[:, 1:] - coefficient * t[:, :-1]], dim=1)


def esr(pre_emphasis: float | None = None, warmup: int = 0, floor: float = 0.1) -> Loss:
    """Error-to-signal ratio ``sum (y - y_hat)^2 / sum y^2`` per item, averaged; optional pre-emphasis ``1 - a z^-1``.

    Per item, so that quiet circuits count as much as loud ones; an item's energy is floored at
    ``floor`` times the batch's mean energy, so that segments that happen to be silent do not dominate.
    """

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p = _pre_emphasis(_flat(prediction, warmup), pre_emphasis)
        t = _pre_emphasis(_flat(target, warmup), pre_emphasis)
        energy = (t**2).sum(1)
        energy = torch.maximum(energy, floor * energy.mean().detach()) + EPS
        return (((t - p) ** 2).sum(1) / energy).mean()

    return loss


def esr_dc(pre_emphasis: float | None = None, warmup: int = 0, dc_weight: float = 1.0, floor: float = 0.1) -> Loss:
    """ESR plus the DC error term ``(mean y - mean y_hat)^2 / mean y^2``."""
    base = esr(pre_emphasis, warmup, floor)

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = _flat(prediction, warmup), _flat(target, warmup)
        dc = ((t.mean(1) - p.mean(1)) ** 2).mean() / ((t**2).mean() + EPS)
        return base(prediction, target) + dc_weight * dc

    return loss


def mse(warmup: int = 0) -> Loss:
    """Mean squared error."""

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((_flat(prediction, warmup) - _flat(target, warmup)) ** 2).mean()

    return loss
