"""Sharded, resumable dataset generation: plan samples, simulate shards in worker processes, merge.

* :func:`plan` turns a :class:`GenerateConfig` into a fixed list of samples (circuit, knob setting,
  excitation seed); the same config always gives the same plan.
* Samples are cut into shards of ``shard_size``; each shard is simulated by one worker (its own
  ngspice) and written atomically to ``shards/shard_NNNNN.h5``. A rerun skips finished shards, so
  killing the generation loses at most the shards in flight.
* A sample whose simulation fails is logged with its parameters, recorded in the shard's
  ``failed`` list and skipped.
* :func:`merge` concatenates the shards into one HDF5 dataset (see :mod:`kaspix_spice.dataset`).
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

from kaspix_spice.config import GenerateConfig
from kaspix_spice.layout import shard_path

#: Fields that change how shards are run, not what they hold: a resume may change them.
EXECUTION_FIELDS = {"workers", "executor", "ray_address"}
log = logging.getLogger("kaspix.spice")


@dataclass(frozen=True)
class SampleSpec:
    """One planned sample: everything a worker needs to simulate it."""

    index: int
    circuit_id: int
    circuit: str
    path: str
    setting_id: int
    knobs: dict[str, float]
    clip_seed: int


def load_templates(cfg: GenerateConfig) -> list[Any]:
    """The configured templates, checked (raises :class:`KaspixError` on any rule broken)."""
    from kaspix_spice.netlist import load_template, resolve_circuit

    templates = []
    for name in cfg.circuits:
        path = resolve_circuit(name)
        templates.append(load_template(path, cfg.knob_ranges.get(path.stem) or cfg.knob_ranges.get(name)))
    return templates


def plan(cfg: GenerateConfig) -> list[SampleSpec]:
    """Every sample to simulate, in a fixed order, drawn from ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    specs: list[SampleSpec] = []
    setting = 0
    for circuit_id, template in enumerate(load_templates(cfg)):
        for _ in range(cfg.settings_per_circuit):
            values = {k.name: k.denormalize(float(rng.random())) for k in template.knobs}
            for _ in range(cfg.clips_per_setting):
                clip_seed = int(rng.integers(0, 2**31 - 1))
                specs.append(SampleSpec(len(specs), circuit_id, template.name, str(template.path), setting, values, clip_seed))
            setting += 1
    return specs


def shards(specs: list[SampleSpec], size: int) -> list[list[SampleSpec]]:
    """``specs`` cut into consecutive shards of ``size``."""
    return [specs[i : i + size] for i in range(0, len(specs), size)]


def simulate_template(template: Any, knobs: dict[str, float], x: np.ndarray, cfg: GenerateConfig) -> Any:
    """Simulate ``x`` through ``template`` at ``knobs`` with the config's accuracy settings."""
    from kaspix_spice.simulate import simulate_to_tolerance

    return simulate_to_tolerance(
        lambda substeps: template.render(knobs, step=1.0 / (cfg.fs * substeps), stop=(len(x) - 1) / cfg.fs),
        x,
        cfg.fs,
        substeps=cfg.substeps,
        tolerance=cfg.tolerance,
        max_substeps=cfg.max_substeps,
        timeout_s=cfg.timeout_s,
    )


def simulate_shard(payload: dict[str, Any]) -> dict[str, Any]:
    """Simulate one shard and write it atomically (runs in a worker process).

    Args:
        payload: ``{"shard", "out_dir", "specs", "config"}`` (plain data, picklable).

    Returns:
        ``{"shard", "ok", "failed": [{index, circuit, knobs, error}], "seconds"}``.
    """
    from kaspix_spice.dataset import write_shard
    from kaspix_spice.excitation import make_clip
    from kaspix_spice.netlist import load_template
    from kaspix_spice.simulate import SimulationError

    os.environ["OMP_NUM_THREADS"] = "1"
    cfg = GenerateConfig.model_validate(payload["config"])
    n = round(cfg.clip_seconds * cfg.fs)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    templates: dict[str, Any] = {}
    for raw in payload["specs"]:
        spec = SampleSpec(**raw)
        template = templates.get(spec.path) or load_template(spec.path, cfg.knob_ranges.get(spec.circuit))
        templates[spec.path] = template
        x, recipe = make_clip(cfg.recipes, n, cfg.fs, spec.clip_seed, cfg.fade_in_ms)
        try:
            result = simulate_template(template, spec.knobs, x, cfg)
            y = result.y
            if not np.all(np.isfinite(y)):
                raise SimulationError("the output holds NaN or inf")
        except SimulationError as exc:
            failed.append({"index": spec.index, "circuit": spec.circuit, "knobs": spec.knobs, "recipe": recipe, "error": str(exc)})
            continue
        rows.append(
            {
                "spec": spec,
                "x": x,
                "y": y,
                "recipe": recipe,
                "knobs": template.knobs,
                "substeps": result.substeps,
                "error_estimate": result.error_estimate,
            }
        )
    write_shard(shard_path(Path(payload["out_dir"]), payload["shard"]), rows, failed)
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


def generate(cfg: GenerateConfig, out_dir: str | Path, *, progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None) -> Path:
    """Simulate every missing shard, then merge all shards into ``out_dir/dataset.h5``.

    Rerunning with the same config continues where an interrupted run stopped; a different
    config in the same folder is refused.

    Returns:
        The path of the merged dataset.
    """
    from kaspix.atomic import atomic_write_json

    from kaspix_spice.dataset import merge_shards

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config_json = cfg.model_dump(mode="json")
    identity = cfg.model_dump(mode="json", exclude=EXECUTION_FIELDS)
    stamp = out_dir / "generate_config.json"
    if stamp.is_file() and json.loads(stamp.read_text()) != identity:
        raise KaspixError(
            "this folder holds shards of a different generation config",
            where=str(out_dir),
            hint="use a new output folder, or delete its shards/ and generate_config.json",
        )
    atomic_write_json(stamp, identity)
    specs = plan(cfg)
    all_shards = shards(specs, cfg.shard_size)
    payloads = [
        {"shard": i, "out_dir": str(out_dir), "specs": [asdict(s) for s in chunk], "config": config_json}
        for i, chunk in enumerate(all_shards)
        if not shard_path(out_dir, i).is_file()
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
    path = merge_shards(out_dir, len(all_shards), load_templates(cfg), cfg)
    summary = accuracy_summary(path, cfg.tolerance)
    log.info("simulation accuracy: %s", json.dumps(summary))
    if summary["over_tolerance"]:
        log.warning(
            "%d samples stayed above the tolerance %g at max_substeps=%d; raise max_substeps for them",
            summary["over_tolerance"],
            cfg.tolerance,
            cfg.max_substeps,
        )
    return path


def accuracy_summary(path: Path, tolerance: float) -> dict[str, Any]:
    """Substeps used and estimated errors (relative to output RMS) over a merged dataset."""
    import h5py

    with h5py.File(path, "r") as f:
        substeps, errors = f["substeps"][()], f["error_estimate"][()]
    known = errors[np.isfinite(errors)]
    return {
        "substeps_mean": round(float(np.mean(substeps)), 3),
        "substeps_max": int(np.max(substeps)),
        "error_estimate_max": float(np.max(known)) if len(known) else None,
        "over_tolerance": int(np.sum(known > tolerance)),
    }
