"""Start-up error of a trained spice emulator: clips cut at their peak, run from rest vs from the steady state.

The case of issue 14: 20-ms clips that start at full level (``0.5 cos`` of a 20 Hz-20 kHz log
chirp, the original project's test signal), one per test knob setting of a finished ``kaspix run
--plugin spice`` run, simulated as the dataset was (ngspice or MNA, from the circuit's operating
point for the first sample), and run through the run's trained model twice:

* ``steady``: the model as it is called, from its steady state for ``x[0]``;
* ``rest``: the model from rest, i.e. after one sample of 0 V before the clip.

Prints one JSON object: per circuit the ESR (energy-weighted over the settings) and mean MAE of
both starts, and ``rest_over_steady``, the ESR ratio (how much the steady-state start saves).

    .venv/bin/python benchmarks/spice_starting_state.py RUN_FOLDER [--ms 20] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np


def peak_start_chirp(fs: float, ms: float) -> np.ndarray:
    """``0.5 cos`` of a log chirp from 20 Hz to 20 kHz (capped at 0.45 fs) over ``ms`` milliseconds: it starts at its peak."""
    t = np.arange(round(ms * 1e-3 * fs)) / fs
    f0, f1 = 20.0, min(20_000.0, 0.45 * fs)
    k = math.log(f1 / f0) / t[-1]
    return 0.5 * np.cos(2 * math.pi * f0 * np.expm1(k * t) / k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished spice run folder")
    parser.add_argument("--ms", type=float, default=20.0, help="clip length in milliseconds")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    import h5py
    import torch
    import yaml
    from kaspix.testing import plugin_host
    from kaspix_spice import plugin
    from kaspix_spice.config import GenerateConfig, SpiceConfig
    from kaspix_spice.dataset import read_metadata, split_settings
    from kaspix_spice.evaluate import esr, mae, predict
    from kaspix_spice.generate import load_templates
    from kaspix_spice.simulator import choose_simulator, simulate_template

    run_config = SpiceConfig.model_validate(yaml.safe_load((args.run / "config.yaml").read_text()))
    torch.set_num_threads(run_config.train.threads)
    artifacts = args.run / "artifacts"
    dataset = artifacts / "data" / "dataset.h5"
    meta = read_metadata(dataset)
    config = GenerateConfig.model_validate(meta["config"])
    with plugin_host(plugin, name="spice") as host:
        n_knobs = max(len(v) for v in meta["knob_names"].values())
        model = host.parts.models.build(
            run_config.train.model, n_knobs=n_knobs, n_circuits=len(meta["circuit_mapping"]), **run_config.train.model_args
        )
    model.load_state_dict(torch.load(artifacts / "model.pt", weights_only=True))
    with h5py.File(dataset, "r") as f:
        cid, sid = f["circuit_id"][()], f["setting_id"][()]
        knobs, physical = f["knobs"][()], f["knobs_physical"][()]
    train = run_config.train
    rows = split_settings(cid, sid, val_fraction=train.val_fraction, test_fraction=train.test_fraction, seed=run_config.seed)["test"]
    x = peak_start_chirp(config.fs, args.ms)
    templates = dict(enumerate(load_templates(config)))
    result: dict[str, dict[str, float]] = {}
    for c, template in templates.items():
        if template.own_sources:
            continue
        simulator = choose_simulator(template, config.simulator)
        picked = [rows[(cid[rows] == c) & (sid[rows] == s)][0] for s in np.unique(sid[rows][cid[rows] == c])]
        settings = [{k.name: float(physical[r, j]) for j, k in enumerate(template.knobs)} for r in picked]
        targets = np.array([simulate_template(template, values, x, config, simulator).y for values in settings])
        clips = np.repeat(x[None], len(picked), axis=0)
        steady = predict(model, clips, knobs[picked], cid[picked])
        rest = predict(model, np.pad(clips, ((0, 0), (1, 0))), knobs[picked], cid[picked])[:, 1:]
        scores = {
            "settings": len(picked),
            "esr_rest": esr(rest, targets),
            "esr_steady": esr(steady, targets),
            "mae_rest": float(np.mean([mae(p, y) for p, y in zip(rest, targets, strict=True)])),
            "mae_steady": float(np.mean([mae(p, y) for p, y in zip(steady, targets, strict=True)])),
        }
        scores["rest_over_steady"] = scores["esr_rest"] / max(scores["esr_steady"], 1e-12)
        result[Path(config.circuits[c]).stem] = {k: round(v, 6) if isinstance(v, float) else v for k, v in scores.items()}
    text = json.dumps({"run": str(args.run), "clip_ms": args.ms, "per_circuit": result}, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
