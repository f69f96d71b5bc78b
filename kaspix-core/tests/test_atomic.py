"""Atomic writes: readers never see half a file, a failed write leaves the old one, no temporaries stay."""

from __future__ import annotations

import os
import stat

import pytest
from kaspix.atomic import atomic_path, atomic_write_json


def test_atomic_path_renames_on_success_with_umask_permissions(tmp_path) -> None:
    target = tmp_path / "sub" / "data.bin"
    old = os.umask(0o027)
    try:
        with atomic_path(target) as tmp:
            assert tmp.parent == target.parent and tmp != target
            tmp.write_bytes(b"new")
            assert not target.exists()
    finally:
        os.umask(old)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["data.bin"]


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path) -> None:
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="writer crashed"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer crashed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_atomic_write_json_round_trips(tmp_path) -> None:
    path = atomic_write_json(tmp_path / "a.json", {"b": 1, "a": [1.5]})
    assert path.read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'
