"""Knob conditioning shared by every emulator: the hypernetwork and FiLM.

A circuit's knobs (normalized 0-1, zero-padded to the largest knob count) and a learned embedding
of which circuit it is go through one MLP, the :class:`Hypernetwork`; its outputs are whatever the
model is conditioned by: FiLM scales and shifts of hidden features (:func:`film`), or filter
parameters (the modal model's poles and residues).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Hypernetwork", "film", "film_params"]


class Hypernetwork(nn.Module):
    """knobs + a learned circuit embedding -> ``outputs`` conditioning values.

    ``z = [knobs, embedding(circuit_id)]``; the output is ``mlp(z)``, plus with ``bypass=True`` a
    linear map of the knobs of the circuit's own (``knobs @ W[circuit_id]``). The MLP's last layer
    and the bypass start at zero, so every model starts unconditioned (FiLM as the identity); a
    model that wants other starting values writes them into :attr:`bias`.

    The bypass suits outputs that are nearly linear in the knobs: the knobs are normalized
    logarithms of component values and a pole's log frequency and log decay are linear in those
    (``log w = -(log L + log C) / 2``), with coefficients that depend on what each circuit's knobs
    are; so the bypass, one matrix per circuit, carries that dependence exactly and the MLP only
    the rest.

    Args:
        n_knobs: Knob columns.
        n_circuits: Circuits (embedding rows).
        outputs: Width of the output.
        embed: Width of the circuit embedding.
        hidden: Width of the MLP's two hidden layers (SiLU).
        bypass: Add the linear bypass.

    Shape:
        - knobs: ``(B, n_knobs)``; circuit_id: ``(B,)`` integers
        - output: ``(B, outputs)``
    """

    def __init__(self, n_knobs: int, n_circuits: int, outputs: int, embed: int = 8, hidden: int = 64, bypass: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_circuits, embed)
        self.mlp = nn.Sequential(
            nn.Linear(n_knobs + embed, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, outputs)
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)
        self.bypass = nn.Parameter(torch.zeros(n_circuits, n_knobs + 1, outputs)) if bypass else None

    @property
    def bias(self) -> torch.Tensor:
        """The last layer's bias: the values every circuit starts from."""
        return self.mlp[-1].bias

    def forward(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        """``(B, outputs)``."""
        z = self.mlp(torch.cat([knobs, self.embedding(circuit_id)], dim=-1))
        if self.bypass is None:
            return z
        affine = torch.cat([knobs, torch.ones_like(knobs[:, :1])], dim=-1)
        return z + (affine[:, None, :] @ self.bypass[circuit_id])[:, 0]


def film_params(values: torch.Tensor, count: int, width: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Cut hypernetwork outputs ``(B, count * 2 * width)`` into ``count`` pairs ``(gamma, beta)``, each ``(B, width)``."""
    z = values.view(values.shape[0], count, 2, width)
    return [(z[:, i, 0], z[:, i, 1]) for i in range(count)]


def film(h: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Feature-wise linear modulation ``h * (1 + gamma) + beta`` (Perez et al., AAAI 2018).

    ``1 + gamma`` rather than ``gamma``, so that zero conditioning is the identity. ``gamma`` and
    ``beta`` broadcast against ``h``: shape them ``(B, 1, C)`` for ``h (B, T, C)``, ``(B, C, 1)``
    for ``h (B, C, T)``.
    """
    return h * (1 + gamma) + beta
