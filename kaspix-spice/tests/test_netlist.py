"""Template loading, knob ranges and line-numbered errors."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from kaspix import KaspixError
from kaspix_spice.netlist import DEFAULT_RANGE, Knob, load_template, parse_value, shipped_circuits, shipped_circuits_dir
from kaspix_spice.simulate import engine


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10k", 1e4),
        ("100n", 1e-7),
        ("1Meg", 1e6),
        ("2.2uF", 2.2e-6),
        ("1e-9", 1e-9),
        ("47", 47.0),
        ("3.3m", 3.3e-3),
        ("1MEG", 1e6),
        (".5p", 0.5e-12),
        ("10µF", 10e-6),
        ("1kΩ", 1e3),
    ],
)
def test_parse_value(text: str, value: float) -> None:
    assert math.isclose(parse_value(text), value, rel_tol=1e-12)


def test_parse_value_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_value("ten")


def test_every_shipped_circuit_loads_with_knobs() -> None:
    names = shipped_circuits()
    expected = {
        "rc_lowpass",
        "cr_highpass",
        "rlc_bandpass",
        "twin_t_notch",
        "sallen_key_lowpass",
        "sallen_key_highpass",
        "mfb_bandpass",
        "diode_clipper",
    }
    assert expected <= set(names)
    for name in names:
        template = load_template(shipped_circuits_dir() / f"{name}.cir")
        assert template.knobs, name
        assert "output" in template.nodes and "input" in template.nodes


def test_real_style_netlist(real_style) -> None:
    template = load_template(real_style)
    assert template.knob_names == ["R_tune", "C_f"]
    r_tune = template.knobs[0]
    assert (r_tune.low, r_tune.high, r_tune.log) == (2e3, 47e3, True)
    assert math.isclose(template.knobs[1].low, 10e-9 / 3) and template.kind == "lowpass"
    lines = template.render({"R_tune": 22e3}, step=1e-5, stop=1e-3)
    text = "\n".join(lines)
    assert ".param R_tune=22000" in text and "{R_tune * 0.5}" in text
    assert "Vin input 0 external" in lines and lines[-1] == ".end"
    assert ".ac" not in text and ".control" not in text and "AC 1" not in text
    assert "E1 output 0 b output 1e5" in text  # VOLTAGE ( a b ) rewritten for ngspice
    assert text.count(".tran") == 1 and ".subckt buf in out" in text and ".model DX" in text


def test_knob_normalization_round_trip() -> None:
    knob = Knob("R", 1e4, 1e3, 1e5, log=True)
    assert math.isclose(knob.normalize(1e4), 0.5)
    assert math.isclose(knob.denormalize(knob.normalize(3.3e3)), 3.3e3)
    lin = Knob("Q", 2.0, 1.0, 4.0, log=False)
    assert math.isclose(lin.normalize(2.5), 0.5)


def test_config_ranges_override_comments(real_style) -> None:
    template = load_template(real_style, {"C_f": (1e-9, 1e-8)})
    assert (template.knobs[1].low, template.knobs[1].high) == (1e-9, 1e-8)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("* t\nR1 input output 1k\nC1 output 0 1n\n.end\n", "no input source", None),
        ("* t\nVin input 0 DC 0\nR1 input out 1k\nC1 out 0 1n\n.end\n", "no node named 'output'", None),
        (
            "* t\n.param R_x=1k\n.param C_x=1n\nVin input 0 DC 0\nR1 input output {R_x}\nC1 output 0 1n\n.end\n",
            "knob 'C_x' is never used",
            3,
        ),
        ("* t\n.param R_x=1kk9\nVin input 0 DC 0\nR1 input output {R_x}\nC1 output 0 1n\n.end\n", "'1kk9' of .param R_x does not parse", 2),
        ("* t\nVin in 0 DC 0\nR1 in output 1k\n.end\n", "Vin must go from node 'input' to ground", 2),
        ("* t\n.param R_x=1k ; range 10k..1k\nVin input 0 DC 0\nR1 input output {R_x}\n.end\n", "invalid range", 2),
    ],
)
def test_broken_templates_name_the_line_and_fix(write_cir, text: str, message: str, line: int | None) -> None:
    path = write_cir(text)
    with pytest.raises(KaspixError) as info:
        load_template(path)
    error = info.value
    assert message in error.message
    assert error.hint
    assert str(path) in error.where
    if line is not None:
        assert error.where.endswith(f"line {line}")


# -- range comments as people write them -----------------------------------------------------------

RANGES = """* rangos
.param R_gain=10k ; Resistencia de control (Rango sugerido: 1k - 100k)
.param C_x=10n ; suggested range: 4.7nF to 22nF
.param Q=2 ; range 1..4 lin
.param Bias=0 ; rango -1 a 1
* Rango sugerido Duty: 0.1 a 0.9 (10% a 90%)
.param Duty=0.5
* range: 100 .. 1k (log)
.param R_above=470
.param R_def=1k
Vin input 0 DC 0
R1 input a {R_gain}
C1 a output {C_x}
E1 output 0 a 0 {Q * Duty + Bias}
R2 output 0 {R_above + R_def}
.end
"""


def test_range_comments_in_spanish_and_english(write_cir) -> None:
    knobs = {k.name: k for k in load_template(write_cir(RANGES)).knobs}
    expected = {
        "R_gain": (1e3, 1e5, True, "comment, line 2"),
        "C_x": (4.7e-9, 22e-9, True, "comment, line 3"),
        "Q": (1.0, 4.0, False, "comment, line 4"),
        "Bias": (-1.0, 1.0, False, "comment, line 5"),  # reaches 0 or below: lin
        "Duty": (0.1, 0.9, True, "comment, line 6"),  # the comment line above names it
        "R_above": (100.0, 1e3, True, "comment, line 8"),  # the comment line right above
        "R_def": (1e3 / 3, 3e3, True, DEFAULT_RANGE),
    }
    for name, (low, high, log, source) in expected.items():
        knob = knobs[name]
        assert math.isclose(knob.low, low) and math.isclose(knob.high, high), name
        assert (knob.log, knob.range_source) == (log, source), name


def test_a_comment_naming_a_knob_sets_its_range_anywhere(write_cir) -> None:
    text = "* t\n* Rango sugerido R_b: 2k - 20k\n.param R_a=1k\n.param R_b=5k\nVin input 0 DC 0\nR1 input output {R_a + R_b}\n.end\n"
    knobs = {k.name: k for k in load_template(write_cir(text)).knobs}
    assert (knobs["R_b"].low, knobs["R_b"].high, knobs["R_b"].range_source) == (2e3, 2e4, "comment, line 2")
    assert knobs["R_a"].range_source == DEFAULT_RANGE  # the comment right above names another knob


def test_config_range_wins_and_takes_the_scale_of_its_sign(real_style) -> None:
    template = load_template(real_style, {"r_tune": (0.0, 5e4), "C_f": (1e-9, 1e-8)})
    r_tune, c_f = template.knobs
    assert (r_tune.low, r_tune.log, r_tune.range_source) == (0.0, False, "config")
    assert (c_f.low, c_f.log, c_f.range_source) == (1e-9, True, "config")


def test_config_range_for_an_unknown_knob_names_the_close_ones(real_style) -> None:
    with pytest.raises(KaspixError) as info:
        load_template(real_style, {"R_tun": (1e3, 1e4)})
    assert "'R_tun', which is not a knob" in info.value.message and "did you mean 'R_tune'?" in info.value.message
    assert info.value.hint == "its knobs: R_tune, C_f"


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("R_x=1k ; range 1k..abc", "cannot read the range 'range 1k..abc' of knob R_x"),
        ("R_x=1k ; range -1..1 log", "invalid range -1..1 (from comment, line 2)"),
        ("R_x=0", "knob R_x is 0 and has no range"),
    ],
)
def test_bad_ranges_are_errors(write_cir, param: str, message: str) -> None:
    with pytest.raises(KaspixError) as info:
        load_template(write_cir(f"* t\n.param {param}\nVin input 0 DC 0\nR1 input output {{R_x}}\n.end\n"))
    assert message in info.value.message and info.value.where.endswith("line 2")


# -- encodings and line endings --------------------------------------------------------------------

LATIN = "* Filtro pasabajos — ñandú\n.param R_x=1k ; resistencia de señal\nVin input 0 DC 0\nR1 input output {R_x}\nC1 output 0 1n\n.end\n"


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [("utf-8", "\n"), ("utf-8-sig", "\n"), ("utf-16", "\r\n"), ("utf-16-le", "\r\n"), ("utf-16-be", "\n"), ("utf-8", "\r")],
)
def test_encodings_and_line_endings(tmp_path, encoding: str, newline: str) -> None:
    data = LATIN.replace("\n", newline).encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = "\ufeff".encode(encoding) + data  # LTspice writes UTF-16LE with a byte-order mark
    path = tmp_path / "t.cir"
    path.write_bytes(data)
    template = load_template(path)
    assert template.knob_names == ["R_x"] and template.knobs[0].line == 2
    assert any(text == "R1 input output {R_x}" for _number, text in template.body)


def test_latin1_is_read_with_a_warning_naming_the_byte(tmp_path, caplog) -> None:
    path = tmp_path / "t.cir"
    path.write_bytes("* t\r\n* comentario\x85 elipsis de Windows\r\n".encode("latin-1") + LATIN.split("\n", 1)[1].encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="kaspix.spice"):
        template = load_template(path)
    assert template.knobs[0].line == 3  # the \x85 byte does not end a line
    assert f"{path}: not UTF-8 (byte 0x85 on line 2, byte offset 17)" in caplog.text


@pytest.mark.parametrize(
    ("data", "line", "offset"),
    [
        ("* t\nVin input 0 DC 0\n".encode("utf-16-le"), 1, 1),  # UTF-16 without its byte-order mark
        (b"* t\nR1 a b 1k\n\x7fELF\x02\x01\x01\x00", 3, 14),
    ],
)
def test_binary_data_is_refused_with_line_and_offset(tmp_path, data: bytes, line: int, offset: int) -> None:
    path = tmp_path / "t.cir"
    path.write_bytes(data)
    with pytest.raises(KaspixError) as info:
        load_template(path)
    assert f"at byte offset {offset}" in info.value.message and info.value.where == f"{path}, line {line}"


def test_continuation_after_a_comment_line(write_cir) -> None:
    template = load_template(write_cir("* t\n.param R_x=1k\nVin input 0 DC 0\nR1 input output\n* the value follows\n+ {R_x}\n.end\n"))
    assert (4, "R1 input output {R_x}") in template.body


# -- errors that point at the nearest candidate ----------------------------------------------------


@pytest.mark.parametrize(
    ("netlist", "message"),
    [
        (
            "* t\nVcc vcc 0 9\nV1 input 0 DC 0\nR1 input output 1k\nR2 vcc output 1k\n.end\n",
            "line 3 `V1 input 0 DC 0` looks like the input: rename it to Vin",
        ),
        (
            "* t\nVin input 0 DC 0\nR1 input out 1k\nC1 out 0 1n\nR2 out vo 1k\n.end\n",
            "nodes named like it: 'out' (lines 3, 4, 5), 'vo' (line 5)",
        ),
    ],
    ids=["no Vin: the source that looks like the input", "no output: the nodes named like it"],
)
def test_a_missing_input_or_output_points_at_the_nearest_candidate(write_cir, netlist: str, message: str) -> None:
    path = write_cir(netlist)
    with pytest.raises(KaspixError) as info:
        load_template(path)
    assert message in info.value.message
    assert info.value.where == f"{path}, line 3"


def test_an_input_source_on_another_node_is_told_to_rename_the_node(write_cir) -> None:
    path = write_cir("* t\nVsig in 0 AC 1\nR1 in output 1k\n.end\n")
    with pytest.raises(KaspixError) as info:
        load_template(path)
    assert "`Vsig in 0 AC 1` looks like the input" in info.value.message and "its node 'in' to 'input'" in info.value.hint


def test_kind_header_aliases(write_cir) -> None:
    template = load_template(write_cir("* t\n* kind: band-stop\nVin input 0 DC 0\nR1 input output 1k\n.end\n"))
    assert (template.kind, template.kind_line) == ("notch", 2)


# -- templates driven by their own sources ---------------------------------------------------------


def test_a_supply_driven_circuit_in_audio_mode_says_what_is_going_on(buck_converter) -> None:
    with pytest.raises(KaspixError) as info:
        load_template(buck_converter)
    assert "knob 'V_in_val' is used only in the Vin line (line 9), which is replaced by the audio input" in info.value.message
    assert "generate.excitation: template" in info.value.hint and info.value.where.endswith("line 4")


def test_own_sources_keeps_every_source_and_reads_tran(buck_converter) -> None:
    template = load_template(buck_converter, own_sources=True)
    assert template.own_sources and template.tran == (1e-7, 1e-3)
    assert template.knob_names == ["D", "V_in_val", "T_sw", "L_val", "C_val", "R_load"]
    lines = template.render({"D": 0.3}, step=5e-8, stop=1e-3)
    assert "Vin input 0 DC {V_in_val}" in lines and "Vin input 0 external" not in lines
    assert ".param D=0.3" in lines and lines[-4:] == [
        ".options rshunt=1e+12",
        ".save V(output)",
        ".tran 5e-08 0.001 0 5e-08",
        ".end",
    ]
    assert sum(line.startswith(".tran") for line in lines) == 1


@pytest.mark.parametrize(
    ("tran", "expected", "message"),
    [
        ("", None, "no .tran line"),
        (".tran 0 1m 0 10n", (1e-8, 1e-3), None),  # LTspice: no step, a maximum step
        (".tran 1m", None, "gives no time step"),
        (".tran 0.1u {T_stop}", None, "its times must be numbers"),
    ],
)
def test_own_sources_need_a_tran(write_cir, tran: str, expected, message: str | None) -> None:
    path = write_cir(f"* t\nVin input 0 DC 1\nV2 a 0 PULSE(0 1 0 1u 1u 5u 10u)\nR1 a output 1k\nC1 output 0 1n\n{tran}\n.end\n")
    if expected:
        assert load_template(path, own_sources=True).tran == expected
        return
    with pytest.raises(KaspixError) as info:
        load_template(path, own_sources=True)
    assert message in info.value.message and ".tran 0.1u 1m" in info.value.hint


@pytest.mark.parametrize(("duty", "v_in"), [(0.5, 12.0), (0.7, 15.0)])
def test_own_sources_buck_converter_runs_in_ngspice(buck_converter, duty: float, v_in: float) -> None:
    template = load_template(buck_converter, own_sources=True)
    step, stop = template.tran
    substeps = 2
    lines = template.render({"D": duty, "V_in_val": v_in}, step=step / substeps, stop=stop)
    n = round(stop / step) + 1
    y = engine().simulate(lines, np.zeros(n), fs=1 / step, substeps=substeps)
    assert y.shape == (n,) and abs(y[0]) < 1e-3  # on the .tran grid, from the operating point (switch open)
    steady = float(np.mean(y[-2000:]))  # the last 0.2 ms
    assert steady == pytest.approx(duty * v_in, rel=0.1)  # D * Vin, less the diode's drop
