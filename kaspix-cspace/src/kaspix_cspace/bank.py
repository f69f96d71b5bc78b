"""The CSpace oscillator bank: complex damped oscillators (diagonal S4D-style), in numpy.

**The bank.** Channel ``c`` is the one-pole complex recurrence ``s[t] = p_c * s[t-1] + x[t]``
(``s[-1] = 0``) with the pole ``p_c = exp((-alpha_c + i*omega_c) / fs)``: a damped oscillator
ringing at ``f_c = omega_c / 2pi`` and decaying as ``exp(-alpha_c t)``. Its -3 dB bandwidth is
about ``alpha_c / pi`` Hz. :class:`BankSpec` sets them:

- frequencies log-spaced from ``f_min`` (20 Hz) to ``f_max`` (``0.45 * fs``), optionally
  jittered in log-frequency by a seeded random fraction of the spacing (the bank's only random part);
- decay by a rule: ``"constant_q"`` (``alpha = omega / (2 Q)``, i.e. bandwidth ``f / Q``; default
  ``Q = 8``) or ``"constant_bandwidth"`` (``alpha = pi * bandwidth_hz``); either way floored at
  ``alpha >= pi * min_bandwidth_hz`` (1 Hz), so no channel rings for more than ~1/3 s per e-fold.

**Forward and backward.** The forward states see the past; the backward states are the same
recurrence run on the time-reversed input and reversed back (``s_b[t] = p s_b[t+1] + x[t]``), so
they see the future. :func:`bank_features` returns ``[Re fwd, Im fwd, Re bwd, Im bwd]`` (each
``C`` channels, in that order along the last axis), scaled per channel by ``1 - |p_c|`` (so each
oscillator's gain at its own frequency is 1) unless ``normalize=False``.

**How it is computed: exact block FFT convolution with the state carried.** The input is cut
into blocks of ``L`` samples. In a block, the zero-state response is the convolution with the
exact kernel ``p^n``; its circular (period-``L``) version has the closed-form DFT
``G[k] = 1 / (1 - p e^{-2 pi i k / L})`` (the infinite kernel folded modulo ``L``, built in float64,
nothing truncated), and the circular solution ``y_c`` differs from the linear one by exactly
``p^(n+1) y_c[L-1]``. The state at the end of each block is carried to the next by the scan
``s_b = p^L s_(b-1) + z_b`` (float64, log-depth), which adds ``p^(n+1) s_(b-1)`` inside block ``b``.
So ``y[n] = y_c[n] + p^(n+1) (s_(b-1) - y_c[L-1])`` is exact in exact arithmetic, for any length,
any block size and any Q: a 60-s file gives the states of one pass of the recurrence.
Decimated output (every ``hop`` samples, starting at ``offset``) folds the spectrum before the
inverse FFT (``ifft`` of ``L / hop`` points instead of ``L``).

**Precision.** Poles, kernels, carries and corrections are float64; ``precision="float32"``
does the FFTs and products in complex64 (fast), ``"float64"`` in complex128. Measured against the
float64 recurrence over 60 s at Q up to 1000 (``kaspix cspace drift``): float32 gives a relative
error of the state vector of ~2e-7 (per 1-s window), float64 ~1e-13.

Shapes: ``x`` is ``(T,)`` or ``(..., T)``; states are ``(..., T', C)`` complex, features
``(..., T', 4 C)`` real, with ``T' = len(range(offset, T, hop))``.

The differentiable torch version is :class:`kaspix_cspace.bank_torch.OscillatorBank`; both use
:func:`block_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import numpy as np
from kaspix import KaspixError

__all__ = [
    "DEFAULT_BLOCK",
    "BankSpec",
    "BlockPlan",
    "backward_offset",
    "bank_features",
    "block_length",
    "block_plan",
    "carry_scan",
    "features_at",
    "oscillator_states",
    "output_times",
    "recurrence_states",
]

QRule = Literal["constant_q", "constant_bandwidth"]
Precision = Literal["float32", "float64"]
Direction = Literal["forward", "backward"]

#: Default block length of the block FFT (rounded to a multiple of the hop).
DEFAULT_BLOCK = 4096
#: Time steps copied at once when channel-major states become ``(T', 4 C)`` features.
TRANSPOSE_ROWS = 2048


@dataclass(frozen=True)
class BankSpec:
    """What the oscillator bank is: sizes, frequencies and the decay rule (see the module docstring).

    Args:
        n_oscillators: Number of complex oscillators ``C``.
        sample_rate: Sample rate ``fs`` in Hz.
        f_min: Lowest frequency in Hz.
        f_max: Highest frequency in Hz (default ``0.45 * sample_rate``).
        q_rule: ``"constant_q"`` or ``"constant_bandwidth"``.
        q: Quality factor for ``"constant_q"`` (``alpha = omega / (2 q)``).
        bandwidth_hz: Bandwidth for ``"constant_bandwidth"`` (``alpha = pi * bandwidth_hz``).
        min_bandwidth_hz: Floor of every channel's bandwidth (``alpha >= pi * min_bandwidth_hz``).
        jitter: Random shift of each log-frequency, as a fraction of the spacing (0 = none, <= 1).
        seed: Seed of the jitter.
        normalize: Scale features by ``1 - |p|`` per channel (unit gain at each channel's frequency).
    """

    n_oscillators: int = 64
    sample_rate: int = 24_000
    f_min: float = 20.0
    f_max: float | None = None
    q_rule: QRule = "constant_q"
    q: float = 8.0
    bandwidth_hz: float = 20.0
    min_bandwidth_hz: float = 1.0
    jitter: float = 0.0
    seed: int = 0
    normalize: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.n_oscillators < 1:
            problems.append(f"n_oscillators must be >= 1, got {self.n_oscillators}")
        if self.sample_rate <= 0:
            problems.append(f"sample_rate must be positive, got {self.sample_rate}")
        elif not 0 < self.f_min < self.top_frequency < self.sample_rate / 2:
            problems.append(f"need 0 < f_min ({self.f_min}) < f_max ({self.top_frequency}) < sample_rate/2 ({self.sample_rate / 2})")
        if self.q_rule not in ("constant_q", "constant_bandwidth"):
            problems.append(f"q_rule must be 'constant_q' or 'constant_bandwidth', got {self.q_rule!r}")
        if self.q <= 0 or self.bandwidth_hz <= 0 or self.min_bandwidth_hz <= 0:
            problems.append("q, bandwidth_hz and min_bandwidth_hz must be positive")
        if not 0 <= self.jitter <= 1:
            problems.append(f"jitter must be in [0, 1], got {self.jitter}")
        if problems:
            raise KaspixError("; ".join(problems), where="oscillator bank", hint="see kaspix_cspace.bank.BankSpec")

    @property
    def top_frequency(self) -> float:
        """``f_max``, or ``0.45 * sample_rate`` when it is not set."""
        return float(self.f_max) if self.f_max is not None else 0.45 * self.sample_rate

    def with_(self, **changes: object) -> BankSpec:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def frequencies(self) -> np.ndarray:
        """Channel frequencies in Hz, float64 ``(C,)``, ascending."""
        n = self.n_oscillators
        lo, hi = np.log(self.f_min), np.log(self.top_frequency)
        if n == 1:
            return np.array([np.exp((lo + hi) / 2)])
        logs = np.linspace(lo, hi, n)
        if self.jitter:
            step = (hi - lo) / (n - 1)
            logs = logs + np.random.default_rng(self.seed).uniform(-0.5, 0.5, n) * self.jitter * step
            logs = np.sort(np.clip(logs, lo, hi))
        return np.exp(logs)

    def decay_rates(self) -> np.ndarray:
        """``alpha`` per channel in 1/s, float64 ``(C,)``."""
        omega = 2 * np.pi * self.frequencies()
        alpha = omega / (2 * self.q) if self.q_rule == "constant_q" else np.full_like(omega, np.pi * self.bandwidth_hz)
        return np.maximum(alpha, np.pi * self.min_bandwidth_hz)

    def log_poles(self) -> np.ndarray:
        """``log p = (-alpha + i omega) / fs`` per channel, complex128 ``(C,)``."""
        return (-self.decay_rates() + 2j * np.pi * self.frequencies()) / self.sample_rate

    def poles(self) -> np.ndarray:
        """``p = exp((-alpha + i omega) / fs)`` per channel, complex128 ``(C,)``."""
        return np.exp(self.log_poles())

    def gains(self) -> np.ndarray:
        """Feature scale per channel, float64 ``(C,)``: ``1 - |p|`` if ``normalize`` else 1."""
        return 1.0 - np.abs(self.poles()) if self.normalize else np.ones(self.n_oscillators)


@dataclass(frozen=True)
class BlockPlan:
    """Everything the block FFT needs for one block length, hop and offset (complex128 numpy).

    Attributes:
        length: Block length ``L`` (a multiple of ``hop``).
        hop: Decimation factor ``H``; outputs at ``offset + m H`` in each block, ``m < L / H``.
        offset: First output sample, ``0 <= offset < hop``.
        spectrum: ``(C, L)``: ``G[k] e^{2 pi i k offset / L} / H``, the exact periodized kernel's DFT.
        last_weights: ``(L, C)``: ``y_c[L-1] = X @ last_weights`` (the circular solution's last sample);
            ``None`` when ``hop == 1`` (then ``y_c[L-1]`` is an output).
        powers: ``(C, L / H)``: ``p^(offset + m H + 1)``, the weight of the carried state at each output.
        log_block_power: ``(C,)``: ``L log p`` (``p^L`` may underflow to 0; its log does not).
    """

    length: int
    hop: int
    offset: int
    spectrum: np.ndarray
    last_weights: np.ndarray | None
    powers: np.ndarray
    log_block_power: np.ndarray


def block_length(n_samples: int, hop: int = 1, block_size: int = DEFAULT_BLOCK) -> int:
    """The block length used for ``n_samples``: ``block_size`` (or less for short inputs), a multiple of ``hop``."""
    target = max(1, min(block_size, n_samples))
    return hop * max(1, -(-target // hop))


def block_plan(poles: np.ndarray, length: int, hop: int = 1, offset: int = 0) -> BlockPlan:
    """The float64 kernels of the block FFT for ``poles`` (see :class:`BlockPlan`); read-only, cached."""
    if hop < 1 or length % hop or not 0 <= offset < hop:
        raise ValueError(f"need hop >= 1, length % hop == 0 and 0 <= offset < hop; got {length=}, {hop=}, {offset=}")
    poles = np.asarray(poles, dtype=np.complex128)
    return _cached_plan(poles.tobytes(), length, hop, offset)


@lru_cache(maxsize=8)
def _cached_plan(pole_bytes: bytes, length: int, hop: int, offset: int) -> BlockPlan:
    log_p = np.log(np.frombuffer(pole_bytes, dtype=np.complex128))[:, None]
    k = np.arange(length)
    twiddle = np.exp(-2j * np.pi * k / length)
    kernel = 1.0 / (1.0 - np.exp(log_p) * twiddle)  # (C, L): DFT of p^n folded modulo L
    spectrum = kernel * (np.exp(2j * np.pi * k * offset / length) / hop) if hop > 1 else kernel
    last_weights = np.ascontiguousarray((kernel * (twiddle / length)).T) if hop > 1 else None
    powers = np.exp(log_p * (offset + hop * np.arange(length // hop) + 1))
    plan = BlockPlan(length, hop, offset, spectrum, last_weights, powers, log_p[:, 0] * length)
    for array in (spectrum, last_weights, powers, plan.log_block_power):
        if array is not None:
            array.flags.writeable = False
    return plan


def carry_scan(ends: np.ndarray, log_block_power: np.ndarray) -> np.ndarray:
    """States carried into each block: ``prev[b] = s[b-1]`` with ``s[b] = a s[b-1] + ends[b]``, ``s[-1] = 0``.

    Args:
        ends: complex ``(B, nb, C)``: zero-state states at each block's last sample.
        log_block_power: complex ``(C,)``: ``log a = L log p``.

    Returns:
        complex128 ``(B, nb, C)`` (log-depth Hillis-Steele scan in float64).
    """
    s = np.asarray(ends, dtype=np.complex128).copy()
    d = 1
    while d < s.shape[1]:
        s[:, d:] = s[:, d:] + np.exp(log_block_power * d) * s[:, :-d]
        d *= 2
    prev = np.zeros_like(s)
    prev[:, 1:] = s[:, :-1]
    return prev


def _add_carry(circular: np.ndarray, last: np.ndarray, log_block_power: np.ndarray, powers: np.ndarray, scratch: np.ndarray) -> None:
    """Turn circular block solutions ``(C, B, nb, M)`` into the exact states, in place.

    ``last`` is ``y_c[L-1]`` per block ``(B, nb, C)``; ``powers`` the carried state's weights ``(C, M)``;
    ``scratch`` a buffer shaped like ``circular``.
    """
    last = last.astype(np.complex128)
    prev = carry_scan(last * (1.0 - np.exp(log_block_power)), log_block_power)
    correction = (prev - last).transpose(2, 0, 1).astype(circular.dtype)  # (C, B, nb)
    np.multiply(correction[..., None], powers[:, None, None, :], out=scratch)
    circular += scratch


def output_times(n_samples: int, hop: int = 1, offset: int = 0) -> np.ndarray:
    """The sample indices of the (decimated) outputs: ``offset, offset + hop, ... < n_samples``."""
    return np.arange(offset, n_samples, hop)


def backward_offset(n_samples: int, hop: int, offset: int) -> int:
    """The offset, in the time-reversed signal, of the grid ``offset + m hop`` of the original."""
    return (n_samples - 1 - offset) % hop


def oscillator_states(
    x: np.ndarray,
    poles: np.ndarray,
    *,
    hop: int = 1,
    offset: int = 0,
    direction: Direction = "forward",
    precision: Precision = "float32",
    block_size: int = DEFAULT_BLOCK,
    workers: int = -1,
) -> np.ndarray:
    """States of ``s[t] = p s[t-1] + x[t]`` (``s[-1] = 0``) for every pole, by exact block FFT.

    Args:
        x: Real input, ``(T,)`` or ``(..., T)``.
        poles: complex ``(C,)``, ``|p| < 1``.
        hop: Return every ``hop``-th state.
        offset: The first state returned (``0 <= offset < hop``).
        direction: ``"forward"``, or ``"backward"`` (the recurrence run from the end: ``s[t] = p s[t+1] + x[t]``).
        precision: ``"float32"`` (complex64 FFTs and output) or ``"float64"`` (complex128).
        block_size: Block length (rounded to a multiple of ``hop``); any value gives the same states.
        workers: Threads of ``scipy.fft`` (-1: all cores).

    Returns:
        complex ``(..., T', C)`` with ``T' = len(range(offset, T, hop))`` (a view of a ``(C, ..., T')`` array).
    """
    import scipy.fft as sfft

    x = np.asarray(x)
    n = x.shape[-1]
    if n == 0:
        raise ValueError("x holds no samples")
    if not 0 <= offset < min(hop, n):
        raise ValueError(f"need 0 <= offset < min(hop, T); got {offset=}, {hop=}, T={n}")
    if direction == "backward":
        states = oscillator_states(
            x[..., ::-1],
            poles,
            hop=hop,
            offset=backward_offset(n, hop, offset),
            precision=precision,
            block_size=block_size,
            workers=workers,
        )
        return states[..., ::-1, :]
    complex_dtype = np.complex64 if precision == "float32" else np.complex128
    lead = x.shape[:-1]
    flat = x.reshape(-1, n)
    length = block_length(n, hop, block_size)
    n_blocks = -(-n // length)
    plan = block_plan(poles, length, hop, offset)
    padded = np.zeros((flat.shape[0], n_blocks * length), dtype=np.float64)
    padded[:, :n] = flat
    spectra = sfft.fft(padded.reshape(flat.shape[0], n_blocks, length), axis=-1, workers=workers)  # (B, nb, L) complex128
    per_block = length // hop
    powers = plan.powers.astype(complex_dtype)
    if hop > 1:
        assert plan.last_weights is not None
        last = spectra @ plan.last_weights  # (B, nb, C)
        # fold: F[k0] = sum_j X[k0 + j M] S[k0 + j M], as (M, B*nb, H) @ (M, H, C)
        folded_x = spectra.reshape(-1, hop, per_block).transpose(2, 0, 1).astype(complex_dtype)
        folded_s = plan.spectrum.reshape(-1, hop, per_block).transpose(2, 1, 0).astype(complex_dtype)
        folded = np.matmul(folded_x, folded_s)  # (M, B*nb, C)
        circular = sfft.ifft(folded.transpose(2, 1, 0), axis=-1, workers=workers, overwrite_x=True)  # (C, B*nb, M)
        circular = circular.reshape(len(poles), flat.shape[0], n_blocks, per_block)
        _add_carry(circular, last, plan.log_block_power, powers, np.empty_like(circular))
    else:  # one channel at a time, in place in the output: product, inverse FFT, carried state
        spectra_c = spectra.astype(complex_dtype)
        spectrum_c = plan.spectrum.astype(complex_dtype)
        circular = np.empty((len(poles), *spectra_c.shape), dtype=complex_dtype)  # (C, B, nb, L)
        scratch = np.empty((1, *spectra_c.shape), dtype=complex_dtype)
        for c in range(len(poles)):
            channel = circular[c : c + 1]
            np.multiply(spectra_c, spectrum_c[c], out=channel[0])
            result = sfft.ifft(channel, axis=-1, workers=workers, overwrite_x=True)
            if not np.shares_memory(result, channel):
                channel[...] = result
            _add_carry(channel, channel[0, ..., -1:], plan.log_block_power[c : c + 1], powers[c : c + 1], scratch)
    n_out = len(range(offset, n, hop))
    states = circular.reshape(len(poles), flat.shape[0], -1)[..., :n_out]  # (C, B, T')
    return states.transpose(1, 2, 0).reshape(*lead, n_out, len(poles))


def bank_features(
    x: np.ndarray,
    spec: BankSpec,
    *,
    hop: int = 1,
    offset: int = 0,
    precision: Precision = "float32",
    block_size: int = DEFAULT_BLOCK,
) -> np.ndarray:
    """Bidirectional features ``[Re fwd, Im fwd, Re bwd, Im bwd]`` of the bank ``spec``.

    Args:
        x: Real input, ``(T,)`` or ``(..., T)``, at ``spec.sample_rate``.
        spec: The bank.
        hop, offset: Return features at samples ``offset, offset + hop, ...``.
        precision: ``"float32"`` (float32 features) or ``"float64"``.
        block_size: Block length of the FFT (does not change the result).

    Returns:
        real ``(..., T', 4 C)``: the forward states' real and imaginary parts, then the backward's,
        each scaled by :meth:`BankSpec.gains`.
    """
    poles = spec.poles()
    gains = spec.gains().astype(np.float32 if precision == "float32" else np.float64)
    n_channels = len(poles)
    out = None
    for i, direction in enumerate(("forward", "backward")):
        states = oscillator_states(x, poles, hop=hop, offset=offset, direction=direction, precision=precision, block_size=block_size)
        if out is None:
            out = np.empty((*states.shape[:-1], 4 * n_channels), dtype=gains.dtype)
        real_part = out[..., 2 * i * n_channels : (2 * i + 1) * n_channels]
        imag_part = out[..., (2 * i + 1) * n_channels : (2 * i + 2) * n_channels]
        for t0 in range(0, states.shape[-2], TRANSPOSE_ROWS):  # time blocks: the states are channel-major
            rows = slice(t0, t0 + TRANSPOSE_ROWS)
            np.multiply(states[..., rows, :].real, gains, out=real_part[..., rows, :])
            np.multiply(states[..., rows, :].imag, gains, out=imag_part[..., rows, :])
        del states
    assert out is not None
    return out


def features_at(x: np.ndarray, spec: BankSpec, at: int, *, precision: Precision = "float32") -> np.ndarray:
    """The features of the bank at one sample ``at`` of ``x`` ``(T,)``: shape ``(4 C,)``.

    The forward state from ``x[: at + 1]`` and the backward state from ``x[at:]``, each decimated
    to a grid that ends (starts) at ``at`` (cost ``O(T C)``, memory ``O(block C)``).
    """
    x = np.asarray(x)
    n = x.shape[-1]
    if not 0 <= at < n:
        raise ValueError(f"at={at} is outside 0 .. {n - 1}")
    poles = spec.poles()
    hop = min(DEFAULT_BLOCK, at + 1)
    forward = oscillator_states(x[: at + 1], poles, hop=hop, offset=at % hop, precision=precision)[-1]
    backward = oscillator_states(x[at:], poles, hop=min(DEFAULT_BLOCK, n - at), direction="backward", precision=precision)[0]
    real = np.float32 if precision == "float32" else np.float64
    forward, backward = forward * spec.gains(), backward * spec.gains()
    return np.concatenate([forward.real, forward.imag, backward.real, backward.imag]).astype(real)


def recurrence_states(x: np.ndarray, poles: np.ndarray, *, method: Literal["lfilter", "loop"] = "lfilter") -> np.ndarray:
    """The float64 reference: ``s[t] = p s[t-1] + x[t]`` run sample by sample, complex128 ``(T, C)``.

    Args:
        x: Real input ``(T,)``.
        poles: complex ``(C,)``.
        method: ``"lfilter"`` (``scipy.signal.lfilter([1], [1, -p])`` per channel) or ``"loop"``
            (a Python loop over time, vectorised over channels: the plain sequential recurrence).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    poles = np.asarray(poles, dtype=np.complex128)
    if method == "lfilter":
        from scipy.signal import lfilter

        return np.stack([lfilter([1.0], [1.0, -p], x) for p in poles], axis=-1)
    out = np.empty((x.shape[0], poles.shape[0]), dtype=np.complex128)
    state = np.zeros(poles.shape[0], dtype=np.complex128)
    for t, value in enumerate(x):
        state = poles * state + value
        out[t] = state
    return out
