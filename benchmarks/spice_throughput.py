"""Simulation throughput of 1-s 48 kHz clips: kaspix-spice's shared-library path vs PySpice's PWL path.

Measured in the same run, on the shipped RC low-pass with pink-noise clips:

* ``pyspice_pwl``: the seed's way, a PySpice ``PieceWiseLinearVoltageSource`` with one point per
  sample (quadratic in the number of points, ~40 s per clip: measured on 1-2 clips only);
* ``shared_lib``: ``Vin ... external`` fed per time step through ngspice's shared library by the
  compiled callbacks, steps clamped to the sample grid, with 1 and 2 worker processes, for each
  ``substeps`` setting; ``python_feed``: the same with the callbacks in Python (one worker);
* ``analytic_lfilter``: the exact first-order-hold discretization with scipy, the physical limit.

Each path reports seconds per clip, clips per second, and the maximum error against the analytic
response relative to the output RMS. ``accuracy`` adds that error for every excitation recipe
through the shipped RC, CR and RLC circuits at every corner of their knob ranges, per ``substeps``.
Prints one JSON object (and writes it with ``--out``).

    .venv/bin/python benchmarks/spice_throughput.py [--quick] [--clips 8] [--out result.json]
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


def accuracy(args: tuple[int | str, float]) -> dict[str, float]:
    """Worst error relative to RMS per shipped linear circuit and recipe, over the knob-range corners.

    ``substeps`` may be ``"auto"``: then also the largest substeps chosen (``substeps_used/...``).
    """
    import itertools

    from kaspix_spice import reference
    from kaspix_spice.config import Recipe, RecipeKind
    from kaspix_spice.excitation import make_clip
    from kaspix_spice.netlist import load_template, shipped_circuits_dir
    from kaspix_spice.simulate import simulate_to_tolerance

    substeps, seconds = args
    worst: dict[str, float] = {}
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
                y = result.y
                expected = reference.foh_response(*expected_of, x, FS)
                error = float(np.max(np.abs(y - expected)) / np.sqrt(np.mean(expected**2)))
                key = f"{name}/{kind}"
                worst[key] = max(worst.get(key, 0.0), error)
                if substeps == "auto":
                    used = f"substeps_used/{key}"
                    worst[used] = max(worst.get(used, 0), result.substeps)
    return worst


def in_processes(function, jobs: list) -> list:
    """Run ``function`` on each job in its own fresh process, all at once."""
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        return pool.map(function, jobs)


def _substeps(text: str) -> int | str:
    return text if text == "auto" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 PWL clip, 4 shared-library clips, substeps auto and 2")
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
    result["accuracy"] = {}
    for substeps in args.substeps:
        (errors,) = in_processes(accuracy, [(substeps, 0.25)])
        measured = {k: v for k, v in errors.items() if not k.startswith("substeps_used/")}
        worst_case = max(measured, key=measured.get)
        result["accuracy"][f"substeps_{substeps}"] = {"worst": measured[worst_case], "worst_case": worst_case, **errors}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
