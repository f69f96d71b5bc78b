"""Simulation throughput of 1-s 48 kHz clips: kaspix-spice's shared-library path vs PySpice's PWL path, and exact MNA.

Measured in the same run, on the shipped RC low-pass with pink-noise clips:

* ``pyspice_pwl``: the seed's way, a PySpice ``PieceWiseLinearVoltageSource`` with one point per
  sample (quadratic in the number of points, ~40 s per clip: measured on 1-2 clips only);
* ``shared_lib``: ``Vin ... external`` fed per time step through ngspice's shared library by the
  compiled callbacks, steps clamped to the sample grid, with 1 and 2 worker processes, for each
  ``substeps`` setting; ``python_feed``: the same with the callbacks in Python (one worker);
* ``analytic_lfilter``: the exact first-order-hold discretization with scipy, the physical limit.

Each path reports seconds per clip, clips per second, and the maximum error against the analytic
response relative to the output RMS. ``accuracy`` (alone: ``--accuracy-only``) measures ngspice's
error (RMS error / RMS, and largest error / peak) for every excitation recipe through the shipped
RC, CR and RLC circuits at every corner of their knob ranges, per ``substeps``, against the exact
response, and counts the circuit/recipe pairs above the 1e-2 tolerance.

``mna`` compares, per circuit (the RC low-pass, the Sallen-Key low-pass, the third-order twin-T
notch), at the default knob values and in one worker process: the exact MNA simulator
(:mod:`kaspix_spice.simulate_mna`, set-up per call included, and its set-up alone), ``scipy``'s
``lfilter`` of the equivalent first-order-hold transfer function (the filter call alone, and with
its discretization, ``reference.foh_response``), and ngspice with ``substeps`` auto (2 clips), with
the speed ratios and the errors relative to the output RMS. ``--mna-only`` runs just that part.
Prints one JSON object (and writes it with ``--out``).

    .venv/bin/python benchmarks/spice_throughput.py [--quick | --mna-only | --accuracy-only] [--clips 8] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

FS = 48_000.0
R, C = 4.7e3, 10e-9


def clip(seed: int, seconds: float) -> np.ndarray:
    """A pink-noise clip at -6 dB re 1 V."""
    from kaspix_spice.config import Recipe
    from kaspix_spice.excitation import make_clip

    return make_clip([Recipe(kind="pink", level_db=(-6.0, -6.0))], round(seconds * FS), FS, seed)[0]


def reference(x: np.ndarray) -> np.ndarray:
    """The exact response of the RC low-pass."""
    from kaspix_spice.reference import foh_response, rc_lowpass

    return foh_response(*rc_lowpass(R, C), x, FS)


def relative_error(y: np.ndarray, x: np.ndarray) -> float:
    """max |y - reference| / RMS(reference)."""
    expected = reference(x)
    return float(np.max(np.abs(y - expected)) / np.sqrt(np.mean(expected**2)))


def shared_lib_clips(args: tuple[list[int], float, int | str, bool]) -> tuple[float, float]:
    """Simulate clips with kaspix-spice's engine (one process); returns (seconds, worst error)."""
    seeds, seconds, substeps, python_feed = args
    if python_feed:
        from kaspix_spice.feed import PYTHON_FEED_ENV

        os.environ[PYTHON_FEED_ENV] = "1"
    from kaspix_spice.netlist import load_template, shipped_circuits_dir
    from kaspix_spice.simulate import engine, simulate_to_tolerance

    template = load_template(shipped_circuits_dir() / "rc_lowpass.cir")
    clips = [clip(s, seconds) for s in seeds]
    engine()  # load the library before timing
    start = time.perf_counter()
    outputs = []
    for x in clips:
        render = lambda k, x=x: template.render({"R_cut": R, "C_cut": C}, step=1 / (FS * k), stop=(len(x) - 1) / FS)  # noqa: E731
        outputs.append(simulate_to_tolerance(render, x, FS, substeps=substeps).y)
    elapsed = time.perf_counter() - start
    return elapsed, max(relative_error(y, x) for y, x in zip(outputs, clips, strict=True))


def pyspice_pwl_clips(args: tuple[list[int], float]) -> tuple[float, float]:
    """Simulate clips the seed's way: PySpice, a PWL source with one point per sample."""
    seeds, seconds = args
    os.environ.setdefault("NGSPICE_LIBRARY_PATH", "/usr/lib/x86_64-linux-gnu/libngspice.so.0")
    import logging

    logging.disable(logging.WARNING)  # "Unsupported Ngspice version 39" is harmless
    from PySpice.Spice.Netlist import Circuit

    clips = [clip(s, seconds) for s in seeds]
    start = time.perf_counter()
    errors = []
    for x in clips:
        t = np.arange(len(x)) / FS
        circuit = Circuit("rc")
        circuit.PieceWiseLinearVoltageSource("in", "input", circuit.gnd, values=list(zip(t.tolist(), x.tolist(), strict=True)))
        circuit.R(1, "input", "output", R)
        circuit.C(1, "output", circuit.gnd, C)
        analysis = circuit.simulator(simulator="ngspice-shared").transient(step_time=1 / FS, end_time=t[-1])
        y = np.interp(t, np.asarray(analysis.time, dtype=float), np.asarray(analysis["output"], dtype=float))
        errors.append(relative_error(y, x))
    return time.perf_counter() - start, max(errors)


# shipped circuit -> (its analytic transfer function in kaspix_spice.reference, the knobs it takes in order)
LINEAR_CIRCUITS = {
    "rc_lowpass": ("rc_lowpass", ["R_cut", "C_cut"]),
    "cr_highpass": ("cr_highpass", ["R_hp", "C_hp"]),
    "rlc_bandpass": ("rlc_bandpass", ["R_bp", "L_bp", "C_bp"]),
}


def accuracy(args: tuple[int | str, float]) -> dict[str, dict[str, float]]:
    """Worst simulation error per shipped linear circuit and recipe, over the knob-range corners, against the exact response.

    Two measures per ``circuit/recipe``: ``rms_error`` (RMS of the error / RMS of the output, the
    measure ``substeps: auto`` controls) and ``peak_error`` (largest error / largest output).
    ``substeps`` may be ``"auto"``: then also the largest substeps chosen (``substeps_used``).
    """
    import itertools

    from kaspix_spice import reference
    from kaspix_spice.config import Recipe, RecipeKind
    from kaspix_spice.excitation import make_clip
    from kaspix_spice.netlist import load_template, shipped_circuits_dir
    from kaspix_spice.simulate import simulate_to_tolerance

    substeps, seconds = args
    worst: dict[str, dict[str, float]] = {"rms_error": {}, "peak_error": {}, "substeps_used": {}}
    for name, (transfer, order) in LINEAR_CIRCUITS.items():
        template = load_template(shipped_circuits_dir() / f"{name}.cir")
        for corner in itertools.product(*[(k.low, k.high) for k in template.knobs]):
            values = dict(zip(template.knob_names, corner, strict=True))
            expected_of = getattr(reference, transfer)(*(values[k] for k in order))
            for kind in RecipeKind.__args__:
                x = make_clip([Recipe(kind=kind, level_db=(-6.0, -6.0))], round(seconds * FS), FS, seed=1, fade_in_ms=5.0)[0]
                result = simulate_to_tolerance(
                    lambda k, t=template, v=values, x=x: t.render(v, step=1 / (FS * k), stop=(len(x) - 1) / FS),
                    x,
                    FS,
                    substeps=substeps,
                )
                expected = reference.foh_response(*expected_of, x, FS)
                error = result.y - expected
                key = f"{name}/{kind}"
                measured = {
                    "rms_error": float(np.sqrt(np.mean(error**2) / np.mean(expected**2))),
                    "peak_error": float(np.max(np.abs(error)) / np.max(np.abs(expected))),
                }
                if substeps == "auto":
                    measured["substeps_used"] = result.substeps
                for measure, value in measured.items():
                    worst[measure][key] = max(worst[measure].get(key, 0), value)
    return worst


MNA_CIRCUITS = ("rc_lowpass", "sallen_key_lowpass", "twin_t_notch")


def best_seconds(function, repeats: int = 5) -> float:
    """The fastest of ``repeats`` timed calls (the machine is shared: the minimum is the cost)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def mna_comparison(args: tuple[list[int], float]) -> dict[str, dict]:
    """Exact MNA vs lfilter vs ngspice (substeps auto) on each circuit of :data:`MNA_CIRCUITS` (one process)."""
    from kaspix_spice.simulate import engine

    seeds, seconds = args
    clips = [clip(s, seconds) for s in seeds]
    engine()  # load the library before timing
    return {name: compare_on(name, clips) for name in MNA_CIRCUITS}


def compare_on(name: str, clips: list[np.ndarray]) -> dict:
    """Seconds per clip of the three paths through one shipped circuit at its default knobs, their ratios and errors."""
    from kaspix_spice.netlist import load_template, shipped_circuits_dir
    from kaspix_spice.reference import foh_response
    from kaspix_spice.simulate import simulate_to_tolerance
    from kaspix_spice.simulate_mna import LinearSimulator
    from scipy import signal

    template = load_template(shipped_circuits_dir() / f"{name}.cir")
    simulator = LinearSimulator.from_template(template)
    num, den = simulator.circuit.zpk({}).transfer_function()
    b, a, _ = signal.cont2discrete((num, den), 1.0 / FS, method="foh")
    b = np.atleast_1d(np.squeeze(b))
    zi = signal.lfilter_zi(b, a)
    mna = sum(best_seconds(lambda x=x: simulator.simulate({}, x, FS)) for x in clips) / len(clips)
    lfilter = sum(best_seconds(lambda x=x: signal.lfilter(b, a, x, zi=zi * x[0])) for x in clips) / len(clips)
    foh = sum(best_seconds(lambda x=x: foh_response(num, den, x, FS)) for x in clips) / len(clips)
    mna_error = 0.0
    for x in clips:
        expected = foh_response(num, den, x, FS)
        mna_error = max(mna_error, float(np.max(np.abs(simulator.simulate({}, x, FS) - expected)) / np.sqrt(np.mean(expected**2))))
    start = time.perf_counter()
    ngspice_errors, used = [], []
    for x in clips[:2]:
        render = lambda k, x=x: template.render({}, step=1 / (FS * k), stop=(len(x) - 1) / FS)  # noqa: E731
        result = simulate_to_tolerance(render, x, FS, substeps="auto")
        exact = simulator.simulate({}, x, FS)
        rms = np.sqrt(np.mean(exact**2))
        ngspice_errors.append((float(np.max(np.abs(result.y - exact)) / rms), float(np.sqrt(np.mean((result.y - exact) ** 2)) / rms)))
        used.append(result.substeps)
    ngspice = (time.perf_counter() - start) / len(clips[:2])
    return {
        "order": len(simulator.modal_form({}).poles),
        "mna_s_per_clip": mna,
        "mna_setup_s": best_seconds(lambda: simulator.modal_form({})),
        "lfilter_s_per_clip": lfilter,
        "foh_response_s_per_clip": foh,
        "ngspice_auto_s_per_clip": ngspice,
        "ngspice_substeps_used": used,
        "speedup_vs_ngspice_auto": ngspice / mna,
        "mna_over_lfilter": mna / lfilter,
        "mna_over_foh_response": mna / foh,
        "mna_max_err_rel_rms_vs_foh": mna_error,
        "ngspice_auto_vs_mna_max_err_rel_rms": max(e[0] for e in ngspice_errors),
        "ngspice_auto_vs_mna_rms_err_rel_rms": max(e[1] for e in ngspice_errors),
    }


def in_processes(function, jobs: list) -> list:
    """Run ``function`` on each job in its own fresh process, all at once."""
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        return pool.map(function, jobs)


def _substeps(text: str) -> int | str:
    return text if text == "auto" else int(text)


def accuracy_report(substeps_settings: list[int | str], tolerance: float = 1e-2) -> dict[str, dict]:
    """Per ``substeps`` setting: the worst errors, where they are, and how many circuit/recipe pairs exceed ``tolerance``."""
    report: dict[str, dict] = {}
    for substeps in substeps_settings:
        (errors,) = in_processes(accuracy, [(substeps, 0.25)])
        entry: dict = {}
        for measure in ("rms_error", "peak_error"):
            values = errors[measure]
            worst_case = max(values, key=values.get)
            entry[measure] = {
                "worst": values[worst_case],
                "worst_case": worst_case,
                "pairs_above_tolerance": f"{sum(v > tolerance for v in values.values())} of {len(values)}",
            }
        report[f"substeps_{substeps}"] = {**entry, "all": errors}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 PWL clip, 4 shared-library clips, substeps auto and 2")
    parser.add_argument("--mna-only", action="store_true", help="only the exact MNA vs lfilter vs ngspice comparison (~1 min)")
    parser.add_argument("--accuracy-only", action="store_true", help="only ngspice's error at every knob corner and recipe, per --substeps")
    parser.add_argument("--clips", type=int, default=8, help="clips per shared-library measurement")
    parser.add_argument("--pwl-clips", type=int, default=2, help="clips for the (slow) PWL path")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--substeps", type=_substeps, nargs="+", default=["auto", 2, 4, 8], help="'auto' or whole numbers")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.clips, args.pwl_clips, args.substeps = 4, 1, ["auto", 2]
    seeds = list(range(args.clips))
    result: dict = {"clip_seconds": args.seconds, "fs": FS, "circuit": "rc_lowpass", "cpu_count": os.cpu_count()}
    if args.mna_only:
        (result["mna"],) = in_processes(mna_comparison, [(seeds, args.seconds)])
        report(result, args.out)
        return
    if args.accuracy_only:
        result["accuracy"] = accuracy_report(args.substeps)
        report(result, args.out)
        return

    clips = [clip(s, args.seconds) for s in seeds]
    reference(clips[0])  # import scipy before timing
    start = time.perf_counter()
    for x in clips:
        reference(x)
    per_clip = (time.perf_counter() - start) / len(clips)
    result["analytic_lfilter"] = {"s_per_clip": per_clip, "clips_per_s": 1 / per_clip}

    ((seconds, error),) = in_processes(pyspice_pwl_clips, [(list(range(args.pwl_clips)), args.seconds)])
    pwl = seconds / args.pwl_clips
    result["pyspice_pwl"] = {"s_per_clip": pwl, "clips_per_s": 1 / pwl, "max_err_rel_rms": error, "clips": args.pwl_clips}

    result["shared_lib"] = {}
    for substeps in args.substeps:
        entry: dict = {}
        ((seconds, error),) = in_processes(shared_lib_clips, [(seeds, args.seconds, substeps, False)])
        entry["workers_1"] = {"s_per_clip": seconds / len(seeds), "clips_per_s": len(seeds) / seconds}
        ((python_seconds, _),) = in_processes(shared_lib_clips, [(seeds, args.seconds, substeps, True)])
        entry["python_feed"] = {"s_per_clip": python_seconds / len(seeds), "compiled_speedup": python_seconds / seconds}
        wall = time.perf_counter()
        halves = in_processes(
            shared_lib_clips, [(seeds[0::2], args.seconds, substeps, False), (seeds[1::2], args.seconds, substeps, False)]
        )
        busiest = max(h[0] for h in halves)
        entry["workers_2"] = {
            "s_per_clip": busiest / len(seeds),
            "clips_per_s": len(seeds) / busiest,
            "wall_with_spawn_s": time.perf_counter() - wall,
        }
        entry["speedup_2_vs_1_worker"] = entry["workers_2"]["clips_per_s"] / entry["workers_1"]["clips_per_s"]
        entry["max_err_rel_rms"] = max(error, *(h[1] for h in halves))
        entry["speedup_vs_pwl"] = {w: entry[w]["clips_per_s"] / result["pyspice_pwl"]["clips_per_s"] for w in ("workers_1", "workers_2")}
        result["shared_lib"][f"substeps_{substeps}"] = entry
    (result["mna"],) = in_processes(mna_comparison, [(seeds, args.seconds)])
    result["accuracy"] = accuracy_report(args.substeps)
    report(result, args.out)


def report(result: dict, out: Path | None) -> None:
    """Print the result as JSON, and write it to ``out``."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
