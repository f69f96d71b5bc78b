"""``kaspix circuitgen analyze``: the exact poles, zeros, gains, type, frequency and Q of a linear netlist."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kaspix_circuitgen.characteristics import characteristics
from kaspix_circuitgen.eseries import format_si

__all__ = ["analyze", "format_analysis"]


def analyze(netlist: str, values: dict[str, float] | None = None) -> dict[str, Any]:
    """Analyze a template (a ``.cir`` path or a shipped spice circuit's name) by exact MNA.

    Args:
        netlist: The file, or a name such as ``rc_lowpass``.
        values: Knob values to use instead of the file's.

    Raises:
        KaspixError: the file breaks the template rules, or is not linear (``not linear: diode D1 on line 9``).
    """
    from kaspix_spice.mna import circuit_from_template
    from kaspix_spice.netlist import load_template, resolve_circuit

    path = resolve_circuit(netlist)
    template = load_template(path)
    circuit = circuit_from_template(template)
    zpk = circuit.zpk(values)
    zeros, poles = zpk.zeros[()], zpk.poles[()]
    ch = characteristics(zeros, poles, np.atleast_1d(zpk.gain))
    return {
        "name": template.name,
        "path": str(path),
        "kind": template.kind,
        "knobs": {k: float(v) for k, v in circuit.parameter_values(values).items() if k in circuit.knobs},
        "poles": poles,
        "zeros": zeros,
        "gain": float(zpk.gain),
        "filter_type": str(ch.filter_type[0]),
        "dc_gain": float(ch.dc_gain[0]),
        "hf_gain": float(ch.hf_gain[0]),
        "frequency_hz": float(ch.frequency_hz[0]),
        "q": float(ch.q[0]),
        "band_hz": (float(ch.low_hz[0]), float(ch.high_hz[0])),
    }


def _root_lines(roots: np.ndarray) -> list[str]:
    lines = []
    for r in roots:
        if r.imag < 0:
            continue
        if r == 0:
            lines.append("    0 (at the origin)")
        elif r.imag == 0:
            side = "left" if r.real < 0 else "right"
            lines.append(f"    {r.real:.6g} rad/s  (real, {format_si(abs(r) / (2 * math.pi), 5)}Hz, {side} half-plane)")
        else:
            w0 = abs(r)
            q = w0 / (-2 * r.real) if r.real != 0 else math.inf
            where = "on the jw axis" if r.real == 0 else f"Q = {q:.4g}"
            lines.append(f"    {r.real:.6g} +- {r.imag:.6g}j rad/s  (pair, f0 = {format_si(w0 / (2 * math.pi), 5)}Hz, {where})")
    return lines


def _gain_text(value: float) -> str:
    if value == 0:
        return "0 (-inf dB)"
    if math.isinf(value):
        return "inf"
    return f"{value:.6g} ({20 * math.log10(abs(value)):+.3f} dB)"


def format_analysis(result: dict[str, Any]) -> str:
    """The analysis as text."""
    kind = result["filter_type"]
    lines = [f"{result['name']}  ({result['path']})", f"filter type: {kind}   (template kind: {result['kind']})"]
    if result["knobs"]:
        lines.append("knobs: " + ", ".join(f"{k}={format_si(v, 5)}" for k, v in result["knobs"].items()))
    lines.append(f"poles ({len(result['poles'])}):")
    lines += _root_lines(result["poles"]) or ["    none"]
    lines.append(f"zeros ({len(result['zeros'])}):")
    lines += _root_lines(result["zeros"]) or ["    none"]
    lines.append(f"DC gain: {_gain_text(result['dc_gain'])}   HF gain: {_gain_text(result['hf_gain'])}")
    f, q, (low, high) = result["frequency_hz"], result["q"], result["band_hz"]
    if kind in ("lowpass", "highpass"):
        text = (
            f"cutoff (-3 dB): {format_si(f, 6)}Hz"
            if math.isfinite(f)
            else "cutoff: none (the response never falls 3 dB below its passband)"
        )
        text += f"   Q (highest pole pair): {q:.4g}" if math.isfinite(q) else "   Q: none (real poles only)"
        lines.append(text)
    elif kind in ("bandpass", "bandstop"):
        name = "centre (peak)" if kind == "bandpass" else "centre (notch)"
        text = f"{name}: {format_si(f, 6)}Hz"
        if math.isfinite(low) and math.isfinite(high):
            text += f"   -3 dB band: {format_si(low, 5)}Hz .. {format_si(high, 5)}Hz   Q = f0 / bandwidth = {q:.4g}"
        lines.append(text)
    return "\n".join(lines)
