"""Differentiable transfer functions of the families (torch): the decoded circuit's poles and zeros as
the coefficients of the polynomials whose roots they are.

With the MNA pencil of :mod:`kaspix_spice.mna` (the same stamps), ``H(s) = N(s) / D(s)`` where

    D(s) = det(s E - A),   N(s) = det(s E - A_z)

(``A_z``: ``Vin``'s row replaced by the output row, Cramer's rule). Both have degree at most ``r``,
the number of capacitors and inductors, so they follow exactly from their values at the ``r + 1``
roots of unity: an FFT. Everything is differentiable with respect to the component values, with no
eigenvalue in the graph (``torch.linalg.eigvals`` has a wrong gradient at double roots). Frequencies
are in units of :data:`kaspix_circuitgen.elements.OMEGA_REF`, impedances of 1 kOhm.

The consistency loss compares ``log |c|`` of the decoded circuit's coefficients, normalized by the
leading coefficient of ``D``, with the true ones, over the coefficients that are not zero by the
family's structure: equal coefficients mean equal poles, zeros and gain.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from kaspix_spice.mna import LinearCircuit

from kaspix_circuitgen.elements import OMEGA_REF
from kaspix_circuitgen.families import FAMILIES, Family

__all__ = ["TORCH_FUNCTIONS", "FamilyPhysics", "all_physics", "coefficient_loss", "knob_values_from_unit", "unit_from_knob_values"]

R0 = 1e3
TORCH_FUNCTIONS = {
    "sqrt": torch.sqrt,
    "exp": torch.exp,
    "ln": torch.log,
    "log": torch.log,
    "log10": torch.log10,
    "abs": torch.abs,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "atan": torch.atan,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "tanh": torch.tanh,
    "pow": torch.pow,
    "min": torch.minimum,
    "max": torch.maximum,
}


def _float64(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float64)


class FamilyPhysics:
    """``N(s)`` and ``D(s)`` coefficients of one family as a differentiable function of its knobs.

    Args:
        family: The family (its template's MNA stamps are used).
    """

    def __init__(self, family: Family) -> None:
        circuit: LinearCircuit = family.circuit
        stamps = circuit.stamps
        self.family = family
        self.circuit = circuit
        self.knobs = family.knobs
        self.G0, self.SG, self.P, self.SW = (_float64(a) for a in (stamps.G0, stamps.SG, stamps.P, stamps.SW))
        self.scale = _float64(R0 ** stamps.units[:, 0] * OMEGA_REF ** stamps.units[:, 1])
        self.row, self.c = stamps.source_row, _float64(stamps.c)
        self.r = stamps.P.shape[1]
        points = torch.exp(2j * math.pi * torch.arange(self.r + 1, dtype=torch.float64) / (self.r + 1))
        self.points = points.to(torch.complex128)
        self._devices: dict[str, tuple[torch.Tensor, ...]] = {}
        defaults = torch.tensor([[k.default for k in family.template.knobs]], dtype=torch.float64)
        num, den = self._raw(defaults)
        lead = int(torch.nonzero(den.abs()[0] > 1e-9 * den.abs().max()).max())
        self.lead = lead
        self.mask = torch.cat([num.abs()[0] > 1e-9 * den.abs()[0, lead], den.abs()[0] > 1e-9 * den.abs()[0, lead]])

    def _on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """The constant tensors on ``device`` (moved once per device)."""
        key = str(device)
        if key not in self._devices:
            self._devices[key] = tuple(t.to(device) for t in (self.G0, self.SG, self.P, self.SW, self.scale, self.c, self.points))
        return self._devices[key]

    def _raw(self, knob_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, device = knob_values.shape[0], knob_values.device
        G0, SG, P, SW, scale, c, points = self._on(device)
        named = {name: knob_values[:, i] for i, name in enumerate(self.knobs)}
        values = self.circuit.stamp_values(named, functions=TORCH_FUNCTIONS)
        full = {"dtype": torch.float64, "device": device}
        stacked = torch.stack([v if torch.is_tensor(v) else torch.full((batch,), float(v), **full) for v in values], dim=-1)
        scaled = stacked * scale
        G = G0 + torch.einsum("bm,mij->bij", scaled, SG)
        W = torch.einsum("bm,mij->bij", scaled, SW)
        E = (P @ W @ P.T).to(torch.complex128)
        A = -G
        A_zero = A.clone()
        A_zero[:, self.row, :] = -c
        s = points[None, :, None, None]
        den = torch.linalg.det(s * E[:, None] - A[:, None].to(torch.complex128))
        num = torch.linalg.det(s * E[:, None] - A_zero[:, None].to(torch.complex128))
        n = self.r + 1
        return torch.fft.fft(num, dim=-1).real / n, torch.fft.fft(den, dim=-1).real / n

    def coefficients(self, knob_values: torch.Tensor) -> torch.Tensor:
        """``[N_0 .. N_r, D_0 .. D_r] / D_lead``, ascending powers of ``s / OMEGA_REF``: ``(B, 2 (r + 1))``.

        Args:
            knob_values: ``(B, k)`` component values in SI units, float64, in the family's knob order.
        """
        num, den = self._raw(knob_values)
        lead = den[:, self.lead : self.lead + 1]
        return torch.cat([num, den], dim=-1) / lead

    def transfer(self, knob_values: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``H(s)`` from the coefficients at complex ``s`` (rad/s): ``(B, F)``."""
        coefficients = self.coefficients(knob_values).to(torch.complex128)
        n = self.r + 1
        powers = (s.to(coefficients.device, torch.complex128) / OMEGA_REF)[None, :, None] ** torch.arange(n, device=coefficients.device)
        return (powers * coefficients[:, None, :n]).sum(-1) / (powers * coefficients[:, None, n:]).sum(-1)


def all_physics() -> list[FamilyPhysics]:
    """One :class:`FamilyPhysics` per family, in family order."""
    return [FamilyPhysics(f) for f in FAMILIES]


def coefficient_loss(predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean ``|log |c_pred| - log |c_true||`` over the structurally nonzero coefficients.

    Args:
        predicted, target: ``(B, 2 (r + 1))`` normalized coefficients (:meth:`FamilyPhysics.coefficients`).
        mask: ``(2 (r + 1),)`` which coefficients the family's structure makes nonzero.

    Shape: returns ``(B,)``.
    """
    chosen = torch.nonzero(mask).squeeze(-1)
    return (torch.log(predicted[:, chosen].abs()) - torch.log(target[:, chosen].abs())).abs().mean(-1)


def knob_values_from_unit(family: Family, unit: torch.Tensor) -> torch.Tensor:
    """Component values (SI, float64) from knob coordinates in 0..1 of each knob's log range: ``(B, k)``."""
    lows = torch.tensor([math.log(k.low) for k in family.template.knobs], dtype=torch.float64, device=unit.device)
    highs = torch.tensor([math.log(k.high) for k in family.template.knobs], dtype=torch.float64, device=unit.device)
    return torch.exp(lows + unit[:, : len(lows)].to(torch.float64) * (highs - lows))


def unit_from_knob_values(family: Family, values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`knob_values_from_unit` (numpy, NaN after the family's knobs)."""
    out = np.full(values.shape, np.nan)
    for i, knob in enumerate(family.template.knobs):
        out[..., i] = (np.log(values[..., i]) - math.log(knob.low)) / (math.log(knob.high) - math.log(knob.low))
    return out
