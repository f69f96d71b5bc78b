"""Exact MNA simulation of linear templates: against ngspice at fine time steps, analytic responses, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix import KaspixError
from kaspix_spice import reference
from kaspix_spice.mna import NotLinearError
from kaspix_spice.netlist import load_template, shipped_circuits, shipped_circuits_dir
from kaspix_spice.simulate import engine
from kaspix_spice.simulate_mna import LinearSimulator, is_linear

FS = 48_000.0
N = 2400  # 0.05 s
LINEAR = [name for name in shipped_circuits() if name != "diode_clipper"]


def _clip(seed: int = 0) -> np.ndarray:
    """A clip at full level from its first sample: a DC offset, a log chirp starting at its peak, a little noise."""
    t = np.arange(N) / FS
    f0, f1 = 50.0, 10_000.0
    phase = 2 * np.pi * f0 * t[-1] / np.log(f1 / f0) * ((f1 / f0) ** (t / t[-1]) - 1)
    noise = np.random.default_rng(seed).standard_normal(N)
    return 0.3 + 0.5 * np.cos(phase) + 0.02 * noise


def _errors(y: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """(max |error|, RMS error), both relative to the expected output's RMS."""
    rms = float(np.sqrt(np.mean(expected**2)))
    return float(np.max(np.abs(y - expected))) / rms, float(np.sqrt(np.mean((y - expected) ** 2))) / rms


def _ngspice(template, values: dict[str, float], x: np.ndarray) -> np.ndarray:
    """ngspice at 32 and 64 time points per sample, extrapolated: its trapezoidal error falls as ``h**2``.

    At 64 substeps alone the error is up to 2.4e-3 of the RMS (the RLC's 10.7 kHz resonance at its
    low corner, which the chirp reaches); extrapolated, at most 2.5e-6 (max) and 2e-7 (RMS).
    """
    runs = [engine().simulate(template.render(values, step=1 / (FS * k), stop=(len(x) - 1) / FS), x, FS, substeps=k) for k in (32, 64)]
    return (4 * runs[1] - runs[0]) / 3


def _settings(template) -> list[dict[str, float]]:
    """The default knob values and the two extreme corners of the knob ranges."""
    return [{}, {k.name: k.low for k in template.knobs}, {k.name: k.high for k in template.knobs}]


def test_every_shipped_circuit_but_the_clipper_is_linear() -> None:
    assert "diode_clipper" in shipped_circuits() and len(LINEAR) == len(shipped_circuits()) - 1
    for name in shipped_circuits():
        assert is_linear(load_template(shipped_circuits_dir() / f"{name}.cir")) == (name != "diode_clipper")


@pytest.mark.parametrize("name", LINEAR)
def test_shipped_circuit_matches_ngspice(name: str) -> None:
    template = load_template(shipped_circuits_dir() / f"{name}.cir")
    simulator = LinearSimulator.from_template(template)
    x = _clip()
    for values in _settings(template):
        y = simulator.simulate(values, x, FS)
        expected = _ngspice(template, values, x)
        worst, rms = _errors(y, expected)
        assert worst <= 1e-4 and rms <= 1e-5, (values, worst, rms)
        # the same DC operating point, but for the 1e12-ohm shunts the rendered netlist gives ngspice (~1e-8)
        assert y[0] == pytest.approx(expected[0], rel=1e-7, abs=1e-9)


def test_real_style_netlist_matches_ngspice(real_style) -> None:
    template = load_template(real_style)
    simulator = LinearSimulator.from_template(template)
    x = _clip(1)
    for values in _settings(template):
        y = simulator.simulate(values, x, FS)
        worst, rms = _errors(y, _ngspice(template, values, x))
        assert worst <= 1e-4 and rms <= 1e-5, (values, worst, rms)


@pytest.mark.parametrize(
    ("name", "transfer"),
    [
        ("rc_lowpass", lambda v: reference.rc_lowpass(v["R_cut"], v["C_cut"])),
        ("cr_highpass", lambda v: reference.cr_highpass(v["R_hp"], v["C_hp"])),
        ("rlc_bandpass", lambda v: reference.rlc_bandpass(v["R_bp"], v["L_bp"], v["C_bp"])),
    ],
)
def test_exact_against_the_first_order_hold_reference(name: str, transfer) -> None:
    """Both are exact: they agree to rounding, at every corner, from a nonzero first sample."""
    template = load_template(shipped_circuits_dir() / f"{name}.cir")
    simulator = LinearSimulator.from_template(template)
    x = _clip(2)
    for values in _settings(template)[1:]:
        y = simulator.simulate(values, x, FS)
        worst, _ = _errors(y, reference.foh_response(*transfer(values), x, FS))
        assert worst <= 1e-12, (values, worst)


@pytest.mark.parametrize("name", LINEAR)
def test_modes_reproduce_the_mna_frequency_response(name: str) -> None:
    template = load_template(shipped_circuits_dir() / f"{name}.cir")
    simulator = LinearSimulator.from_template(template)
    rng = np.random.default_rng(4)
    freqs = np.logspace(0, 5, 40)
    for _ in range(3):
        values = {k.name: float(rng.uniform(k.low, k.high)) for k in template.knobs}
        modes = simulator.modal_form(values)
        expected = simulator.circuit.system(values).response(freqs)
        np.testing.assert_allclose(modes.response_at(2j * np.pi * freqs), expected, rtol=1e-8, atol=1e-12 * np.max(np.abs(expected)))


def _simulator(write_cir, text: str) -> LinearSimulator:
    return LinearSimulator.from_template(load_template(write_cir(text)))


BUFFERED_RC = "R{i} {a} n{i} 4.7k\nC{i} n{i} 0 10n\nE{i} {b} 0 n{i} 0 1\n"


@pytest.mark.parametrize("order", [2, 3])
def test_repeated_poles_are_exact(write_cir, order: int) -> None:
    """Identical buffered RC sections: a pole of multiplicity ``order`` (no basis of eigenvectors)."""
    nodes = ["input", *[f"b{i}" for i in range(1, order)], "output"]
    body = "".join(BUFFERED_RC.format(i=i + 1, a=nodes[i], b=nodes[i + 1]) for i in range(order))
    simulator = _simulator(write_cir, f"* buffered RC x{order}\nVin input 0 DC 0\n{body}.end\n")
    tau = 4.7e3 * 10e-9
    den = np.poly(np.full(order, -1 / tau)) * tau**order
    x = _clip(3)
    worst, _ = _errors(simulator.simulate({}, x, FS), reference.foh_response([1.0], list(den), x, FS))
    assert worst <= 1e-8
    assert [b.A.shape for b in simulator.modal_form().blocks] == [(order, order)]


def test_capacitor_loops_with_voltage_sources(write_cir) -> None:
    """C across Vin, C across a VCVS output, C from the input to that output: algebraic, no extra poles."""
    simulator = _simulator(
        write_cir,
        "* loops\nVin input 0 DC 0\nC0 input 0 1u\nR1 input n1 1k\nC1 n1 0 100n\nE1 output 0 n1 0 2\nC2 output 0 1n\n"
        "C3 input output 1n\n.end\n",
    )
    x = _clip(4)
    worst, _ = _errors(simulator.simulate({}, x, FS), reference.foh_response([2.0], [1e3 * 100e-9, 1.0], x, FS))
    assert worst <= 1e-9


def test_floating_node_starts_at_zero_volts(write_cir) -> None:
    """A capacitive divider: the output node has no DC path, so at rest it sits at 0 V (vanishing gmin)."""
    simulator = _simulator(write_cir, "* divider\nVin input 0 DC 0\nC1 input output 10n\nC2 output 0 30n\n.end\n")
    x = _clip(5)
    np.testing.assert_allclose(simulator.simulate({}, x, FS), 0.25 * (x - x[0]), atol=1e-12)


def test_resistive_divider_is_its_gain(write_cir) -> None:
    simulator = _simulator(write_cir, "* divider\nVin input 0 DC 0\nR1 input output 3k\nR2 output 0 1k\n.end\n")
    assert simulator.modal_form().blocks == ()
    x = _clip(7)
    np.testing.assert_allclose(simulator.simulate({}, x, FS), 0.25 * x, rtol=1e-14)


def test_integrator_runs_from_zero_and_refuses_a_nonzero_start(write_cir) -> None:
    simulator = _simulator(write_cir, "* integrator\nVin input 0 DC 0\nG1 0 output input 0 1m\nC1 output 0 10n\n.end\n")
    x = _clip(6) - 0.3
    x[0] = 0.0
    expected = 1e-3 / 10e-9 / FS * np.concatenate([[0.0], np.cumsum((x[1:] + x[:-1]) / 2)])  # exact for a linear input
    np.testing.assert_allclose(simulator.simulate({}, x, FS), expected, rtol=1e-9, atol=1e-9 * np.max(np.abs(expected)))
    with pytest.raises(KaspixError, match="no DC operating point"):
        simulator.simulate({}, x + 0.1, FS)


def test_improper_circuit_is_refused(write_cir) -> None:
    """The output is the current through a capacitor across the input: ``y ~ s u``."""
    path = write_cir("* differentiator\nVin input 0 DC 0\nC1 input s 10n\nVs s 0 0\nH1 output 0 Vs 1k\n.end\n")
    with pytest.raises(KaspixError, match="derivative of the input"):
        LinearSimulator.from_template(load_template(path))
    assert not is_linear(load_template(path))


def test_nonlinear_clipper_is_refused_with_element_and_line() -> None:
    template = load_template(shipped_circuits_dir() / "diode_clipper.cir")
    with pytest.raises(NotLinearError, match=r"not linear: diode D1 on line 9"):
        LinearSimulator.from_template(template)
