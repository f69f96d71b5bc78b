"""Sharded, resumable dataset generation: plan samples, simulate shards in worker processes, merge.

* :func:`load_templates` reads and checks every circuit once; the parsed templates travel to the
  workers with the shards, so every worker simulates exactly the netlists that were checked.
* :func:`plan` turns the config into a fixed list of samples (circuit, knob setting, excitation
  seed); the same config always gives the same plan.
* Samples are cut into shards of ``shard_size``; each shard is simulated by one worker (its own
  ngspice, or the exact MNA simulator for linear circuits: :mod:`kaspix_spice.simulator`) and
  written atomically to ``shards/shard_NNNNN.h5`` with the facts that determined it
  (:mod:`kaspix_spice.provenance`). A rerun skips finished shards whose facts still hold, so killing
  the generation loses at most the shards in flight; a shard made from other facts (an edited
  netlist, a changed config, another ngspice) is refused or, with ``on_stale: regenerate``,
  simulated again, alone.
* A sample whose simulation fails is logged with its parameters, recorded in the shard's
  ``failed`` list and skipped.
* :func:`kaspix_spice.shards.merge_shards` concatenates the shards into one HDF5 dataset
  (layout in :mod:`kaspix_spice.dataset`).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from kaspix import KaspixError
from kaspix.fingerprint import fingerprint

from kaspix_spice.config import GenerateConfig
from kaspix_spice.layout import shard_path
from kaspix_spice.netlist import Template, load_template, resolve_circuit
from kaspix_spice.provenance import describe_change, generation_facts, shard_facts
from kaspix_spice.simulator import choose_simulator, clip_grid

__all__ = ["SampleSpec", "generate", "load_templates", "plan", "simulate_shard"]

log = logging.getLogger("kaspix.spice")


@dataclass(frozen=True)
class SampleSpec:
    """One planned sample: everything a worker needs to simulate it."""

    index: int
    circuit_id: int
    circuit: str
    setting_id: int
    knobs: dict[str, float]
    clip_seed: int


def load_templates(cfg: GenerateConfig) -> list[Template]:
    """The configured templates, each read and checked once (raises :class:`KaspixError` on any rule broken).

    With ``excitation: template`` every circuit keeps its own sources and must share one ``.tran``
    (the dataset has one sample rate and one clip length).
    """
    own_sources = cfg.excitation == "template"
    templates = []
    for name in cfg.circuits:
        path = resolve_circuit(name)
        ranges = cfg.knob_ranges.get(path.stem) or cfg.knob_ranges.get(name)
        templates.append(load_template(path, ranges, own_sources=own_sources))
    grids = {t.name: clip_grid(t, cfg) for t in templates}
    if len(set(grids.values())) > 1:
        listed = ", ".join(f"{name}: {n} samples at {fs:g} Hz" for name, (n, fs) in grids.items())
        raise KaspixError(
            f"the circuits' .tran lines give different clips ({listed})",
            where="generate.circuits",
            hint="give every template driven by its own sources the same .tran step and stop time, or generate them separately",
        )
    return templates


def plan(cfg: GenerateConfig, templates: list[Template]) -> list[SampleSpec]:
    """Every sample to simulate, in a fixed order, drawn from ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    specs: list[SampleSpec] = []
    setting = 0
    for circuit_id, template in enumerate(templates):
        for _ in range(cfg.settings_per_circuit):
            values = {k.name: k.denormalize(float(rng.random())) for k in template.knobs}
            for _ in range(cfg.clips_per_setting):
                clip_seed = int(rng.integers(0, 2**31 - 1))
                specs.append(SampleSpec(len(specs), circuit_id, template.name, setting, values, clip_seed))
            setting += 1
    return specs


def shards(specs: list[SampleSpec], size: int) -> list[list[SampleSpec]]:
    """``specs`` cut into consecutive shards of ``size``."""
    return [specs[i : i + size] for i in range(0, len(specs), size)]


def _input_clip(template: Template, cfg: GenerateConfig, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The sample's input and its description: an excitation clip, or zeros for a template with its own sources."""
    from kaspix_spice.excitation import make_clip

    n, fs = clip_grid(template, cfg)
    if template.own_sources:
        return np.zeros(n), {"kind": "template", "seed": seed}
    return make_clip(cfg.recipes, n, fs, seed, cfg.fade_in_ms, cfg.fade_in_share)


def simulate_shard(payload: dict[str, Any]) -> dict[str, Any]:
    """Simulate one shard and write it atomically (runs in a worker process).

    Args:
        payload: ``{"shard", "out_dir", "specs", "config", "templates", "simulators", "facts"}``:
            plain data and the parsed templates (picklable).

    Returns:
        ``{"shard", "ok", "failed": [{index, circuit, knobs, recipe, error}], "seconds"}``.
    """
    from kaspix_spice.shards import write_shard
    from kaspix_spice.simulate import SimulationError
    from kaspix_spice.simulator import simulate_template

    os.environ["OMP_NUM_THREADS"] = "1"
    cfg = GenerateConfig.model_validate(payload["config"])
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for raw in payload["specs"]:
        spec = SampleSpec(**raw)
        template = payload["templates"][spec.circuit_id]
        simulator = payload["simulators"][spec.circuit_id]
        x, recipe = _input_clip(template, cfg, spec.clip_seed)
        try:
            result = simulate_template(template, spec.knobs, x, cfg, simulator)
            if not np.all(np.isfinite(result.y)):
                raise SimulationError("the output holds NaN or inf")
        except SimulationError as exc:
            failed.append({"index": spec.index, "circuit": spec.circuit, "knobs": spec.knobs, "recipe": recipe, "error": str(exc)})
            continue
        rows.append(
            {
                "spec": spec,
                "x": x,
                "y": result.y,
                "recipe": recipe,
                "substeps": result.substeps,
                "error_estimate": result.error_estimate,
                "simulator": result.simulator,
            }
        )
    write_shard(shard_path(Path(payload["out_dir"]), payload["shard"]), rows, failed, payload["facts"])
    return {"shard": payload["shard"], "ok": len(rows), "failed": failed, "seconds": time.monotonic() - started}


def _run_local(payloads: list[dict[str, Any]], workers: int) -> Iterator[dict[str, Any]]:
    if workers == 1:
        for payload in payloads:
            yield simulate_shard(payload)
        return
    context = multiprocessing.get_context("spawn")  # a fresh process per worker: its own ngspice
    with context.Pool(processes=workers, maxtasksperchild=50) as pool:
        yield from pool.imap_unordered(simulate_shard, payloads)


def _run_ray(payloads: list[dict[str, Any]], address: str | None, workers: int) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise KaspixError("executor 'ray' needs Ray", hint='pip install "kaspix-spice[ray]"') from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(simulate_shard)
        pending = [remote.remote(p) for p in payloads]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()


def _ngspice_version(simulators: list[str]) -> str | None:
    if "ngspice" not in simulators:
        return None
    from kaspix_spice.simulate import engine

    return engine().version()


def _shard_list(numbers: list[int]) -> str:
    """``0-3, 7`` for shards 0, 1, 2, 3 and 7."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _stale_shards(out_dir: Path, expected: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Finished shards made from other facts than ``expected``, grouped by what changed."""
    from kaspix_spice.shards import read_shard_facts

    stale: dict[str, list[int]] = {}
    for number, facts in enumerate(expected):
        path = shard_path(out_dir, number)
        if not path.is_file():
            continue
        found = read_shard_facts(path)
        if found is None or fingerprint(found) != fingerprint(facts):
            stale.setdefault(describe_change(found, facts), []).append(number)
    return stale


def generate(cfg: GenerateConfig, out_dir: str | Path, *, progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None) -> Path:
    """Simulate every missing (or, with ``on_stale: regenerate``, stale) shard, then merge all into ``out_dir/dataset.h5``.

    Rerunning with the same inputs continues where an interrupted run stopped. Shards made from
    other inputs (config, a netlist's circuit, the generator, ngspice) are refused, naming what
    changed, unless ``cfg.on_stale`` is ``regenerate``; then exactly those shards are simulated again.

    Returns:
        The path of the merged dataset; its ``accuracy`` attribute summarizes the simulation error.
    """
    from kaspix_spice.shards import merge_shards

    out_dir = Path(out_dir)
    templates = load_templates(cfg)
    simulators = [choose_simulator(t, cfg.simulator) for t in templates]
    facts = json.loads(json.dumps(generation_facts(cfg, templates, simulators, _ngspice_version(simulators))))
    all_shards = shards(plan(cfg, templates), cfg.shard_size)
    expected = [shard_facts(facts, {s.circuit for s in chunk}) for chunk in all_shards]
    stale = _stale_shards(out_dir, expected)
    if stale and cfg.on_stale == "refuse":
        count = sum(len(v) for v in stale.values())
        reasons = "; ".join(f"{reason} (shard {_shard_list(numbers)})" for reason, numbers in stale.items())
        raise KaspixError(
            f"{count} of the {len(all_shards)} shards in this folder were made from other inputs: {reasons}",
            where=str(out_dir),
            hint="simulate exactly those shards again with `--regenerate` (generate.on_stale: regenerate), or use a new folder",
        )
    for reason, numbers in stale.items():
        log.warning("regenerating shard(s) %s: %s", _shard_list(numbers), reason)
    redo = {n for numbers in stale.values() for n in numbers}
    config_json = cfg.model_dump(mode="json")
    by_id = dict(enumerate(templates))
    payloads = [
        {
            "shard": i,
            "out_dir": str(out_dir),
            "specs": [asdict(s) for s in chunk],
            "config": config_json,
            "templates": {s.circuit_id: by_id[s.circuit_id] for s in chunk},
            "simulators": {s.circuit_id: simulators[s.circuit_id] for s in chunk},
            "facts": expected[i],
        }
        for i, chunk in enumerate(all_shards)
        if i in redo or not shard_path(out_dir, i).is_file()
    ]
    if len(payloads) < len(all_shards):
        log.info("resuming: %d of %d shards already done", len(all_shards) - len(payloads), len(all_shards))
    results = (
        _run_ray(payloads, cfg.ray_address, cfg.workers)
        if cfg.executor == "ray"
        else _run_local(payloads, min(cfg.workers, max(1, len(payloads))))
    )
    if progress is not None:
        results = progress(results, len(payloads))
    for result in results:
        for failure in result["failed"]:
            log.warning(
                "sample %d (%s, knobs %s, recipe %s) skipped: %s",
                failure["index"],
                failure["circuit"],
                failure["knobs"],
                failure["recipe"]["kind"],
                failure["error"],
            )
    path = merge_shards(out_dir, len(all_shards), templates, cfg, clip_grid(templates[0], cfg)[1])
    _log_accuracy(path, cfg)
    return path


def _log_accuracy(path: Path, cfg: GenerateConfig) -> None:
    from kaspix_spice.dataset import read_metadata

    summary = read_metadata(path)["accuracy"]
    log.info("simulation accuracy: %s", json.dumps(summary))
    if summary["over_tolerance"]:
        log.warning(
            "%d samples stayed above the tolerance %g at max_substeps=%d; raise max_substeps for them",
            summary["over_tolerance"],
            cfg.tolerance,
            cfg.max_substeps,
        )
