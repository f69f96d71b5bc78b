"""The set-up's Rust toolchain check: an old cargo (Debian 12's 1.65) is said plainly, before any build."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
MANIFEST = REPO / "kaspix-esn-rs" / "Cargo.toml"

pytestmark = pytest.mark.skipif(not (SCRIPTS / "rust_toolchain.sh").is_file(), reason="needs the repository's scripts/")


def fake_cargo(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cargo = folder / "cargo"
    cargo.write_text(f"#!/bin/sh\necho 'cargo {version} (fake 2022-09-20)'\n")
    cargo.chmod(0o755)
    return cargo


def isolated_env(tmp_path: Path, path: Path) -> dict[str, str]:
    """No rustup toolchain in HOME and only ``path`` plus the system folders on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "CARGO"}
    env.update(HOME=str(tmp_path / "home"), PATH=f"{path}:/usr/bin:/bin")
    return env


def find_cargo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = f'source "{SCRIPTS / "rust_toolchain.sh"}" && kaspix_find_cargo "{MANIFEST}"'
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)


def test_an_old_cargo_is_refused_with_what_to_do(tmp_path: Path) -> None:
    fake_cargo(tmp_path / "old", "1.65.0")
    result = find_cargo(isolated_env(tmp_path, tmp_path / "old"))
    assert result.returncode == 1 and result.stdout == ""
    assert "needs Rust 1.86 or newer" in result.stderr
    assert f"found only: {tmp_path / 'old' / 'cargo'} 1.65.0" in result.stderr
    assert "rustup" in result.stderr and "CARGO=" in result.stderr


def test_a_new_enough_cargo_is_chosen_over_an_old_one(tmp_path: Path) -> None:
    fake_cargo(tmp_path / "old", "1.65.0")
    new = fake_cargo(tmp_path / "home" / ".cargo" / "bin", "1.90.1")
    result = find_cargo(isolated_env(tmp_path, tmp_path / "old"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(new)


def test_setup_stops_at_once_on_an_old_cargo(tmp_path: Path) -> None:
    fake_cargo(tmp_path / "old", "1.65.0")
    result = subprocess.run(
        ["bash", str(SCRIPTS / "setup.sh")], env=isolated_env(tmp_path, tmp_path / "old"), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "needs Rust 1.86 or newer" in result.stderr
    assert "[setup] installing" not in result.stdout  # nothing was installed or built first
