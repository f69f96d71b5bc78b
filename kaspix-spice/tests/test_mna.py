"""Numeric MNA: poles, zeros and responses against hand-derived transfer functions and ngspice's AC analysis."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix import KaspixError
from kaspix_spice.ac import ac_response, ngspice_available
from kaspix_spice.expressions import ExpressionError, evaluate
from kaspix_spice.mna import NotLinearError, read_circuit
from kaspix_spice.netlist import load_template, shipped_circuits, shipped_circuits_dir
from scipy.optimize import linear_sum_assignment
from scipy.signal import tf2zpk

A = 1e5  # the op-amp VCVS gain of the shipped circuits
K = A / (1 + A)  # a unity-gain follower with that gain


def _hand_tf(name: str, p: dict[str, float]) -> tuple[list[float], list[float]]:
    """Transfer functions of the shipped circuits, derived by hand (nodal analysis), at knob values ``p``."""
    if name == "rc_lowpass":
        r, c = p["R_cut"], p["C_cut"]
        return [1.0], [r * c, 1.0]
    if name == "cr_highpass":
        r, c = p["R_hp"], p["C_hp"]
        return [r * c, 0.0], [r * c, 1.0]
    if name == "rlc_bandpass":
        r, ind, c = p["R_bp"], p["L_bp"], p["C_bp"]
        return [r * c, 0.0], [ind * c, r * c, 1.0]
    if name == "sallen_key_lowpass":  # R1 = R2 = R, C1 (feedback) = C Q_ratio, C2 = C
        r1 = r2 = p["R_sk"]
        c1, c2 = p["C_sk"] * p["Q_ratio"], p["C_sk"]
        return [K], [r1 * r2 * c1 * c2, c2 * (r1 + r2) + r1 * c1 * (1 - K), 1.0]
    if name == "sallen_key_highpass":  # C1 = C2 = C, R1 (feedback) = R, R2 = R Q_ratio
        c1 = c2 = p["C_sk"]
        r1, r2 = p["R_sk"], p["R_sk"] * p["Q_ratio"]
        return [K * r1 * r2 * c1 * c2, 0.0, 0.0], [r1 * r2 * c1 * c2, c1 * r1 + c2 * r1 + c2 * r2 * (1 - K), 1.0]
    if name == "twin_t_notch":  # balanced, loaded by RLoad = 1 Meg
        r, c, rl = p["R_n"], p["C_n"], 1e6
        return [rl * r * r * c * c, 0.0, rl], [rl * r * r * c * c, 2 * r * r * c + 4 * r * c * rl, 2 * r + rl]
    if name == "mfb_bandpass":  # R1 = R / 4, R2 = R, C1 = C2 = C, output = -A v(ninv)
        r1, r2, c1, c2 = p["R_mfb"] / 4, p["R_mfb"], p["C_mfb"], p["C_mfb"]
        return [-A * c2 * r2, 0.0], [(1 + A) * c1 * c2 * r1 * r2, (1 + A) * (c1 + c2) * r1 + c2 * r2, 1 + A]
    raise KeyError(name)


LINEAR = ["rc_lowpass", "cr_highpass", "rlc_bandpass", "sallen_key_lowpass", "sallen_key_highpass", "twin_t_notch", "mfb_bandpass"]


def _max_relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """Largest |got - want| / |want| (absolute for roots at the origin) after optimal pairing."""
    assert len(got) == len(want), (got, want)
    if len(want) == 0:
        return 0.0
    cost = np.abs(got[:, None] - want[None, :])
    rows, cols = linear_sum_assignment(cost)
    scale = np.maximum(np.abs(want[cols]), 1.0)
    return float(np.max(cost[rows, cols] / scale))


def test_every_shipped_linear_circuit_is_covered() -> None:
    assert sorted(LINEAR) == sorted(n for n in shipped_circuits() if n != "diode_clipper")


@pytest.mark.parametrize("name", LINEAR)
def test_poles_zeros_gain_match_tf2zpk(name: str) -> None:
    circuit = read_circuit(shipped_circuits_dir() / f"{name}.cir")
    rng = np.random.default_rng(3)
    knobs = {k.name: k for k in load_template(shipped_circuits_dir() / f"{name}.cir").knobs}
    for _ in range(3):
        values = {n: float(np.exp(rng.uniform(np.log(k.low), np.log(k.high)))) for n, k in knobs.items()}
        zpk = circuit.zpk(values)
        z, p, k = tf2zpk(*_hand_tf(name, values))
        z, p = z[np.isfinite(z)], p[np.isfinite(p)]
        # tf2zpk leaves the 1e-10-scale error of its polynomial roots; MNA's roots are closer to exact
        assert _max_relative_error(zpk.poles[()], p) < 1e-9
        assert _max_relative_error(zpk.zeros[()], z) < 1e-9
        assert abs(float(zpk.gain) - k) <= 1e-9 * abs(k)


def test_batched_equals_one_by_one() -> None:
    circuit = read_circuit(shipped_circuits_dir() / "sallen_key_highpass.cir")
    rng = np.random.default_rng(0)
    values = {"R_sk": rng.uniform(2e3, 20e3, (4, 5)), "C_sk": rng.uniform(4.7e-9, 22e-9, (4, 5)), "Q_ratio": rng.uniform(1, 4, (4, 5))}
    batch = circuit.zpk(values)
    assert batch.poles.values.shape == (4, 5, 2) and batch.gain.shape == (4, 5)
    for i, j in [(0, 0), (3, 4), (2, 1)]:
        one = circuit.zpk({k: v[i, j] for k, v in values.items()})
        np.testing.assert_allclose(batch.poles[i, j], one.poles[()], rtol=1e-12)
        np.testing.assert_allclose(batch.zeros[i, j], one.zeros[()], atol=1e-9)
        assert batch.poles.as_list()[i * 5 + j].shape == (2,)


def test_response_agrees_with_zpk_and_gains() -> None:
    circuit = read_circuit(shipped_circuits_dir() / "rlc_bandpass.cir")
    system = circuit.system({"R_bp": np.array([100.0, 330.0])})
    zpk = system.zpk()
    f = np.logspace(1, 5, 50)
    np.testing.assert_allclose(system.response(f), zpk(2j * np.pi * f), rtol=1e-10)
    assert np.all(zpk.dc_gain() == 0) and np.all(zpk.hf_gain() == 0)
    num, den = zpk.transfer_function(1)
    np.testing.assert_allclose(num / den[0], np.array([330 * 100e-9, 0]) / (33e-3 * 100e-9), rtol=1e-9)


def test_nonlinear_element_is_named_with_its_line() -> None:
    with pytest.raises(NotLinearError, match=r"not linear: diode D1 on line 9"):
        read_circuit(shipped_circuits_dir() / "diode_clipper.cir")


def _write(tmp_path, text: str, name: str = "t.cir"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_behavioural_source_is_not_linear(tmp_path) -> None:
    path = _write(tmp_path, "* t\nVin input 0 DC 0\nR1 input a 1k\nE1 output 0 value={V(a)*2}\nR2 output 0 1k\n.end\n")
    with pytest.raises(NotLinearError, match="behavioural source E1 on line 4"):
        read_circuit(path)


def test_floating_node_is_a_clear_error(tmp_path) -> None:
    path = _write(tmp_path, "* t\nVin input 0 DC 0\nR1 input output 1k\nC1 output 0 1n\nI1 x 0 1m\nR2 x y 1k\n.end\n")
    with pytest.raises(KaspixError, match="singular"):
        read_circuit(path).zpk()


def test_far_zero_is_kept_and_spurious_ones_are_removed(tmp_path) -> None:
    # the op-amp's output resistance lets the feedback capacitor feed through: an RHP zero at A / (Ro C1)
    far = _write(
        tmp_path,
        "* t\nVin input 0 DC 0\nR1 input ninv 10k\nC1 ninv out2 10n\nR2 ninv out2 100k\nE1 oi 0 0 ninv 100k\n"
        "Ro oi out2 100\nR3 out2 output 1k\nC3 output 0 10n\n.end\n",
        "far.cir",
    )
    zeros = read_circuit(far).zpk().zeros[()]
    assert len(zeros) == 1 and abs(zeros[0] - 1e5 / (100 * 10e-9)) < 1e-3 * 1e11
    # capacitors across the input and across a VCVS output: loops of capacitors and voltage sources
    loops = _write(
        tmp_path,
        "* t\nVin input 0 DC 0\nC0 input 0 1u\nR1 input n1 1k\nC1 n1 0 100n\nE1 output 0 n1 0 2\nC2 output 0 1n\n.end\n",
        "loops.cir",
    )
    zpk = read_circuit(loops).zpk()
    assert len(zpk.zeros[()]) == 0
    np.testing.assert_allclose(zpk.poles[()], [-1e4], rtol=1e-12)
    np.testing.assert_allclose(zpk.dc_gain(), 2.0, rtol=1e-12)


def test_resistive_divider_has_a_gain_and_no_roots(tmp_path) -> None:
    path = _write(tmp_path, "* t\nVin input 0 DC 0\nR1 input output 3k\nR2 output 0 1k\n.end\n")
    zpk = read_circuit(path).zpk()
    assert zpk.poles.count == 0 and zpk.zeros.count == 0
    assert float(zpk.gain) == pytest.approx(0.25, rel=1e-14) and float(zpk.dc_gain()) == pytest.approx(0.25, rel=1e-14)


def test_multiple_zero_at_the_origin_is_exact(tmp_path) -> None:
    path = _write(
        tmp_path,
        "* CR ladder\nVin input 0 DC 0\nC1 input a 22n\nR1 a 0 4.7k\nC2 a b 10n\nR2 b 0 10k\nC3 b output 4.7n\nR3 output 0 22k\n.end\n",
    )
    zpk = read_circuit(path).zpk()
    assert np.all(zpk.zeros[()] == 0) and len(zpk.zeros[()]) == 3
    assert np.all(zpk.poles[()].imag == 0)


NETLISTS = {
    "controlled": """* K, F, G, H and a sense source
Vin input 0 DC 0
R1 input a 50
L1 a 0 10m
L2 b 0 10m
K1 L1 L2 0.5
Vsense b c 0
R2 c 0 100
F1 0 d Vsense 2
G1 d 0 a 0 1m
R3 d 0 1k
C1 d 0 100n
H1 output 0 Vsense 50
.end
""",
    "subcircuit": """* two RC sections as subcircuit instances, a derived parameter
.param R_x=2k
.param R_y={R_x * 2.5}
Vin input 0 DC 0
X1 input mid rcsec
X2 mid output rcsec
RL output 0 {R_y}
.subckt rcsec a b
R1 a b {R_x}
C1 b 0 10n
.ends
.end
""",
}


@pytest.mark.skipif(not ngspice_available(), reason="ngspice is not installed: AC cross-check skipped")
@pytest.mark.parametrize("name", [*LINEAR, *NETLISTS])
def test_response_matches_ngspice_ac(name: str, tmp_path) -> None:
    path = shipped_circuits_dir() / f"{name}.cir" if name in LINEAR else _write(tmp_path, NETLISTS[name], f"{name}.cir")
    template = load_template(path)
    f, h_spice = ac_response(template, f_start=10, f_stop=1e5, per_decade=10)
    circuit = read_circuit(path)
    np.testing.assert_allclose(circuit.system().response(f), h_spice, rtol=1e-9)
    np.testing.assert_allclose(circuit.zpk()(2j * np.pi * f)[()], h_spice, rtol=1e-9)


def test_expressions() -> None:
    names = {"R_tune": np.array([1e3, 2e3]), "c": 1e-9}
    np.testing.assert_allclose(evaluate("{R_tune * 0.5 + 1k}", names), [1500.0, 2000.0])
    assert evaluate("sqrt(4) * 2.2u + r_TUNE", {"r_tune": 1.0}) == pytest.approx(1.0000044)
    assert evaluate("2^3 - 1meg/1e6", {}) == pytest.approx(7.0)
    with pytest.raises(ExpressionError, match="unknown parameter"):
        evaluate("R_missing * 2", names)
    with pytest.raises(ExpressionError, match="unknown function"):
        evaluate("__import__('os')", names)
    with pytest.raises(ExpressionError, match="not plain arithmetic"):
        evaluate("c.__class__", names)
