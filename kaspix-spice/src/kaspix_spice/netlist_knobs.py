"""Knobs: SPICE numbers (``10k``, ``2.2uF``, ``1Meg``), the ranges written in comments, each knob's range.

A range comment, in English or Spanish, as people and the original project write them::

    .param R_tone=10k ; range 1k..100k
    .param Q=2        ; range 1..4 lin
    .param R_gain=10k ; Resistencia de control (Rango sugerido: 1k - 100k)
    * Rango sugerido Duty: 0.1 a 0.9 (10% a 90%)
    * suggested range: 1k to 100k

The keyword ``range`` or ``rango`` (optionally followed by ``sugerido``/``suggested``/
``recomendado``/``recommended``), optionally a knob name, an optional ``:`` or ``=``, then
``LOW SEP HIGH`` with ``SEP`` one of ``..``, ``-``, ``to``, ``a``, ``hasta``. Numbers take SPICE
suffixes and units (``1kΩ``, ``10µF``, ``4.7nF``); text after the range is ignored, except an
optional ``lin``/``log`` (``linear``, ``lineal``, ``logarithmic`` ...) right after it. Without one
the scale is log for a positive range and lin for one that reaches 0 or below.

:func:`make_knobs` gives each knob its range, first found of: the config, the comment on its
``.param`` line, a comment line naming it, a comment line right above its ``.param`` line (one that
names no other knob), else :data:`DEFAULT_RANGE` (``value/3 .. value*3``).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from kaspix import KaspixError

__all__ = ["DEFAULT_RANGE", "SCALE", "Knob", "RangeComment", "find_range", "format_value", "make_knobs", "netlist_error", "parse_value"]

#: :attr:`Knob.range_source` of a knob with no range in the netlist or the config.
DEFAULT_RANGE = "default value/3..value*3"

#: SPICE scale suffixes (case-insensitive); ``meg`` and ``mil`` are checked before single letters.
SCALE = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "mil": 25.4e-6, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(meg|mil|[tgkmunpf])?([^\W\d_]*)$", re.IGNORECASE)
_MICRO = str.maketrans({"µ": "u", "μ": "u"})
#: A number with its suffix and unit glued on (``1k``, ``2.2uF``, ``1kΩ``); units may be any letters.
_VALUE = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?[^\W\d_]*"
_RANGE = re.compile(
    r"\b(?:range|rango)s?\b(?:\s+(?:sugerido|suggested|recomendado|recommended))?"
    r"(?:\s+(?P<name>[A-Za-z_]\w*))?\s*[:=]?\s*"
    rf"(?P<low>{_VALUE})(?:\s*(?:\.\.|-|\u2013)\s*|\s+(?:to|a|hasta)\s+)(?P<high>{_VALUE})"
    r"(?:\s*\(?\s*(?P<scale>lin|log)\w*)?",
    re.IGNORECASE,
)
#: The ``range LOW..HIGH`` form with anything between the dots: a range the writer meant, that must parse.
_DOTTED = re.compile(r"\b(?:range|rango)\s*[:=]?\s*\S+?\s*\.\.\s*\S+", re.IGNORECASE)


def parse_value(text: str) -> float:
    """Parse a SPICE number such as ``10k``, ``100n``, ``1Meg``, ``2.2uF``, ``10µF``, ``1kΩ`` or ``1e-9``.

    Raises:
        ValueError: when ``text`` is not a SPICE number.
    """
    match = _NUMBER.match(text.strip().translate(_MICRO))
    if not match:
        raise ValueError(f"{text!r} is not a SPICE number")
    number, scale, _unit = match.groups()
    return float(number) * (SCALE[scale.lower()] if scale else 1.0)


def format_value(value: float) -> str:
    """A value as SPICE reads it back exactly (plain exponent notation)."""
    return f"{value:.12g}"


@dataclass(frozen=True)
class RangeComment:
    """A knob range found in a comment.

    Attributes:
        low, high: The range, as written (``low`` may exceed ``high``: the loader reports it).
        scale: ``"lin"`` or ``"log"`` when written, else None.
        name: The knob the comment names (``* Rango sugerido Duty: ...``), else None.
    """

    low: float
    high: float
    scale: str | None = None
    name: str | None = None


def find_range(comment: str) -> RangeComment | None:
    """The range a comment gives, or None when it gives none.

    Raises:
        ValueError: the comment writes ``range LOW..HIGH`` but a bound is not a number.
    """
    for match in _RANGE.finditer(comment):
        try:
            low, high = parse_value(match.group("low")), parse_value(match.group("high"))
        except ValueError:
            continue
        scale = match.group("scale")
        return RangeComment(low, high, scale.lower() if scale else None, match.group("name"))
    if dotted := _DOTTED.search(comment):
        raise ValueError(f"cannot read the range {dotted.group(0)!r}")
    return None


@dataclass(frozen=True)
class Knob:
    """A tunable ``.param`` of a template.

    Attributes:
        name: The parameter name as written.
        default: The value in the template.
        low, high: The sampling range.
        log: Sample log-uniformly (component values) rather than uniformly.
        line: 1-based line number of its ``.param`` line.
        range_source: Where the range comes from: ``"config"``, ``"comment, line 12"`` or
            :data:`DEFAULT_RANGE`.
    """

    name: str
    default: float
    low: float
    high: float
    log: bool = True
    line: int = 0
    range_source: str = ""

    def normalize(self, value: float) -> float:
        """Map a physical value to 0-1 within the range (log scale for log knobs)."""
        if self.high == self.low:
            return 0.0
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def denormalize(self, unit: float) -> float:
        """Map 0-1 back to a physical value."""
        if self.log:
            return math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        return self.low + unit * (self.high - self.low)


def netlist_error(path: Path, line: int | None, message: str, hint: str) -> KaspixError:
    """A :class:`KaspixError` about ``path`` (at ``line`` when known), for every netlist check to raise."""
    return KaspixError(message, where=f"{path}, line {line}" if line else str(path), hint=hint)


def make_knobs(
    path: Path,
    lines: list[tuple[int, str, str]],
    params: list[tuple[int, str, float, str]],
    ranges: dict[str, tuple[float, float]],
    errors: list[KaspixError],
) -> list[Knob]:
    """The knobs of a netlist with their ranges; every problem is appended to ``errors``.

    Args:
        path: The netlist, for messages.
        lines: Its logical lines (:func:`kaspix_spice.netlist_text.logical_lines`).
        params: ``(line, name, value, comment)`` of every ``.param`` with a plain number, in file order.
        ranges: ``{name: (low, high)}`` from the config (names matched case-insensitively); a name
            that is no knob is an error with the close matches.
        errors: Where problems go.
    """
    names = {name.lower(): name for _number, name, _value, _comment in params}
    configured = {name.lower(): (name, bounds) for name, bounds in ranges.items()}
    for lowered, (name, _bounds) in configured.items():
        if lowered not in names:
            close = difflib.get_close_matches(lowered, list(names), n=3, cutoff=0.6)
            guess = f"; did you mean {' or '.join(repr(names[c]) for c in close)}?" if close else ""
            errors.append(
                netlist_error(
                    path,
                    None,
                    f"a range is configured for {name!r}, which is not a knob of this template{guess}",
                    f"its knobs: {', '.join(names.values()) or 'none'}",
                )
            )
    named, above = _range_comments(path, lines, errors)
    knobs = []
    for number, name, value, comment in params:
        try:
            inline = find_range(comment)
        except ValueError as exc:
            errors.append(netlist_error(path, number, f"{exc} of knob {name}", "write `; range 1k..100k` (log) or `; range 0.1..0.9 lin`"))
            inline = None
        written = (number, inline) if inline else named.get(name.lower())
        if written is None and number in above and (above[number][1].name or "").lower() not in names:
            written = above[number]
        knobs.append(_knob(path, number, name, value, written, configured.get(name.lower()), errors))
    return knobs


def _range_comments(
    path: Path, lines: list[tuple[int, str, str]], errors: list[KaspixError]
) -> tuple[dict[str, tuple[int, RangeComment]], dict[int, tuple[int, RangeComment]]]:
    """Ranges on comment lines: by the knob name they give, and by the ``.param`` line right below them."""
    named: dict[str, tuple[int, RangeComment]] = {}
    above: dict[int, tuple[int, RangeComment]] = {}
    pending: tuple[int, RangeComment] | None = None
    for number, code, comment in lines:
        if code:
            if pending and code.lower().startswith(".param"):
                above[number] = pending
            pending = None
            continue
        try:
            found = find_range(comment)
        except ValueError as exc:
            errors.append(netlist_error(path, number, str(exc), "write `* range NAME: 1k..100k` or `* Rango sugerido NAME: 0.1 a 0.9`"))
            continue
        if found:
            pending = (number, found)
            if found.name:
                named[found.name.lower()] = pending
    return named, above


def _knob(
    path: Path,
    number: int,
    name: str,
    value: float,
    written: tuple[int, RangeComment] | None,
    configured: tuple[str, tuple[float, float]] | None,
    errors: list[KaspixError],
) -> Knob:
    """One knob: the config's range, else the comment's, else value/3..value*3; log unless written lin or reaching 0."""
    scale = written[1].scale if written else None
    if configured:
        (low, high), source = configured[1], "config"
    elif written:
        low, high, source = written[1].low, written[1].high, f"comment, line {written[0]}"
    elif value == 0:
        errors.append(
            netlist_error(path, number, f"knob {name} is 0 and has no range (value/3..value*3 is none)", "give it one: `; range -1..1 lin`")
        )
        low, high, source = 0.0, 0.0, DEFAULT_RANGE
    else:
        low, high, source = min(value / 3, value * 3), max(value / 3, value * 3), DEFAULT_RANGE
    log = scale == "log" if scale else low > 0
    if not low <= high or (log and low <= 0):
        errors.append(
            netlist_error(
                path,
                number,
                f"knob {name} has an invalid range {low:g}..{high:g} (from {source})",
                "the low end must not exceed the high end, and log ranges must be positive",
            )
        )
    return Knob(name=name, default=value, low=float(low), high=float(high), log=log, line=number, range_source=source)
