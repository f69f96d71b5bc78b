"""Spiking-network throughput: the snn plugin's recording step (norse) against a plain torch LIF loop, same run.

For the default digits network (and the shipped Fashion-MNIST network when Debian's
dataset-fashion-mnist is installed) it times, on the same weights and images:

- ``norse_simulation``: kaspix_snn's SpikingNetwork (norse's LIF step), spikes collected per tick;
- ``plain_torch_loop``: the same network written as a plain torch Euler LIF loop (the peer);
- ``record_step``: the whole recording step (simulation, bit-packing, compressed HDF5 writes).

The two simulations must give identical spikes (checked). Then the peak RSS of the recording
step is measured in fresh processes with ``images_per_label`` at 1x and 10x (the peak is reset once the
images are loaded, so it is the recording's own). Ratios are medians over repeats of paired runs
(peer time / contender time, measured back to back). Prints one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/snn_throughput.py [--repeats 3] [--threads 1] [--skip-rss]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).resolve().parents[1] / "kaspix-snn" / "configs"
FASHION = CONFIGS / "fashion_mnist.yaml"


def plain_torch_loop(spec: dict[str, Any], weights: dict[str, Any], images: Any, ticks: int) -> dict[str, Any]:
    """The network of ``spec`` as a hand-written torch loop: conv/linear currents, Euler LIF steps, max pooling."""
    import torch
    import torch.nn.functional as F

    neuron = spec["neuron"]
    dt = neuron["dt_ms"] * 1e-3
    a_mem, a_syn = dt * 1e3 / neuron["tau_mem_ms"], dt * 1e3 / neuron["tau_syn_ms"]
    v_th, v_reset, v_leak = neuron["v_th"], neuron["v_reset"], neuron["v_leak"]
    gain = spec["input"]["gain"]
    state: dict[str, tuple[Any, Any]] = {}
    spikes: dict[str, list[Any]] = {layer["name"]: [] for layer in spec["layers"]}
    with torch.inference_mode():
        for _ in range(ticks):
            x = images * gain
            for layer in spec["layers"]:
                name = layer["name"]
                if layer["type"] == "pool":
                    x = F.max_pool2d(x, layer["kernel_size"], layer["stride"])
                else:
                    if layer["type"] == "conv":
                        current = F.conv2d(F.pad(x, layer["pad_left_right_top_bottom"]), weights[name], stride=layer["stride"])
                    else:
                        current = F.linear(x.flatten(1), weights[name])
                    v, i = state.get(name, (torch.full_like(current, v_leak), torch.zeros_like(current)))
                    i = i + current
                    v = v + a_mem * ((v_leak - v) + i)
                    i = i - a_syn * i
                    z = (v - v_th > 0).to(v.dtype)
                    v = (1 - z) * v + z * v_reset
                    state[name] = (v, i)
                    x = z
                spikes[name].append(x.flatten(1) > 0)
    return {name: torch.stack(values, dim=1) for name, values in spikes.items()}


def load_case(config_path: Path | None, per_label: int | None) -> tuple[Any, Any]:
    """The config (images_per_label replaced when given) and its images."""
    from kaspix.config import load_config
    from kaspix_snn.config import SnnConfig
    from kaspix_snn.data import digits, fashion_mnist

    overrides = [f"simulation.images_per_label={per_label}"] if per_label else []
    cfg = load_config(SnnConfig, config_path, overrides)
    images = fashion_mnist(cfg.data.path) if cfg.data.source == "fashion_mnist" else digits()
    return cfg, images


def throughput(config_path: Path | None, per_label: int | None, repeats: int) -> dict[str, Any]:
    import numpy as np
    import torch
    from kaspix_snn.build import build_network
    from kaspix_snn.data import select_per_label
    from kaspix_snn.record import record_activity
    from kaspix_snn.simulate import SpikingNetwork

    cfg, images = load_case(config_path, per_label)
    sim = cfg.simulation
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = build_network(cfg, images, folder)
        weights = torch.load(folder / "network_weights.pt", weights_only=True)
        network = SpikingNetwork(spec, weights)
        rows = select_per_label(images.labels, sim.images_per_label, cfg.seed)
        batches = [
            torch.from_numpy(images.images[rows[i : i + sim.batch_size]].astype(np.float32) / images.max_value)
            for i in range(0, len(rows), sim.batch_size)
        ]
        for batch in batches[:1]:  # the peer must compute exactly what the plugin computes
            ours, peer = (
                network.run(batch, sim.ticks_per_image, potentials="none").spikes,
                plain_torch_loop(spec, weights, batch, sim.ticks_per_image),
            )
            assert all(torch.equal(ours[name], peer[name]) for name in ours), "the plain loop and norse disagree"
        times: dict[str, list[float]] = {"norse_simulation": [], "plain_torch_loop": [], "record_step": []}
        for _ in range(repeats):  # alternate, so that machine noise hits every contender alike
            start = time.perf_counter()
            for batch in batches:
                network.run(batch, sim.ticks_per_image, potentials="none")
            times["norse_simulation"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for batch in batches:
                plain_torch_loop(spec, weights, batch, sim.ticks_per_image)
            times["plain_torch_loop"].append(time.perf_counter() - start)
            (folder / "activity_dataset.h5").unlink(missing_ok=True)
            start = time.perf_counter()
            record_activity(cfg, folder, images)
            times["record_step"].append(time.perf_counter() - start)
            recorded_mb = (folder / "activity_dataset.h5").stat().st_size / 2**20
    best = {name: min(values) for name, values in times.items()}

    def paired(name: str) -> float:
        """Median over repeats of the peer's time over this contender's, each pair measured back to back."""
        return round(statistics.median(p / t for p, t in zip(times["plain_torch_loop"], times[name], strict=True)), 3)

    neuron_ticks = len(rows) * sim.ticks_per_image * spec["neurons"]
    rates = {name: round(neuron_ticks / seconds) for name, seconds in best.items()}
    return {
        "config": str(config_path.relative_to(CONFIGS.parents[1])) if config_path else "defaults (digits)",
        "images": len(rows),
        "ticks_per_image": sim.ticks_per_image,
        "neurons": spec["neurons"],
        "recorded_layers": sim.record_layers or [layer["name"] for layer in spec["layers"]],
        "potentials": sim.potentials,
        "best_seconds": {name: round(seconds, 3) for name, seconds in best.items()},
        "neuron_ticks_per_s": rates,
        "ratio_norse_simulation_to_plain_torch": paired("norse_simulation"),
        "ratio_record_step_to_plain_torch": paired("record_step"),
        "recording_mb": round(recorded_mb, 2),
    }


def _status_mib(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field + ":"))) / 1024


def rss_child(config: str, per_label: int) -> None:
    """Build the network, then record; print the RSS when recording starts and its peak while recording (MiB).

    The peak is reset (``/proc/self/clear_refs``) after the images are loaded, so it is the recording's own.
    """
    from kaspix_snn.build import build_network
    from kaspix_snn.record import record_activity

    cfg, images = load_case(Path(config) if config != "defaults" else None, per_label)
    with tempfile.TemporaryDirectory() as tmp:
        build_network(cfg, images, Path(tmp))
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        start = _status_mib("VmRSS")
        figures = record_activity(cfg, Path(tmp), images)
        peak = _status_mib("VmHWM")
    print(json.dumps({"images": figures["images"], "rss_mib_at_start": round(start, 1), "peak_rss_mib": round(peak, 1)}))


def peak_rss(config: str, per_label: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--rss-child", config, str(per_label)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--rss-trials", type=int, default=3, help="fresh processes per size (the peak varies by ~100 MiB run to run)")
    parser.add_argument("--rss-child", nargs=2, metavar=("CONFIG", "PER_LABEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.rss_child:
        rss_child(args.rss_child[0], int(args.rss_child[1]))
        return
    have_fashion = Path("/usr/share/datasets/fashion-mnist").is_dir()
    cases = [throughput(None, None, args.repeats)]
    if have_fashion:
        cases.append(throughput(FASHION, 200, args.repeats))
    result: dict[str, Any] = {"benchmark": "snn_throughput", "torch_threads": args.threads, "repeats": args.repeats, "cases": cases}
    result["goal"] = "neuron-ticks/s of the recording step >= the plain torch loop (median paired ratio >= 1)"
    result["meets_goal"] = all(case["ratio_record_step_to_plain_torch"] >= 1 for case in cases)
    if not args.skip_rss:
        config, small = (str(FASHION), 300) if have_fashion else ("defaults", 17)
        runs = {n: [peak_rss(config, n) for _ in range(args.rss_trials)] for n in (small, small * 10)}
        peaks = {n: sorted(run["peak_rss_mib"] for run in values) for n, values in runs.items()}
        result["record_step_peak_rss"] = {
            "config": Path(config).name,
            "images_per_label": [small, small * 10],
            "images": [runs[small][0]["images"], runs[small * 10][0]["images"]],
            "rss_mib_at_start": [runs[small][0]["rss_mib_at_start"], runs[small * 10][0]["rss_mib_at_start"]],
            "peak_rss_mib_while_recording_per_trial": [peaks[small], peaks[small * 10]],
            "median_growth_mib": round(statistics.median(peaks[small * 10]) - statistics.median(peaks[small]), 1),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
