"""The circuit families: twelve filter topologies, each a netlist template shipped in ``families/``.

A family is a template in the spice plugin's conventions (``Vin`` on ``input``, node ``output``,
one ``.param`` knob per component with its sampling range) plus what is known about it without
computing: its filter type and its pole/zero *signature*, the kinds of the elements of its pole and
zero sets after cancellation (``real``: a real root, ``pair``: a complex-conjugate pair, ``origin``: a
root at s = 0). Signatures differ between families, so the topology can be told from the response.

| family | type | poles | zeros |
|---|---|---|---|
| rc_lowpass | lowpass | real | |
| lag_lowpass | lowpass | real | real |
| rc_ladder3_lowpass | lowpass | 3 real | |
| sallen_key_lowpass | lowpass | pair | |
| cr_highpass | highpass | real | origin |
| cr_ladder3_highpass | highpass | 3 real | 3 origin |
| sallen_key_highpass | highpass | pair | 2 origin |
| rlc_bandpass | bandpass | pair | origin |
| sallen_key_bandpass | bandpass | 2 pairs | 2 origin |
| rlc_notch | bandstop | pair | pair on the jw axis |
| twin_t_notch | bandstop | 2 real | pair on the jw axis |
| double_notch | bandstop | 2 pairs | 2 pairs on the jw axis |
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from kaspix import KaspixError

if TYPE_CHECKING:
    import numpy as np
    from kaspix_spice.mna import LinearCircuit
    from kaspix_spice.netlist import Template

__all__ = [
    "DESIGN_RANGES",
    "FAMILIES",
    "FILTER_TYPES",
    "FREQUENCY_RANGE_HZ",
    "PAIR_Q_RANGE",
    "Family",
    "families_dir",
    "families_of_type",
    "family",
    "family_names",
]

FILTER_TYPES = ("lowpass", "highpass", "bandpass", "bandstop")
#: Every root of a sampled circuit lies between these frequencies (the response grid spans a decade more).
FREQUENCY_RANGE_HZ = (30.0, 30e3)
#: The Q of every sampled complex pole pair (well away from critical damping, 0.5).
PAIR_Q_RANGE = (0.6, 8.0)
#: Component values a design may use, by the first letter of the knob (realistic E-series parts).
DESIGN_RANGES = {"R": (100.0, 1e6), "C": (100e-12, 10e-6), "L": (100e-6, 10.0)}


@dataclass(frozen=True)
class Family:
    """One topology.

    Attributes:
        name: The file stem in ``families/``.
        filter_type: ``lowpass``, ``highpass``, ``bandpass`` or ``bandstop``.
        poles, zeros: The signature: element kinds (``real``, ``pair``, ``origin``), sorted.
        ratio: For two-section families: the allowed ratio of the larger to the smaller natural
            frequency of the two pole pairs (``"poles"``) or zero pairs (``"zeros"``).
        shelf: For the lag network: the allowed ratio of its zero to its pole.
        swap: Two groups of knobs that can trade places without changing the transfer function (the
            two sections of a buffered cascade); drawn circuits are put in the order that gives the
            first group the lower resonance ``1 / sqrt(L C)``, so that the component values a model
            is asked for are unique.
        q_max: The highest pole-pair Q drawn (lower for the double notch, whose two notches must both
            show on the response grid).
    """

    name: str
    filter_type: str
    poles: tuple[str, ...]
    zeros: tuple[str, ...]
    ratio: tuple[str, float, float] | None = None
    shelf: tuple[float, float] | None = field(default=None)
    swap: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    q_max: float = PAIR_Q_RANGE[1]

    @property
    def path(self) -> Path:
        """The family's netlist template."""
        return families_dir() / f"{self.name}.cir"

    @property
    def template(self) -> Template:
        """The loaded template (spice's reader)."""
        return _template(self.name)

    @property
    def circuit(self) -> LinearCircuit:
        """The template flattened for MNA."""
        return _circuit(self.name)

    @property
    def knobs(self) -> tuple[str, ...]:
        """Its component knobs in file order."""
        return tuple(self.template.knob_names)

    @property
    def pole_count(self) -> int:
        """Number of poles (a pair counts twice)."""
        return sum(2 if k == "pair" else 1 for k in self.poles)

    @property
    def zero_count(self) -> int:
        """Number of zeros (a pair counts twice)."""
        return sum(2 if k == "pair" else 1 for k in self.zeros)

    @property
    def has_pole_pair(self) -> bool:
        """Whether it has a complex pole pair (so that a low- or high-pass has a Q)."""
        return "pair" in self.poles

    def design_range(self, knob: str) -> tuple[float, float]:
        """The values a design may give ``knob`` (by its component letter)."""
        return DESIGN_RANGES[knob[0].upper()]

    def canonical(self, values: np.ndarray) -> np.ndarray:
        """Knob values ``(N, k)`` with swappable sections in their canonical order (see ``swap``)."""
        import numpy as np

        if self.swap is None:
            return values
        first = [self.knobs.index(k) for k in self.swap[0]]
        second = [self.knobs.index(k) for k in self.swap[1]]
        resonance = [np.prod(values[:, [i for i in group if self.knobs[i][0] in "LC"]], axis=1) for group in (first, second)]
        flip = resonance[0] < resonance[1]  # a larger L C is a lower resonance
        out = values.copy()
        out[np.ix_(flip, first)], out[np.ix_(flip, second)] = values[np.ix_(flip, second)], values[np.ix_(flip, first)]
        return out

    def valid(self, zeros: np.ndarray, poles: np.ndarray) -> np.ndarray:
        """Which circuits of a batch (padded root arrays in rad/s) meet the family's sampling rules."""
        import numpy as np

        from kaspix_circuitgen.elements import signature_mask

        low, high = (2 * math.pi * f for f in FREQUENCY_RANGE_HZ)
        ok = signature_mask(zeros, self.zeros) & signature_mask(poles, self.poles)
        for roots in (zeros, poles):
            size = np.abs(roots)
            inside = np.isnan(roots) | (size == 0) | ((size >= low) & (size <= high))
            ok &= inside.all(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            upper = poles.imag > 0
            q = np.abs(poles) / (-2 * poles.real)
            bad_q = upper & ((q < PAIR_Q_RANGE[0]) | (q > self.q_max))
            ok &= ~bad_q.any(axis=-1)
            if self.ratio is not None:
                which, lo, hi = self.ratio
                roots = poles if which == "poles" else zeros
                upper = roots.imag > 0
                size = np.abs(np.nan_to_num(roots))
                spread = np.where(upper, size, 0.0).max(axis=-1) / np.where(upper, size, np.inf).min(axis=-1)
                ok &= (spread >= lo) & (spread <= hi)
            if self.shelf is not None:
                spread = np.abs(zeros[..., 0]) / np.abs(poles[..., 0])
                ok &= (spread >= self.shelf[0]) & (spread <= self.shelf[1])
        return ok


FAMILIES: tuple[Family, ...] = (
    Family("rc_lowpass", "lowpass", ("real",), ()),
    Family("lag_lowpass", "lowpass", ("real",), ("real",), shelf=(2.0, 30.0)),
    Family("rc_ladder3_lowpass", "lowpass", ("real", "real", "real"), ()),
    Family("sallen_key_lowpass", "lowpass", ("pair",), ()),
    Family("cr_highpass", "highpass", ("real",), ("origin",)),
    Family("cr_ladder3_highpass", "highpass", ("real", "real", "real"), ("origin", "origin", "origin")),
    Family("sallen_key_highpass", "highpass", ("pair",), ("origin", "origin")),
    Family("rlc_bandpass", "bandpass", ("pair",), ("origin",)),
    Family("sallen_key_bandpass", "bandpass", ("pair", "pair"), ("origin", "origin"), ratio=("poles", 1.3, 10.0)),
    Family("rlc_notch", "bandstop", ("pair",), ("pair",)),
    Family("twin_t_notch", "bandstop", ("real", "real"), ("pair",)),
    Family(
        "double_notch",
        "bandstop",
        ("pair", "pair"),
        ("pair", "pair"),
        ratio=("zeros", 1.5, 4.0),
        swap=(("L_1", "C_1", "R_1"), ("L_2", "C_2", "R_2")),
        q_max=3.0,
    ),
)


def families_dir() -> Path:
    """The folder of the family templates."""
    return Path(__file__).parent / "families"


def family_names() -> list[str]:
    """The family names in their fixed order (the topology classes)."""
    return [f.name for f in FAMILIES]


def family(name: str) -> Family:
    """A family by name.

    Raises:
        KaspixError: for an unknown name, with the closest names.
    """
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    close = difflib.get_close_matches(name, family_names(), n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}?" if close else f"families: {', '.join(family_names())}"
    raise KaspixError(f"unknown circuit family {name!r}", hint=hint)


def families_of_type(filter_type: str) -> list[Family]:
    """The families of one filter type."""
    return [f for f in FAMILIES if f.filter_type == filter_type]


@cache
def _template(name: str) -> Template:
    from kaspix_spice.netlist import load_template

    return load_template(families_dir() / f"{name}.cir")


@cache
def _circuit(name: str) -> LinearCircuit:
    from kaspix_spice.mna import circuit_from_template

    return circuit_from_template(_template(name))
