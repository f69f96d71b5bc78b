"""A knob-conditioned modal state-space emulator: circuits as sums of damped complex modes.

A linear circuit's response to its input is a sum of modes: each pole ``s_k`` of the transfer
function contributes ``Re(r_k exp(s_k t))`` to the impulse response, plus a direct term. Sampled,
mode ``k`` decays and turns by ``lambda_k = exp(-d_k + i w_k)`` per sample. ``film_modal`` lets a
hypernetwork (knobs + circuit embedding -> MLP) set every mode's decay ``d``, frequency ``w`` and
residue ``r``, so the knobs move the poles and zeros the way component values do; with enough
modes, any linear circuit driven by a linearly interpolated input is represented exactly (the
interpolation only changes the residues and the direct term).

Nonlinear circuits (the diode clipper) get a second path: a stack of conditioned modal filter banks
with pointwise GELU mixing between them (a deep state-space model). Its output layer starts at zero,
so linear circuits lose nothing to it.

Every filter runs as one FFT convolution over the whole segment, so training is parallel in time:
on a CPU this is far cheaper than a recurrent network's step-by-step loop. Kernels are built in the
model's dtype: in float32 a 0.25-s kernel of modes up to Q = 50 is within 2e-6 of float64; for long,
very sharp resonances (Q ~ 1000 over seconds) run the model in float64 (``model.double()``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

MODE_PARAMS = 4  # log decay, log frequency, residue real part, residue imaginary part


class Hypernetwork(nn.Module):
    """knobs + a learned circuit embedding -> a vector of ``outputs`` filter parameters.

    An MLP plus a linear bypass: the knobs are normalized logarithms of component values, and a
    pole's log frequency and log decay are linear in those (``log w = -(log L + log C) / 2``), so the
    bypass gets the main dependence exactly and the MLP only the rest.
    """

    def __init__(self, n_knobs: int, n_circuits: int, outputs: int, embed: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_circuits, embed)
        self.mlp = nn.Sequential(
            nn.Linear(n_knobs + embed, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, outputs)
        )
        self.bypass = nn.Linear(n_knobs + embed, outputs, bias=False)
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.bypass.weight)

    @property
    def bias(self) -> torch.Tensor:
        """The last layer's bias: the parameters every circuit starts from."""
        return self.mlp[-1].bias

    def forward(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        """``(B, outputs)``."""
        z = torch.cat([knobs, self.embedding(circuit_id)], dim=-1)
        return self.mlp(z) + self.bypass(z)


def init_modes(bias: torch.Tensor, count: int, residue_scale: float = 0.3) -> None:
    """Spread ``count`` modes over the audio band and give them random residues.

    Frequencies are log-uniform from 20 Hz to 20 kHz at 48 kHz (``w`` in radians per sample),
    quality factors between 0.5 and 2.5; ``bias`` holds ``count * MODE_PARAMS`` values, mode-major.
    """
    with torch.no_grad():
        view = bias.view(count, MODE_PARAMS)
        w = torch.exp(torch.empty(count).uniform_(math.log(2 * math.pi * 20 / 48_000), math.log(2 * math.pi * 20_000 / 48_000)))
        q = torch.empty(count).uniform_(0.5, 2.5)
        view[:, 0] = torch.log(w / (2 * q))
        view[:, 1] = torch.log(w)
        view[:, 2:].normal_(0.0, residue_scale)


def modal_kernel(params: torch.Tensor, length: int) -> torch.Tensor:
    """Impulse responses of banks of modes, in the dtype of ``params``.

    Args:
        params: ``(B, C, M, MODE_PARAMS)``: per batch item, channel and mode the log decay ``log d``,
            log frequency ``log w`` and residue ``(re, im)``, scaled by ``d`` so that O(1) values give
            O(1) gains.
        length: Kernel length in samples.

    Returns:
        ``(B, C, length)``: ``sum_m d_m exp(-d_m t) (re_m cos(w_m t) - im_m sin(w_m t))``.
    """
    decay, freq = torch.exp(params[..., 0:1]), torch.exp(params[..., 1:2])
    t = torch.arange(length, dtype=params.dtype, device=params.device)
    envelope = decay * torch.exp(-decay * t)
    phase = freq * t
    wave = params[..., 2:3] * torch.cos(phase) - params[..., 3:4] * torch.sin(phase)
    return (envelope * wave).sum(dim=-2)


def fft_size(minimum: int) -> int:
    """The smallest ``2^a 3^b 5^c`` at least ``minimum`` (sizes the FFT computes fast)."""
    best = 1 << max(minimum - 1, 0).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            size = power35
            while size < minimum:
                size *= 2
            best = min(best, size)
            power35 *= 3
        power5 *= 5
    return best


def causal_convolution(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``signal (B, C, T)`` convolved with ``kernel (B, C, T)``, causal, by FFT."""
    length = signal.shape[-1]
    n = fft_size(2 * length - 1)
    spectrum = torch.fft.rfft(signal, n=n) * torch.fft.rfft(kernel, n=n)
    return torch.fft.irfft(spectrum, n=n)[..., :length]


class ModalBank(nn.Module):
    """``channels`` independent conditioned modal filters of ``modes`` modes each, plus a direct term.

    The filter parameters come from outside (a hypernetwork): ``params`` is ``(B, channels * (modes *
    MODE_PARAMS + 1))``.
    """

    def __init__(self, channels: int, modes: int) -> None:
        super().__init__()
        self.channels, self.modes = channels, modes

    @property
    def n_params(self) -> int:
        """How many hypernetwork outputs this bank consumes."""
        return self.channels * (self.modes * MODE_PARAMS + 1)

    def init_bias(self, bias: torch.Tensor) -> None:
        """Initialize this bank's slice of a hypernetwork bias."""
        per_channel = bias.view(self.channels, self.modes * MODE_PARAMS + 1)
        for c in range(self.channels):
            init_modes(per_channel[c, :-1], self.modes)
        with torch.no_grad():
            per_channel[:, -1] = 0.0

    def forward(self, signal: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """``signal (B, C, T)`` -> ``(B, C, T)``."""
        per_channel = params.view(params.shape[0], self.channels, self.modes * MODE_PARAMS + 1)
        modes = per_channel[..., :-1].reshape(params.shape[0], self.channels, self.modes, MODE_PARAMS)
        direct = per_channel[..., -1:]
        return causal_convolution(signal, modal_kernel(modes, signal.shape[-1])) + direct * signal


class FiLMModal(nn.Module):
    """Conditioned linear modes for the linear part, plus a FiLM-conditioned deep modal stack for the rest.

    ``y = linear_modes(x) + out(stack(x))``: the linear modes' poles and residues come from the
    hypernetwork per item; the stack is ``layers`` blocks of ``h + mix(gelu(film(bank(h))))`` on
    ``channels`` channels, whose banks' modes are learned but shared by all items (cheap: one kernel
    per channel), and whose FiLM scales and shifts come from the hypernetwork.
    """

    def __init__(self, n_knobs: int, n_circuits: int, modes: int = 8, channels: int = 8, channel_modes: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.linear = ModalBank(1, modes)
        self.banks = nn.ModuleList(ModalBank(channels, channel_modes) for _ in range(layers))
        self.bank_params = nn.ParameterList(nn.Parameter(torch.zeros(1, bank.n_params)) for bank in self.banks)
        for bank, params in zip(self.banks, self.bank_params, strict=True):
            bank.init_bias(params.data[0])
        self.sizes = [self.linear.n_params] + [2 * channels] * layers
        self.hyper = Hypernetwork(n_knobs, n_circuits, sum(self.sizes))
        self.linear.init_bias(self.hyper.bias[: self.linear.n_params])
        self.encode = nn.Conv1d(1, channels, 1)
        self.mix = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(layers))
        self.out = nn.Conv1d(channels, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        """``x (B, T, 1)`` -> ``(B, T, 1)``."""
        linear_params, *films = torch.split(self.hyper(knobs, circuit_id), self.sizes, dim=-1)
        signal = x.transpose(1, 2)
        linear = self.linear(signal, linear_params)
        h = self.encode(linear)
        for bank, params, mix, film in zip(self.banks, self.bank_params, self.mix, films, strict=True):
            gamma, beta = film[:, :, None].chunk(2, dim=1)
            h = h + mix(torch.tanh(bank(h, params) * (1 + gamma) + beta))
        return (linear + self.out(h)).transpose(1, 2)


def film_modal(n_knobs: int, n_circuits: int, modes: int = 8, channels: int = 8, channel_modes: int = 4, layers: int = 2) -> FiLMModal:
    """Knob-conditioned modal state-space emulator (linear modes + a deep modal stack for nonlinearity)."""
    return FiLMModal(n_knobs, n_circuits, modes=modes, channels=channels, channel_modes=channel_modes, layers=layers)
