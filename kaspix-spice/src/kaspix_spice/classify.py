"""What a template is (low-pass, band-pass, ...) and its characteristic frequency, from its MNA response.

:func:`classify` reads the template with :mod:`kaspix_spice.mna` at the default knob values and
looks at ``|H(f)|`` over a logarithmic grid from 1000 times below its lowest pole or zero to 1000
times above its highest (200 points per decade), in dB re its peak:

* ``allpass``: ``|H|`` flat within 0.1 dB while the phase turns by more than 90 degrees
  (frequency: where the phase is halfway); flat otherwise: ``other``;
* ``notch``: both ends within 6 dB of the peak and a dip, away from the ends, at least 10 dB
  below both (frequency: the dip);
* ``lowpass``: the low end within 20 dB of the peak (a resonant low-pass may peak above its
  passband) and the high end at least 20 dB below the low end (frequency: the half-power (-3.01 dB)
  cutoff re the low end's level), ``highpass`` the mirror image;
* ``bandpass``: both ends at least 20 dB below the peak (frequency: the peak);
* ``other`` for anything else (a shelf, a tilt);
* ``nonlinear`` when MNA does not model an element (a diode, a transistor, a switch).

A template driven by its own sources has no input to relate the output to: it is not measured,
and its kind is its header's, else ``other``.

A ``* kind:`` header still wins: :attr:`Classification.kind` is the header's when there is one,
and :attr:`Classification.measured` is what MNA finds; :meth:`Classification.describe` reports both
when they disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from kaspix import KaspixError

from kaspix_spice.mna import DescriptorSystem, NotLinearError, circuit_from_template
from kaspix_spice.netlist import Template

__all__ = ["Classification", "classify", "format_hz"]

_PER_DECADE = 200
#: The cutoff is where the power is half the passband's: 3.01 dB down.
_HALF_POWER_DB = 10 * math.log10(2)
_FLAT_DB = 0.1
_STOP_DB = 20.0
_NOTCH_ENDS_DB = 6.0
_NOTCH_DEPTH_DB = 10.0
#: What the characteristic frequency of each kind is called.
_LABELS = {"lowpass": "cutoff", "highpass": "cutoff", "bandpass": "center", "notch": "notch", "allpass": "phase center"}


@dataclass(frozen=True)
class Classification:
    """What a template is and its characteristic frequency.

    Attributes:
        kind: The template's kind: its ``* kind:`` header when it has one, else :attr:`measured`.
        measured: What the MNA response at the default knob values shows (``nonlinear`` when MNA
            cannot read the circuit as linear).
        frequency: The characteristic frequency of :attr:`measured` in Hz (-3 dB cutoff, center,
            notch or all-pass phase center), None when it has none.
        declared: The header's kind, None without a header.
        declared_line: The header's line, 0 without one.
        reason: Why nothing was measured (``not linear: diode D1 on line 9``), else empty.
    """

    kind: str
    measured: str
    frequency: float | None = None
    declared: str | None = None
    declared_line: int = 0
    reason: str = ""

    def describe(self) -> str:
        """One line for ``kaspix spice inspect``, e.g. ``lowpass, cutoff 1.59 kHz (from MNA at the default knob values)``."""
        if self.reason:
            found = f"{self.measured} ({self.reason})"
        elif self.frequency is not None:
            found = f"{self.measured}, {_LABELS[self.measured]} {format_hz(self.frequency)} (from MNA at the default knob values)"
        else:
            found = f"{self.measured} (from MNA at the default knob values: no characteristic frequency)"
        if self.declared is None or self.declared == self.measured:
            return found
        return f"{self.declared} (from `* kind:` on line {self.declared_line}); but MNA finds {found}"


def format_hz(frequency: float) -> str:
    """A frequency with three significant digits and a unit: ``1.59 kHz``."""
    for scale, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if abs(frequency) >= scale:
            return f"{frequency / scale:.3g} {unit}"
    return f"{frequency:.3g} Hz"


def classify(template: Template) -> Classification:
    """Classify ``template`` from its MNA response at the default knob values (see the module's notes)."""
    declared = template.kind if template.kind_line else None

    def result(measured: str, frequency: float | None = None, reason: str = "") -> Classification:
        return Classification(declared or measured, measured, frequency, declared, template.kind_line, reason)

    if template.own_sources:
        return result(declared or "other", reason="driven by its own sources: no input to relate the output to, not measured")
    try:
        system = circuit_from_template(template).system()
        freqs = _grid(system)
        h = system.response(freqs)
    except NotLinearError as exc:
        return result("nonlinear", reason=exc.message)
    except KaspixError as exc:
        return result("other", reason=f"MNA cannot read it: {exc.message}")
    with np.errstate(divide="ignore"):
        db = 20 * np.log10(np.abs(h))
    phase = np.unwrap(np.angle(h))
    measured = _kind(db, phase)
    return result(measured, _frequency(system, measured, freqs, db, phase))


def _grid(system: DescriptorSystem) -> np.ndarray:
    """Frequencies (Hz) from 1000x below the lowest pole or zero to 1000x above the highest."""
    zpk = system.zpk()
    roots = np.abs(np.concatenate([zpk.zeros[()], zpk.poles[()]])) / (2 * math.pi)
    roots = roots[roots > 0]
    low, high = (roots.min(), roots.max()) if len(roots) else (float(system.omega) / (2 * math.pi),) * 2
    decades = math.log10(high / low) + 6
    return np.logspace(math.log10(low) - 3, math.log10(high) + 3, int(decades * _PER_DECADE) + 1)


def _kind(db: np.ndarray, phase: np.ndarray) -> str:
    """The kind a magnitude response (dB) and phase (rad) show."""
    finite = db[np.isfinite(db)]
    if len(finite) < len(db) // 2:
        return "other"
    peak, low_end, high_end = finite.max(), db[0], db[-1]
    if peak - finite.min() < _FLAT_DB:
        return "allpass" if abs(phase[-1] - phase[0]) > math.pi / 2 else "other"
    dip = int(np.argmin(np.where(np.isfinite(db), db, np.inf)))
    ends = min(low_end, high_end)
    if ends >= peak - _NOTCH_ENDS_DB and 0 < dip < len(db) - 1 and db[dip] <= ends - _NOTCH_DEPTH_DB:
        return "notch"
    if low_end >= peak - _STOP_DB and high_end <= low_end - _STOP_DB:
        return "lowpass"
    if high_end >= peak - _STOP_DB and low_end <= high_end - _STOP_DB:
        return "highpass"
    if low_end <= peak - _STOP_DB and high_end <= peak - _STOP_DB:
        return "bandpass"
    return "other"


def _frequency(system: DescriptorSystem, kind: str, freqs: np.ndarray, db: np.ndarray, phase: np.ndarray) -> float | None:
    """The characteristic frequency (Hz) of a response of ``kind`` sampled at ``freqs``."""
    log_f = np.log(freqs)
    if kind == "lowpass":
        return _crossing(log_f, db, db[0] - _HALF_POWER_DB)
    if kind == "highpass":
        return _crossing(log_f[::-1], db[::-1], db[-1] - _HALF_POWER_DB)
    if kind == "bandpass":
        return _extremum(system, freqs, int(np.argmax(db)), 1.0)
    if kind == "notch":
        return _extremum(system, freqs, int(np.argmin(db)), -1.0)
    if kind == "allpass":
        return _crossing(log_f, -np.abs(phase - phase[0]), -abs(phase[-1] - phase[0]) / 2)
    return None


def _crossing(log_f: np.ndarray, values: np.ndarray, level: float) -> float | None:
    """Where ``values`` first falls below ``level``, interpolated linearly in log frequency."""
    below = np.flatnonzero(values < level)
    if not len(below) or below[0] == 0:
        return None
    i = below[0]
    t = (values[i - 1] - level) / (values[i - 1] - values[i])
    return float(math.exp(log_f[i - 1] + t * (log_f[i] - log_f[i - 1])))


def _extremum(system: DescriptorSystem, freqs: np.ndarray, i: int, sign: float) -> float:
    """The peak (``sign`` 1) or dip (-1) of ``|H|`` next to grid point ``i``, zooming in 20x per round."""
    low, high = freqs[max(i - 1, 0)], freqs[min(i + 1, len(freqs) - 1)]
    for _ in range(4):
        f = np.geomspace(low, high, 41)
        k = int(np.argmax(sign * np.abs(system.response(f))))
        low, high = f[max(k - 1, 0)], f[min(k + 1, len(f) - 1)]
    return float(math.sqrt(low * high))
