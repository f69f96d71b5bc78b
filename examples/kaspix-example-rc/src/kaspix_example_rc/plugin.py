"""The kaspix hook implementations of the example plugin (found through the ``rcfit`` entry point)."""

from __future__ import annotations

import json
import math

from kaspix import Config, KaspixError, Pipeline, RegisterPart, RegisterPipeline, RunContext, Step, hookimpl
from pydantic import Field

from kaspix_example_rc.rc import fit_time_constant, mean_absolute_error, step_response


class RcFitConfig(Config):
    """Config of the ``rc-fit`` pipeline; every default runs as is."""

    resistance_ohm: float = Field(10e3, gt=0, description="R of the low-pass")
    capacitance_farad: float = Field(100e-9, gt=0, description="C of the low-pass")
    sample_rate_hz: float = Field(48_000.0, gt=0)
    n_samples: int = Field(200, ge=2)
    noise: float = Field(0.002, ge=0, description="standard deviation of the added noise, in volts")
    seed: int = 0


def simulate(ctx: RunContext[RcFitConfig]) -> None:
    """Sample a noisy step response into artifacts/samples.json."""
    cfg = ctx.config
    tau = cfg.resistance_ohm * cfg.capacitance_farad
    times = [i / cfg.sample_rate_hz for i in range(cfg.n_samples)]
    volts = step_response(tau, times, noise=cfg.noise, seed=cfg.seed)
    ctx.write_json("samples.json", {"tau": tau, "t": times, "v": volts})


def fit(ctx: RunContext[RcFitConfig]) -> None:
    """Estimate tau from the samples into artifacts/fit.json."""
    samples = json.loads(ctx.artifact("samples.json").read_text())
    try:
        tau_fit = fit_time_constant(samples["t"], samples["v"])
    except ValueError as exc:
        raise KaspixError(str(exc), where="rc-fit step 'fit'", hint="raise n_samples or sample_rate_hz") from None
    ctx.write_json("fit.json", {"tau_fit": tau_fit})


def report(ctx: RunContext[RcFitConfig]) -> None:
    """Compare the fit with the truth and record the metrics."""
    samples = json.loads(ctx.artifact("samples.json").read_text())
    tau, tau_fit = samples["tau"], json.loads(ctx.artifact("fit.json").read_text())["tau_fit"]
    clean = [1.0 - math.exp(-t / tau_fit) for t in samples["t"]]
    ctx.log_metrics(
        {
            "tau_s": tau,
            "tau_fit_s": tau_fit,
            "tau_relative_error": abs(tau_fit - tau) / tau,
            "residual_mae_v": mean_absolute_error(clean, samples["v"]),
        }
    )


@hookimpl
def register_losses(register: RegisterPart) -> None:
    register("mean_absolute_error", lambda: mean_absolute_error, description="Mean absolute error of two sequences")


@hookimpl
def register_pipelines(register: RegisterPipeline) -> None:
    register(
        Pipeline(
            name="rc-fit",
            config_model=RcFitConfig,
            steps=(Step("simulate", simulate), Step("fit", fit), Step("report", report)),
            description="Recover an RC time constant from a noisy step response",
        )
    )
