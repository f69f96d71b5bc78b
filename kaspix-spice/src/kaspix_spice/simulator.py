"""One sample through the right simulator: exact analytic MNA for linear circuits, ngspice for the rest.

``generate.simulator`` chooses:

* ``auto`` (the default): a template that :mod:`kaspix_spice.mna` reads as linear (R, L, C, K,
  controlled and independent sources) is simulated by :mod:`kaspix_spice.simulate_mna`, the exact
  first-order-hold discretization of its state space, with the same input interpolation and
  initial state as the ngspice path; any other (diodes, transistors, switches, behavioural
  sources, or a linear circuit MNA cannot model) by ngspice (:mod:`kaspix_spice.simulate`);
* ``ngspice`` or ``mna``: always that one (``mna`` refuses a nonlinear template, naming the
  element and its line).

A template driven by its own sources (``generate.excitation: template``) always runs in ngspice,
on the grid of its own ``.tran``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from kaspix import KaspixError

from kaspix_spice.simulate import Simulated, simulate_to_tolerance

if TYPE_CHECKING:
    from kaspix_spice.config import GenerateConfig
    from kaspix_spice.netlist import Template

__all__ = ["choose_simulator", "clip_grid", "simulate_template"]


@lru_cache(maxsize=64)
def _linear(template: Template) -> Any:
    """The template's analytic simulator, or the :class:`KaspixError` saying why it has none (cached per process).

    That error is a :class:`kaspix_spice.mna.NotLinearError` for a nonlinear element, or says what
    else MNA cannot model (an output following the input's derivative, an unsupported element).
    """
    from kaspix_spice.simulate_mna import LinearSimulator

    try:
        return LinearSimulator.from_template(template)
    except KaspixError as exc:
        return exc


def choose_simulator(template: Template, requested: str) -> str:
    """``"mna"`` or ``"ngspice"`` for ``template`` under ``generate.simulator`` = ``requested``.

    Raises:
        KaspixError: ``mna`` was requested for a template it cannot simulate.
    """
    if template.own_sources:
        if requested == "mna":
            raise KaspixError(
                f"simulator 'mna' cannot run {template.name}: it is driven by its own sources",
                where=str(template.path),
                hint="set generate.simulator: auto or ngspice",
            )
        return "ngspice"
    if requested == "ngspice":
        return "ngspice"
    linear = _linear(template)
    if isinstance(linear, KaspixError):
        if requested == "mna":
            raise KaspixError(
                f"simulator 'mna' cannot run {template.name}: {linear.message}",
                where=linear.where or str(template.path),
                hint="set generate.simulator: auto, which runs nonlinear circuits in ngspice",
            )
        return "ngspice"
    return "mna"


def clip_grid(template: Template, cfg: GenerateConfig) -> tuple[int, float]:
    """Samples per clip and the sample rate: the config's, or the template's own ``.tran`` step and length."""
    if template.own_sources:
        step, stop = template.tran
        return round(stop / step) + 1, 1.0 / step
    return round(cfg.clip_seconds * cfg.fs), cfg.fs


def simulate_template(template: Template, knobs: dict[str, float], x: np.ndarray, cfg: GenerateConfig, simulator: str) -> Simulated:
    """Simulate ``x`` through ``template`` at ``knobs`` with ``simulator`` and the config's accuracy settings.

    Args:
        template: A checked template.
        knobs: Physical value per knob name.
        x: The input clip (volts), or zeros on the template's grid for a template with its own sources.
        cfg: The generation config (sample rate, substeps, tolerance, timeout).
        simulator: ``"mna"`` or ``"ngspice"`` (from :func:`choose_simulator`).

    Raises:
        kaspix_spice.simulate.SimulationError: when ngspice fails on this sample.
    """
    _n, fs = clip_grid(template, cfg)
    if simulator == "mna":
        return Simulated(_linear(template).simulate(knobs, x, fs), substeps=0, error_estimate=0.0, simulator="mna")
    return simulate_to_tolerance(
        lambda substeps: template.render(knobs, step=1.0 / (fs * substeps), stop=(len(x) - 1) / fs),
        x,
        fs,
        substeps=cfg.substeps,
        tolerance=cfg.tolerance,
        max_substeps=cfg.max_substeps,
        timeout_s=cfg.timeout_s,
    )
