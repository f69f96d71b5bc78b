"""Netlist templates: read a ``.cir`` file, find its knobs, check the rules, render a runnable netlist.

A template is an ordinary SPICE netlist with three conventions:

* the input is a voltage source named ``Vin`` from node ``input`` to ground (its value is ignored:
  the simulator drives it sample by sample);
* the output is node ``output``;
* every ``.param NAME=value`` with a plain number is a *knob*. Its range comes from the config, or
  from a comment (:mod:`kaspix_spice.netlist_knobs`): on the ``.param`` line
  (``; range 1k..100k``, ``; Resistencia de control (Rango sugerido: 1k - 100k)``), or on a comment
  line above it or naming it (``* Rango sugerido Duty: 0.1 a 0.9``). Without either, the range is
  ``value/3 .. value*3``. A ``.param`` whose value is a brace expression (``{R_tone * 0.5}``) is
  derived, not a knob.

A template *driven by its own sources* (``own_sources=True``: a buck converter, an oscillator) keeps
every source as written, ``Vin`` included, and its ``.tran`` sets the time step and length.

The file may be UTF-8, UTF-16 with a byte-order mark, or Latin-1 (:mod:`kaspix_spice.netlist_text`).
Errors name the file and line, and point at the nearest candidate: the V source that looks like the
input, the nodes named like ``output``, the knobs named like a misspelt configured one.

Optional header comment ``* kind: lowpass`` (``highpass``, ``bandpass``, ``notch``, ``allpass``,
``nonlinear``) tells the evaluator which characteristic frequency to measure; without one,
:func:`kaspix_spice.classify.classify` finds it.

The loader keeps the circuit as it is (comments in any language, ``+`` continuation lines, brace
expressions, controlled sources, subcircuits, ``.model`` lines, load resistors) and replaces only
the input source and the analysis: its own ``Vin``, ``.save V(output)``, ``.tran`` and ``.end``.
The one rewrite: controlled sources written ``E1 out 0 VOLTAGE ( a b ) gain`` become
``E1 out 0 a b gain``, the form ngspice reads.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from kaspix import KaspixError

from kaspix_spice.netlist_knobs import DEFAULT_RANGE, SCALE, Knob, format_value, make_knobs, netlist_error, parse_value
from kaspix_spice.netlist_text import logical_lines, read_template_text

__all__ = [
    "DEFAULT_RANGE",
    "KINDS",
    "PARAM_PAIR",
    "RSHUNT_OHMS",
    "SCALE",
    "Knob",
    "Template",
    "check_template_text",
    "format_value",
    "load_template",
    "parse_value",
    "read_template_text",
    "resolve_circuit",
    "shipped_circuits",
    "shipped_circuits_dir",
]

#: One `name=value` pair of a `.param` line (value: number, {expression} or quoted text).
PARAM_PAIR = re.compile(r"([A-Za-z_][\w]*)\s*=\s*(\{[^}]*\}|'[^']*'|\S+)")
#: ``E1 out 0 VOLTAGE ( a b ) 1e5``, a spelling ngspice rejects, is rewritten as ``E1 out 0 a b 1e5``.
_VOLTAGE_CONTROL = re.compile(r"\bVOLTAGE\s*\(\s*([^\s,()]+)\s*,?\s*([^\s,()]+)\s*\)", re.IGNORECASE)
_KIND = re.compile(r"^\*\s*kind\s*:\s*([\w-]+)", re.IGNORECASE)
KINDS = ("lowpass", "highpass", "bandpass", "notch", "allpass", "nonlinear", "other")
_KIND_ALIASES = {"bandstop": "notch", "bandreject": "notch"}
#: Node and source names that look like an input or an output (for "did you mean" hints).
_INPUT_LIKE = re.compile(r"^(v?_?in(put)?|entrada|inp)\d*$", re.IGNORECASE)
_OUTPUT_LIKE = re.compile(r"^(v?_?out(put)?|vo|salida)\d*$", re.IGNORECASE)
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


#: The shunt resistance from every node to ground added to simulated netlists (see :meth:`Template.render`).
RSHUNT_OHMS = 1e12


@dataclass(frozen=True)
class Template:
    """A checked netlist template.

    Attributes:
        name: The file stem, e.g. ``rc_lowpass``.
        path: Where it was read from.
        knobs: Its knobs in file order.
        kind: What it is (for the evaluator): one of :data:`KINDS`; ``"other"`` without a header.
        nodes: Top-level node names.
        body: The circuit lines kept (1-based line number, text): analyses removed, and ``Vin``
            too unless the template keeps its own sources.
        own_sources: Loaded as driven by its own sources (see :func:`load_template`).
        tran: With ``own_sources``: the time step and stop time of its ``.tran``, in seconds.
        kind_line: The line of the ``* kind:`` header, 0 when there is none.
    """

    name: str
    path: Path
    knobs: tuple[Knob, ...]
    kind: str
    nodes: tuple[str, ...]
    body: tuple[tuple[int, str], ...] = field(repr=False)
    own_sources: bool = False
    tran: tuple[float, float] | None = None
    kind_line: int = 0

    @property
    def knob_names(self) -> list[str]:
        """Knob names in file order."""
        return [k.name for k in self.knobs]

    def render(self, values: dict[str, float], *, step: float, stop: float) -> list[str]:
        """The netlist lines to simulate, with the knobs set and a ``.tran`` from 0 to ``stop``.

        The lines are a title, the body with each knob's ``.param`` value replaced, then

        Every rendered netlist gets ``.options rshunt=1e12`` (:data:`RSHUNT_OHMS`): ngspice 39 never
        finishes the operating point of a circuit with a node reached only through capacitors (it
        was still running after 90 s); a 1e12-ohm shunt from every node to ground gives it one, the
        limit the MNA simulator takes, and moves ordinary circuits by about 1e-7.

        * audio input (``own_sources`` False): ``Vin input 0 external`` (ngspice asks the simulator's
          feed for the input voltage at every time point), ``.options rshunt=...``, ``.save V(output)``,
          ``.tran STEP STOP 0 STEP``, ``.end``;
        * own sources: the body keeps every source as written (``Vin`` too, when there is one) and
          no external source is added: ``.options rshunt=...``, ``.save V(output)``, ``.tran STEP STOP 0 STEP``, ``.end``.
          Drive it with no input on the grid of the template's own ``.tran``: with
          ``tran_step, tran_stop = template.tran`` and ``k`` substeps, render with
          ``step=tran_step / k, stop=tran_stop`` and run
          ``engine().simulate(lines, np.zeros(n), fs=1 / tran_step, substeps=k)`` with
          ``n = round(tran_stop / tran_step) + 1``: the output comes back on the ``.tran`` step grid.

        ``TSTART``, ``TMAX`` and ``UIC`` of the template's ``.tran`` are not used: the run starts at
        0 from the operating point, and ``step`` bounds every time step.

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
        if not self.own_sources:
            lines.append("Vin input 0 external")
        lines += [
            f".options rshunt={format_value(RSHUNT_OHMS)}",
            ".save V(output)",
            f".tran {format_value(step)} {format_value(stop)} 0 {format_value(step)}",
            ".end",
        ]
        return lines


def load_template(path: str | Path, ranges: dict[str, tuple[float, float]] | None = None, *, own_sources: bool = False) -> Template:
    """Read and check a template.

    Args:
        path: The ``.cir`` file (UTF-8, UTF-16 with a byte-order mark, or Latin-1 with a warning).
        ranges: Knob ranges that override the file's (``{name: (low, high)}``); the scale is the
                file's when it writes one, else log for a positive range and lin for one that
                reaches 0 or below.
        own_sources: Keep every source of the netlist, ``Vin`` included, as written (a circuit
                driven by its own supply and signal sources); knobs may then be used anywhere, and
                the ``.tran TSTEP TSTOP`` line is required: it sets :attr:`Template.tran`. By
                default ``Vin`` is replaced by the simulator's audio input.

    Raises:
        KaspixError: naming the file and line, what breaks the rules, and how to fix it.
    """
    path = Path(path)
    problems = check_template_text(read_template_text(path), path, ranges or {}, own_sources=own_sources)
    if isinstance(problems, list):
        raise problems[0]
    return problems


def check_template_text(
    text: str, path: Path, ranges: dict[str, tuple[float, float]], *, own_sources: bool = False
) -> Template | list[KaspixError]:
    """Parse template text; return the template, or every rule it breaks (for ``inspect``).

    ``ranges`` and ``own_sources`` are as in :func:`load_template`.
    """
    errors: list[KaspixError] = []
    lines = logical_lines(text)
    kind, kind_line = "other", 0
    for number, code, comment in lines:
        if not code and (m := _KIND.match(comment)):
            written = m.group(1).lower().replace("-", "").replace("_", "")
            kind, kind_line = _KIND_ALIASES.get(written, written), number
    body: list[tuple[int, str]] = []
    params: list[tuple[int, str, float, str]] = []  # line, name, value, comment of every knob
    derived: list[str] = []
    node_lines: dict[str, list[int]] = {}
    sources: list[tuple[int, str, list[str]]] = []  # top-level V sources: line, code, nodes
    vin: tuple[int, str] | None = None
    trans: list[tuple[int, str]] = []
    in_subckt = in_control = False
    for index, (number, code, comment) in enumerate(lines):
        if not code or index == 0:
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
            if word == ".tran" and not in_control:
                trans.append((number, code))
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
                    params.append((number, name, parse_value(raw), comment))
                except ValueError:
                    errors.append(
                        netlist_error(
                            path,
                            number,
                            f"the value {raw!r} of .param {name} does not parse",
                            "write a SPICE number such as 10k, 100n, 1Meg or 2.2u, or a brace expression {R1 * 0.5}",
                        )
                    )
        elif not word.startswith("."):
            code = _VOLTAGE_CONTROL.sub(r"\1 \2", code) if word[0] in "eg" else code
            if not in_subckt:
                element_nodes = _element_nodes(code)
                for node in element_nodes:
                    node_lines.setdefault(node, []).append(number)
                if word == "vin":
                    vin = (number, code)
                    if not own_sources:
                        errors += _check_vin(path, number, code)
                        continue
                elif word[0] == "v":
                    sources.append((number, code, element_nodes))
        body.append((number, code))
    knobs = make_knobs(path, lines, params, ranges, errors)
    if vin is None and not own_sources:
        errors.append(_missing_vin(path, sources))
    if "output" not in node_lines:
        errors.append(_missing_output(path, node_lines))
    tran = _parse_tran(path, trans, errors) if own_sources else None
    for knob in knobs:
        if not _uses(body, knob):
            errors.append(_unused(path, knob, vin))
    names = [k.name.lower() for k in knobs] + [d.lower() for d in derived]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        errors.append(netlist_error(path, None, f".param {dup!r} is defined twice", "keep one definition"))
    if kind not in KINDS:
        errors.append(netlist_error(path, kind_line, f"unknown kind {kind!r}", f"write `* kind: ` followed by one of {', '.join(KINDS)}"))
    if errors:
        return errors
    return Template(
        name=path.stem,
        path=path,
        knobs=tuple(knobs),
        kind=kind,
        nodes=tuple(sorted(node_lines)),
        body=tuple(body),
        own_sources=own_sources,
        tran=tran,
        kind_line=kind_line,
    )


def _check_vin(path: Path, number: int, code: str) -> list[KaspixError]:
    tokens = code.split()
    if len(tokens) >= 3 and tokens[1].lower() == "input" and tokens[2].lower() in ("0", "gnd"):
        return []
    found = " ".join(tokens[:3])
    return [netlist_error(path, number, f"Vin must go from node 'input' to ground, found {found!r}", "write `Vin input 0 DC 0`")]


def _missing_vin(path: Path, sources: list[tuple[int, str, list[str]]]) -> KaspixError:
    """No ``Vin``: point at the V source that looks like the input, if one does."""
    for number, code, nodes in sources:
        tokens = code.lower().split()
        if _INPUT_LIKE.match(tokens[0][1:]) or any(_INPUT_LIKE.match(n) for n in nodes) or "ac" in tokens[3:]:
            node = next((n for n in nodes if n not in ("0", "gnd")), "input")
            rename = "" if node == "input" else f" and its node {node!r} to 'input'"
            return netlist_error(
                path,
                number,
                f"no input source: the template has no `Vin` line; line {number} `{code}` looks like the input: rename it to Vin",
                f"rename {code.split()[0]} to Vin{rename} (`Vin input 0 DC 0`); "
                "a circuit driven by its own sources keeps them with `generate.excitation: template`",
            )
    return netlist_error(
        path,
        None,
        "no input source: the template has no `Vin` line",
        "add `Vin input 0 DC 0` and connect the circuit's input to node 'input'",
    )


def _missing_output(path: Path, node_lines: dict[str, list[int]]) -> KaspixError:
    """No node ``output``: list the nodes named like an output, with the lines that use them."""
    alike = [n for n in node_lines if _OUTPUT_LIKE.match(n)]
    alike += [n for n in difflib.get_close_matches("output", list(node_lines), n=3, cutoff=0.6) if n not in alike]
    if not alike:
        return netlist_error(path, None, "no node named 'output'", "name the node to record 'output' (e.g. `RLoad output 0 100k`)")
    listed = ", ".join(f"{n!r} ({_lines_text(node_lines[n])})" for n in alike)
    return netlist_error(
        path,
        node_lines[alike[0]][0],
        f"no node named 'output'; nodes named like it: {listed}",
        f"rename the node to record to 'output' on every line that names it (e.g. {alike[0]!r} -> 'output')",
    )


def _lines_text(numbers: list[int]) -> str:
    unique = sorted(set(numbers))
    return ("line " if len(unique) == 1 else "lines ") + ", ".join(str(n) for n in unique)


def _uses(body: list[tuple[int, str]], knob: Knob) -> bool:
    pattern = re.compile(rf"(?<![\w]){re.escape(knob.name)}(?![\w])", re.IGNORECASE)
    return any(number != knob.line and pattern.search(code) for number, code in body)


def _unused(path: Path, knob: Knob, vin: tuple[int, str] | None) -> KaspixError:
    if vin is not None and _uses([vin], knob):
        return netlist_error(
            path,
            knob.line,
            f"knob {knob.name!r} is used only in the Vin line (line {vin[0]}), which is replaced by the audio input",
            "to keep the netlist's own sources, set `generate.excitation: template` (`kaspix spice inspect --own-sources` checks it so)",
        )
    hint = f"use it as {{{knob.name}}} in a component value, or delete the .param"
    return netlist_error(path, knob.line, f"knob {knob.name!r} is never used", hint)


def _parse_tran(path: Path, trans: list[tuple[int, str]], errors: list[KaspixError]) -> tuple[float, float] | None:
    """The (step, stop) of the template's one ``.tran TSTEP TSTOP [TSTART [TMAX]] [UIC]``."""
    example = "e.g. `.tran 0.1u 1m` (0.1 µs step, 1 ms long)"
    if not trans:
        message = "no .tran line: a template driven by its own sources sets its time step and length with it"
        errors.append(netlist_error(path, None, message, f"add {example}"))
        return None
    if len(trans) > 1:
        errors.append(netlist_error(path, trans[1][0], f"a second .tran line (the first is on line {trans[0][0]})", "keep one .tran"))
        return None
    number, code = trans[0]
    fix = f"write `.tran TSTEP TSTOP`, {example}"
    fields = [t for t in code.split()[1:] if t.lower() != "uic"]
    try:
        values = [parse_value(t) for t in fields]
    except ValueError:
        errors.append(netlist_error(path, number, f"cannot read `{code}`: its times must be numbers", fix))
        return None
    if len(values) < 2:
        errors.append(netlist_error(path, number, f"`{code}` gives no time step", fix))
        return None
    step = values[0] if values[0] > 0 else (values[3] if len(values) > 3 else 0.0)  # LTspice writes `.tran 0 1m 0 10n`
    if not 0 < step < values[1]:
        errors.append(netlist_error(path, number, f"`{code}` gives no time step below its stop time", fix))
        return None
    return step, values[1]


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
