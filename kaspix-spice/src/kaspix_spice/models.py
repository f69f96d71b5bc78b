"""Knob-conditioned circuit emulators: FiLM GRU/LSTM, a concat-conditioned LSTM and a FiLM TCN.

Every model maps ``(audio_in (B, T, 1), knobs (B, K), circuit_id (B,))`` to ``audio_out (B, T, 1)``.
Conditioning: the knobs (normalized 0-1, zero-padded) and a learned embedding of the circuit go
through a small MLP; FiLM layers scale and shift hidden features with its output
(``h * (1 + gamma) + beta``).
"""

from __future__ import annotations

import torch
from torch import nn


class Conditioner(nn.Module):
    """knobs + circuit embedding -> ``count`` pairs of (gamma, beta) of width ``width``."""

    def __init__(self, n_knobs: int, n_circuits: int, width: int, count: int, embed: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.width, self.count = width, count
        self.embedding = nn.Embedding(n_circuits, embed)
        self.mlp = nn.Sequential(
            nn.Linear(n_knobs + embed, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2 * width * count)
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``count`` (gamma, beta) pairs, each ``(B, 1, width)``."""
        z = self.mlp(torch.cat([knobs, self.embedding(circuit_id)], dim=-1)).view(-1, self.count, 2, self.width)
        return [(z[:, i, 0, None, :], z[:, i, 1, None, :]) for i in range(self.count)]


def film(h: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Feature-wise linear modulation ``h * (1 + gamma) + beta``."""
    gamma, beta = params
    return h * (1 + gamma) + beta


class FiLMRNN(nn.Module):
    """Input projection -> FiLM -> GRU/LSTM -> FiLM -> linear, plus a linear skip from the input."""

    def __init__(self, n_knobs: int, n_circuits: int, hidden: int = 32, cell: str = "gru", layers: int = 1) -> None:
        super().__init__()
        self.inp = nn.Linear(1, hidden)
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(hidden, hidden, num_layers=layers, batch_first=True)
        self.cond = Conditioner(n_knobs, n_circuits, hidden, count=2)
        self.out = nn.Linear(hidden, 1)
        self.skip = nn.Linear(1, 1, bias=False)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        first, second = self.cond(knobs, circuit_id)
        h, _ = self.rnn(torch.tanh(film(self.inp(x), first)))
        return self.out(film(h, second)) + self.skip(x)


class ConcatLSTM(nn.Module):
    """Baseline: the knobs and circuit embedding concatenated to the input at every time step."""

    def __init__(self, n_knobs: int, n_circuits: int, hidden: int = 32, embed: int = 8) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_circuits, embed)
        self.rnn = nn.LSTM(1 + n_knobs + embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)
        self.skip = nn.Linear(1, 1, bias=False)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([knobs, self.embedding(circuit_id)], dim=-1)[:, None, :].expand(-1, x.shape[1], -1)
        h, _ = self.rnn(torch.cat([x, cond], dim=-1))
        return self.out(h) + self.skip(x)


class FiLMTCN(nn.Module):
    """Causal dilated convolutions (gated, residual), each block FiLM-modulated."""

    def __init__(self, n_knobs: int, n_circuits: int, channels: int = 16, blocks: int = 8, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel
        self.inp = nn.Conv1d(1, channels, 1)
        self.convs = nn.ModuleList(nn.Conv1d(channels, 2 * channels, kernel, dilation=2**i) for i in range(blocks))
        self.mix = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(blocks))
        self.cond = Conditioner(n_knobs, n_circuits, 2 * channels, count=blocks)
        self.out = nn.Conv1d(channels, 1, 1)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        params = self.cond(knobs, circuit_id)
        h = self.inp(x.transpose(1, 2))
        for i, (conv, mix) in enumerate(zip(self.convs, self.mix, strict=True)):
            pad = (self.kernel - 1) * conv.dilation[0]
            z = conv(nn.functional.pad(h, (pad, 0)))
            gamma, beta = params[i]
            z = z * (1 + gamma.transpose(1, 2)) + beta.transpose(1, 2)
            a, b = z.chunk(2, dim=1)
            h = h + mix(torch.tanh(a) * torch.sigmoid(b))
        return (self.out(h) + x.transpose(1, 2)).transpose(1, 2)


def film_gru(n_knobs: int, n_circuits: int, hidden: int = 32, layers: int = 1) -> FiLMRNN:
    """FiLM-conditioned GRU emulator."""
    return FiLMRNN(n_knobs, n_circuits, hidden=hidden, cell="gru", layers=layers)


def film_lstm(n_knobs: int, n_circuits: int, hidden: int = 32, layers: int = 1) -> FiLMRNN:
    """FiLM-conditioned LSTM emulator."""
    return FiLMRNN(n_knobs, n_circuits, hidden=hidden, cell="lstm", layers=layers)


def concat_lstm(n_knobs: int, n_circuits: int, hidden: int = 32) -> ConcatLSTM:
    """Concat-conditioned LSTM baseline."""
    return ConcatLSTM(n_knobs, n_circuits, hidden=hidden)


def film_tcn(n_knobs: int, n_circuits: int, channels: int = 16, blocks: int = 8) -> FiLMTCN:
    """FiLM-conditioned temporal convolutional network."""
    return FiLMTCN(n_knobs, n_circuits, channels=channels, blocks=blocks)
