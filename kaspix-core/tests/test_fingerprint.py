"""Fingerprints: content-equal facts agree, any change differs."""

from __future__ import annotations

from pathlib import Path

from kaspix.fingerprint import fingerprint


def test_fingerprint_ignores_key_order_and_sees_every_change() -> None:
    facts = {"config": {"fs": 48000.0, "seed": 0}, "netlist": ["R1 in out 1k"], "where": Path("a.cir")}
    same = {"where": Path("a.cir"), "netlist": ["R1 in out 1k"], "config": {"seed": 0, "fs": 48000.0}}
    assert fingerprint(facts) == fingerprint(same) and len(fingerprint(facts)) == 64
    assert fingerprint(facts) != fingerprint({**facts, "netlist": ["R1 in out 1.1k"]})
    assert fingerprint(facts, length=16) == fingerprint(facts)[:16]
