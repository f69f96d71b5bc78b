"""Circuits for a spec: component values fitted by exact MNA, snapped to E-series values, verified.

A spec is a filter type, a frequency (the -3 dB cutoff of a low- or high-pass, the centre of a band-
pass or band-stop, as defined in :mod:`kaspix_circuitgen.characteristics`) and optionally a Q. For
every family of that type (or the one asked for):

1. start from proposed component values (a trained model's, or the template's defaults);
2. fit them to the spec by Levenberg-Marquardt on ``log f - log f*`` and ``log Q - log Q*``, every
   evaluation an exact batched MNA, within realistic part ranges
   (:data:`kaspix_circuitgen.families.DESIGN_RANGES`), staying near the start where the spec leaves
   freedom;
3. snap to the E-series: every combination of the nearest series values of each part (up to a budget)
   is simulated by MNA and the one nearest the spec wins (``exact`` keeps the fitted values);
4. verify: the chosen circuit's response is measured again by MNA from its netlist, and by an ngspice
   AC analysis when ngspice is installed. The model's own prediction is never the verdict.

A spec that no family can meet is a :class:`kaspix.KaspixError` that says what came closest and why.
"""

from __future__ import annotations

import itertools
import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kaspix import KaspixError

from kaspix_circuitgen.characteristics import Characteristics, characteristics
from kaspix_circuitgen.eseries import format_si, nearest
from kaspix_circuitgen.families import DESIGN_RANGES, FILTER_TYPES, Family, families_of_type, family_names
from kaspix_circuitgen.fitting import levenberg_marquardt

__all__ = [
    "FREQUENCY_TOLERANCE",
    "Q_TOLERANCE",
    "Design",
    "Spec",
    "candidate_families",
    "design",
    "design_batch",
    "fit_spec",
    "measure",
    "objective",
    "render_netlist",
    "spice_check",
]

FREQUENCY_TOLERANCE = 0.05
Q_TOLERANCE = 0.10


@dataclass(frozen=True)
class Spec:
    """What a design must do.

    Attributes:
        filter_type: ``lowpass``, ``highpass``, ``bandpass`` or ``bandstop``.
        frequency_hz: Cutoff (low/high-pass) or centre (band-pass/stop), in Hz.
        q: The Q (pole-pair Q of a low/high-pass, ``f0 / bandwidth`` of a band filter), or None.
    """

    filter_type: str
    frequency_hz: float
    q: float | None = None

    def check(self) -> None:
        """Raise a :class:`KaspixError` for a spec that makes no sense."""
        if self.filter_type not in FILTER_TYPES:
            raise KaspixError(f"unknown filter type {self.filter_type!r}", hint=f"use one of {', '.join(FILTER_TYPES)}")
        if not (math.isfinite(self.frequency_hz) and self.frequency_hz > 0):
            raise KaspixError(f"the frequency must be positive, got {self.frequency_hz:g} Hz", hint="e.g. --fc 1k")
        if self.q is not None and not (math.isfinite(self.q) and self.q > 0):
            raise KaspixError(f"Q must be positive, got {self.q:g}", hint="e.g. --q 0.707")

    def describe(self) -> str:
        """``lowpass, fc = 1 kHz, Q = 0.707``."""
        what = "fc" if self.filter_type in ("lowpass", "highpass") else "f0"
        text = f"{self.filter_type}, {what} = {format_si(self.frequency_hz)}Hz"
        return text + (f", Q = {self.q:g}" if self.q is not None else "")


@dataclass(eq=False)
class Design:
    """One verified design.

    Attributes:
        family: The topology.
        values: The part values (E-series, or exact).
        fitted: The values before snapping.
        achieved: Its response measured by MNA (one circuit).
        frequency_error, q_error: Relative errors against the spec (``q_error`` NaN without a Q).
        series: ``E24``, ``E96``, ... or ``exact``.
    """

    family: Family
    values: dict[str, float]
    fitted: dict[str, float]
    achieved: Characteristics
    frequency_error: float
    q_error: float
    series: str

    @property
    def meets_spec(self) -> bool:
        """Frequency within :data:`FREQUENCY_TOLERANCE` and Q (if asked for) within :data:`Q_TOLERANCE`."""
        return self.frequency_error <= FREQUENCY_TOLERANCE and not (self.q_error > Q_TOLERANCE)


def measure(family: Family, values: np.ndarray) -> Characteristics:
    """Type, gains, frequency and Q of ``family`` with part values ``(N, k)``, by exact MNA."""
    zpk = family.circuit.zpk(dict(zip(family.knobs, np.asarray(values, dtype=float).T, strict=True)))
    return characteristics(zpk.zeros.values, zpk.poles.values, zpk.gain)


def _errors(achieved: Characteristics, spec_f: np.ndarray, spec_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        f_err = np.abs(achieved.frequency_hz / spec_f - 1)
        q_err = np.where(np.isnan(spec_q), np.nan, np.abs(achieved.q / spec_q - 1))
    return np.nan_to_num(f_err, nan=np.inf), np.where(np.isnan(spec_q), np.nan, np.nan_to_num(q_err, nan=np.inf))


def _bounds(family: Family) -> tuple[np.ndarray, np.ndarray]:
    ranges = [family.design_range(k) for k in family.knobs]
    return np.log([r[0] for r in ranges]), np.log([r[1] for r in ranges])


def fit_spec(family: Family, start: np.ndarray, spec_f: np.ndarray, spec_q: np.ndarray, steps: int = 15) -> np.ndarray:
    """Part values ``(B, k)`` of ``family`` fitted to specs ``(B,)`` from ``start`` (Levenberg-Marquardt)."""
    lower, upper = _bounds(family)
    x0 = np.clip(np.log(start), lower, upper)
    has_q = ~np.isnan(spec_q)

    def residual(x: np.ndarray) -> np.ndarray:
        repeat = len(x) // len(spec_f)
        achieved = measure(family, np.exp(x))
        f_target, q_target = np.repeat(spec_f, repeat), np.repeat(np.where(has_q, spec_q, 1.0), repeat)
        with np.errstate(invalid="ignore", divide="ignore"):
            rf = np.log(achieved.frequency_hz / f_target)
            rq = np.where(np.repeat(has_q, repeat), np.log(achieved.q / q_target), 0.0)
        stay = 1e-2 * (x - np.repeat(x0, repeat, axis=0))  # where the spec leaves freedom, stay near the start
        return np.concatenate([rf[:, None], rq[:, None], stay], axis=-1)

    return np.exp(levenberg_marquardt(residual, x0, lower=lower, upper=upper, steps=steps))


def _snap_candidates(family: Family, fitted: np.ndarray, series: str, budget: int) -> np.ndarray:
    """Every combination of the series values nearest each fitted part: ``(B, C, k)``."""
    k = len(family.knobs)
    per_knob = max(2, min(13, int(budget ** (1.0 / k))))
    options = []
    for i, knob in enumerate(family.knobs):
        low, high = family.design_range(knob)
        options.append(nearest(fitted[:, i], series, low, high, count=per_knob))
    grid = np.array(list(itertools.product(range(per_knob), repeat=k)))
    return np.stack([options[i][:, grid[:, i]] for i in range(k)], axis=-1)


def design_batch(
    family: Family, spec_f: np.ndarray, spec_q: np.ndarray, start: np.ndarray, *, series: str = "E24", budget: int = 4096, keep: int = 1
) -> list[list[tuple[np.ndarray, np.ndarray, float, float]]]:
    """Designs of one family for a batch of specs: per spec, the ``keep`` best ``(values, fitted, f_err, q_err)``."""
    fitted = fit_spec(family, start, spec_f, spec_q)
    if series.lower() == "exact":
        candidates = fitted[:, None, :]
    else:
        candidates = _snap_candidates(family, fitted, series, budget)
    batch, count, k = candidates.shape
    achieved = measure(family, candidates.reshape(-1, k))
    f_err, q_err = _errors(achieved, np.repeat(spec_f, count), np.repeat(spec_q, count))
    f_err, q_err = f_err.reshape(batch, count), q_err.reshape(batch, count)
    distance = np.abs(np.log(candidates) - np.log(fitted)[:, None, :]).sum(-1)
    score = objective(f_err, q_err) + 1e-4 * distance
    out = []
    for b in range(batch):
        order = np.argsort(score[b], kind="stable")[:keep]
        out.append([(candidates[b, j], fitted[b], float(f_err[b, j]), float(q_err[b, j])) for j in order])
    return out


def candidate_families(spec: Spec, family: str | None) -> list[Family]:
    """The families that could meet ``spec`` (of its type; with a pole pair when a low/high-pass Q is asked).

    Raises:
        KaspixError: ``family`` matches no family of the type, or none of them can have the Q asked for.
    """
    choices = families_of_type(spec.filter_type)
    if family is not None:
        matching = [f for f in choices if f.name == family or f.name.startswith(family)]
        if not matching:
            other = [name for name in family_names() if name == family or name.startswith(family)]
            why = f"{', '.join(other)} is not a {spec.filter_type}" if other else f"there is no family {family!r}"
            raise KaspixError(
                f"no {spec.filter_type} family matches {family!r}: {why}",
                hint=f"{spec.filter_type} families: {', '.join(f.name for f in choices)}",
            )
        choices = matching
    if spec.q is not None and spec.filter_type in ("lowpass", "highpass"):
        with_q = [f for f in choices if f.has_pole_pair]
        if not with_q:
            names = ", ".join(f.name for f in choices)
            raise KaspixError(
                f"{names}: only real poles, so no Q to set (a passive RC network's poles are real: its Q never exceeds 0.5)",
                hint=f"drop --q, or use {', '.join(f.name for f in families_of_type(spec.filter_type) if f.has_pole_pair)}",
            )
        choices = with_q
    return choices


def design(
    spec: Spec,
    *,
    family: str | None = None,
    series: str = "E24",
    n: int = 1,
    proposals: dict[str, np.ndarray] | None = None,
    budget: int = 4096,
) -> list[Design]:
    """The ``n`` best verified designs for ``spec`` (the best of each family first).

    Args:
        spec: What to build.
        family: A family name or prefix (``sallen_key``) to restrict to.
        series: ``E12``, ``E24``, ``E48``, ``E96`` or ``exact``.
        n: How many designs to return.
        proposals: Starting part values by family name (a model's); default: the template's values.
        budget: Most E-series combinations simulated per family.

    Raises:
        KaspixError: the spec is malformed, or no family meets it (the message says what came closest and why).
    """
    spec.check()
    found: list[Design] = []
    closest: list[str] = []
    for fam in candidate_families(spec, family):
        start = (proposals or {}).get(fam.name)
        start = np.array([[k.default for k in fam.template.knobs]]) if start is None else np.atleast_2d(start)
        spec_q = np.array([np.nan if spec.q is None else spec.q])
        results = design_batch(fam, np.array([spec.frequency_hz]), spec_q, start, series=series, budget=budget, keep=max(n, 1))[0]
        for values, fitted, f_err, q_err in results:
            achieved = measure(fam, values[None])
            candidate = Design(
                fam,
                dict(zip(fam.knobs, values.tolist(), strict=True)),
                dict(zip(fam.knobs, fitted.tolist(), strict=True)),
                achieved,
                f_err,
                q_err,
                series,
            )
            if candidate.meets_spec:
                found.append(candidate)
            else:
                closest.append(_closest(fam, candidate))
    if not found:
        raise KaspixError(f"no design meets {spec.describe()}: " + "; ".join(sorted(set(closest))), hint=_reach_hint(family))
    best_per_family: dict[str, Design] = {}
    for d in sorted(found, key=_score):
        best_per_family.setdefault(d.family.name, d)
    firsts = sorted(best_per_family.values(), key=_score)
    rest = sorted((d for d in found if all(d is not f for f in firsts)), key=_score)
    return (firsts + rest)[:n]


def objective(f_err: np.ndarray, q_err: np.ndarray) -> np.ndarray:
    """What the E-series search minimizes: the frequency error, plus Q errors beyond 3% (Q is looser)."""
    return f_err + 0.25 * np.maximum(np.nan_to_num(q_err) - 0.03, 0.0)


def _score(d: Design) -> float:
    return float(objective(np.array(d.frequency_error), np.array(d.q_error)))


def _closest(fam: Family, d: Design) -> str:
    f, q = float(d.achieved.frequency_hz[0]), float(d.achieved.q[0])
    at_edge = [k for k, v in d.fitted.items() if min(abs(math.log(v / b)) for b in fam.design_range(k)) < 1e-3]
    text = f"{fam.name} came closest at {format_si(f)}Hz" if math.isfinite(f) else f"{fam.name} has no such frequency"
    if math.isfinite(q) and not math.isnan(d.q_error):
        text += f", Q = {q:.3g}"
    if at_edge:
        text += f" with {', '.join(at_edge)} at the end of the part range"
    return text


def _reach_hint(family: str | None) -> str:
    parts = ", ".join(f"{letter} {format_si(low)}..{format_si(high)}" for letter, (low, high) in DESIGN_RANGES.items())
    return f"parts are limited to {parts} (E-series values); change the frequency or Q" + ("" if family else ", or pick --family")


def render_netlist(d: Design, spec: Spec) -> str:
    """The design as a netlist in the spice template conventions (``Vin`` on ``input``, ``output``, knobs)."""
    text = d.family.path.read_text(encoding="utf-8")
    lines = text.splitlines()
    gain_name = (
        "DC gain" if d.family.filter_type in ("lowpass", "bandstop") else ("HF gain" if d.family.filter_type == "highpass" else None)
    )
    header = [
        f"* {d.family.name} designed by kaspix circuitgen for {spec.describe()} ({d.series} values)",
        f"* achieved (MNA): {_achieved_text(d, spec)}" + (f", {gain_name} {_gain(d, gain_name)}" if gain_name else ""),
    ]
    body = []
    for line in lines[1:]:
        match = re.match(r"^\.param\s+(\w+)\s*=", line, re.IGNORECASE)
        if match and match.group(1) in d.values:
            body.append(f".param {match.group(1)}={format_si(d.values[match.group(1)], 12)}")
        elif line.startswith("*") and "kind:" not in line:
            continue
        else:
            body.append(line)
    return "\n".join(header + body) + "\n"


def _gain(d: Design, name: str) -> str:
    value = float(d.achieved.dc_gain[0] if name == "DC gain" else d.achieved.hf_gain[0])
    return f"{value:.5g} ({20 * math.log10(abs(value)):+.3g} dB)" if value != 0 else "0"


def _achieved_text(d: Design, spec: Spec) -> str:
    what = "fc" if spec.filter_type in ("lowpass", "highpass") else "f0"
    f, q = float(d.achieved.frequency_hz[0]), float(d.achieved.q[0])
    text = f"{what} = {format_si(f, 5)}Hz ({100 * (f / spec.frequency_hz - 1):+.2f}%)"
    if math.isfinite(q):
        text += f", Q = {q:.4g}" + (f" ({100 * (q / spec.q - 1):+.2f}%)" if spec.q else "")
    return text


def spice_check(d: Design, spec: Spec, netlist: str) -> dict[str, float]:
    """Run ngspice's AC analysis of the netlist: its largest deviation from MNA and the frequency it shows.

    Raises:
        kaspix_spice.simulate.SimulationError: ngspice is missing or fails.
    """
    from kaspix_spice.ac import ac_response
    from kaspix_spice.mna import circuit_from_template
    from kaspix_spice.netlist import load_template

    with tempfile.TemporaryDirectory(prefix="kaspix-design-") as folder:
        path = Path(folder) / f"{d.family.name}.cir"
        path.write_text(netlist, encoding="utf-8")
        template = load_template(path)
        f0 = float(d.achieved.frequency_hz[0])
        f, h = ac_response(template, f_start=f0 / 30, f_stop=f0 * 30, per_decade=400)
        mna = circuit_from_template(template).system().response(f)
    deviation = float(np.max(np.abs(h - mna) / np.maximum(np.abs(mna), 1e-12)))
    return {"max_relative_deviation": deviation, "frequency_hz": _sampled_frequency(f, h, d, spec)}


def _sampled_frequency(f: np.ndarray, h: np.ndarray, d: Design, spec: Spec) -> float:
    """The cutoff or centre read off a sampled sweep by the definitions of
    :mod:`kaspix_circuitgen.characteristics`: log-log interpolated -3 dB crossings, the vertex of a
    parabola through a band-pass peak, the corner of a V through a single notch."""
    level, x = np.abs(h), np.log(f)
    if spec.filter_type == "bandpass" or (spec.filter_type == "bandstop" and d.family.zeros.count("pair") == 1):
        i = int(np.clip(np.argmax(level) if spec.filter_type == "bandpass" else np.argmin(level), 2, len(f) - 3))
        if spec.filter_type == "bandpass":
            y = np.log(level[i - 1 : i + 2])
            vertex = 0.5 * (y[0] - y[2]) / (y[0] - 2 * y[1] + y[2])
            return float(np.exp(x[i] + vertex * (x[i + 1] - x[i])))
        left = np.polyfit(x[i - 2 : i], level[i - 2 : i], 1)  # |H| ~ a |x - x0| next to a zero on the jw axis
        right = np.polyfit(x[i + 1 : i + 3], level[i + 1 : i + 3], 1)
        return float(np.exp((right[1] - left[1]) / (left[0] - right[0])))
    gains = {"lowpass": d.achieved.dc_gain[0], "highpass": d.achieved.hf_gain[0]}
    reference = abs(float(gains.get(spec.filter_type, min(abs(d.achieved.dc_gain[0]), abs(d.achieved.hf_gain[0])))))
    threshold = math.log(reference / math.sqrt(2))
    above = np.log(level) >= threshold
    edges = np.flatnonzero(above[:-1] != above[1:])
    if len(edges) == 0:
        return float("nan")

    def crossing(i: int) -> float:
        y0, y1 = np.log(level[i]), np.log(level[i + 1])
        return float(x[i] + (threshold - y0) / (y1 - y0) * (x[i + 1] - x[i]))

    if spec.filter_type == "bandstop":  # several notches: the geometric centre of the stop band
        return float(np.exp(0.5 * (crossing(edges[0]) + crossing(edges[-1]))))
    return float(np.exp(crossing(edges[-1] if spec.filter_type == "lowpass" else edges[0])))
