"""Classifying templates from their MNA response, and what ``kaspix spice inspect`` prints."""

from __future__ import annotations

import math

import pytest
from kaspix.testing import invoke, plugin_host
from kaspix_spice import plugin
from kaspix_spice.classify import classify, format_hz
from kaspix_spice.netlist import load_template, shipped_circuits_dir

TWO_PI = 2 * math.pi

#: Every shipped circuit: its kind and the analytic characteristic frequency at the default knob values.
SHIPPED = {
    "rc_lowpass": ("lowpass", 1 / (TWO_PI * 4.7e3 * 10e-9)),
    "cr_highpass": ("highpass", 1 / (TWO_PI * 4.7e3 * 47e-9)),
    "rlc_bandpass": ("bandpass", 1 / (TWO_PI * math.sqrt(33e-3 * 100e-9))),
    "twin_t_notch": ("notch", 1 / (TWO_PI * 4.7e3 * 22e-9)),
    # Q = 1/sqrt(2) at the defaults (Butterworth): the -3 dB cutoff is f0
    "sallen_key_lowpass": ("lowpass", 1 / (TWO_PI * 4.7e3 * math.sqrt(20e-9 * 10e-9))),
    "sallen_key_highpass": ("highpass", 1 / (TWO_PI * 10e-9 * math.sqrt(4.7e3 * 9.4e3))),
    "mfb_bandpass": ("bandpass", 1 / (TWO_PI * 10e-9 * math.sqrt(47e3 / 4 * 47e3))),
    "diode_clipper": ("nonlinear", None),
}

ALLPASS = """* first-order all-pass: H = (1 - sRC) / (1 + sRC)
.param R_a=1k ; range 500..2k
.param C_a=100n ; range 47n..220n
Vin input 0 DC 0
R1 input n {R_a}
C1 n 0 {C_a}
E1 a 0 n 0 2
E2 output a 0 input 1
.end
"""

OWN_SOURCES = """* RC driven by its own pulse source
.param R_x=1k ; range 500..2k
.param D=0.5
Vsrc input 0 PULSE(0 1 0 1u 1u {D * 100u} 100u)
R1 input output {R_x}
C1 output 0 10n
.tran 1u 1m
.end
"""


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_circuit_is_classified(name: str) -> None:
    kind, frequency = SHIPPED[name]
    result = classify(load_template(shipped_circuits_dir() / f"{name}.cir"))
    assert (result.kind, result.measured, result.declared) == (kind, kind, kind)
    if frequency is None:
        assert result.frequency is None and "not linear: diode D1 on line 9" in result.reason
    else:
        assert result.frequency == pytest.approx(frequency, rel=2e-3)


def test_real_style_netlist_cutoff_is_the_rc_one(real_style) -> None:
    result = classify(load_template(real_style))
    assert result.measured == "lowpass"
    assert result.frequency == pytest.approx(1 / (TWO_PI * 10e3 * 10e-9), rel=1e-4)  # R_half * 2 = R_tune, C_f
    assert result.describe() == "lowpass, cutoff 1.59 kHz (from MNA at the default knob values)"


def test_allpass_phase_center(write_cir) -> None:
    result = classify(load_template(write_cir(ALLPASS)))
    assert (result.kind, result.declared) == ("allpass", None)
    assert result.frequency == pytest.approx(1 / (TWO_PI * 1e3 * 100e-9), rel=1e-4)


def test_header_wins_and_a_disagreement_is_reported(write_cir) -> None:
    text = (shipped_circuits_dir() / "rc_lowpass.cir").read_text().replace("* kind: lowpass", "* kind: highpass")
    result = classify(load_template(write_cir(text)))
    assert (result.kind, result.measured) == ("highpass", "lowpass")
    assert result.describe().startswith("highpass (from `* kind:` on line 2); but MNA finds lowpass, cutoff 3.39 kHz")


def test_own_sources_template_is_not_measured(write_cir) -> None:
    result = classify(load_template(write_cir(OWN_SOURCES), own_sources=True))
    assert result.kind == "other" and result.frequency is None and "own sources" in result.reason


@pytest.mark.parametrize(("hz", "text"), [(1591.55, "1.59 kHz"), (47.0, "47 Hz"), (2.2e6, "2.2 MHz")])
def test_format_hz(hz: float, text: str) -> None:
    assert format_hz(hz) == text


def test_inspect_prints_kind_cutoff_and_range_sources(real_style) -> None:
    with plugin_host(plugin, name="spice"):
        shipped = invoke(["spice", "inspect", "rc_lowpass"])
        real = invoke(["spice", "inspect", str(real_style)])
    assert shipped.exit_code == 0, shipped.output
    assert "kind: lowpass, cutoff 3.39 kHz (from MNA at the default knob values)" in shipped.output
    assert "line 3, range from comment, line 3" in shipped.output and "warning" not in shipped.output
    assert real.exit_code == 0, real.output
    assert "range from default value/3..value*3" in real.output
    assert "warning: knob C_f has no range in the netlist or the config" in real.output
    assert "warning: knob R_tune" not in real.output


def test_inspect_own_sources(write_cir) -> None:
    path = write_cir(OWN_SOURCES)
    with plugin_host(plugin, name="spice"):
        audio = invoke(["spice", "inspect", str(path)])
        own = invoke(["spice", "inspect", "--own-sources", str(path)])
    assert audio.exit_code == 2 and "no input source" in audio.output and "`Vsrc input 0" in audio.output
    assert own.exit_code == 0, own.output
    assert "driven by its own sources: .tran step 1e-06 s (sample rate 1 MHz), stop 0.001 s" in own.output
    assert "warning: knob D has no range" in own.output and "ok: its own sources kept" in own.output


def test_own_sources_template_keeps_its_header_kind(write_cir) -> None:
    result = classify(load_template(write_cir(OWN_SOURCES.replace("\n.param R_x", "\n* kind: lowpass\n.param R_x", 1)), own_sources=True))
    assert (result.kind, result.measured, result.frequency) == ("lowpass", "lowpass", None)
    assert result.describe() == "lowpass (driven by its own sources: no input to relate the output to, not measured)"
