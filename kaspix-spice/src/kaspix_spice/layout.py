"""Where generated data lives and which generator made it: shared by generation and the dataset files."""

from __future__ import annotations

from pathlib import Path

__all__ = ["GENERATOR_VERSION", "shard_path"]

#: Recorded in every dataset; part of the fingerprint of a generation.
GENERATOR_VERSION = "kaspix-spice 0.4.0"


def shard_path(out_dir: Path, shard: int) -> Path:
    """Where shard number ``shard`` is written."""
    return out_dir / "shards" / f"shard_{shard:05d}.h5"
