"""Audio losses registered by name (``cspace``, ``mel``, ``mrstft``, ``si_snr``) and the SI-SNR metric.

The plugin registers the classes themselves as the factories (keyword arguments = a config's
``loss_args``). Each returns a ``torch.nn.Module`` called as ``loss(prediction, target) -> scalar``
(or, with ``reduction="none"``, one value per item, each equal to the loss of that item alone);
inputs may be ``(B, T)``, ``(B, 1, T)`` or ``(B, T, 1)`` on any device (constant tensors follow
the input). Every loss is zero on identical inputs and has a finite gradient there.
"""

from __future__ import annotations

from typing import Literal

import torch

from kaspix_cspace.bank import BankSpec, QRule
from kaspix_cspace.bank_torch import OscillatorBank, audio_batch

Reduction = Literal["mean", "none"]

__all__ = ["CSpaceLoss", "LogMelLoss", "MultiResolutionSTFTLoss", "SISNRLoss", "si_snr_db"]


def _reduce(per_item: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """The batch mean (``"mean"``) or the values per item (``"none"``, shape ``(B,)``)."""
    if reduction == "none":
        return per_item
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return per_item.mean()


def _item_energy(x: torch.Tensor, floor: float, eps: float) -> torch.Tensor:
    """Per-item energy ``sum x^2`` over all but the batch axis, floored at ``floor`` times the batch mean."""
    energy = x.detach().pow(2).flatten(1).sum(1)
    return torch.maximum(energy, floor * energy.mean()) + eps


class CSpaceLoss(torch.nn.Module):
    """Hybrid holographic loss: relative error of the bidirectional oscillator states, plus a small time-domain term.

    ``L = mean_b [ ||F(y_hat) - F(y)||^2 / ||F(y)||^2  +  time_weight * ||y_hat - y||^2 / ||y||^2 ]``

    where ``F`` is the decimated bidirectional oscillator bank
    (:class:`~kaspix_cspace.bank_torch.OscillatorBank`: ``[Re fwd, Im fwd, Re bwd, Im bwd]`` every
    ``hop`` samples, each channel at unit peak gain). The bank is linear, so the state term is the
    bank's response to the error signal: a phase-sensitive error weighted by the oscillators'
    resonances, where the forward states locate what follows an event and the backward states what
    precedes it. The time-domain term (an error-to-signal ratio) is there because the bank does not
    see everything: DC and content below ``f_min`` or above ``f_max``, and error components the
    decimation aliases away would otherwise cost nothing; with a small weight it pins those down
    without changing the state term's basin. Energies are per item (quiet items count as much as
    loud ones), floored at ``floor`` times the batch mean so silent items do not dominate.

    Args:
        sample_rate: Sample rate of the audio (Hz); the bank's frequencies follow it.
        n_oscillators: Oscillators in the bank.
        q: Quality factor (``q_rule="constant_q"``).
        q_rule: ``"constant_q"`` or ``"constant_bandwidth"`` (see :class:`~kaspix_cspace.bank.BankSpec`).
        f_min: Lowest oscillator frequency (Hz).
        f_max: Highest oscillator frequency (Hz; default ``0.45 * sample_rate``).
        hop: Compare the states every ``hop`` samples.
        time_weight: Weight of the time-domain term.
        floor: Energy floor, as a fraction of the batch's mean energy.
        eps: Added to every energy.
        reduction: ``"mean"`` over the batch, or ``"none"`` for one value per item.

    Shape:
        - prediction, target: ``(B, T)``, ``(B, 1, T)`` or ``(B, T, 1)``.
        - output: scalar, or ``(B,)`` with ``reduction="none"``.

    Reference: the CSpace seed (oscillator-state "holographic" loss); the bank is a diagonal complex
    state space as in S4D (Gu et al., 2022, "On the Parameterization and Initialization of Diagonal
    State Space Models", https://arxiv.org/abs/2206.11893).
    """

    def __init__(
        self,
        *,
        sample_rate: int = 24_000,
        n_oscillators: int = 64,
        q: float = 8.0,
        q_rule: QRule = "constant_q",
        f_min: float = 20.0,
        f_max: float | None = None,
        hop: int = 16,
        time_weight: float = 0.1,
        floor: float = 0.1,
        eps: float = 1e-8,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.reduction = reduction
        spec = BankSpec(n_oscillators=n_oscillators, sample_rate=sample_rate, q=q, q_rule=q_rule, f_min=f_min, f_max=f_max)
        self.bank = OscillatorBank(spec, hop=hop)
        self.time_weight = time_weight
        self.floor = floor
        self.eps = eps

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        prediction, target = audio_batch(prediction), audio_batch(target)
        error = prediction - target
        state_error = self.bank(error).pow(2).flatten(1).sum(1)
        with torch.no_grad():
            state_energy = _item_energy(self.bank(target), self.floor, self.eps)
        time_error = error.pow(2).sum(1) / _item_energy(target, self.floor, self.eps)
        return _reduce(state_error / state_energy + self.time_weight * time_error, self.reduction)


class LogMelLoss(torch.nn.Module):
    """L1 distance between log mel magnitude spectrograms.

    ``L = mean | log(max(M |STFT(y_hat)|, floor)) - log(max(M |STFT(y)|, floor)) |`` with ``M`` the
    librosa mel filterbank (Slaney-normalised, built once) and a Hann-windowed, centred torch STFT.

    Args:
        sample_rate: Sample rate (Hz).
        n_fft: FFT size.
        hop_length: Hop between frames.
        win_length: Window length (default ``n_fft``).
        n_mels: Mel bands.
        f_min: Lowest mel frequency (Hz).
        f_max: Highest mel frequency (Hz; default ``sample_rate / 2``).
        floor: Magnitude floor before the log.
        reduction: ``"mean"`` over the batch, or ``"none"`` for one value per item.

    Shape:
        - prediction, target: ``(B, T)``, ``(B, 1, T)`` or ``(B, T, 1)``.
        - output: scalar, or ``(B,)`` with ``reduction="none"``.

    Reference: the mel-spectrogram L1 loss of HiFi-GAN (Kong et al., 2020,
    https://arxiv.org/abs/2010.05646); filterbank ``librosa.filters.mel``.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 24_000,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int | None = None,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        floor: float = 1e-5,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        import librosa

        self.reduction = reduction
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length or n_fft
        self.floor = floor
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max)
        self.register_buffer("basis", torch.from_numpy(basis), persistent=False)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def log_mel(self, x: torch.Tensor) -> torch.Tensor:
        """``log(max(mel magnitude, floor))``, shape ``(B, n_mels, frames)``."""
        x = audio_batch(x)
        spectrum = torch.stft(x, self.n_fft, self.hop_length, self.win_length, self.window.to(x.device, x.dtype), return_complex=True).abs()
        return torch.log(torch.clamp(self.basis.to(x.device, x.dtype) @ spectrum, min=self.floor))

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _reduce((self.log_mel(prediction) - self.log_mel(target)).abs().flatten(1).mean(1), self.reduction)


class MultiResolutionSTFTLoss(torch.nn.Module):
    """Multi-resolution STFT loss: spectral convergence + log-magnitude L1, averaged over resolutions.

    Per resolution, with ``X = |STFT(y_hat)|`` and ``Y = |STFT(y)|`` (Hann window, centred, magnitudes
    ``sqrt(max(re^2 + im^2, eps))``): ``||Y - X||_F / ||Y||_F + mean |log Y - log X|``; the loss is the
    mean over resolutions. The same definition and defaults as ``auraloss.freq.MultiResolutionSTFTLoss``
    (a test compares the two).

    Args:
        fft_sizes: FFT sizes (default ``[1024, 2048, 512]``).
        hop_sizes: Hops (default ``[120, 240, 50]``).
        win_lengths: Window lengths (default ``[600, 1200, 240]``).
        eps: Floor of the squared magnitude.
        reduction: ``"mean"`` (auraloss's: the spectral convergence's norms span the whole batch)
            or ``"none"`` (each item's loss on its own).

    Shape:
        - prediction, target: ``(B, T)``, ``(B, 1, T)`` or ``(B, T, 1)``.
        - output: scalar, or ``(B,)`` with ``reduction="none"``.

    Reference: Yamamoto et al., 2020, "Parallel WaveGAN" (https://arxiv.org/abs/1910.11480);
    Steinmetz & Reiss, 2020, auraloss.
    """

    def __init__(
        self,
        *,
        fft_sizes: tuple[int, ...] = (1024, 2048, 512),
        hop_sizes: tuple[int, ...] = (120, 240, 50),
        win_lengths: tuple[int, ...] = (600, 1200, 240),
        eps: float = 1e-8,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        _reduce(torch.zeros(1), reduction)  # validates the name
        self.reduction = reduction
        if not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
            raise ValueError("fft_sizes, hop_sizes and win_lengths must have the same length")
        self.resolutions = list(zip(fft_sizes, hop_sizes, win_lengths, strict=True))
        self.eps = eps
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window_{i}", torch.hann_window(win), persistent=False)

    def _magnitude(self, x: torch.Tensor, i: int) -> torch.Tensor:
        n_fft, hop, win = self.resolutions[i]
        window = getattr(self, f"window_{i}").to(x.device, x.dtype)
        spectrum = torch.stft(x, n_fft, hop, win, window, return_complex=True)
        return torch.sqrt(torch.clamp(spectrum.real**2 + spectrum.imag**2, min=self.eps))

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        prediction, target = audio_batch(prediction), audio_batch(target)
        per_item = self.reduction == "none"
        total = prediction.new_zeros(prediction.shape[0] if per_item else ())
        for i in range(len(self.resolutions)):
            x, y = self._magnitude(prediction, i), self._magnitude(target, i)
            if per_item:
                convergence = (y - x).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)
                log_magnitude = (torch.log(y) - torch.log(x)).abs().flatten(1).mean(1)
            else:
                convergence = torch.linalg.norm(y - x) / torch.linalg.norm(y)
                log_magnitude = (torch.log(y) - torch.log(x)).abs().mean()
            total = total + convergence + log_magnitude
        return total / len(self.resolutions)


def si_snr_db(prediction: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant signal-to-noise ratio in dB per item, shape ``(B,)`` (higher is better).

    Both signals are made zero-mean; ``s = (<y_hat, y> / ||y||^2) y``, ``e = y_hat - s``,
    ``SI-SNR = 10 log10(||s||^2 / ||e||^2)``. Reference: Le Roux et al., 2019, "SDR - half-baked or
    well done?" (https://arxiv.org/abs/1811.02508).
    """
    prediction, target = audio_batch(prediction), audio_batch(target)
    prediction = prediction - prediction.mean(-1, keepdim=True)
    target = target - target.mean(-1, keepdim=True)
    scale = (prediction * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps)
    projection = scale * target
    noise = prediction - projection
    return 10 * torch.log10((projection.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


class SISNRLoss(torch.nn.Module):
    """Negative SI-SNR as a loss, offset so that a perfect match is 0: ``10 log10(1 + 10^((max_db - SI-SNR) / 10))``.

    For SI-SNR well below ``max_db`` this is ``max_db - SI-SNR`` (the usual negative SI-SNR plus a
    constant, same gradient); it falls smoothly to 0 as the SI-SNR goes to infinity, so it is zero on
    identical inputs with a finite (zero) gradient, where plain ``-SI-SNR`` diverges. Mean over the batch.

    Args:
        max_db: The SI-SNR (dB) above which the loss flattens out.
        eps: Added to energies.
        reduction: ``"mean"`` over the batch, or ``"none"`` for one value per item.

    Shape:
        - prediction, target: ``(B, T)``, ``(B, 1, T)`` or ``(B, T, 1)``.
        - output: scalar, or ``(B,)`` with ``reduction="none"``.

    Reference: Luo & Mesgarani, 2019, Conv-TasNet (https://arxiv.org/abs/1809.07454); see :func:`si_snr_db`.
    """

    def __init__(self, *, max_db: float = 60.0, eps: float = 1e-8, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.reduction = reduction
        self.max_db = max_db
        self.eps = eps

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        prediction, target = audio_batch(prediction), audio_batch(target)
        prediction = prediction - prediction.mean(-1, keepdim=True)
        target = target - target.mean(-1, keepdim=True)
        scale = (prediction * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + self.eps)
        projection = scale * target
        ratio = (prediction - projection).pow(2).sum(-1) / (projection.pow(2).sum(-1) + self.eps)  # 10^(-SI-SNR/10)
        return _reduce(10 * torch.log10(1 + ratio * 10 ** (self.max_db / 10)), self.reduction)
