"""The codec: a convolutional autoencoder with a stated bottleneck and receptive field.

Encoder: a full-rate convolution, then per stride ``s`` a strided convolution (kernel ``2s``)
doubling the width up to a cap followed by dilated residual units at the reduced rate (none run
at the full rate, where they would cost the most), then a convolution to ``latent_channels``.
Decoder: the mirror image, with transposed convolutions. With ``bypass`` (the default) a linear
path runs beside each: one strided convolution (kernel ``2 hop``) from the audio to the latents
and one transposed convolution back, added to the deep paths' outputs; it learns the linear part
of the code quickly and leaves the nonlinear part to the deep paths.

Every layer is bias-free and the nonlinearity is a leaky ReLU, so the model is positively
homogeneous: ``model(a * x) == a * model(x)`` for ``a > 0`` — it treats a quiet and a loud signal
alike, with no gain to learn from the training data's levels.

Initialization (``init``): ``random`` (He-normal for every convolution, residual branches at zero)
makes every variant learn its code from scratch — what the loss comparison needs. ``mdct`` starts
the linear path as the lowest ``latent_channels`` bins of a sine-window MDCT with the model's hop
(a low-pass codec up to ``latent_channels / hop * fs / 2`` before any training) and the deep
paths' last layers at zero.

Bottleneck: ``latent_channels`` numbers per ``hop`` samples, :attr:`CodecModel.latent_rate` numbers
per second (continuous float32 values; no quantization), at most a quarter of the sample rate.

Inputs of any length work: they are zero-padded on the right to a whole number of hops and the
output is trimmed back. :attr:`CodecModel.receptive_field` bounds how far (in samples, left and
right) an output sample can see (``small``: 701 each side at hop 64); :mod:`kaspix_cspace.codec_infer`
chunks long files with that much context so chunked and one-pass outputs agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from kaspix_cspace.codec_config import CodecModelConfig

__all__ = ["CodecModel", "cspace_codec", "low_band_mdct"]

NEGATIVE_SLOPE = 0.1


class _Reach:
    """How far (samples, left and right) the frames at the current resolution see, and the resolution."""

    def __init__(self) -> None:
        self.left = 0.0
        self.right = 0.0
        self.jump = 1.0  # samples per frame

    def conv(self, kernel: int, stride: int = 1, dilation: int = 1, padding: int = 0) -> None:
        self.left += padding * self.jump
        self.right += ((kernel - 1) * dilation - padding) * self.jump
        self.jump *= stride

    def widen(self, other: _Reach) -> None:
        """Cover ``other``'s reach too (a parallel path)."""
        self.left, self.right = max(self.left, other.left), max(self.right, other.right)

    def transposed(self, kernel: int, stride: int, padding: int) -> None:
        out_jump = self.jump / stride
        self.left += (kernel - 1 - padding) * out_jump
        self.right += padding * out_jump
        self.jump = out_jump


class _Residual(nn.Module):
    """``x + W2 act(W1_dilated act(x))``, bias-free."""

    def __init__(self, channels: int, kernel: int, dilation: int, reach: _Reach) -> None:
        super().__init__()
        padding = (kernel - 1) * dilation // 2
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=padding, bias=False)
        self.mix = nn.Conv1d(channels, channels, 1, bias=False)
        reach.conv(kernel, dilation=dilation, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(functional.leaky_relu(x, NEGATIVE_SLOPE))
        return x + self.mix(functional.leaky_relu(h, NEGATIVE_SLOPE))


def _act() -> nn.Module:
    return nn.LeakyReLU(NEGATIVE_SLOPE)


def _init(module: nn.Module) -> None:
    """Variance-preserving (He) initialization for leaky-ReLU layers; residual branches start at zero."""
    if isinstance(module, _Residual):  # applied after its own convolutions (children first)
        nn.init.zeros_(module.mix.weight)
        return
    if isinstance(module, nn.Conv1d):
        _, in_ch, kernel = module.weight.shape
        fan_in = in_ch * kernel
    elif isinstance(module, nn.ConvTranspose1d):  # weight (in, out, k); an output sees k / stride taps per input channel
        in_ch, _, kernel = module.weight.shape
        fan_in = in_ch * kernel / module.stride[0]
    else:
        return
    nn.init.normal_(module.weight, std=math.sqrt(2 / (1 + NEGATIVE_SLOPE**2)) / math.sqrt(fan_in))


def low_band_mdct(hop: int, bins: int) -> np.ndarray:
    """The ``bins`` lowest basis functions of the orthonormal sine-window MDCT with ``hop``, shape ``(bins, 2 * hop)``.

    Analysis and synthesis with all ``hop`` bins reconstruct perfectly (time-domain aliasing
    cancellation); the lowest ``bins`` keep the band below ``bins / hop * fs / 2``.
    """
    n = np.arange(2 * hop)
    k = np.arange(bins)[:, None]
    window = np.sin(np.pi * (n + 0.5) / (2 * hop))
    return np.sqrt(2 / hop) * window * np.cos(np.pi / hop * (n + 0.5 + hop / 2) * (k + 0.5))


class CodecModel(nn.Module):
    """Convolutional autoencoder for mono audio.

    Args:
        config: The shape (:class:`~kaspix_cspace.codec_config.CodecModelConfig`).
        sample_rate: Hz; only used to state :attr:`latent_rate`.

    Shape:
        - Input: ``(batch, time)`` or ``(batch, 1, time)``, any ``time >= 1``.
        - Output: the same shape as the input.
        - Latent (:meth:`encode`): ``(batch, latent_channels, ceil(time / hop))``.
    """

    def __init__(self, config: CodecModelConfig | None = None, sample_rate: int = 24000) -> None:
        super().__init__()
        self.config = config or CodecModelConfig()
        self.sample_rate = int(sample_rate)
        cfg = self.config
        k = cfg.kernel_size
        widths = [min(cfg.channels * 2**i, cfg.max_channels) for i in range(len(cfg.strides) + 1)]

        enc_reach = _Reach()
        enc: list[nn.Module] = [nn.Conv1d(1, widths[0], k, padding=k // 2, bias=False)]
        enc_reach.conv(k, padding=k // 2)
        for i, stride in enumerate(cfg.strides):
            pad = (stride + 1) // 2
            enc += [_act(), nn.Conv1d(widths[i], widths[i + 1], 2 * stride, stride=stride, padding=pad, bias=False)]
            enc_reach.conv(2 * stride, stride=stride, padding=pad)
            enc += [_Residual(widths[i + 1], k, 3**j, enc_reach) for j in range(cfg.res_blocks)]
        enc += [_act(), nn.Conv1d(widths[-1], cfg.latent_channels, 3, padding=1, bias=False)]
        enc_reach.conv(3, padding=1)
        self.encoder = nn.Sequential(*enc)

        dec_reach = _Reach()
        dec_reach.jump = float(cfg.hop)
        dec: list[nn.Module] = [nn.Conv1d(cfg.latent_channels, widths[-1], 3, padding=1, bias=False)]
        dec_reach.conv(3, padding=1)
        for i, stride in reversed(list(enumerate(cfg.strides))):
            dec += [_Residual(widths[i + 1], k, 3**j, dec_reach) for j in range(cfg.res_blocks)]
            pad = (stride + 1) // 2
            dec += [
                _act(),
                nn.ConvTranspose1d(
                    widths[i + 1], widths[i], 2 * stride, stride=stride, padding=pad, output_padding=2 * pad - stride, bias=False
                ),
            ]
            dec_reach.transposed(2 * stride, stride, pad)
        dec += [_act(), nn.Conv1d(widths[0], 1, k, padding=k // 2, bias=False)]
        dec_reach.conv(k, padding=k // 2)
        self.decoder = nn.Sequential(*dec)

        self.linear_encoder: nn.Module | None = None
        self.linear_decoder: nn.Module | None = None
        if cfg.bypass:
            hop, pad = cfg.hop, (cfg.hop + 1) // 2
            self.linear_encoder = nn.Conv1d(1, cfg.latent_channels, 2 * hop, stride=hop, padding=pad, bias=False)
            self.linear_decoder = nn.ConvTranspose1d(
                cfg.latent_channels, 1, 2 * hop, stride=hop, padding=pad, output_padding=2 * pad - hop, bias=False
            )
            lin_enc, lin_dec = _Reach(), _Reach()
            lin_enc.conv(2 * hop, stride=hop, padding=pad)
            lin_dec.jump = float(hop)
            lin_dec.transposed(2 * hop, hop, pad)
            enc_reach.widen(lin_enc)
            dec_reach.widen(lin_dec)
        self._receptive_field = (math.ceil(enc_reach.left + dec_reach.left), math.ceil(enc_reach.right + dec_reach.right))
        self.apply(_init)
        if cfg.init == "mdct" and self.linear_encoder is not None and self.linear_decoder is not None:
            basis = torch.from_numpy(low_band_mdct(cfg.hop, cfg.latent_channels)).float()[:, None, :]
            with torch.no_grad():
                self.linear_encoder.weight.copy_(basis)
                self.linear_decoder.weight.copy_(basis)
                nn.init.zeros_(self.encoder[-1].weight)
                nn.init.zeros_(self.decoder[-1].weight)

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        return self.config.hop

    @property
    def latent_rate(self) -> float:
        """Latent numbers per second: ``latent_channels * sample_rate / hop`` (at most ``sample_rate / 4``)."""
        return self.config.latent_channels * self.sample_rate / self.hop

    @property
    def receptive_field(self) -> tuple[int, int]:
        """``(left, right)``: an output sample depends on input samples at most this far before and after it.

        A structural bound from the layer shapes (tested against the gradient's support), valid for
        inputs that start on a multiple of :attr:`hop`.
        """
        return self._receptive_field

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"expected audio of shape (batch, time) or (batch, 1, time), got {tuple(x.shape)}")
        extra = -x.shape[-1] % self.hop
        return functional.pad(x, (0, extra)) if extra else x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Audio ``(batch, time)`` or ``(batch, 1, time)`` to latents ``(batch, latent_channels, ceil(time / hop))``."""
        x = self._pad(x)
        z = self.encoder(x)
        return z + self.linear_encoder(x) if self.linear_encoder is not None else z

    def decode(self, z: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Latents to audio ``(batch, 1, frames * hop)``, trimmed to ``length`` samples when given."""
        y = self.decoder(z)
        if self.linear_decoder is not None:
            y = y + self.linear_decoder(z)
        return y[..., :length] if length is not None else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` (same shape as ``x``)."""
        y = self.decode(self.encode(x), x.shape[-1])
        return y.reshape(x.shape)


def cspace_codec(sample_rate: int = 24000, **model: Any) -> CodecModel:
    """The codec autoencoder; keyword arguments are :class:`~kaspix_cspace.codec_config.CodecModelConfig` fields."""
    return CodecModel(CodecModelConfig(**model), sample_rate=sample_rate)
