"""Developer sessions: `nox -s tests`, `nox -s demo`, `nox -s lint`, `nox -s benchmarks`, `nox -s wheels`.

`tests`, `demo` and `benchmarks` use the project's `.venv` made by scripts/setup.sh (torch is a
4 GB install: one copy is enough); `lint` and `wheels` get their own small environments.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON_PACKAGES = ["kaspix-core", "kaspix-spice", "kaspix-snn", "kaspix-circuitgen", "kaspix-cspace", "examples/kaspix-example-rc"]
RUST_PACKAGE = "kaspix-esn-rs"

nox.options.sessions = ["lint", "tests"]


def _setup(session: nox.Session) -> None:
    session.run("bash", str(ROOT / "scripts" / "setup.sh"), external=True)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Set up, then the full suite (Rust tests, packages installed alone, pytest)."""
    _setup(session)
    session.run("bash", str(ROOT / "scripts" / "test.sh"), *session.posargs, external=True)


@nox.session(python=False)
def demo(session: nox.Session) -> None:
    """Set up, then run the main job on its embedded defaults."""
    _setup(session)
    plugin = session.posargs[0] if session.posargs else "cspace"
    session.run(str(VENV_BIN / "kaspix"), "run", "--plugin", plugin, external=True)


@nox.session(python=False)
def benchmarks(session: nox.Session) -> None:
    """Set up, then run every benchmark script (each prints JSON)."""
    _setup(session)
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        session.run(str(VENV_BIN / "python"), str(script), *session.posargs, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over every Python file."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def wheels(session: nox.Session) -> None:
    """Build wheels and sdists of every package into dist/ (maturin for the Rust package)."""
    session.install("build>=1.0", "maturin>=1.9.4,<2")
    out = str(ROOT / "dist")
    for package in PYTHON_PACKAGES:
        if (ROOT / package / "pyproject.toml").is_file():
            session.run("python", "-m", "build", "--outdir", out, str(ROOT / package))
    if (ROOT / RUST_PACKAGE / "Cargo.toml").is_file():
        session.run("maturin", "build", "--release", "--out", out, "-m", str(ROOT / RUST_PACKAGE / "Cargo.toml"))
