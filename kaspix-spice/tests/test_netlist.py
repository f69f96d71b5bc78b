"""Template loading, knob ranges and line-numbered errors."""

from __future__ import annotations

import math

import pytest
from kaspix import KaspixError
from kaspix_spice.netlist import Knob, load_template, parse_value, shipped_circuits, shipped_circuits_dir


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
