"""Netlist templates: read a ``.cir`` file, find its knobs, check the rules, render a runnable netlist.

A template is an ordinary SPICE netlist with three conventions:

* the input is a voltage source named ``Vin`` from node ``input`` to ground (its value is ignored:
  the simulator drives it sample by sample);
* the output is node ``output``;
* every ``.param NAME=value`` with a plain number is a *knob*. Its range comes from the config, or
  from an inline comment on the same line: ``.param R_tone=10k ; range 1k..100k`` (log-uniform) or
  ``; range 0.1..0.9 lin`` (uniform). Without either, the range is ``value/3 .. value*3``, log-uniform.
  A ``.param`` whose value is a brace expression (``{R_tone * 0.5}``) is derived, not a knob.

Optional header comment ``* kind: lowpass`` (``highpass``, ``bandpass``, ``notch``, ``nonlinear``)
tells the evaluator which characteristic frequency to measure.

The loader keeps the circuit as it is (comments in any language, ``+`` continuation lines, brace
expressions, controlled sources, subcircuits, ``.model`` lines, load resistors) and replaces only
the input source and the analysis: its own ``Vin``, ``.save V(output)``, ``.tran`` and ``.end``.
The one rewrite: controlled sources written ``E1 out 0 VOLTAGE ( a b ) gain`` become
``E1 out 0 a b gain``, the form ngspice reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from kaspix import KaspixError

#: SPICE scale suffixes (case-insensitive); ``meg`` and ``mil`` are checked before single letters.
SCALE = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "mil": 25.4e-6, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(meg|mil|[tgkmunpf])?([a-z]*)$", re.IGNORECASE)
#: One `name=value` pair of a `.param` line (value: number, {expression} or quoted text).
PARAM_PAIR = re.compile(r"([A-Za-z_][\w]*)\s*=\s*(\{[^}]*\}|'[^']*'|\S+)")
_RANGE = re.compile(r"range\s*[:=]?\s*(\S+?)\s*\.\.\s*(\S+)(?:\s+(log|lin))?", re.IGNORECASE)
#: ``E1 out 0 VOLTAGE ( a b ) 1e5``, a spelling ngspice rejects, is rewritten as ``E1 out 0 a b 1e5``.
_VOLTAGE_CONTROL = re.compile(r"\bVOLTAGE\s*\(\s*([^\s,()]+)\s*,?\s*([^\s,()]+)\s*\)", re.IGNORECASE)
_KIND = re.compile(r"^\*\s*kind\s*:\s*(\w+)", re.IGNORECASE)
KINDS = ("lowpass", "highpass", "bandpass", "notch", "nonlinear", "other")
#: Dot-commands the loader removes: the template's own analyses and outputs.
_DROPPED = (
    ".tran",
    ".ac",
    ".dc",
    ".op",
    ".noise",
    ".tf",
    ".disto",
    ".pz",
    ".sens",
    ".save",
    ".print",
    ".plot",
    ".probe",
    ".meas",
    ".four",
    ".end",
)
#: Number of node tokens after the element name, by the element letter (None: special handling).
_NODE_COUNT = {
    "r": 2,
    "c": 2,
    "l": 2,
    "d": 2,
    "v": 2,
    "i": 2,
    "b": 2,
    "e": 4,
    "g": 4,
    "f": 2,
    "h": 2,
    "q": 3,
    "j": 3,
    "m": 4,
    "s": 4,
    "w": 2,
    "t": 4,
}


def parse_value(text: str) -> float:
    """Parse a SPICE number such as ``10k``, ``100n``, ``1Meg``, ``2.2uF`` or ``1e-9``.

    Raises:
        ValueError: when ``text`` is not a SPICE number.
    """
    match = _NUMBER.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a SPICE number")
    number, scale, _unit = match.groups()
    return float(number) * (SCALE[scale.lower()] if scale else 1.0)


def format_value(value: float) -> str:
    """A value as SPICE reads it back exactly (plain exponent notation)."""
    return f"{value:.12g}"


@dataclass(frozen=True)
class Knob:
    """A tunable ``.param`` of a template.

    Attributes:
        name: The parameter name as written.
        default: The value in the template.
        low, high: The sampling range.
        log: Sample log-uniformly (component values) rather than uniformly.
        line: 1-based line number of its ``.param`` line.
    """

    name: str
    default: float
    low: float
    high: float
    log: bool = True
    line: int = 0

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


@dataclass(frozen=True)
class Template:
    """A checked netlist template.

    Attributes:
        name: The file stem, e.g. ``rc_lowpass``.
        path: Where it was read from.
        knobs: Its knobs in file order.
        kind: What it is (for the evaluator): one of :data:`KINDS`.
        nodes: Top-level node names.
        body: The circuit lines kept (1-based line number, text), analyses and ``Vin`` removed.
    """

    name: str
    path: Path
    knobs: tuple[Knob, ...]
    kind: str
    nodes: tuple[str, ...]
    body: tuple[tuple[int, str], ...] = field(repr=False)

    @property
    def knob_names(self) -> list[str]:
        """Knob names in file order."""
        return [k.name for k in self.knobs]

    def render(self, values: dict[str, float], *, step: float, stop: float) -> list[str]:
        """The netlist lines to simulate: knob values set, ``Vin`` fed externally, a ``.tran`` to ``stop``.

        Args:
            values: Physical value per knob name (missing knobs keep their default).
            step: Maximum internal time step in seconds.
            stop: End time in seconds.
        """
        unknown = set(values) - set(self.knob_names)
        if unknown:
            raise KaspixError(f"unknown knob(s) {sorted(unknown)} for circuit {self.name!r}", hint=f"its knobs are {self.knob_names}")
        by_line: dict[int, list[Knob]] = {}
        for knob in self.knobs:
            by_line.setdefault(knob.line, []).append(knob)
        lines = [f"* {self.name} (kaspix-spice)"]
        for number, text in self.body:
            for knob in by_line.get(number, []):
                value = format_value(values.get(knob.name, knob.default))
                text = re.sub(rf"(\b{re.escape(knob.name)}\s*=\s*)\S+", lambda m, v=value: m.group(1) + v, text, count=1)
            lines.append(text)
        lines += [
            "Vin input 0 external",
            ".save V(output)",
            f".tran {format_value(step)} {format_value(stop)} 0 {format_value(step)}",
            ".end",
        ]
        return lines


def _logical_lines(text: str) -> list[tuple[int, str, str]]:
    """Join ``+`` continuation lines; return (first line number, code without comment, comment)."""
    result: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        code, _, comment = stripped.partition(";")
        if stripped.startswith("*"):
            result.append((number, "", stripped))
            continue
        if " $ " in code:
            code, _, more = code.partition(" $ ")
            comment = (comment + " " + more).strip()
        if code.startswith("+") and result:
            first, prev_code, prev_comment = result[-1]
            result[-1] = (first, prev_code + " " + code[1:].strip(), (prev_comment + " " + comment).strip())
        else:
            result.append((number, code.strip(), comment.strip()))
    return result


def _error(path: Path, line: int | None, message: str, hint: str) -> KaspixError:
    where = f"{path}, line {line}" if line else str(path)
    return KaspixError(message, where=where, hint=hint)


def read_template_text(path: Path) -> str:
    """The netlist's text; a missing or non-UTF-8 file is a :class:`KaspixError` saying how to fix it."""
    if not path.is_file():
        raise KaspixError(f"netlist not found: {path}", hint="give a .cir path or a shipped name (`kaspix spice inspect --list`)")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _error(path, None, f"not UTF-8 text ({exc.reason})", "save the netlist as UTF-8") from None


def load_template(path: str | Path, ranges: dict[str, tuple[float, float]] | None = None) -> Template:
    """Read and check a template.

    Args:
        path: The ``.cir`` file.
        ranges: Knob ranges that override the file's (``{name: (low, high)}``); the scale (log or
                lin) stays the file's, log when it gives none.

    Raises:
        KaspixError: naming the file and line, what breaks the rules, and how to fix it.
    """
    path = Path(path)
    problems = check_template_text(read_template_text(path), path, ranges or {})
    if isinstance(problems, list):
        raise problems[0]
    return problems


def check_template_text(text: str, path: Path, ranges: dict[str, tuple[float, float]]) -> Template | list[KaspixError]:
    """Parse template text; return the template, or every rule it breaks (for ``inspect``)."""
    errors: list[KaspixError] = []
    lines = _logical_lines(text)
    kind = "other"
    for _number, code, comment in lines:
        if not code and (m := _KIND.match(comment)):
            kind = m.group(1).lower()
    body: list[tuple[int, str]] = []
    knobs: list[Knob] = []
    derived: list[str] = []
    nodes: set[str] = set()
    vin_line = None
    in_subckt = in_control = False
    for index, (number, code, comment) in enumerate(lines):
        if not code:
            continue
        if index == 0:
            continue  # SPICE reads the first line as the title, whatever it holds
        lower = code.lower()
        word = lower.split()[0]
        if word == ".control":
            in_control = True
            continue
        if word == ".endc":
            in_control = False
            continue
        if in_control or word in _DROPPED or word == ".title":
            continue
        if word == ".subckt":
            in_subckt = True
        elif word == ".ends":
            in_subckt = False
        elif word in (".param", ".parameter", ".params"):
            for name, raw in PARAM_PAIR.findall(code[len(word) :]):
                if raw.startswith(("{", "'")):
                    derived.append(name)
                    continue
                try:
                    value = parse_value(raw)
                except ValueError:
                    errors.append(
                        _error(
                            path,
                            number,
                            f"the value {raw!r} of .param {name} does not parse",
                            "write a SPICE number such as 10k, 100n, 1Meg or 2.2u, or a brace expression {R1 * 0.5}",
                        )
                    )
                    continue
                knobs.append(_make_knob(path, number, name, value, comment, ranges, errors))
        elif word.startswith("vin") and word == "vin" and not in_subckt:
            tokens = code.split()
            if len(tokens) < 3 or tokens[1].lower() != "input" or tokens[2].lower() not in ("0", "gnd"):
                errors.append(
                    _error(
                        path, number, f"Vin must go from node 'input' to ground, found {' '.join(tokens[:3])!r}", "write `Vin input 0 DC 0`"
                    )
                )
            vin_line = number
            nodes.add("input")
            continue
        elif not word.startswith("."):
            code = _VOLTAGE_CONTROL.sub(r"\1 \2", code) if word[0] in "eg" else code
            if not in_subckt:
                nodes.update(_element_nodes(code))
        body.append((number, code))
    if vin_line is None:
        errors.append(
            _error(
                path,
                None,
                "no input source: the template has no `Vin` line",
                "add `Vin input 0 DC 0` and connect the circuit's input to node 'input'",
            )
        )
    if "output" not in nodes:
        errors.append(_error(path, None, "no node named 'output'", "name the node to record 'output' (e.g. `RLoad output 0 100k`)"))
    for knob in knobs:
        used = any(
            number != knob.line and re.search(rf"(?<![\w]){re.escape(knob.name)}(?![\w])", code, re.IGNORECASE) for number, code in body
        )
        if not used:
            errors.append(
                _error(
                    path,
                    knob.line,
                    f"knob {knob.name!r} is never used",
                    f"use it as {{{knob.name}}} in a component value, or delete the .param",
                )
            )
    names = [k.name.lower() for k in knobs] + [d.lower() for d in derived]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        errors.append(_error(path, None, f".param {dup!r} is defined twice", "keep one definition"))
    for name in ranges:
        if name not in {k.name for k in knobs}:
            errors.append(
                _error(
                    path,
                    None,
                    f"a range is configured for {name!r}, which is not a knob of this template",
                    f"knobs: {[k.name for k in knobs]}",
                )
            )
    if kind not in KINDS:
        errors.append(_error(path, None, f"unknown kind {kind!r}", f"write `* kind: ` followed by one of {', '.join(KINDS)}"))
    if errors:
        return errors
    return Template(name=path.stem, path=path, knobs=tuple(knobs), kind=kind, nodes=tuple(sorted(nodes)), body=tuple(body))


def _make_knob(
    path: Path, number: int, name: str, value: float, comment: str, ranges: dict[str, tuple[float, float]], errors: list[KaspixError]
) -> Knob:
    match = _RANGE.search(comment)
    log = (match.group(3) or "log").lower() == "log" if match else True
    if name in ranges:
        low, high = ranges[name]
    elif match:
        try:
            low, high = parse_value(match.group(1)), parse_value(match.group(2))
        except ValueError:
            errors.append(
                _error(
                    path,
                    number,
                    f"cannot read the range {match.group(0)!r} of knob {name}",
                    "write `; range 1k..100k` (log) or `; range 0.1..0.9 lin`",
                )
            )
            low, high = value, value
    else:
        low, high = value / 3, value * 3
    if not low <= high or (log and low <= 0):
        errors.append(
            _error(
                path,
                number,
                f"knob {name} has an invalid range {low:g}..{high:g}",
                "the low end must not exceed the high end, and log ranges must be positive",
            )
        )
    return Knob(name=name, default=value, low=low, high=high, log=log, line=number)


def _element_nodes(code: str) -> list[str]:
    """Node names of a top-level element line (best effort for controlled sources and subcircuits)."""
    tokens = code.replace("(", " ").replace(")", " ").replace(",", " ").split()
    letter = tokens[0][0].lower()
    if letter == "x":
        args = [t for t in tokens[1:] if "=" not in t]
        return [t.lower() for t in args[:-1]]
    if letter in ("e", "g"):
        # E1 out 0 a b 1e5  |  E1 out 0 VOLTAGE (a b) 1e5  |  E1 out 0 value={...}
        rest = [t for t in tokens[1:] if "=" not in t and not t.startswith("{")]
        names = rest[:2]
        names += [t for t in rest[2:4] if not re.match(r"^(voltage|vol|value|poly|table|[-+.\d])", t, re.IGNORECASE)]
        return [t.lower() for t in names]
    count = _NODE_COUNT.get(letter, 2)
    return [t.lower() for t in tokens[1 : 1 + count]]


def shipped_circuits_dir() -> Path:
    """The folder of the netlists shipped with the package."""
    return Path(__file__).parent / "circuits"


def shipped_circuits() -> list[str]:
    """Names of the shipped netlists, sorted."""
    return sorted(p.stem for p in shipped_circuits_dir().glob("*.cir"))


def resolve_circuit(name_or_path: str) -> Path:
    """A shipped circuit name (``rc_lowpass``) or a path to a ``.cir`` file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".cir" or candidate.exists():
        return candidate
    shipped = shipped_circuits_dir() / f"{name_or_path}.cir"
    if shipped.is_file():
        return shipped
    raise KaspixError(f"unknown circuit {name_or_path!r}", hint=f"use a .cir path or one of: {', '.join(shipped_circuits())}")
