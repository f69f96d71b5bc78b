"""`kaspix circuitgen analyze` and `design`: round trips through the spice reader, ngspice, and clear errors."""

from __future__ import annotations

import math
import re

import pytest
from kaspix import KaspixError
from kaspix.testing import invoke, plugin_host
from kaspix_circuitgen import plugin
from kaspix_circuitgen.analyze import analyze
from kaspix_circuitgen.design import Spec, design, render_netlist
from kaspix_spice.ac import ngspice_available
from kaspix_spice.netlist import shipped_circuits

KIND_TO_TYPE = {"lowpass": "lowpass", "highpass": "highpass", "bandpass": "bandpass", "notch": "bandstop"}


@pytest.fixture
def host():
    with plugin_host(plugin, name="circuitgen", with_installed=["spice"]) as h:
        yield h


@pytest.mark.parametrize("name", [n for n in shipped_circuits() if n != "diode_clipper"])
def test_analyze_every_shipped_linear_circuit(name: str, host) -> None:
    result = invoke(["circuitgen", "analyze", name])
    assert result.exit_code == 0, result.output
    facts = analyze(name)
    assert facts["filter_type"] == KIND_TO_TYPE[facts["kind"]]
    assert math.isfinite(facts["frequency_hz"]) and facts["frequency_hz"] > 0
    assert f"filter type: {facts['filter_type']}" in result.output


def test_analyze_values_of_the_rc_lowpass(host) -> None:
    result = invoke(["circuitgen", "analyze", "rc_lowpass", "--set", "R_cut=10k", "--set", "C_cut=10n"])
    assert result.exit_code == 0
    assert "cutoff (-3 dB): 1.59155kHz" in result.output and "-10000 rad/s" in result.output


def test_analyze_refuses_a_nonlinear_circuit(host) -> None:
    result = invoke(["circuitgen", "analyze", "diode_clipper"])
    assert result.exit_code == 2
    assert "not linear: diode D1 on line 9" in result.stderr and "Traceback" not in result.output


def test_design_round_trip_through_the_spice_reader(tmp_path, host) -> None:
    result = invoke(
        ["circuitgen", "design", "--type", "lowpass", "--fc", "1k", "--q", "0.707", "--family", "sallen_key", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "Vin input 0 DC 0" in result.output and ".save V(output)" in result.output
    (path,) = tmp_path.glob("design1_sallen_key_lowpass.cir")
    facts = analyze(str(path))  # read back by the spice plugin's template reader, measured by MNA
    assert facts["filter_type"] == "lowpass"
    assert abs(facts["frequency_hz"] / 1000 - 1) < 0.01 and abs(facts["q"] / 0.707 - 1) < 0.10
    values = re.findall(r"^\.param (\w+)=(\S+)$", path.read_text(), re.MULTILINE)
    assert len(values) == 4  # every part an E24 value
    if ngspice_available():
        assert "ngspice AC check: fc = " in result.output
    else:
        assert "ngspice is not installed" in result.output


def test_design_finds_several_families(host) -> None:
    designs = design(Spec("bandstop", 2e3), n=3)
    assert len({d.family.name for d in designs}) == 3
    for d in designs:
        assert d.meets_spec and d.achieved.filter_type[0] == "bandstop"
        assert render_netlist(d, Spec("bandstop", 2e3)).startswith(f"* {d.family.name} designed by kaspix circuitgen")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "wobble", "--fc", "1k"], "Invalid value for '--type'"),
        (["--type", "lowpass", "--fc", "-1k"], "the frequency must be positive"),
        (["--type", "lowpass", "--fc", "1k", "--q", "-2"], "Q must be positive"),
        (["--type", "lowpass", "--fc", "ten"], "is not a number"),
        (["--type", "lowpass", "--fc", "100g"], "no design meets lowpass"),
        (["--type", "lowpass", "--fc", "1k", "--q", "50", "--family", "rc_lowpass"], "Q never exceeds 0.5"),
        (["--type", "highpass", "--fc", "1k", "--family", "sallen_key_lowpass"], "is not a highpass"),
    ],
)
def test_design_bad_input_is_a_clear_error(args: list[str], message: str, host) -> None:
    result = invoke(["circuitgen", "design", *args])
    assert result.exit_code == 2
    assert message in result.output + result.stderr and "Traceback" not in result.output + result.stderr


def test_fc_beyond_the_parts_says_what_came_closest() -> None:
    with pytest.raises(KaspixError, match="came closest") as info:
        design(Spec("lowpass", 1e-4))
    assert "at the end of the part range" in str(info.value) and "E-series" in info.value.hint
