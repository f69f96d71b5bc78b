"""The config of the default ``cspace`` pipeline: the whole study of the seed on synthesized audio.

Pydantic only (no torch), so ``kaspix config --plugin cspace`` and ``kaspix plugins`` stay fast.
The defaults are the quick study (about 5 minutes on 2 CPU cores); ``configs/full.yaml`` in the
source tree is the research-scale one (``kaspix run --plugin cspace -c kaspix-cspace/configs/full.yaml``).
"""

from __future__ import annotations

from typing import Literal

from kaspix import Config
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kaspix_cspace.codec_config import CodecConfig

__all__ = ["AnalysisConfig", "BankConfig", "CSpaceStudyConfig", "EsnConfig", "EvaluationConfig"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BankConfig(_Section):
    """The oscillator bank used by every CSpace analysis (see ``kaspix_cspace.bank.BankSpec``)."""

    n_oscillators: int = Field(64, ge=1, description="complex damped oscillators, log-spaced in frequency")
    f_min: float = Field(20.0, gt=0, description="lowest oscillator frequency, Hz")
    f_max: float | None = Field(None, gt=0, description="highest frequency, Hz (default 0.45 x sample rate)")
    q_rule: Literal["constant_q", "constant_bandwidth"] = Field("constant_q", description="how each oscillator's decay is set")
    q: float = Field(8.0, gt=0, description="quality factor for constant_q: decay alpha = omega / (2 q)")
    bandwidth_hz: float = Field(20.0, gt=0, description="bandwidth for constant_bandwidth: alpha = pi x bandwidth")


class EsnConfig(_Section):
    """The echo-state reservoir of the ESpace analyses (kaspix_esn)."""

    n_units: int = Field(64, ge=1, description="reservoir units, leak rates log-spaced from leak_low to 1")
    leak_low: float = Field(0.01, gt=0, le=1, description="slowest unit's leak rate (time scale 1/leak_low samples)")
    spectral_radius: float = Field(0.9, gt=0)
    sparsity: float = Field(0.9, ge=0, lt=1, description="fraction of zero recurrent weights")


class AnalysisConfig(_Section):
    """The analyses of parts 1-3 of the seed, on one synthesized speech-like clip."""

    seconds: float = Field(4.0, ge=0.5, description="length of the analysis clip")
    at_seconds: float = Field(1.5, ge=0, description="the query sample, as a time in the clip")
    shift: int = Field(37, ge=1, description="samples by which the search target copy is delayed")
    robustness: bool = Field(True, description="run the robustness suites (sizes, seeds, sparsity, Q rules)")
    drift_seconds: float = Field(60.0, ge=1, description="length of the drift test (the clip is looped)")

    @model_validator(mode="after")
    def _query_inside_clip(self) -> AnalysisConfig:
        if self.at_seconds >= self.seconds - 0.3:
            raise ValueError(f"at_seconds ({self.at_seconds}) must leave at least 0.3 s of the {self.seconds}-s clip after it")
        return self


class EvaluationConfig(_Section):
    """Held-out audio the codecs are scored on: speech-like (in distribution) and music-like (never trained on)."""

    clips: int = Field(2, ge=1, description="clips of each kind")
    seconds: float = Field(4.0, gt=0, description="length of each clip")


def _quick_codec() -> CodecConfig:
    # One torch thread: as fast as two on an idle 2-core machine within ~1.7x, and 5-50x faster
    # than two when anything else runs; also the same floating-point sums on every machine.
    return CodecConfig(steps=600, checkpoint_every=200, threads=1)


class CSpaceStudyConfig(Config):
    """The CSpace study: ESpace and CSpace analyses, loss landscapes, int8, drift, and two codecs.

    The codec is trained twice at equal steps, once with the ``cspace`` loss only and once with
    ``mrstft`` only (the control); ``codec.loss`` is therefore not used here. The top-level
    ``seed`` seeds everything, the codecs included (``codec.seed`` is replaced by it).
    """

    seed: int = Field(0, description="seeds the synthesized audio, the reservoirs and the codecs")
    sample_rate: int = Field(24000, ge=8000, description="Hz, for every signal of the study")
    bank: BankConfig = Field(default_factory=BankConfig)
    esn: EsnConfig = Field(default_factory=EsnConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    codec: CodecConfig = Field(default_factory=_quick_codec)
    codec_losses: list[str] = Field(
        default_factory=lambda: ["cspace", "mrstft"], min_length=1, description="one codec per loss (any registered loss)"
    )
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    @model_validator(mode="after")
    def _one_rate(self) -> CSpaceStudyConfig:
        if self.codec.sample_rate != self.sample_rate:
            raise ValueError(f"codec.sample_rate ({self.codec.sample_rate}) must equal sample_rate ({self.sample_rate})")
        if len(set(self.codec_losses)) != len(self.codec_losses):
            raise ValueError(f"codec_losses has repeats: {self.codec_losses}")
        return self
