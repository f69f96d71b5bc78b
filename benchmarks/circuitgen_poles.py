"""Poles and zeros of 10,000 circuits: batched numeric MNA vs a symbolic route (sympy) per circuit.

Measured in the same run, on random E24 component values of kaspix-circuitgen's twelve families
(as many of each, 10,000 in all):

* ``batched_mna``: ``LinearCircuit.zpk(values)`` per family with arrays of values: MNA stamps,
  generalized eigenvalues of the pole and zero pencils (Moebius map), pole-zero cancellation and the
  gain; the time for all 10,000 (best of ``--repeats``) and per circuit;
* ``symbolic``: per circuit, the same MNA equations in sympy with the component values as exact
  rationals: ``N(s) = det(s E - A_z)`` and ``D(s) = det(s E - A)`` expanded, their common factor
  cancelled exactly, roots by ``nroots``; on a sample of ``--sample`` circuits per family;
* ``agreement``: the largest relative difference between the two routes' poles and zeros on the sample.

Goal: at most 50 ms for the batch of 10,000. Prints one JSON object (and writes it with ``--out``).

    .venv/bin/python benchmarks/circuitgen_poles.py [--circuits 10000] [--sample 2] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

GOAL_MS = 50.0


def draw(count: int, seed: int) -> dict[str, np.ndarray]:
    """``count`` circuits spread over the families: E24 values drawn in each template's ranges."""
    from kaspix_circuitgen.data import draw_values
    from kaspix_circuitgen.families import FAMILIES

    rng = np.random.default_rng(seed)
    sizes = np.full(len(FAMILIES), count // len(FAMILIES))
    sizes[: count - sizes.sum()] += 1
    return {fam.name: draw_values(fam, int(n), rng) for fam, n in zip(FAMILIES, sizes, strict=True)}


def batched(circuits: dict[str, np.ndarray]) -> dict[str, object]:
    """Every family's circuits in one batched MNA call each."""
    from kaspix_circuitgen.families import family

    out = {}
    for name, values in circuits.items():
        fam = family(name)
        out[name] = fam.circuit.zpk(dict(zip(fam.knobs, values.T, strict=True)))
    return out


def symbolic_roots(name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zeros and poles (rad/s) of one circuit from exact rational MNA determinants (sympy)."""
    import sympy as sp
    from kaspix_circuitgen.families import family

    circuit = family(name).circuit
    stamps = circuit.stamps
    raw = circuit.stamp_values(dict(zip(family(name).knobs, values.tolist(), strict=True)))
    exact = [sp.Rational(float(v)) for v in raw]  # the binary value exactly: exact ratios (R / 2, 2 C) stay exact
    s = sp.symbols("s")
    n = len(stamps.unknowns)
    G = sp.Matrix(n, n, lambda i, j: sp.Rational(int(stamps.G0[i, j])) + sum(v * int(stamps.SG[m, i, j]) for m, v in enumerate(exact)))
    W = sp.Matrix(stamps.SW.shape[1], stamps.SW.shape[2], lambda i, j: sum(v * int(stamps.SW[m, i, j]) for m, v in enumerate(exact)))
    P = sp.Matrix(stamps.P.astype(int))
    E = P * W * P.T
    G_zero = G.copy()
    G_zero[stamps.source_row, :] = sp.Matrix([[int(c) for c in stamps.c]])
    den = sp.Poly(sp.expand((G + s * E).det(method="berkowitz")), s)
    num = sp.Poly(sp.expand((G_zero + s * E).det(method="berkowitz")), s)
    common = sp.gcd(num, den)
    num, den = sp.div(num, common)[0], sp.div(den, common)[0]

    def roots(poly: sp.Poly) -> np.ndarray:
        coefficients = poly.all_coeffs()[::-1]  # ascending
        at_origin = next(i for i, c in enumerate(coefficients) if c != 0)  # exact zeros at s = 0 first
        rest = sp.Poly(list(reversed(coefficients[at_origin:])), s)
        found = [complex(r) for r in rest.nroots(n=30, maxsteps=500)] if rest.degree() > 0 else []
        return np.array([0j] * at_origin + found, dtype=complex)

    return roots(num), roots(den)


def _relative_difference(a: np.ndarray, b: np.ndarray, scale: float) -> float:
    from scipy.optimize import linear_sum_assignment

    if len(a) != len(b):
        return float("inf")
    if len(a) == 0:
        return 0.0
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(np.max(cost[rows, cols] / np.maximum(np.abs(b[cols]), scale)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=2, help="circuits per family for the symbolic route")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    circuits = draw(args.circuits, args.seed)
    batched(circuits)  # warm-up: stamps built and cached, first-touch page faults
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        results = batched(circuits)
        times.append(time.perf_counter() - start)
    best = min(times)

    symbolic_times, worst = [], 0.0
    for name, values in circuits.items():
        for row in range(min(args.sample, len(values))):
            start = time.perf_counter()
            zeros, poles = symbolic_roots(name, values[row])
            symbolic_times.append(time.perf_counter() - start)
            zpk = results[name]
            scale = 1e-9 * float(np.max(np.abs(zpk.poles[row]))) if zpk.poles.count[row] else 1.0
            worst = max(worst, _relative_difference(zpk.poles[row], poles, scale), _relative_difference(zpk.zeros[row], zeros, scale))
    per_symbolic = float(np.median(symbolic_times)) if symbolic_times else float("nan")
    per_batched = best / args.circuits
    report = {
        "circuits": args.circuits,
        "families": len(circuits),
        "batched_mna": {
            "seconds_best": round(best, 5),
            "seconds_median": round(float(np.median(times)), 5),
            "ms_per_10k": round(best / args.circuits * 1e4 * 1e3, 2),
            "us_per_circuit": round(per_batched * 1e6, 3),
        },
        "symbolic": {
            "route": "sympy: exact rational MNA determinants, gcd cancelled, nroots",
            "circuits": len(symbolic_times),
            "seconds_per_circuit_median": round(per_symbolic, 4),
            "seconds_per_circuit_max": round(float(np.max(symbolic_times)), 4) if symbolic_times else None,
            "seconds_for_10k_estimated": round(per_symbolic * 1e4, 1),
        },
        "speedup_per_circuit": round(per_symbolic / per_batched, 1) if symbolic_times else None,
        "agreement_max_relative": worst,
        "goal_ms_per_10k": GOAL_MS,
        "goal_met": best / args.circuits * 1e4 * 1e3 <= GOAL_MS,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
