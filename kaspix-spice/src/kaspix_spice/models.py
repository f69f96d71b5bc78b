"""Knob-conditioned circuit emulators: FiLM GRU/LSTM, a concat-conditioned LSTM and a FiLM TCN.

Every model maps ``(audio_in (B, T, 1), knobs (B, K), circuit_id (B,))`` to ``audio_out (B, T, 1)``
and streams: ``model.stream(x_chunk, knobs, circuit_id, state) -> (y_chunk, state)`` carries its
state from chunk to chunk, so a clip fed in chunks gives what the whole clip gives. Conditioning:
the knobs (normalized 0-1, zero-padded) and a learned embedding of the circuit go through a small
MLP (:class:`~kaspix_spice.conditioning.Hypernetwork`); FiLM layers scale and shift hidden
features with its output.

**Starting state.** A circuit simulated by ngspice starts from its DC operating point for the first
input sample ``x[0]``: the state it settles into when ``x[0]`` has been applied for ever. The
models start the same way (``state=None``): they first run on ``x[0]`` held for ``settle``
samples, from a zero state, and start the clip from where that leaves them. For the TCN, whose
memory is finite, a hold as long as its receptive field (the default) gives exactly the steady
state. For the recurrent models it is an approximation, exact as far as the learned dynamics have
settled within ``settle`` samples (default 512, 10.7 ms at 48 kHz: over five time constants of
the slowest shipped circuit, 2 ms); that costs ``settle`` extra recurrent steps per segment. A
clip that fades in from 0 V starts from the model's rest state, the same thing for ``x[0] = 0``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kaspix_spice.conditioning import Hypernetwork, film, film_params

__all__ = ["ConcatLSTM", "Emulator", "FiLMRNN", "FiLMTCN", "concat_lstm", "film_gru", "film_lstm", "film_tcn"]


class Emulator(nn.Module):
    """A streaming emulator: ``forward`` is :meth:`stream` on the whole clip from the steady state for ``x[0]``."""

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        """``x (B, T, 1)`` -> ``(B, T, 1)``, starting from the steady state for ``x[:, 0]``."""
        return self.stream(x, knobs, circuit_id)[0]

    def stream(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Run one chunk ``x (B, T, 1)`` from ``state`` (``None``: the steady state for ``x[:, 0]``).

        Returns:
            ``(y (B, T, 1), state)``; pass the state with the next chunk. The knobs may change from
            one chunk to the next (the state carries over as a circuit's does when a knob turns).
        """
        raise NotImplementedError


class _Settled(Emulator):
    """An emulator whose starting state comes from running on ``x[0]`` held for ``settle`` samples."""

    settle: int

    def condition(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> Any:
        """What :meth:`advance` is conditioned by (computed once per chunk)."""
        raise NotImplementedError

    def zero_state(self, x: torch.Tensor) -> Any:
        """The state to settle from (for a batch shaped like ``x``)."""
        return None

    def advance(self, x: torch.Tensor, cond: Any, state: Any) -> tuple[torch.Tensor, Any]:
        """Run ``x (B, T, 1)`` from ``state``; returns ``(y, state)``."""
        raise NotImplementedError

    def stream(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        cond = self.condition(knobs, circuit_id)
        if state is None:
            state = self.zero_state(x)
            if self.settle > 0:
                _, state = self.advance(x[:, :1].expand(-1, self.settle, -1), cond, state)
        return self.advance(x, cond, state)


class FiLMRNN(_Settled):
    """Input projection -> FiLM -> GRU/LSTM -> FiLM -> linear, plus a linear skip from the input.

    The state is the recurrent layer's: ``h`` for a GRU, ``(h, c)`` for an LSTM.
    """

    def __init__(self, n_knobs: int, n_circuits: int, hidden: int = 32, cell: str = "gru", layers: int = 1, settle: int = 512) -> None:
        super().__init__()
        self.hidden, self.settle = hidden, settle
        self.inp = nn.Linear(1, hidden)
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(hidden, hidden, num_layers=layers, batch_first=True)
        self.cond = Hypernetwork(n_knobs, n_circuits, 2 * 2 * hidden)
        self.out = nn.Linear(hidden, 1)
        self.skip = nn.Linear(1, 1, bias=False)

    def condition(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> Any:
        return [(g[:, None], b[:, None]) for g, b in film_params(self.cond(knobs, circuit_id), 2, self.hidden)]

    def advance(self, x: torch.Tensor, cond: Any, state: Any) -> tuple[torch.Tensor, Any]:
        first, second = cond
        h, state = self.rnn(torch.tanh(film(self.inp(x), *first)), state)
        return self.out(film(h, *second)) + self.skip(x), state


class ConcatLSTM(_Settled):
    """Baseline: the knobs and circuit embedding concatenated to the input at every time step; the state is ``(h, c)``."""

    def __init__(self, n_knobs: int, n_circuits: int, hidden: int = 32, embed: int = 8, settle: int = 512) -> None:
        super().__init__()
        self.settle = settle
        self.embedding = nn.Embedding(n_circuits, embed)
        self.rnn = nn.LSTM(1 + n_knobs + embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)
        self.skip = nn.Linear(1, 1, bias=False)

    def condition(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> Any:
        return torch.cat([knobs, self.embedding(circuit_id)], dim=-1)[:, None, :]

    def advance(self, x: torch.Tensor, cond: Any, state: Any) -> tuple[torch.Tensor, Any]:
        h, state = self.rnn(torch.cat([x, cond.expand(-1, x.shape[1], -1)], dim=-1), state)
        return self.out(h) + self.skip(x), state


class FiLMTCN(_Settled):
    """Causal dilated convolutions (gated, residual), each block FiLM-modulated.

    The state is, per block, the last ``(kernel - 1) * dilation`` samples of the block's input.
    ``settle=None`` (the default) holds ``x[0]`` for the receptive field, which gives exactly the
    steady state.
    """

    def __init__(
        self, n_knobs: int, n_circuits: int, channels: int = 16, blocks: int = 8, kernel: int = 3, settle: int | None = None
    ) -> None:
        super().__init__()
        self.kernel, self.channels, self.blocks = kernel, channels, blocks
        self.inp = nn.Conv1d(1, channels, 1)
        self.convs = nn.ModuleList(nn.Conv1d(channels, 2 * channels, kernel, dilation=2**i) for i in range(blocks))
        self.mix = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(blocks))
        self.cond = Hypernetwork(n_knobs, n_circuits, blocks * 2 * 2 * channels)
        self.out = nn.Conv1d(channels, 1, 1)
        self.pads = [(kernel - 1) * conv.dilation[0] for conv in self.convs]
        self.settle = sum(self.pads) if settle is None else settle

    def condition(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> Any:
        return [(g[..., None], b[..., None]) for g, b in film_params(self.cond(knobs, circuit_id), self.blocks, 2 * self.channels)]

    def zero_state(self, x: torch.Tensor) -> Any:
        return [x.new_zeros(x.shape[0], self.channels, pad) for pad in self.pads]

    def advance(self, x: torch.Tensor, cond: Any, state: Any) -> tuple[torch.Tensor, Any]:
        h = self.inp(x.transpose(1, 2))
        carried = []
        for conv, mix, params, past in zip(self.convs, self.mix, cond, state, strict=True):
            joined = torch.cat([past, h], dim=-1)
            carried.append(joined[..., joined.shape[-1] - past.shape[-1] :])
            a, b = film(conv(joined), *params).chunk(2, dim=1)
            h = h + mix(torch.tanh(a) * torch.sigmoid(b))
        return (self.out(h) + x.transpose(1, 2)).transpose(1, 2), carried


def film_gru(n_knobs: int, n_circuits: int, hidden: int = 32, layers: int = 1, settle: int = 512) -> FiLMRNN:
    """FiLM-conditioned GRU emulator."""
    return FiLMRNN(n_knobs, n_circuits, hidden=hidden, cell="gru", layers=layers, settle=settle)


def film_lstm(n_knobs: int, n_circuits: int, hidden: int = 32, layers: int = 1, settle: int = 512) -> FiLMRNN:
    """FiLM-conditioned LSTM emulator."""
    return FiLMRNN(n_knobs, n_circuits, hidden=hidden, cell="lstm", layers=layers, settle=settle)


def concat_lstm(n_knobs: int, n_circuits: int, hidden: int = 32, settle: int = 512) -> ConcatLSTM:
    """Concat-conditioned LSTM baseline."""
    return ConcatLSTM(n_knobs, n_circuits, hidden=hidden, settle=settle)


def film_tcn(n_knobs: int, n_circuits: int, channels: int = 16, blocks: int = 8, settle: int | None = None) -> FiLMTCN:
    """FiLM-conditioned temporal convolutional network."""
    return FiLMTCN(n_knobs, n_circuits, channels=channels, blocks=blocks, settle=settle)
