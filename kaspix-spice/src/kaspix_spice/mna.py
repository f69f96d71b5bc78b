"""Numeric modified nodal analysis (MNA) of linear netlists: descriptor state space, poles, zeros, responses.

A linear template read by :mod:`kaspix_spice.netlist` (R, L, C, coupled inductors K, controlled
sources E/G/F/H, independent sources V/I, subcircuits X) becomes a :class:`LinearCircuit`. With the
node voltages and the branch currents of V, E, H and L as unknowns ``x``, MNA writes the circuit as

    (G + s C) x = b u,    y = c^T x

where ``u`` is the input source ``Vin`` and ``y`` the voltage of node ``output``: the descriptor
state space ``E x' = A x + B u, y = C x + D u`` with ``E = C``, ``A = -G``, ``B = b``, ``C = c^T``,
``D = 0`` (:class:`DescriptorSystem`). Other independent sources are zero (V shorted, I open), as in
an AC analysis.

**Poles** are the finite generalized eigenvalues of the pencil ``(A, E)``; **zeros** those of the
system pencil ``[[A, B], [-C, -D]]`` versus ``[[E, 0], [0, 0]]``, which, since ``u`` enters only
``Vin``'s row, is the MNA pencil with that row replaced by ``c^T x = 0``. Both are computed through
the Möbius map ``mu = 1 / (lambda - sigma)``: the eigenvalues of ``(A - sigma E)^-1 E``, where an
infinite eigenvalue becomes ``mu = 0`` and is removed. ``E = P W P^T`` (``P``: the incidence of the
capacitors and inductors, ``W``: their values), so the same nonzero ``mu`` are the eigenvalues of the
small matrix ``W P^T (A - sigma E)^-1 P``, one row per reactive element. Pole-zero pairs that
coincide (modes the input cannot reach or the output cannot see) are cancelled.

Rounding can move an infinite eigenvalue of a pencil with a nilpotent part of size k (a loop of
capacitors and voltage sources; the zero pencil of a transfer function falling as ``s**-k``) to a
finite place about ``eps**(-1/k)`` away. Eigenvalues beyond 1e3 ``w0`` are therefore kept only where
``H`` confirms them (``|H|`` rises or falls steeply next to them), and a cluster of roots at the
origin whose mean is at the origin is put exactly on it.

Everything is **batched**: parameter values may be arrays (one circuit per entry) and every result
carries the same leading shape. Internally the equations are scaled to an impedance ``R0`` and a
frequency ``w0`` per circuit (geometric means of its components), so that all entries are of order
one; results are in rad/s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from kaspix import KaspixError

from kaspix_spice.expressions import ExpressionError, evaluate
from kaspix_spice.netlist import PARAM_PAIR, Template, load_template, parse_value

__all__ = [
    "DescriptorSystem",
    "Element",
    "LinearCircuit",
    "NotLinearError",
    "Roots",
    "Stamps",
    "Zpk",
    "circuit_from_template",
    "read_circuit",
]

GROUND = ("0", "gnd")
#: Element letters that make a circuit nonlinear, with the word an error message uses.
NONLINEAR = {
    "d": "diode",
    "q": "bipolar transistor",
    "j": "JFET",
    "m": "MOSFET",
    "z": "MESFET",
    "b": "behavioural source",
    "s": "voltage-controlled switch",
    "w": "current-controlled switch",
    "a": "XSPICE code model",
    "n": "OSDI device",
}
#: Linear but not lumped: not modelled.
UNSUPPORTED = {"t": "transmission line", "o": "lossy transmission line", "u": "uniform RC line", "y": "lossy line", "p": "coupled line"}
_BEHAVIOURAL = re.compile(r"^(value|poly|table|vol|cur|laplace|freq|nand|nor|and|or)\b", re.IGNORECASE)
_TOKEN = re.compile(r"\S*\{[^}]*\}|'[^']*'|\S+")
#: Exponents of (R0, w0) that scale each kind of stamp value to the normalized equations.
_UNITS = {"R": (1, 0), "C": (1, 1), "L": (-1, 1), "K": (-1, 1), "G": (1, 0), "H": (-1, 0), "E": (0, 0), "F": (0, 0)}
#: Shifts of the Möbius map (normalized units): the second is used where the first hits a pole.
_SIGMAS = (0.6180339887498949, 1.4142135623730951)
#: |mu| below this (normalized units: an eigenvalue beyond 1e9 w0) is an infinite eigenvalue.
INFINITE_MU = 1e-9
#: Eigenvalues beyond 1e3 w0 (|mu| below this) are kept only where ``H`` confirms them (see ``_confirmed``).
CONFIRM_MU = 1e-3
_CONFIRM_STEP = 1e-4 * (1 + 1j) / math.sqrt(2)
#: Roots closer than this (relative) to the origin or the imaginary axis are put on it.
SNAP = 1e-10
#: Roots this close to the origin (normalized units) are checked for being a multiple root at it.
ORIGIN_CLUSTER = 1e-3
#: A pole and a zero closer than this (relative) cancel.
CANCEL = 1e-7


class NotLinearError(KaspixError):
    """The netlist has an element that MNA does not model (a diode, a transistor, a switch, ...)."""


@dataclass(frozen=True)
class Element:
    """One element of a flattened linear netlist.

    Attributes:
        name: As written; elements of a subcircuit instance are ``X1.R2``.
        kind: The element letter in upper case: ``R C L K V I E G F H``.
        nodes: ``(n+, n-)``, or ``(n+, n-, nc+, nc-)`` for E and G (lower case; ground is ``0``).
        value: The value as an expression text (``4.7k``, ``R_sk * Q_ratio``); ``0`` for sources.
        control: F and H: the controlling voltage source; K: the two inductors.
        line: The line of the netlist it comes from.
    """

    name: str
    kind: str
    nodes: tuple[str, ...]
    value: str = "0"
    control: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Roots:
    """A batch of root sets of varying size: ``values`` padded with NaN after ``count`` entries.

    Attributes:
        values: Complex array ``(..., k)`` in rad/s, sorted by magnitude, then imaginary part.
        count: Integer array ``(...)``: how many entries of each set are roots.
    """

    values: np.ndarray
    count: np.ndarray

    def __getitem__(self, index: Any) -> np.ndarray:
        """The roots of one circuit of the batch (an index into the leading shape)."""
        values, count = self.values[index], self.count[index]
        if np.ndim(count) != 0:
            raise IndexError("index one circuit of the batch")
        return values[: int(count)]

    def as_list(self) -> list[np.ndarray]:
        """The root sets of a batch, flattened, one array per circuit."""
        flat_values = self.values.reshape(-1, self.values.shape[-1])
        return [v[:n] for v, n in zip(flat_values, self.count.reshape(-1), strict=True)]


@dataclass(frozen=True)
class Zpk:
    """Zeros, poles and gain: ``H(s) = gain * prod(s - z) / prod(s - p)`` (s in rad/s)."""

    zeros: Roots
    poles: Roots
    gain: np.ndarray

    def __call__(self, s: np.ndarray | Sequence[complex]) -> np.ndarray:
        """``H(s)`` at the points ``s`` (rad/s; shape ``(F,)`` or ``(..., F)``) for every circuit: ``(..., F)``."""
        s = np.asarray(s, dtype=complex)[..., :, None]
        num = np.prod(np.where(np.isnan(self.zeros.values[..., None, :]), 1.0, s - np.nan_to_num(self.zeros.values[..., None, :])), axis=-1)
        den = np.prod(np.where(np.isnan(self.poles.values[..., None, :]), 1.0, s - np.nan_to_num(self.poles.values[..., None, :])), axis=-1)
        return self.gain[..., None] * num / den

    def dc_gain(self) -> np.ndarray:
        """``H(0)``: 0 with a zero at the origin, inf with a pole there (real; the sign is kept)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            value = self([0.0])[..., 0].real
        return np.nan_to_num(value, nan=np.inf, posinf=np.inf, neginf=-np.inf)

    def hf_gain(self) -> np.ndarray:
        """``lim H(s)`` for ``s -> inf``: the gain with as many zeros as poles, 0 or inf otherwise."""
        excess = self.zeros.count - self.poles.count
        return np.where(excess == 0, self.gain, np.where(excess < 0, 0.0, np.inf * np.sign(self.gain)))

    def transfer_function(self, index: Any = ()) -> tuple[np.ndarray, np.ndarray]:
        """``(num, den)`` polynomial coefficients in s (rad/s), highest power first, of one circuit."""
        zeros, poles = self.zeros[index], self.poles[index]
        return float(np.real(self.gain[index])) * np.real(np.poly(zeros)), np.real(np.poly(poles))


@dataclass(frozen=True)
class Stamps:
    """The MNA equations of a circuit as a linear function of its stamp values.

    With ``v`` the stamp value of every element (``1/R``, ``C``, ``L``, the mutual inductance of K,
    the gain of E/F, ``gm``, ``r``) scaled to the normalized units:

        G = G0 + sum_e v_e SG_e,   W = sum_e v_e SW_e,   C = P W P^T.

    Attributes:
        elements: The elements with a stamp value, in order.
        unknowns: ``v(node)`` and ``i(element)`` names of ``x``.
        G0: ``(n, n)`` constant part (incidence of sources and inductor branches).
        SG: ``(m, n, n)``.
        P: ``(n, r)`` incidence of the reactive elements (capacitors, then inductors).
        SW: ``(m, r, r)``.
        b: ``(n,)`` where ``u`` enters (``Vin``'s row).
        c: ``(n,)`` which unknown is ``y`` (``v(output)``).
        units: ``(m, 2)`` exponents of ``R0`` and ``w0`` in each stamp value's scale.
    """

    elements: tuple[Element, ...]
    unknowns: tuple[str, ...]
    G0: np.ndarray
    SG: np.ndarray
    P: np.ndarray
    SW: np.ndarray
    b: np.ndarray
    c: np.ndarray
    units: np.ndarray = field(repr=False)

    @property
    def source_row(self) -> int:
        """The row of ``Vin``'s branch equation."""
        return int(np.flatnonzero(self.b)[0])


@dataclass(frozen=True)
class DescriptorSystem:
    """``E x' = A x + B u``, ``y = C x + D u`` for a batch of circuits, in normalized units.

    Time is scaled by ``omega`` (rad/s per normalized unit, one per circuit) and currents by an
    impedance, so a normalized eigenvalue ``lam`` is ``lam * omega`` rad/s.

    Attributes:
        E, A: ``(..., n, n)``.
        B, C: ``(..., n)``.
        D: ``(...)``.
        omega: ``(...)`` the frequency scale in rad/s.
        unknowns: Names of the entries of ``x``.
        P, W: ``E = P W P^T`` with ``P`` ``(n, r)`` and ``W`` ``(..., r, r)``.
        source_row: The row through which ``u`` enters.
    """

    E: np.ndarray
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    omega: np.ndarray
    unknowns: tuple[str, ...]
    P: np.ndarray = field(repr=False)
    W: np.ndarray = field(repr=False)
    source_row: int = 0

    @property
    def shape(self) -> tuple[int, ...]:
        """The batch shape."""
        return self.omega.shape

    def poles(self) -> Roots:
        """The poles in rad/s, before cancellation against zeros (see :meth:`zpk`)."""
        return self._finite_eigenvalues(pole=True)

    def zeros(self) -> Roots:
        """The transmission zeros in rad/s, before cancellation against poles (see :meth:`zpk`)."""
        return self._finite_eigenvalues(pole=False)

    def zpk(self, *, cancel: float = CANCEL) -> Zpk:
        """Zeros, poles and gain of ``y/u``, with coinciding pole-zero pairs cancelled.

        The gain comes from ``H`` at the real shift ``sigma`` (a by-product of the eigenvalue solve),
        or at a complex point where a root lies near ``sigma``.
        """
        zeros, poles = _cancel(self.zeros(), self.poles(), cancel)
        _, sigma, h_sigma = self._mobius
        s_ref = np.broadcast_to(sigma * self.omega, self.shape).astype(complex)
        h = np.asarray(h_sigma, dtype=complex)
        roots = np.concatenate([zeros.values, poles.values], axis=-1)
        near = np.any(np.abs(s_ref[..., None] - roots) < 1e-3 * np.abs(s_ref[..., None]), axis=-1)
        if np.any(near):
            s_ref = np.where(near, (0.37 + 1.13j) * self.omega, s_ref)
            h = np.where(near, self.response_at(s_ref), h)
        zeros_ref = np.prod(np.where(np.isnan(zeros.values), 1.0, s_ref[..., None] - np.nan_to_num(zeros.values)), axis=-1)
        poles_ref = np.prod(np.where(np.isnan(poles.values), 1.0, s_ref[..., None] - np.nan_to_num(poles.values)), axis=-1)
        return Zpk(zeros=zeros, poles=poles, gain=np.real(h * poles_ref / zeros_ref))

    def response_at(self, s: np.ndarray | complex) -> np.ndarray:
        """``H(s)`` with ``s`` in rad/s: a scalar, an array of the batch shape, or ``(..., F)``."""
        s = np.asarray(s, dtype=complex)
        extra = s.ndim > len(self.shape)
        sn = s / (self.omega[..., None] if extra else self.omega)
        E, A, B = (self.E[..., None, :, :], self.A[..., None, :, :], self.B[..., None, :]) if extra else (self.E, self.A, self.B)
        C, D = (self.C[..., None, :], self.D[..., None]) if extra else (self.C, self.D)
        return _solve_output(sn, E, A, B, C, D)

    def response(self, freqs_hz: Sequence[float] | np.ndarray) -> np.ndarray:
        """``H(j 2 pi f)`` for every circuit: ``(..., F)`` complex."""
        s = 2j * np.pi * np.asarray(freqs_hz, dtype=float)
        return self.response_at(np.broadcast_to(s, (*self.shape, len(s))))

    @cached_property
    def _mobius(self) -> tuple[np.ndarray, float, np.ndarray]:
        """``mu`` of the pole pencil and of the zero pencil, stacked ``(2, ..., r)``, the shift used, and
        ``H(sigma)`` (the same solve with ``B`` as one more right-hand side)."""
        r = self.P.shape[-1]
        P = np.broadcast_to(self.P, (2, *self.shape, *self.P.shape))
        rhs = np.concatenate([P, np.broadcast_to(self.B[..., None], (*P.shape[:-1], 1))], axis=-1)
        A_zero = self.A.copy()
        A_zero[..., self.source_row, :] = -self.C
        pencils = np.stack([self.A, A_zero])
        for sigma in _SIGMAS:
            try:
                X = np.linalg.solve(pencils - sigma * self.E, rhs)
            except np.linalg.LinAlgError:
                continue
            K = self.W @ (np.swapaxes(P, -1, -2) @ X[..., :r])
            h_sigma = -np.sum(self.C * X[0, ..., r], axis=-1) + self.D  # C (sigma E - A)^-1 B + D
            if np.all(np.isfinite(K)) and np.all(np.isfinite(h_sigma)):
                return _eigenvalues(K), sigma, h_sigma
        raise KaspixError(
            "the circuit equations are singular for every frequency",
            hint="look for a floating node (no DC path to ground), a loop of voltage sources, or a current source in series with L",
        )

    def _finite_eigenvalues(self, *, pole: bool) -> Roots:
        """Finite generalized eigenvalues of the pole (or zero) pencil in rad/s (batched)."""
        if self.P.shape[-1] == 0:
            return Roots(np.zeros((*self.shape, 0), dtype=complex), np.zeros(self.shape, dtype=int))
        both, sigma, _ = self._mobius
        mu = both[0 if pole else 1]
        finite = np.abs(mu) > INFINITE_MU
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(finite, sigma + 1.0 / np.where(finite, mu, 1.0), np.nan)
        far = finite & (np.abs(mu) < CONFIRM_MU)
        if np.any(far):
            lam = np.where(far & ~self._confirmed(lam, far, pole=pole), np.nan, lam)
        return _pack(_snap(lam) * self.omega[..., None])

    def _confirmed(self, lam: np.ndarray, far: np.ndarray, *, pole: bool) -> np.ndarray:
        """Whether far eigenvalues are roots of ``H`` (a pole: ``|H|`` falls steeply away from it; a zero:
        ``|H|`` rises steeply), rather than infinite eigenvalues that rounding moved to a finite place."""
        where = np.nonzero(far)
        batch = where[:-1]
        s0 = lam[where]
        args = (self.E[batch], self.A[batch], self.B[batch], self.C[batch], self.D[batch])
        with np.errstate(all="ignore"):
            h0 = np.abs(_solve_output(s0, *args))
            h1 = np.abs(_solve_output(s0 * (1 + _CONFIRM_STEP), *args))
        verdict = h1 < 0.1 * h0 if pole else h0 < 0.1 * h1
        out = np.zeros(far.shape, dtype=bool)
        out[where] = verdict
        return out


def _solve_output(sn: np.ndarray, E: np.ndarray, A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``C (sn E - A)^-1 B + D`` (normalized ``sn``; batch shapes broadcast); a singular point gives inf."""
    matrix = np.asarray(sn)[..., None, None] * E - A
    rhs = np.broadcast_to(B[..., None].astype(complex), (*matrix.shape[:-1], 1))
    try:
        x = np.linalg.solve(matrix, rhs)[..., 0]
    except np.linalg.LinAlgError:  # a point exactly on a pole: one by one, inf where singular
        n = matrix.shape[-1]
        pairs = zip(matrix.reshape(-1, n, n), rhs.reshape(-1, n), strict=True)
        x = np.array([_solve_one(m, b) for m, b in pairs]).reshape(matrix.shape[:-1])
    return np.sum(C * x, axis=-1) + D


def _solve_one(matrix: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(matrix, b.astype(complex))
    except np.linalg.LinAlgError:
        return np.full(b.shape, np.inf, dtype=complex)


def _eigenvalues(K: np.ndarray) -> np.ndarray:
    """Eigenvalues of a batch of small real matrices (closed form up to 2x2)."""
    n = K.shape[-1]
    if n == 0:
        return np.zeros(K.shape[:-1], dtype=complex)
    if n == 1:
        return K[..., 0, :].astype(complex)
    if n == 2:
        half_trace = 0.5 * (K[..., 0, 0] + K[..., 1, 1])
        det = K[..., 0, 0] * K[..., 1, 1] - K[..., 0, 1] * K[..., 1, 0]
        root = np.sqrt((half_trace**2 - det).astype(complex))
        # the larger root first, the smaller from the product: no cancellation error
        big = half_trace + np.where(half_trace.real >= 0, root, -root)
        with np.errstate(divide="ignore", invalid="ignore"):
            small = np.where(big != 0, det / np.where(big != 0, big, 1.0), 0.0)
        return np.stack([big, small], axis=-1)
    return np.linalg.eigvals(K)


def _snap(lam: np.ndarray) -> np.ndarray:
    """Put roots on the origin, the real axis or the imaginary axis where rounding moved them off it.

    A k-fold root at the origin comes out of the eigenvalue problem as k roots on a circle of radius
    about ``eps**(1/k)`` around it, but their mean is accurate: a cluster of roots within
    :data:`ORIGIN_CLUSTER` of the origin whose mean is within :data:`SNAP` of it is put on it. Roots
    within :data:`SNAP` (relative) of an axis are put on the axis. Normalized units.
    """
    size = np.abs(lam)
    near = size <= ORIGIN_CLUSTER
    with np.errstate(invalid="ignore"):
        mean = np.abs(np.sum(np.where(near, lam, 0.0), axis=-1)) / np.maximum(near.sum(axis=-1), 1)
    at_origin = near & (mean <= SNAP)[..., None]
    re = np.where(np.abs(lam.real) <= SNAP * size, 0.0, lam.real)
    im = np.where(np.abs(lam.imag) <= SNAP * size, 0.0, lam.imag)
    out = np.where(at_origin | (size <= SNAP), 0.0, re + 1j * im)
    return np.where(np.isnan(lam), np.nan, out)


def _pack(lam: np.ndarray) -> Roots:
    """Finite entries first, sorted by magnitude then imaginary part; NaN after them."""
    with np.errstate(divide="ignore"):
        size = np.where(np.isnan(lam), np.inf, np.log(np.abs(lam)))
    # rounded, so that the two roots of a conjugate pair sort together, negative imaginary part first
    order = np.lexsort((np.nan_to_num(lam.imag), np.round(size, 8)), axis=-1)
    values = np.take_along_axis(lam, order, axis=-1)
    return Roots(values=values, count=np.sum(~np.isnan(values), axis=-1))


def _cancel(zeros: Roots, poles: Roots, tolerance: float) -> tuple[Roots, Roots]:
    """Remove pole-zero pairs closer than ``tolerance`` relative to their size (nearest pairs first)."""
    z, p = zeros.values, poles.values
    if z.shape[-1] == 0 or p.shape[-1] == 0:
        return zeros, poles
    distance = np.abs(z[..., :, None] - p[..., None, :])
    with np.errstate(invalid="ignore"):
        close = distance <= tolerance * np.maximum(np.maximum(np.abs(p[..., None, :]), np.abs(z[..., :, None])), 1e-300)
    if not np.any(close):
        return zeros, poles
    z, p = z.copy(), p.copy()
    simple = (close.sum(axis=-1) <= 1).all(axis=-1) & (close.sum(axis=-2) <= 1).all(axis=-1)
    z[np.any(close, axis=-1) & simple[..., None]] = np.nan  # one partner each: cancel them all at once
    p[np.any(close, axis=-2) & simple[..., None]] = np.nan
    flat_z, flat_p = z.reshape(-1, z.shape[-1]), p.reshape(-1, p.shape[-1])
    flat_distance = np.where(close, distance, np.inf).reshape(-1, *distance.shape[-2:])
    for row in np.flatnonzero(~simple.reshape(-1)):  # several candidates: nearest first
        d = flat_distance[row].copy()
        while np.isfinite(d).any():
            i, j = np.unravel_index(np.argmin(d), d.shape)
            flat_z[row, i] = flat_p[row, j] = np.nan
            d[i, :] = np.inf
            d[:, j] = np.inf
    return _pack(z), _pack(p)


# -- reading a netlist -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearCircuit:
    """A flattened linear netlist with its parameters: the input to MNA.

    Attributes:
        name: The circuit's name (the template's file stem).
        elements: The elements, ``Vin`` first.
        parameters: ``(name, expression)`` of every ``.param`` in file order.
        knobs: The names of the parameters that are plain numbers (the template's knobs).
        output: The output node.
        path: The netlist file, for messages.
    """

    name: str
    elements: tuple[Element, ...]
    parameters: tuple[tuple[str, str], ...] = ()
    knobs: tuple[str, ...] = ()
    output: str = "output"
    path: Path | None = None

    @cached_property
    def nodes(self) -> tuple[str, ...]:
        """Non-ground nodes in order of appearance."""
        seen: dict[str, None] = {}
        for element in self.elements:
            for node in element.nodes:
                if node not in GROUND:
                    seen.setdefault(node, None)
        return tuple(seen)

    def parameter_values(
        self, values: Mapping[str, Any] | None = None, *, functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> dict[str, Any]:
        """Every parameter's value: knobs from ``values`` (else their defaults), derived ones evaluated.

        Raises:
            KaspixError: an unknown knob name, or an expression that cannot be evaluated.
        """
        values = dict(values or {})
        known = {k.lower(): k for k in self.knobs}
        unknown = [name for name in values if name.lower() not in known]
        if unknown:
            raise KaspixError(f"unknown knob(s) {unknown} for circuit {self.name!r}", hint=f"its knobs are {list(self.knobs)}")
        given = {k.lower(): v for k, v in values.items()}
        result: dict[str, Any] = {}
        pending = list(self.parameters)
        while pending:
            waiting = []
            for name, text in pending:
                if name.lower() in given:
                    result[name] = given[name.lower()]
                    continue
                try:
                    result[name] = evaluate(text, result, functions=functions)
                except ExpressionError:
                    waiting.append((name, text))
            if len(waiting) == len(pending):
                name, text = waiting[0]
                raise KaspixError(
                    f"cannot evaluate .param {name}={{{text}}}", where=self._where(), hint="every name it uses must be a .param"
                )
            pending = waiting
        return result

    def element_values(
        self, values: Mapping[str, Any] | None = None, *, functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> dict[str, Any]:
        """Each element's value (the expression evaluated) by element name."""
        params = self.parameter_values(values, functions=functions)
        out: dict[str, Any] = {}
        for element in self.elements:
            if element.kind in ("V", "I"):
                continue
            try:
                out[element.name] = evaluate(element.value, params, functions=functions)
            except ExpressionError as exc:
                raise KaspixError(f"the value of {element.name} does not evaluate: {exc}", where=self._where(element.line)) from None
        return out

    def stamp_values(
        self, values: Mapping[str, Any] | None = None, *, functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> list[Any]:
        """The stamp value of each element of :attr:`stamps` (``1/R``, ``C``, ``L``, ``k sqrt(L1 L2)``, gains).

        Unscaled (SI units); numbers, arrays or tensors as the parameters are.
        """
        sqrt = (functions or {}).get("sqrt", np.sqrt)
        element_values = self.element_values(values, functions=functions)
        out = []
        for element in self.stamps.elements:
            value = element_values[element.name]
            if element.kind == "R":
                value = 1.0 / value
            elif element.kind == "K":
                first, second = element.control
                value = value * sqrt(element_values[first] * element_values[second])
            out.append(value)
        return out

    @cached_property
    def stamps(self) -> Stamps:
        """The MNA stamps (built once per circuit)."""
        return _build_stamps(self)

    def system(self, values: Mapping[str, Any] | None = None) -> DescriptorSystem:
        """The descriptor state space for the given knob values (arrays give a batch).

        Args:
            values: Knob values by name (SI units); missing knobs keep their defaults.
        """
        stamps = self.stamps
        raw = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in self.stamp_values(values)]) if stamps.elements else []
        shape = raw[0].shape if raw else ()
        raw_array = np.stack(raw, axis=-1) if raw else np.zeros((*shape, 0))
        r0, omega = _scales(raw_array, stamps)
        scaled = raw_array * r0[..., None] ** stamps.units[:, 0] * omega[..., None] ** stamps.units[:, 1]
        G = stamps.G0 + np.einsum("...m,mij->...ij", scaled, stamps.SG)
        W = np.einsum("...m,mij->...ij", scaled, stamps.SW)
        E = stamps.P @ W @ stamps.P.T
        n = len(stamps.unknowns)
        return DescriptorSystem(
            E=E,
            A=-G,
            B=np.broadcast_to(stamps.b, (*shape, n)).astype(float),
            C=np.broadcast_to(stamps.c, (*shape, n)).astype(float),
            D=np.zeros(shape),
            omega=omega,
            unknowns=stamps.unknowns,
            P=stamps.P,
            W=W,
            source_row=stamps.source_row,
        )

    def zpk(self, values: Mapping[str, Any] | None = None) -> Zpk:
        """Zeros, poles and gain for the given knob values (shortcut for ``system(values).zpk()``)."""
        return self.system(values).zpk()

    def _where(self, line: int | None = None) -> str:
        where = str(self.path) if self.path else self.name
        return f"{where}, line {line}" if line else where


def _scales(raw: np.ndarray, stamps: Stamps) -> tuple[np.ndarray, np.ndarray]:
    """Per circuit: ``R0`` (geometric mean of the resistances) and ``w0`` (of ``1/(R0 C)`` and ``R0/L``)."""
    shape = raw.shape[:-1]
    kinds = np.array([e.kind for e in stamps.elements])
    with np.errstate(divide="ignore"):
        logs = np.log(np.abs(raw))
    resistive = kinds == "R"
    logs = np.where(np.isfinite(logs), logs, 0.0)
    log_r0 = -logs[..., resistive].mean(axis=-1) if resistive.any() else np.full(shape, math.log(1e3))
    rates = []
    if (kinds == "C").any():
        rates.append(-(logs[..., kinds == "C"] + log_r0[..., None]))
    if (kinds == "L").any():
        rates.append(log_r0[..., None] - logs[..., kinds == "L"])
    log_w0 = np.concatenate(rates, axis=-1).mean(axis=-1) if rates else np.zeros(shape)
    return np.asarray(np.exp(log_r0)), np.asarray(np.exp(log_w0))


def _build_stamps(circuit: LinearCircuit) -> Stamps:
    """Assemble the stamp matrices of a circuit."""
    nodes = circuit.nodes
    branches = [e for e in circuit.elements if e.kind in ("V", "E", "H", "L")]
    unknowns = tuple([f"v({n})" for n in nodes] + [f"i({e.name})" for e in branches])
    index = {f"v({n})": i for i, n in enumerate(nodes)}
    branch_row = {e.name.lower(): len(nodes) + k for k, e in enumerate(branches)}
    reactive = [e for e in circuit.elements if e.kind in ("C", "L")]
    reactive_col = {e.name.lower(): k for k, e in enumerate(reactive)}
    stamped = [e for e in circuit.elements if e.kind in ("R", "C", "L", "K", "E", "G", "F", "H")]
    n, r, m = len(unknowns), len(reactive), len(stamped)
    G0, SG, P, SW = np.zeros((n, n)), np.zeros((m, n, n)), np.zeros((n, r)), np.zeros((m, r, r))

    def node(name: str) -> int | None:
        return None if name in GROUND else index[f"v({name})"]

    def add(matrix: np.ndarray, row: int | None, col: int | None, value: float) -> None:
        if row is not None and col is not None:
            matrix[row, col] += value

    def current(element: Element) -> int:
        try:
            return branch_row[element.control[0].lower()]
        except KeyError:
            raise KaspixError(
                f"{element.name} is controlled by {element.control[0]!r}, which is not a voltage source of the circuit",
                where=circuit._where(element.line),
                hint="F and H sources name a V source whose current controls them (add a 0 V source in series if needed)",
            ) from None

    for e in circuit.elements:  # constant incidence of branch unknowns
        if e.kind in ("V", "E", "H", "L"):
            k, a, b = branch_row[e.name.lower()], node(e.nodes[0]), node(e.nodes[1])
            for matrix_row, matrix_col, sign in ((a, k, 1.0), (b, k, -1.0), (k, a, 1.0), (k, b, -1.0)):
                add(G0, matrix_row, matrix_col, sign)
    for j, e in enumerate(stamped):
        a, b = (node(e.nodes[0]), node(e.nodes[1])) if e.nodes else (None, None)
        if e.kind == "R":
            for row, col, sign in ((a, a, 1.0), (b, b, 1.0), (a, b, -1.0), (b, a, -1.0)):
                add(SG[j], row, col, sign)
        elif e.kind == "C":
            col = reactive_col[e.name.lower()]
            if a is not None:
                P[a, col] += 1.0
            if b is not None:
                P[b, col] -= 1.0
            SW[j, col, col] = 1.0
        elif e.kind == "L":
            col = reactive_col[e.name.lower()]
            P[branch_row[e.name.lower()], col] = 1.0
            SW[j, col, col] = -1.0
        elif e.kind == "K":
            first, second = (reactive_col.get(name.lower()) for name in e.control)
            if first is None or second is None or reactive[first].kind != "L" or reactive[second].kind != "L":
                raise KaspixError(
                    f"{e.name} couples {e.control}, which are not both inductors of the circuit", where=circuit._where(e.line)
                )
            SW[j, first, second] = SW[j, second, first] = -1.0
        elif e.kind in ("E", "G"):
            c, d = node(e.nodes[2]), node(e.nodes[3])
            if e.kind == "E":
                k = branch_row[e.name.lower()]
                add(SG[j], k, c, -1.0)
                add(SG[j], k, d, 1.0)
            else:
                for row, col, sign in ((a, c, 1.0), (a, d, -1.0), (b, c, -1.0), (b, d, 1.0)):
                    add(SG[j], row, col, sign)
        elif e.kind == "F":
            k = current(e)
            add(SG[j], a, k, 1.0)
            add(SG[j], b, k, -1.0)
        elif e.kind == "H":
            add(SG[j], branch_row[e.name.lower()], current(e), -1.0)
    b_vec, c_vec = np.zeros(n), np.zeros(n)
    b_vec[branch_row["vin"]] = 1.0
    if circuit.output not in index and f"v({circuit.output})" not in index:
        raise KaspixError(f"no node named {circuit.output!r}", where=circuit._where())
    c_vec[index[f"v({circuit.output})"]] = 1.0
    units = np.array([_UNITS[e.kind] for e in stamped], dtype=float).reshape(m, 2)
    return Stamps(elements=tuple(stamped), unknowns=unknowns, G0=G0, SG=SG, P=P, SW=SW, b=b_vec, c=c_vec, units=units)


def read_circuit(path: str | Path) -> LinearCircuit:
    """Read a template (``.cir``) and flatten it into a :class:`LinearCircuit`.

    Raises:
        KaspixError: the file breaks the template rules (see :func:`kaspix_spice.netlist.load_template`).
        NotLinearError: it holds an element MNA does not model (``not linear: diode D1 on line 9``).
    """
    return circuit_from_template(load_template(path))


def circuit_from_template(template: Template) -> LinearCircuit:
    """Flatten a loaded template: parameters, subcircuit instances expanded, ``Vin`` as the input."""
    where = str(template.path)
    parameters: list[tuple[str, str]] = []
    knobs = {k.name for k in template.knobs}
    subcircuits: dict[str, tuple[list[str], list[tuple[int, str]]]] = {}
    top: list[tuple[int, str]] = []
    current: list[tuple[int, str]] | None = None
    for number, code in template.body:
        tokens = code.split()
        word = tokens[0].lower()
        if word == ".subckt":
            if any("=" in t or t.lower() == "params:" for t in tokens[2:]):
                raise KaspixError(
                    "subcircuit parameters are not supported by MNA",
                    where=f"{where}, line {number}",
                    hint="write the values into the subcircuit",
                )
            current = []
            subcircuits[tokens[1].lower()] = ([t.lower() for t in tokens[2:]], current)
        elif word == ".ends":
            current = None
        elif current is not None:
            current.append((number, code))
        elif word in (".param", ".parameter", ".params"):
            for name, raw in PARAM_PAIR.findall(code[len(word) :]):
                parameters.append((name, raw.strip("{}'") if name not in knobs else repr(parse_value(raw))))
        elif word in (".include", ".inc", ".lib", ".func"):
            raise KaspixError(
                f"{tokens[0]} is not supported by MNA", where=f"{where}, line {number}", hint="put the definitions into the netlist"
            )
        elif not word.startswith("."):
            top.append((number, code))
    elements = [Element("Vin", "V", ("input", "0"))]
    elements += _flatten(top, subcircuits, prefix="", mapping={}, where=where, depth=0)
    names = [e.name.lower() for e in elements]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise KaspixError(f"element name(s) used twice: {duplicates}", where=where, hint="give every element its own name")
    return LinearCircuit(
        name=template.name,
        elements=tuple(elements),
        parameters=tuple(parameters),
        knobs=tuple(k.name for k in template.knobs),
        path=template.path,
    )


def _flatten(
    lines: Iterable[tuple[int, str]],
    subcircuits: dict[str, tuple[list[str], list[tuple[int, str]]]],
    *,
    prefix: str,
    mapping: dict[str, str],
    where: str,
    depth: int,
) -> list[Element]:
    if depth > 20:
        raise KaspixError("subcircuits nested more than 20 deep (a subcircuit that calls itself?)", where=where)

    def node(name: str) -> str:
        name = name.lower()
        if name in GROUND:
            return "0"
        return mapping.get(name, f"{prefix}{name}" if prefix else name)

    out: list[Element] = []
    for number, code in lines:
        tokens = _TOKEN.findall(code)
        name, letter = tokens[0], tokens[0][0].lower()
        full = f"{prefix}{name}" if prefix else name
        at = f"{where}, line {number}"
        if letter in NONLINEAR:
            raise NotLinearError(
                f"not linear: {NONLINEAR[letter]} {full} on line {number}",
                where=where,
                hint="MNA handles R, L, C, K, E, G, F, H and independent sources; simulate nonlinear circuits with ngspice (kaspix spice)",
            )
        if letter in UNSUPPORTED:
            raise KaspixError(
                f"not supported: {UNSUPPORTED[letter]} {full} on line {number}", where=where, hint="MNA handles lumped elements"
            )
        if letter == "x":
            args = [t for t in tokens[1:] if "=" not in t]
            if len(args) != len(tokens) - 1:
                raise KaspixError("subcircuit parameters are not supported by MNA", where=at)
            sub = args[-1].lower()
            if sub not in subcircuits:
                raise KaspixError(f"unknown subcircuit {args[-1]!r} in {full}", where=at, hint="define it with .subckt ... .ends")
            ports, body = subcircuits[sub]
            if len(ports) != len(args) - 1:
                raise KaspixError(f"{full} connects {len(args) - 1} nodes, subcircuit {args[-1]} has {len(ports)} ports", where=at)
            inner = dict(zip(ports, (node(a) for a in args[:-1]), strict=True))
            out += _flatten(body, subcircuits, prefix=f"{full}.", mapping=inner, where=where, depth=depth + 1)
            continue
        if letter not in "rclkvighfe":
            raise KaspixError(
                f"unknown element {name!r} on line {number}",
                where=where,
                hint="element names start with the element letter (R1, C2, E1, ...)",
            )
        out.append(_element(letter, full, tokens, node, where, number))
    return out


def _element(letter: str, name: str, tokens: list[str], node: Callable[[str], str], where: str, number: int) -> Element:
    """One element line (tokens split with braces kept whole)."""
    if letter in "eg" and any(_BEHAVIOURAL.match(t) for t in tokens[3:]):
        raise NotLinearError(
            f"not linear: behavioural source {name} on line {number}", where=where, hint="write it as `E1 n+ n- nc+ nc- gain`"
        )
    if letter in "fh" and len(tokens) > 3 and tokens[3].lower().startswith("poly"):
        raise NotLinearError(
            f"not linear: polynomial source {name} on line {number}", where=where, hint="write it as `F1 n+ n- Vsense gain`"
        )
    need = {"r": 4, "c": 4, "l": 4, "k": 4, "v": 3, "i": 3, "e": 6, "g": 6, "f": 5, "h": 5}[letter]
    if len(tokens) < need:
        raise KaspixError(f"{name}: expected at least {need} fields, found {len(tokens)}", where=f"{where}, line {number}")
    kind = letter.upper()
    if letter in "vi":
        return Element(name, kind, (node(tokens[1]), node(tokens[2])), line=number)
    if letter == "k":
        return Element(name, kind, (), _value(tokens[3]), control=(tokens[1], tokens[2]), line=number)
    if letter in "fh":
        return Element(name, kind, (node(tokens[1]), node(tokens[2])), _value(tokens[4]), control=(tokens[3],), line=number)
    if letter in "eg":
        return Element(name, kind, tuple(node(t) for t in tokens[1:5]), _value(tokens[5]), line=number)
    return Element(name, kind, (node(tokens[1]), node(tokens[2])), _value(tokens[3]), line=number)


def _value(token: str) -> str:
    """A value token as an expression text: ``{R * 2}`` -> ``R * 2``, ``r=10k`` -> ``10k``."""
    if "=" in token and not token.startswith(("{", "'")):
        token = token.split("=", 1)[1]
    return token.strip().strip("{}'").strip()
