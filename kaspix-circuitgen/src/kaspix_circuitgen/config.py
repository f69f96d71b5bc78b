"""The ``circuitgen`` pipeline's config (pydantic only: importing this module stays light)."""

from __future__ import annotations

from typing import Literal

from kaspix import Config
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BaselineConfig", "CircuitgenConfig", "DataConfig", "DesignConfig", "EvaluateConfig", "TrainConfig"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    """Random circuits (cached in the run's ``artifacts/data/circuits.h5``)."""

    per_family: int = Field(1500, ge=20, description="circuits drawn per family")
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    test_fraction: float = Field(0.1, gt=0, lt=0.5)


class TrainConfig(_Section):
    """The set-decoder model and its loss weights."""

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(256, ge=8)
    lr: float = Field(2e-3, gt=0)
    grad_clip: float = Field(1.0, gt=0)
    latent: int = Field(128, ge=8)
    hidden: int = Field(256, ge=16)
    device: str = Field("cpu", description="cpu or cuda (the physics runs in float64/complex128, which Apple's mps lacks)")
    weight_topology: float = Field(1.0, ge=0)
    weight_sets: float = Field(1.0, ge=0)
    weight_components: float = Field(0.3, ge=0)
    weight_consistency: float = Field(1.0, ge=0)
    weight_spec: float = Field(0.5, ge=0)


class BaselineConfig(_Section):
    """The post-mortem's fixed 2-pole/2-zero decoder, trained on the same circuits."""

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(256, ge=8)
    lr: float = Field(2e-3, gt=0)
    tf_weight: float = Field(1.0, ge=0, description="weight of the Chamfer term (the post-mortem used 0.01)")


class EvaluateConfig(_Section):
    """The test-split evaluation."""

    fit_steps: int = Field(12, ge=0, description="Levenberg-Marquardt steps of the 'analytic + fit' decoder per stage")
    examples: int = Field(6, ge=1, le=12, description="circuits in the pole-zero and response plots")


class DesignConfig(_Section):
    """Spec-conditioned generation, scored on specs taken from test circuits."""

    specs: int = Field(240, ge=1)
    series: Literal["E12", "E24", "E48", "E96", "exact"] = "E24"
    budget: int = Field(512, ge=2, description="E-series combinations simulated per design and family")
    ngspice_checks: int = Field(4, ge=0, description="designs also checked by an ngspice AC analysis (when installed)")


class CircuitgenConfig(Config):
    """Random filter circuits -> set-decoder model and the fixed 2+2 baseline -> evaluation and designs."""

    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    design: DesignConfig = Field(default_factory=DesignConfig)
