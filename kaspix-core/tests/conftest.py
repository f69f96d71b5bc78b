"""Shared fixtures: real plugin distributions written to a temporary folder on PYTHONPATH."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

KASPIX = [sys.executable, "-m", "kaspix"]


def write_distribution(root: Path, dist: str, plugins: dict[str, str], modules: dict[str, str]) -> None:
    """Write modules and a ``*.dist-info`` whose entry points make them kaspix plugins.

    ``plugins`` maps plugin name to module name; ``modules`` maps module name to source.
    importlib.metadata finds the distribution on sys.path exactly as it finds pip-installed ones.
    """
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    entry_points = "[kaspix]\n" + "".join(f"{name} = {module}\n" for name, module in plugins.items())
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def plugin_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Return a function that installs a plugin distribution and gives the env to see it."""
    site = tmp_path / "site"
    site.mkdir()

    def install(dist: str, plugins: dict[str, str], modules: dict[str, str]) -> dict[str, str]:
        write_distribution(site, dist, plugins, modules)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
        env.pop("KASPIX_STRICT_PLUGINS", None)
        env.pop("KASPIX_DISABLE_PLUGINS", None)
        return env

    return install


@pytest.fixture
def kaspix_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Return a function that runs the real ``kaspix`` CLI in a subprocess."""

    def run(
        args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(KASPIX + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)

    return run
