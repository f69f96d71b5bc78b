"""Fingerprints of the facts that determine a result, so that stale results are never reused silently."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["fingerprint"]


def fingerprint(facts: Any, *, length: int = 64) -> str:
    """A hex SHA-256 of ``facts`` written as canonical JSON (sorted keys, no whitespace).

    Equal facts give equal fingerprints in every process and on every machine; dicts compare by
    content, not by insertion order. Values JSON cannot write (paths, numpy scalars) are written
    with ``str``.

    Args:
        facts: Everything that determines the result (configs as ``model_dump(mode="json")``,
            versions, file digests).
        length: How many hex digits to keep (64: all of them).
    """
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
