"""Config models of the spice plugin (pydantic only: importing this module stays light)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from kaspix import Config
from kaspix.errors import did_you_mean
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from kaspix_spice.netlist_knobs import parse_value

DEFAULT_CIRCUITS = [
    "rc_lowpass",
    "cr_highpass",
    "rlc_bandpass",
    "twin_t_notch",
    "sallen_key_lowpass",
    "sallen_key_highpass",
    "mfb_bandpass",
    "diode_clipper",
]

DEFAULT_PARAMS: dict[str, dict[str, float]] = {
    "pink": {"f_low": 20.0},
    "white": {},
    "chirp": {"f_low": 20.0, "f_high": 20000.0},
    "steps": {"hold_ms": 20.0},
    "impulses": {"rate_hz": 20.0},
    "bursts": {"f_low": 50.0, "f_high": 12000.0, "burst_ms": 30.0, "count": 6},
    "silence": {"gap_fraction": 0.4, "segments": 3},
}


def _spice_number(value: Any) -> Any:
    """Read ``"10k"``, ``"2.2u"`` as SPICE does; leave anything else to pydantic."""
    if isinstance(value, str):
        try:
            return parse_value(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number (SPICE suffixes allowed: 10k, 100n, 1Meg)") from None
    return value


#: A float that may be written with a SPICE suffix in YAML.
SpiceNumber = Annotated[float, BeforeValidator(_spice_number)]

RecipeKind = Literal["pink", "white", "chirp", "steps", "impulses", "bursts", "silence"]


class Recipe(BaseModel):
    """One kind of excitation with its weight, level range and parameters."""

    model_config = ConfigDict(extra="forbid")

    kind: RecipeKind
    weight: float = Field(1.0, gt=0)
    level_db: tuple[float, float] = (-20.0, 0.0)
    params: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        if self.level_db[0] > self.level_db[1]:
            raise ValueError(f"level_db low end {self.level_db[0]} exceeds the high end {self.level_db[1]}")
        unknown = set(self.params) - set(DEFAULT_PARAMS[self.kind])
        if unknown:
            raise ValueError(f"unknown params {sorted(unknown)} for recipe {self.kind!r}; known: {sorted(DEFAULT_PARAMS[self.kind])}")
        return self


def default_recipes() -> list[Recipe]:
    """The default mix: mostly broadband noise and sweeps, some transients, bursts and silence."""
    return [
        Recipe(kind="pink", weight=3),
        Recipe(kind="white", weight=1, level_db=(-26.0, -6.0)),
        Recipe(kind="chirp", weight=2),
        Recipe(kind="steps", weight=1),
        Recipe(kind="impulses", weight=1),
        Recipe(kind="bursts", weight=1),
        Recipe(kind="silence", weight=1),
    ]


class GenerateConfig(Config):
    """What to simulate and how."""

    circuits: list[str] = Field(default_factory=lambda: list(DEFAULT_CIRCUITS), description="shipped circuit names or .cir paths")
    settings_per_circuit: int = Field(192, ge=1, description="random knob settings per circuit")
    clips_per_setting: int = Field(1, ge=1, description="excitation clips simulated per knob setting")
    clip_seconds: float = Field(0.1, gt=0)
    fs: float = Field(48_000.0, gt=0, description="sample rate in Hz")
    fade_in_ms: float = Field(5.0, ge=0, description="raised-cosine fade-in of the clips that fade in, which start from rest")
    fade_in_share: float = Field(
        0.5, ge=0, le=1, description="share of clips that fade in; the rest start at full level, from the circuit's operating point"
    )
    substeps: int | Literal["auto"] = Field(
        "auto", description="simulator time points per sample period; auto refines 1, 2, 4, ... until within tolerance"
    )
    tolerance: float = Field(1e-2, gt=0, description="with substeps=auto: largest estimated error, relative to the output RMS")
    max_substeps: int = Field(16, ge=2, le=256, description="with substeps=auto: the finest grid tried")
    timeout_s: float = Field(60.0, gt=0, description="wall-clock limit per sample")
    shard_size: int = Field(8, ge=1)
    workers: int = Field(2, ge=1, description="local worker processes, each with its own ngspice")
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(None, description="Ray cluster address for executor=ray (None: start a local instance)")
    seed: int = 0
    recipes: list[Recipe] = Field(default_factory=default_recipes)
    knob_ranges: dict[str, dict[str, tuple[SpiceNumber, SpiceNumber]]] = Field(
        default_factory=dict, description="{circuit: {knob: [low, high]}} overriding the netlists' ranges (SPICE numbers: 1k, 10n)"
    )
    excitation: Literal["recipes", "template"] = Field(
        "recipes",
        description="recipes: the simulator drives Vin with audio clips; template: the netlist's own sources drive it "
        "(its .tran sets the step and length), only the knobs vary",
    )
    simulator: Literal["auto", "ngspice", "mna"] = Field(
        "auto", description="auto: exact analytic (MNA) simulation for linear circuits, ngspice for the rest; or force one"
    )
    on_stale: Literal["refuse", "regenerate"] = Field(
        "refuse",
        description="shards in the folder made from another config, netlist, generator or ngspice version: "
        "refuse (the default), or regenerate exactly those shards",
    )

    @field_validator("substeps")
    @classmethod
    def _positive_substeps(cls, value: int | str) -> int | str:
        if value != "auto" and not 1 <= int(value) <= 256:
            raise ValueError("substeps must be 'auto' or a whole number from 1 to 256")
        return value

    @field_validator("circuits")
    @classmethod
    def _nonempty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one circuit")
        return value

    @field_validator("excitation")
    @classmethod
    def _one_clip_per_setting(cls, value: str, info: ValidationInfo) -> str:
        if value == "template" and info.data.get("clips_per_setting", 1) > 1:
            raise ValueError("with excitation 'template' every clip of a knob setting is the same; set clips_per_setting: 1")
        return value

    @field_validator("knob_ranges")
    @classmethod
    def _ranges_name_circuits(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        known = {Path(name).stem: name for name in info.data.get("circuits", [])}
        for circuit in value:
            if circuit not in known and circuit not in known.values():
                suggestion = did_you_mean(circuit, known)
                suggestion = f"; {suggestion}" if suggestion else ""
                raise ValueError(f"circuit {circuit!r} is not in circuits{suggestion} (circuits: {', '.join(known)})")
        return value


class TrainConfig(Config):
    """The emulator and how it is trained."""

    model: str = Field("film_modal", description="a registered model: film_modal, film_gru, film_lstm, concat_lstm, film_tcn, ...")
    model_args: dict[str, Any] = Field(default_factory=dict)
    loss: str = Field("esr", description="a registered loss, from any plugin")
    loss_args: dict[str, Any] = Field(
        default_factory=lambda: {"pre_emphasis": None, "warmup": 0},
        description="warmup: samples ignored at the start of each segment (use ~128 when segments are cut mid-clip)",
    )
    epochs: int = Field(70, ge=1, description="the training budget, in passes over the train split; the cosine schedule spans it")
    max_seconds: float | None = Field(
        1800.0, gt=0, description="safety cap on training time; hitting it stops training early with a warning (machine-dependent results)"
    )
    schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the steps of all epochs")
    spike_factor: float | None = Field(
        100.0, gt=1, description="a batch loss this many times the running median is a divergence: back to the last good epoch, lr halved"
    )
    patience: int | None = Field(None, ge=1)
    lr: float = Field(1e-2, gt=0)
    batch_size: int = Field(16, ge=1)
    segment: int | None = Field(
        None, ge=64, description="training segment length in samples; None trains on whole clips, which start from rest"
    )
    grad_clip: float | None = 1.0
    device: str = "auto"
    threads: int = Field(
        2, ge=1, description="CPU threads of training and evaluation, set explicitly: results change with the count, not with the load"
    )
    val_fraction: float = Field(0.15, ge=0, lt=0.5)
    test_fraction: float = Field(0.15, ge=0, lt=0.5)


class SpiceConfig(Config):
    """Config of the ``spice`` pipeline; the defaults finish in a few minutes on a 2-core CPU."""

    seed: int = 0
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    probe_responses: bool = Field(True, description="measure |H| and cutoff error with an extra ngspice run per test setting")
    score_starts: bool = Field(
        True, description="score test clips with and without fade-in, simulating the version of each the dataset lacks"
    )
