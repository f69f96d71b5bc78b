"""Every family: exact MNA poles/zeros against tf2zpk of its hand-derived transfer function, and ngspice AC."""

from __future__ import annotations

import numpy as np
import pytest
from kaspix_circuitgen.data import sample_family
from kaspix_circuitgen.elements import signature_mask
from kaspix_circuitgen.families import FAMILIES, family
from kaspix_spice.ac import ac_response, ngspice_available
from scipy.optimize import linear_sum_assignment
from scipy.signal import tf2zpk

K = 1e5 / (1 + 1e5)  # a unity-gain follower made of a VCVS of gain 1e5


def _sk_lowpass(r1: float, r2: float, c1: float, c2: float) -> tuple[list[float], list[float]]:
    return [K], [r1 * r2 * c1 * c2, c2 * (r1 + r2) + r1 * c1 * (1 - K), 1.0]


def _sk_highpass(c1: float, c2: float, r1: float, r2: float) -> tuple[list[float], list[float]]:
    return [K * r1 * r2 * c1 * c2, 0.0, 0.0], [r1 * r2 * c1 * c2, c1 * r1 + c2 * r1 + c2 * r2 * (1 - K), 1.0]


def _notch(ind: float, c: float, r: float) -> tuple[list[float], list[float]]:
    return [ind * c, 0.0, 1.0], [ind * c, ind / r, 1.0]


def hand_tf(name: str, v: dict[str, float]) -> tuple[list[float], list[float]]:
    """Transfer functions derived by nodal analysis on paper (highest power first)."""
    if name == "rc_lowpass":
        return [1.0], [v["R_1"] * v["C_1"], 1.0]
    if name == "lag_lowpass":
        return [v["R_2"] * v["C_1"], 1.0], [(v["R_1"] + v["R_2"]) * v["C_1"], 1.0]
    if name == "cr_highpass":
        return [v["R_1"] * v["C_1"], 0.0], [v["R_1"] * v["C_1"], 1.0]
    if name in ("rc_ladder3_lowpass", "cr_ladder3_highpass"):
        r1, r2, r3, c1, c2, c3 = (v[k] for k in ("R_1", "R_2", "R_3", "C_1", "C_2", "C_3"))
        product = r1 * r2 * r3 * c1 * c2 * c3
        if name == "rc_ladder3_lowpass":
            s2 = c1 * c2 * r1 * r2 + c1 * c3 * r1 * r2 + c1 * c3 * r1 * r3 + c2 * c3 * r1 * r3 + c2 * c3 * r2 * r3
            return [1.0], [product, s2, c1 * r1 + c2 * r1 + c2 * r2 + c3 * r1 + c3 * r2 + c3 * r3, 1.0]
        s2 = c1 * c2 * r1 * r2 + c1 * c3 * r1 * r2 + c1 * c3 * r1 * r3 + c2 * c3 * r1 * r2 + c2 * c3 * r1 * r3 + c2 * c3 * r2 * r3
        return [product, 0.0, 0.0, 0.0], [product, s2, c1 * r1 + c2 * r1 + c2 * r2 + c3 * r2 + c3 * r3, 1.0]
    if name == "sallen_key_lowpass":
        return _sk_lowpass(v["R_1"], v["R_2"], v["C_1"], v["C_2"])
    if name == "sallen_key_highpass":
        return _sk_highpass(v["C_1"], v["C_2"], v["R_1"], v["R_2"])
    if name == "rlc_bandpass":
        return [v["R_1"] * v["C_1"], 0.0], [v["L_1"] * v["C_1"], v["R_1"] * v["C_1"], 1.0]
    if name == "rlc_notch":
        return _notch(v["L_1"], v["C_1"], v["R_1"])
    if name == "twin_t_notch":
        r, c, rl = v["R_1"], v["C_1"], v["R_L"]
        return [rl * r * r * c * c, 0.0, rl], [rl * r * r * c * c, 2 * r * r * c + 4 * r * c * rl, 2 * r + rl]
    if name == "sallen_key_bandpass":
        (hb, ha), (lb, la) = _sk_highpass(v["C_1"], v["C_2"], v["R_1"], v["R_2"]), _sk_lowpass(v["R_3"], v["R_4"], v["C_3"], v["C_4"])
        return list(np.polymul(hb, lb)), list(np.polymul(ha, la))
    if name == "double_notch":
        (b1, a1), (b2, a2) = _notch(v["L_1"], v["C_1"], v["R_1"]), _notch(v["L_2"], v["C_2"], v["R_2"])
        return list(np.polymul(b1, b2)), list(np.polymul(a1, a2))
    raise KeyError(name)


def _max_relative_error(got: np.ndarray, want: np.ndarray) -> float:
    assert len(got) == len(want), (got, want)
    if len(want) == 0:
        return 0.0
    cost = np.abs(got[:, None] - want[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(np.max(cost[rows, cols] / np.maximum(np.abs(want[cols]), 1.0)))


def _cancel_common(z: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tf2zpk keeps a factor common to numerator and denominator (the balanced twin-T has one): drop it."""
    z, p = list(z), list(p)
    for root in list(z):
        close = [q for q in p if abs(q - root) <= 1e-6 * abs(root)]
        if close:
            z.remove(root)
            p.remove(close[0])
    return np.array(z), np.array(p)


@pytest.mark.parametrize("name", [f.name for f in FAMILIES])
def test_mna_matches_tf2zpk_of_the_hand_derived_transfer_function(name: str) -> None:
    fam = family(name)
    values, zpk = sample_family(fam, 4, np.random.default_rng(7))
    for row in range(len(values)):
        v = dict(zip(fam.knobs, values[row], strict=True))
        z, p, k = tf2zpk(*hand_tf(name, v))
        z, p = _cancel_common(z, p)
        assert _max_relative_error(zpk.poles[row], p) <= 1e-9
        assert _max_relative_error(zpk.zeros[row], z) <= 1e-9
        assert abs(zpk.gain[row] - k) <= 1e-9 * abs(k)
    assert signature_mask(zpk.poles.values, fam.poles).all() and signature_mask(zpk.zeros.values, fam.zeros).all()
    assert (zpk.poles.count == fam.pole_count).all() and (zpk.zeros.count == fam.zero_count).all()


def test_pole_and_zero_counts_span_the_seed_table() -> None:
    assert {f.pole_count for f in FAMILIES} == {1, 2, 3, 4}
    assert {f.zero_count for f in FAMILIES} == {0, 1, 2, 3, 4}
    assert {f.filter_type for f in FAMILIES} == {"lowpass", "highpass", "bandpass", "bandstop"}
    assert len({(f.poles, f.zeros) for f in FAMILIES}) == len(FAMILIES)  # the response tells them apart


@pytest.mark.skipif(not ngspice_available(), reason="ngspice is not installed: AC cross-check skipped")
@pytest.mark.parametrize("name", [f.name for f in FAMILIES])
def test_mna_matches_ngspice_ac(name: str) -> None:
    fam = family(name)
    values, zpk = sample_family(fam, 1, np.random.default_rng(11))
    f, h = ac_response(fam.template, dict(zip(fam.knobs, values[0], strict=True)), f_start=10, f_stop=1e5, per_decade=10)
    np.testing.assert_allclose(zpk(2j * np.pi * f)[0], h, rtol=1e-8)


def test_differentiable_coefficients_reproduce_mna_and_have_gradients() -> None:
    import torch
    from kaspix_circuitgen.data import GRID_HZ
    from kaspix_circuitgen.physics import FamilyPhysics, coefficient_loss

    for fam in FAMILIES:
        physics = FamilyPhysics(fam)
        values, zpk = sample_family(fam, 3, np.random.default_rng(5))
        knobs = torch.tensor(values, requires_grad=True)
        h = physics.transfer(knobs, torch.as_tensor(2j * np.pi * GRID_HZ)).detach().numpy()
        np.testing.assert_allclose(h, zpk(2j * np.pi * GRID_HZ), rtol=1e-7, err_msg=fam.name)
        target = physics.coefficients(torch.tensor(values) * 1.01).detach()
        loss = coefficient_loss(physics.coefficients(knobs), target, physics.mask).sum()
        loss.backward()
        assert torch.isfinite(knobs.grad).all() and knobs.grad.abs().sum() > 0, fam.name
