"""Shared fixtures: the ``kaspix cspace`` commands run in-process with the plugin loaded."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kaspix.testing import invoke, plugin_host
from kaspix_cspace import plugin


@pytest.fixture(scope="session")
def run() -> Callable[..., tuple[int, str]]:
    """``run("search", ...)`` runs ``kaspix cspace search ...`` and returns ``(exit code, output)``."""

    def run_command(*args: str) -> tuple[int, str]:
        with plugin_host(plugin, name="cspace"):
            result = invoke(["cspace", *args])
        return result.exit_code, result.output

    return run_command


@pytest.fixture(scope="session")
def run_json(run: Callable[..., tuple[int, str]]) -> Callable[..., dict]:
    """``run_json("search", ...)`` runs the command with ``--json``, checks it succeeded and returns the JSON."""

    def run_command(*args: str) -> dict:
        code, output = run(*args, "--json")
        assert code == 0, output
        return json.loads(output[output.index("{") :])

    return run_command
