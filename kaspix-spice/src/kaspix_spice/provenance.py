"""What determines a generated sample, so that a resume never mixes old and new samples silently.

The *facts* of a generation are the config (less the fields that only say how shards are run:
workers, executor, cluster address, ``on_stale``), the generator's version, and per circuit the
netlist as parsed (its circuit lines, knobs, ranges and kind, not its comments or line numbers),
the simulator that makes its samples and, where that is ngspice, ngspice's version. Each shard
stores the facts of the circuits it holds (:func:`shard_facts`), so an edited netlist makes
exactly the shards holding that circuit stale, and :func:`describe_change` says what changed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kaspix.fingerprint import fingerprint

from kaspix_spice.config import GenerateConfig
from kaspix_spice.layout import GENERATOR_VERSION

__all__ = ["EXECUTION_FIELDS", "describe_change", "generation_facts", "netlist_digest", "shard_facts"]

#: Fields that change how shards are run, not what they hold: a resume may change them.
EXECUTION_FIELDS = {"workers", "executor", "ray_address", "on_stale"}


def netlist_digest(template: Any) -> str:
    """A fingerprint of a template as parsed: what is simulated, not how the file is laid out."""
    facts = dataclasses.asdict(template)
    facts.pop("path")
    facts.pop("kind_line", None)
    facts["body"] = [text for _number, text in template.body]
    for knob in facts["knobs"]:
        knob.pop("line", None)
        knob.pop("range_source", None)
    return fingerprint(facts)


def generation_facts(cfg: GenerateConfig, templates: list[Any], simulators: list[str], ngspice_version: str | None) -> dict[str, Any]:
    """The facts of a whole generation: config, generator, and per circuit its netlist and simulator."""
    return {
        "config": cfg.model_dump(mode="json", exclude=EXECUTION_FIELDS),
        "generator": GENERATOR_VERSION,
        "circuits": {
            template.name: {
                "netlist": netlist_digest(template),
                "simulator": simulator,
                "ngspice": ngspice_version if simulator == "ngspice" else None,
            }
            for template, simulator in zip(templates, simulators, strict=True)
        },
    }


def shard_facts(facts: dict[str, Any], circuits: set[str]) -> dict[str, Any]:
    """The facts that determine a shard holding samples of ``circuits``."""
    return {**facts, "circuits": {name: facts["circuits"][name] for name in sorted(circuits)}}


def describe_change(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What differs between the facts a shard was made from and today's, in words."""
    if old is None:
        return "it records no provenance (made by an older kaspix-spice, or unreadable)"
    reasons = []
    changed = sorted(k for k in set(old.get("config", {})) | set(new["config"]) if old.get("config", {}).get(k) != new["config"].get(k))
    if changed:
        reasons.append(f"config field(s) {', '.join(changed)} changed")
    if old.get("generator") != new["generator"]:
        reasons.append(f"it was made by {old.get('generator')}, this is {new['generator']}")
    for name, now in new["circuits"].items():
        before = old.get("circuits", {}).get(name)
        if before is None:
            continue
        if before.get("netlist") != now["netlist"]:
            reasons.append(f"the netlist of {name} changed")
        if before.get("simulator") != now["simulator"]:
            reasons.append(f"{name} was simulated by {before.get('simulator')}, now by {now['simulator']}")
        elif before.get("ngspice") != now["ngspice"]:
            reasons.append(f"{name} was simulated by {before.get('ngspice')}, this is {now['ngspice']}")
    return "; ".join(reasons) or "its facts differ"
