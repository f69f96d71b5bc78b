"""Losses for audio emulation: ESR (optionally pre-emphasized), ESR + DC, MSE.

Each factory takes the loss's options and returns ``loss(prediction, target) -> scalar``, the way
the registry builds losses by name (``train.loss``, ``train.loss_args``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["EPS", "Loss", "esr", "esr_dc", "mse"]

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
    """Error-to-signal ratio, per item, optionally pre-emphasized.

    ``sum_t (y - y_hat)^2 / sum_t y^2`` for each item, averaged over the batch, after the
    first-order pre-emphasis filter ``H(z) = 1 - a z^-1`` on both signals when ``pre_emphasis = a``
    is given. Per item, so that quiet circuits count as much as loud ones; an item's energy is
    floored at ``floor`` times the batch's mean energy, so that a segment that happens to be silent
    does not dominate.

    Args:
        pre_emphasis: The coefficient ``a`` (0.85-0.95 weights high frequencies), or ``None``.
        warmup: Samples ignored at the start of each item: where a model's state is not the
            circuit's (a recurrent model on segments cut mid-clip).
        floor: The energy floor, as a fraction of the batch's mean energy.

    Shape:
        - prediction: ``(B, T, 1)`` or ``(B, T)``
        - target: the same as ``prediction``
        - output: scalar

    Reference:
        A. Wright, E.-P. Damskägg, L. Juvela and V. Välimäki, "Real-Time Guitar Amplifier Emulation
        with Deep Learning", Applied Sciences 10(3), 766, 2020 (ESR with pre-emphasis).
    """

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p = _pre_emphasis(_flat(prediction, warmup), pre_emphasis)
        t = _pre_emphasis(_flat(target, warmup), pre_emphasis)
        energy = (t**2).sum(1)
        energy = torch.maximum(energy, floor * energy.mean().detach()) + EPS
        return (((t - p) ** 2).sum(1) / energy).mean()

    return loss


def esr_dc(pre_emphasis: float | None = None, warmup: int = 0, dc_weight: float = 1.0, floor: float = 0.1) -> Loss:
    """ESR plus a DC-error term.

    :func:`esr` plus ``dc_weight`` times ``mean_b (mean_t y - mean_t y_hat)^2 / mean y^2`` (the
    squared error of each item's mean, relative to the batch's mean power), which penalizes an
    offset that the ESR alone weighs little.

    Args:
        pre_emphasis: As for :func:`esr` (the DC term is not pre-emphasized).
        warmup: As for :func:`esr`.
        dc_weight: Weight of the DC term.
        floor: As for :func:`esr`.

    Shape:
        - prediction: ``(B, T, 1)`` or ``(B, T)``
        - target: the same as ``prediction``
        - output: scalar

    Reference:
        A. Wright, E.-P. Damskägg and V. Välimäki, "Real-Time Black-Box Modelling with Recurrent
        Neural Networks", Proc. DAFx 2019 (ESR + DC loss).
    """
    base = esr(pre_emphasis, warmup, floor)

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = _flat(prediction, warmup), _flat(target, warmup)
        dc = ((t.mean(1) - p.mean(1)) ** 2).mean() / ((t**2).mean() + EPS)
        return base(prediction, target) + dc_weight * dc

    return loss


def mse(warmup: int = 0) -> Loss:
    """Mean squared error ``mean (y - y_hat)^2`` over items and samples.

    Args:
        warmup: As for :func:`esr`.

    Shape:
        - prediction: ``(B, T, 1)`` or ``(B, T)``
        - target: the same as ``prediction``
        - output: scalar
    """

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((_flat(prediction, warmup) - _flat(target, warmup)) ** 2).mean()

    return loss
