"""The CSpace oscillator bank as a differentiable, batched torch module (CPU or CUDA).

The same exact block-FFT algorithm as :func:`kaspix_cspace.bank.oscillator_states` (see
:mod:`kaspix_cspace.bank` for the maths), with the float64 kernels of
:func:`kaspix_cspace.bank.block_plan` moved to the input's device once per block length. The
poles are fixed (the bank is a ruler, not a learned layer): gradients flow to the input.
"""

from __future__ import annotations

import torch

from kaspix_cspace.bank import DEFAULT_BLOCK, BankSpec, Direction, Precision, backward_offset, block_length, block_plan

__all__ = ["OscillatorBank", "audio_batch"]

#: Block plans (kernels on a device) kept per module.
MAX_PLANS = 16


def audio_batch(x: torch.Tensor) -> torch.Tensor:
    """Mono audio as ``(B, T)``: accepts ``(T,)``, ``(B, T)``, ``(B, 1, T)`` and ``(B, T, 1)``."""
    if x.dim() == 1:
        return x[None]
    if x.dim() == 2:
        return x
    if x.dim() == 3 and x.shape[1] == 1:
        return x[:, 0]
    if x.dim() == 3 and x.shape[2] == 1:
        return x[..., 0]
    raise ValueError(f"expected mono audio (T,), (B, T), (B, 1, T) or (B, T, 1); got shape {tuple(x.shape)}")


class OscillatorBank(torch.nn.Module):
    """Bidirectional complex damped-oscillator bank: ``[Re fwd, Im fwd, Re bwd, Im bwd]`` features.

    Args:
        spec: The bank (frequencies, decay rule); default :class:`~kaspix_cspace.bank.BankSpec`.
        hop: Return features every ``hop`` samples (the decimated output for search and losses).
        block_size: Block length of the FFT (rounded to a multiple of ``hop``; does not change the result).
        precision: ``"float32"`` (complex64 FFTs) or ``"float64"`` (complex128); carries are float64.

    Shape:
        - input: ``(T,)``, ``(B, T)``, ``(B, 1, T)`` or ``(B, T, 1)``, real.
        - output of ``forward``: ``(B, T', 4 C)`` real with ``T' = len(range(offset, T, hop))``.
        - output of ``states``: ``(B, T', C)`` complex, unscaled.
    """

    def __init__(
        self, spec: BankSpec | None = None, *, hop: int = 1, block_size: int = DEFAULT_BLOCK, precision: Precision = "float32"
    ) -> None:
        super().__init__()
        if hop < 1:
            raise ValueError(f"hop must be >= 1, got {hop}")
        self.spec = spec or BankSpec()
        self.hop = hop
        self.block_size = block_size
        self.precision = precision
        self.real_dtype = torch.float32 if precision == "float32" else torch.float64
        self.complex_dtype = torch.complex64 if precision == "float32" else torch.complex128
        self.register_buffer("gains", torch.tensor(self.spec.gains(), dtype=self.real_dtype), persistent=False)
        self._poles = self.spec.poles()
        self._plans: dict[tuple[int, int, str], dict[str, torch.Tensor]] = {}

    def _plan(self, length: int, offset: int, device: torch.device) -> dict[str, torch.Tensor]:
        key = (length, offset, str(device))
        if key not in self._plans:
            if len(self._plans) >= MAX_PLANS:  # inputs of many lengths: keep memory bounded
                self._plans.clear()
            plan = block_plan(self._poles, length, self.hop, offset)
            if self.hop > 1:
                folded = plan.spectrum.reshape(-1, self.hop, length // self.hop).transpose(2, 1, 0)  # (M, H, C)
                arrays = {"folded": folded, "last_weights": plan.last_weights, "powers": plan.powers}
            else:
                arrays = {"spectrum": plan.spectrum, "powers": plan.powers}
            tensors = {name: torch.from_numpy(array.copy()) for name, array in arrays.items()}
            self._plans[key] = {k: v.to(device=device, dtype=self.complex_dtype) for k, v in tensors.items()}
            self._plans[key]["log_block_power"] = torch.from_numpy(plan.log_block_power.copy()).to(device)
        return self._plans[key]

    def states(self, x: torch.Tensor, *, direction: Direction = "forward", offset: int = 0) -> torch.Tensor:
        """Unscaled complex states ``(B, T', C)`` of ``s[t] = p s[t-1] + x[t]`` (or from the end, backward)."""
        x = audio_batch(x).to(self.real_dtype)
        n = x.shape[-1]
        if not 0 <= offset < min(self.hop, n):
            raise ValueError(f"need 0 <= offset < min(hop, T); got {offset=}, hop={self.hop}, T={n}")
        if direction == "backward":
            return self.states(x.flip(-1), offset=backward_offset(n, self.hop, offset)).flip(1)
        batch, hop = x.shape[0], self.hop
        length = block_length(n, hop, self.block_size)
        n_blocks, per_block = -(-n // length), length // hop
        plan = self._plan(length, offset, x.device)
        padded = torch.nn.functional.pad(x, (0, n_blocks * length - n)).reshape(batch, n_blocks, length)
        spectra = torch.fft.fft(padded, dim=-1)  # (B, nb, L)
        if hop > 1:
            last = spectra @ plan["last_weights"]  # (B, nb, C)
            folded = torch.bmm(spectra.reshape(-1, hop, per_block).permute(2, 0, 1), plan["folded"])  # (M, B*nb, C)
            circular = torch.fft.ifft(folded.permute(1, 2, 0), dim=-1).reshape(batch, n_blocks, -1, per_block)
        else:
            circular = torch.fft.ifft(spectra[:, :, None, :] * plan["spectrum"], dim=-1)  # (B, nb, C, L)
            last = circular[..., -1]
        prev = _carry_scan(last.to(torch.complex128) * (1 - torch.exp(plan["log_block_power"])), plan["log_block_power"])
        correction = (prev - last.to(torch.complex128)).to(self.complex_dtype)
        states = circular + correction[..., None] * plan["powers"]  # (B, nb, C, M)
        n_out = len(range(offset, n, hop))
        return states.permute(0, 1, 3, 2).reshape(batch, n_blocks * per_block, -1)[:, :n_out]

    def forward(self, x: torch.Tensor, *, offset: int = 0) -> torch.Tensor:
        """Features ``(B, T', 4 C)``: ``[Re fwd, Im fwd, Re bwd, Im bwd]``, scaled by the bank's gains."""
        parts = []
        for direction in ("forward", "backward"):
            states = self.states(x, direction=direction, offset=offset)
            states = states * self.gains.to(states.device)
            parts += [states.real, states.imag]
        return torch.cat(parts, dim=-1)


def _carry_scan(ends: torch.Tensor, log_block_power: torch.Tensor) -> torch.Tensor:
    """States carried into each block (``(B, nb, C)`` complex128): the torch twin of :func:`kaspix_cspace.bank.carry_scan`."""
    s = ends
    d = 1
    while d < s.shape[1]:
        s = torch.cat([s[:, :d], s[:, d:] + torch.exp(log_block_power * d) * s[:, :-d]], dim=1)
        d *= 2
    return torch.cat([torch.zeros_like(s[:, :1]), s[:, :-1]], dim=1)
