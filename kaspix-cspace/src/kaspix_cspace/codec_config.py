"""Configs of the codec: the model's shape (:class:`CodecModelConfig`) and its training (:class:`CodecConfig`).

Pydantic only, so pipeline configs can embed :class:`CodecConfig` without importing torch.
Two model sizes are named: ``small`` (the default: trains in a minute or two on 2 CPU cores) and
``full`` (research scale; pass ``model: {size: full}`` in YAML, or build
``CodecModelConfig.preset("full")``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MODEL_PRESETS", "CodecConfig", "CodecModelConfig"]

#: Named model sizes; any field given next to ``size`` overrides the preset's value.
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "small": {"strides": [8, 8], "channels": 32, "max_channels": 128, "latent_channels": 16, "res_blocks": 1, "kernel_size": 7},
    "full": {"strides": [2, 4, 8], "channels": 64, "max_channels": 512, "latent_channels": 16, "res_blocks": 3, "kernel_size": 7},
}


class CodecModelConfig(BaseModel):
    """The autoencoder's shape.

    The encoder downsamples by ``prod(strides)`` (the hop) to ``latent_channels`` numbers per hop:
    ``latent_channels * sample_rate / hop`` numbers per second, which must be at most a quarter of the
    sample rate (16 channels at hop 64 = 6000/s at 24 kHz).
    """

    model_config = ConfigDict(extra="forbid")

    size: Literal["small", "full"] = Field("small", description="a named preset; the fields below override it")
    strides: list[int] = Field(
        default_factory=lambda: list(MODEL_PRESETS["small"]["strides"]), description="encoder downsampling per stage"
    )
    channels: int = Field(32, ge=1, description="width of the first (full-rate) stage; doubles per stage")
    max_channels: int = Field(128, ge=1, description="cap on the width of any stage")
    latent_channels: int = Field(16, ge=1, description="numbers per latent frame (one frame per hop)")
    res_blocks: int = Field(1, ge=0, description="dilated residual units per stage (dilations 1, 3, 9, ...)")
    kernel_size: int = Field(7, ge=1, description="kernel of the input, output and residual convolutions (odd)")
    bypass: bool = Field(True, description="add a linear path (one strided convolution each way) to the deep encoder and decoder")
    init: Literal["random", "mdct"] = Field(
        "random",
        description="random: every layer random (He); mdct: the linear path starts as the low-band MDCT (a low-pass codec "
        "before any training) and the deep paths' last layers at zero",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            size = data.get("size", "small")
            if size in MODEL_PRESETS:
                return {**MODEL_PRESETS[size], **data}
        return data

    @model_validator(mode="after")
    def _check(self) -> CodecModelConfig:
        if not self.strides or any(s < 2 for s in self.strides):
            raise ValueError(f"strides must be a non-empty list of integers >= 2, got {self.strides}")
        if self.init == "mdct" and not self.bypass:
            raise ValueError("init 'mdct' sets the linear path: it needs bypass: true")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if 4 * self.latent_channels > self.hop:
            raise ValueError(
                f"the bottleneck is too wide: {self.latent_channels} latent channels per hop of {self.hop} samples is more than "
                f"a quarter of the sample rate; use at most {self.hop // 4} latent channels or larger strides"
            )
        return self

    @property
    def hop(self) -> int:
        """Samples per latent frame: the product of the strides."""
        return math.prod(self.strides)

    @classmethod
    def preset(cls, size: Literal["small", "full"]) -> CodecModelConfig:
        """The named preset's config."""
        return cls(size=size)


class CodecConfig(BaseModel):
    """Training of the codec (one variant: one loss); defaults are the fast run on 2 CPU cores."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int = Field(24000, ge=8000, description="Hz; data and validation audio are resampled to it")
    model: CodecModelConfig = Field(default_factory=CodecModelConfig)
    loss: Literal["cspace", "mrstft"] = Field("cspace", description="the only training loss (no discriminator)")
    loss_args: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the loss factory")
    steps: int = Field(400, ge=1, description="optimizer steps (the fast default; research scale: thousands)")
    checkpoint_every: int = Field(200, ge=1, description="steps between checkpoints (reconstruction WAV + fidelity figures; the seed: 500)")
    lr: float = Field(5e-3, gt=0)
    schedule: Literal["constant", "cosine"] = "cosine"
    grad_clip: float = Field(1.0, gt=0)
    batch_size: int = Field(8, ge=1)
    segment_seconds: float = Field(0.25, gt=0, description="training crop length")
    data: str = Field("synth_speech", description="a registered data source: synth_speech, wav_folder, libritts, hf_stream")
    data_args: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the data source, e.g. {root: my/wavs}")
    val_batches: int = Field(2, ge=0, description="fixed held-out batches scored at each checkpoint (picks the best weights)")
    device: str = Field("cpu", description="cpu, cuda or auto")
    threads: int | None = Field(
        None, ge=1, description="torch CPU threads while training (default: torch's); 1 is far faster on a machine others load"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> CodecConfig:
        if self.checkpoint_every > self.steps or self.steps % self.checkpoint_every:
            raise ValueError(
                f"steps ({self.steps}) must be a multiple of checkpoint_every ({self.checkpoint_every}); "
                f"e.g. set checkpoint_every to {math.gcd(self.steps, self.checkpoint_every)}"
            )
        segment = round(self.segment_seconds * self.sample_rate)
        if segment < 4 * self.model.hop:
            raise ValueError(f"segment_seconds gives {segment} samples; need at least {4 * self.model.hop} (4 hops)")
        return self

    @property
    def segment_samples(self) -> int:
        """Samples per training crop, rounded up to a whole number of hops."""
        hop = self.model.hop
        return -(-round(self.segment_seconds * self.sample_rate) // hop) * hop

    @property
    def latent_rate(self) -> float:
        """Latent numbers per second."""
        return self.model.latent_channels * self.sample_rate / self.model.hop
