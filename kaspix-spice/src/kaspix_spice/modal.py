"""A knob-conditioned modal state-space emulator: circuits as sums of damped complex modes.

A linear circuit's response to its input is a sum of modes: each pole ``s_k`` of the transfer
function contributes ``Re(r_k exp(s_k t))`` to the impulse response, plus a direct term. Sampled,
mode ``k`` decays and turns by ``lambda_k = exp(-d_k + i w_k)`` per sample. ``film_modal`` lets a
hypernetwork (knobs + circuit embedding -> MLP) set every mode's decay ``d``, frequency ``w`` and
residue ``r``, so the knobs move the poles and zeros the way component values do; with enough
modes, any linear circuit driven by a linearly interpolated input is represented exactly (the
interpolation only changes the residues and the direct term).

Nonlinear circuits (the diode clipper) get a second path: a stack of conditioned modal filter banks
with pointwise ``tanh`` mixing between them (a deep state-space model). Its output layer starts at
zero, so linear circuits lose nothing to it.

**State.** Each mode is the recursion ``z[t] = lambda z[t-1] + x[t]``, ``y[t] = Re(d r z[t])``; its
complex state ``z`` is all a filter remembers. A chunk of input starting from state ``z`` gives
the zero-state response (one FFT convolution with the modes' impulse response: training is
parallel in time, far cheaper on a CPU than a recurrent network's step-by-step loop) plus the
free response ``Re(d r lambda^(t+1) z)``; the state at the chunk's end is
``lambda^T z + sum_t lambda^(T-1-t) x[t]``. So :meth:`FiLMModal.stream` carries every filter's
modes from chunk to chunk and a clip fed in chunks gives what the whole clip gives.

**Starting state.** ngspice starts a circuit from its DC operating point for the first input
sample ``x[0]``. The model starts (``state=None``) from its own steady state for ``x[0]`` held
for ever, in closed form and exactly, the nonlinear stack included: under a constant input every
signal in the model is constant, each filter passes it with its DC gain
``Re(sum d r / (1 - lambda)) + direct`` and holds the state ``u / (1 - lambda)``, and the pointwise
layers map constants to constants. A clip that fades in from 0 V starts from the model's rest
state, the same thing for ``x[0] = 0``.

Kernels are built in the model's dtype: in float32 a 0.25-s kernel of modes up to Q = 50 is within
2e-6 of float64; for long, very sharp resonances (Q ~ 1000 over seconds) run the model in float64
(``model.double()``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from kaspix_spice.conditioning import Hypernetwork, film
from kaspix_spice.models import Emulator

__all__ = [
    "MODE_PARAMS",
    "ChannelMix",
    "FiLMModal",
    "ModalBank",
    "causal_convolution",
    "fft_size",
    "film_modal",
    "init_modes",
    "modal_kernel",
]

MODE_PARAMS = 4  # log decay, log frequency, residue real part, residue imaginary part


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


def _powers(params: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of ``lambda^t``, ``t = 0 .. length - 1``: ``(..., M, length)`` each."""
    decay, freq = torch.exp(params[..., 0:1]), torch.exp(params[..., 1:2])
    t = torch.arange(length, dtype=params.dtype, device=params.device)
    envelope = torch.exp(-decay * t)
    return envelope * torch.cos(freq * t), envelope * torch.sin(freq * t)


def _gains(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per mode the complex gain ``d r`` and pole ``lambda = exp(-d + i w)``: ``(..., M)`` each."""
    decay, freq = torch.exp(params[..., 0]), torch.exp(params[..., 1])
    return torch.complex(decay * params[..., 2], decay * params[..., 3]), torch.exp(torch.complex(-decay, freq))


def _modal_dc_gain(params: torch.Tensor) -> torch.Tensor:
    """The modes' summed gain for a constant input, ``Re(sum_m d r / (1 - lambda))``: ``(..., )`` over the last-but-one axis."""
    gain, pole = _gains(params)
    return (gain / (1 - pole)).sum(dim=-1).real


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
    return _kernel(params, *_powers(params, length))


def _kernel(params: torch.Tensor, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
    """``sum_m Re(d r lambda^t)`` from the powers of :func:`_powers`."""
    decay = torch.exp(params[..., 0])
    return _mode_sum(decay * params[..., 2], real) - _mode_sum(decay * params[..., 3], imag)


def _mode_sum(coefficients: torch.Tensor, powers: torch.Tensor) -> torch.Tensor:
    """``sum_m coefficients[b, c, m] powers[b, c, m, t]`` -> ``(B, C, T)``; ``powers`` may be shared by the batch (``(1, C, M, T)``)."""
    if powers.shape[0] == 1:
        return torch.einsum("bcm,cmt->bct", coefficients, powers[0])
    return torch.einsum("bcm,bcmt->bct", coefficients, powers)


def _mode_project(powers: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
    """``sum_t powers[b, c, m, t] signal[b, c, t]`` -> ``(B, C, M)``; ``powers`` may be shared by the batch."""
    if powers.shape[0] == 1:
        return torch.einsum("cmt,bct->bcm", powers[0], signal)
    return torch.einsum("bcmt,bct->bcm", powers, signal)


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
    MODE_PARAMS + 1))``, or ``(1, ...)`` for filters shared by the batch. A state is the modes'
    complex state ``z`` (see the module docstring), ``(B, channels, modes)``.
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

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(modes (B, C, M, MODE_PARAMS), direct (B, C, 1))``."""
        per_channel = params.view(params.shape[0], self.channels, self.modes * MODE_PARAMS + 1)
        return per_channel[..., :-1].reshape(params.shape[0], self.channels, self.modes, MODE_PARAMS), per_channel[..., -1:]

    def dc_gain(self, params: torch.Tensor) -> torch.Tensor:
        """Each filter's gain for a constant input, ``Re(sum d r / (1 - lambda)) + direct``: ``(B, C)``."""
        modes, direct = self._split(params)
        return _modal_dc_gain(modes) + direct[..., 0]

    def steady_state(self, params: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """The state after the constant input ``level (B, C)`` for ever: ``level / (1 - lambda)``."""
        _, pole = _gains(self._split(params)[0])
        return level[..., None] / (1 - pole)

    def forward(self, signal: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """``signal (B, C, T)`` -> ``(B, C, T)``, from rest."""
        return self.stream(signal, params, None, carry=False)[0]

    def settled(self, signal: torch.Tensor, params: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """``signal (B, C, T)`` from the steady state for the constant input ``level (B, C)`` -> ``(B, C, T)``.

        What :meth:`stream` gives from :meth:`steady_state`, computed without the modes' powers a
        second time: the free response from that state is ``level`` times the kernel's tail
        ``sum_(k > t) h[k] = modal DC gain - sum_(k <= t) h[k]`` (summed in float64).
        """
        modes, direct = self._split(params)
        kernel = _kernel(modes, *_powers(modes, signal.shape[-1]))
        tail = (_modal_dc_gain(modes).double()[..., None] - kernel.double().cumsum(dim=-1)).to(signal.dtype)
        return causal_convolution(signal, kernel) + direct * signal + level[..., None] * tail

    def stream(
        self, signal: torch.Tensor, params: torch.Tensor, state: torch.Tensor | None, carry: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``signal (B, C, T)`` from ``state`` (``None``: rest) -> ``(B, C, T)`` and, with ``carry``, the state at the end."""
        modes, direct = self._split(params)
        real, imag = _powers(modes, signal.shape[-1])
        y = causal_convolution(signal, _kernel(modes, real, imag)) + direct * signal
        gain, pole = _gains(modes)
        if state is not None:
            free = gain * pole * state  # the past's contribution at t is Re(free lambda^t)
            y = y + _mode_sum(free.real, real) - _mode_sum(free.imag, imag)
        if not carry:
            return y, None
        backwards = signal.flip(-1)  # sum_t lambda^t x[T-1-t]
        driven = torch.complex(_mode_project(real, backwards), _mode_project(imag, backwards))
        if state is None:
            return y, driven
        last = torch.complex(real[..., -1], imag[..., -1]) * pole  # lambda^T
        return y, last * state + driven


class ChannelMix(nn.Linear):
    """A linear map across the channels of ``(B, C, T)`` at every time step (a 1x1 convolution, computed as one einsum)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, in_features, T)`` -> ``(B, out_features, T)``."""
        return torch.einsum("oc,bct->bot", self.weight, h) + self.bias[:, None]


class FiLMModal(Emulator):
    """Conditioned linear modes for the linear part, plus a FiLM-conditioned deep modal stack for the rest.

    ``y = linear_modes(x) + out(stack(x))``: the linear modes' poles and residues come from the
    hypernetwork per item; the stack is ``layers`` blocks of ``h + mix(tanh(film(bank(h))))`` on
    ``channels`` channels, whose FiLM scales and shifts come from the hypernetwork. The stack's
    banks have learned modes shared by all items; with ``conditioned`` the hypernetwork also moves
    them per item (a learned offset of every mode parameter, starting at zero), so that the
    nonlinear part's time constants follow the knobs (the clipper's ``R C``), at the cost of one
    kernel per item and channel instead of one per channel.

    The state (:meth:`stream`) is a list of complex tensors: the linear modes' ``(B, 1, modes)``,
    then each stack bank's ``(B, channels, channel_modes)``.

    Args:
        n_knobs: Knob columns.
        n_circuits: Circuits.
        modes: Modes of the linear part (a 3rd-order filter needs 2; more let training spread one
            pole over several).
        channels: Channels of the nonlinear stack.
        channel_modes: Modes per channel of each stack bank.
        layers: Blocks of the stack.
        conditioned: Let the knobs move the stack's modes.
    """

    def __init__(
        self,
        n_knobs: int,
        n_circuits: int,
        modes: int = 8,
        channels: int = 4,
        channel_modes: int = 4,
        layers: int = 2,
        conditioned: bool = True,
    ) -> None:
        super().__init__()
        self.linear = ModalBank(1, modes)
        self.banks = nn.ModuleList(ModalBank(channels, channel_modes) for _ in range(layers))
        self.bank_params = nn.ParameterList(nn.Parameter(torch.zeros(1, bank.n_params)) for bank in self.banks)
        for bank, params in zip(self.banks, self.bank_params, strict=True):
            bank.init_bias(params.data[0])
        self.conditioned = conditioned
        self.sizes = [self.linear.n_params] + [2 * channels + (bank.n_params if conditioned else 0) for bank in self.banks]
        self.hyper = Hypernetwork(n_knobs, n_circuits, sum(self.sizes), bypass=True)
        self.linear.init_bias(self.hyper.bias[: self.linear.n_params])
        self.encode = ChannelMix(1, channels)
        self.mix = nn.ModuleList(ChannelMix(channels, channels) for _ in range(layers))
        self.out = ChannelMix(channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor) -> torch.Tensor:
        """``x (B, T, 1)`` -> ``(B, T, 1)``, from the steady state for ``x[:, 0]``."""
        return self._run(x, knobs, circuit_id, None, carry=False)[0]

    def stream(
        self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor, state: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One chunk ``x (B, T, 1)`` from ``state`` (``None``: the steady state for ``x[:, 0]``) -> ``(y, state)``."""
        y, carried = self._run(x, knobs, circuit_id, state, carry=True)
        return y, carried

    def steady_state(self, level: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor) -> list[torch.Tensor]:
        """Every filter's state after the constant input ``level (B,)`` for ever (exact)."""
        banks, params, layers = self._filters(knobs, circuit_id)
        levels = self._levels(level, params, layers)
        return [bank.steady_state(p, u) for bank, p, u in zip(banks, params, levels, strict=True)]

    def _filters(self, knobs: torch.Tensor, circuit_id: torch.Tensor) -> tuple[list[ModalBank], list[torch.Tensor], list[torch.Tensor]]:
        """The banks in order (linear, then the stack's), their parameters, and the stack's FiLM conditioning."""
        linear, *layers = torch.split(self.hyper(knobs, circuit_id), self.sizes, dim=-1)
        params, films = [linear], []
        for shared, values in zip(self.bank_params, layers, strict=True):
            if self.conditioned:
                delta, values = values.split([shared.shape[1], values.shape[1] - shared.shape[1]], dim=-1)
                params.append(shared + delta)
            else:
                params.append(shared)
            films.append(values)
        return [self.linear, *self.banks], params, films

    def _layer(self, i: int, h: torch.Tensor, filtered: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
        """Block ``i`` of the stack on ``h (B, C, T)`` whose bank output is ``filtered``."""
        gamma, beta = conditioning[:, :, None].chunk(2, dim=1)
        return h + self.mix[i](torch.tanh(film(filtered, gamma, beta)))

    def _levels(self, level: torch.Tensor, params: list[torch.Tensor], films: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each filter's constant input, ``(B, channels)``, once the model's input has been ``level (B,)`` for ever."""
        u = level[:, None]
        levels = [u]
        h = self.encode((u * self.linear.dc_gain(params[0]))[..., None])
        for i, (bank, p) in enumerate(zip(self.banks, params[1:], strict=True)):
            levels.append(h[..., 0])
            h = self._layer(i, h, h * bank.dc_gain(p)[..., None], films[i])
        return levels

    def _run(
        self, x: torch.Tensor, knobs: torch.Tensor, circuit_id: torch.Tensor, state: list[torch.Tensor] | None, carry: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        banks, params, films = self._filters(knobs, circuit_id)
        levels = self._levels(x[:, 0, 0], params, films) if state is None else None
        if levels is not None and carry:
            state = [bank.steady_state(p, u) for bank, p, u in zip(banks, params, levels, strict=True)]
        carried: list[torch.Tensor | None] = []

        def run(i: int, signal: torch.Tensor) -> torch.Tensor:
            if state is None:  # the steady state for x[0], no end state wanted: the cheaper path
                carried.append(None)
                return banks[i].settled(signal, params[i], levels[i])
            y, end = banks[i].stream(signal, params[i], state[i], carry)
            carried.append(end)
            return y

        linear = run(0, x.transpose(1, 2))
        h = self.encode(linear)
        for i in range(len(self.banks)):
            h = self._layer(i, h, run(i + 1, h), films[i])
        return (linear + self.out(h)).transpose(1, 2), carried


def film_modal(
    n_knobs: int, n_circuits: int, modes: int = 8, channels: int = 4, channel_modes: int = 4, layers: int = 2, conditioned: bool = True
) -> FiLMModal:
    """Knob-conditioned modal state-space emulator (linear modes + a deep modal stack for nonlinearity); see :class:`FiLMModal`."""
    return FiLMModal(
        n_knobs, n_circuits, modes=modes, channels=channels, channel_modes=channel_modes, layers=layers, conditioned=conditioned
    )
