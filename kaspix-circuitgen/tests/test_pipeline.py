"""The default pipeline on a tiny config, and what importing the plugin costs and needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kaspix.testing import invoke, plugin_host, run_pipeline
from kaspix_circuitgen import plugin

TINY = [
    "data.per_family=40",
    "train.epochs=2",
    "baseline.epochs=2",
    "train.hidden=64",
    "train.latent=32",
    "evaluate.fit_steps=2",
    "design.specs=6",
    "design.budget=16",
    "design.ngspice_checks=1",
]


def test_pipeline_runs_and_writes_the_side_by_side_table(tmp_path) -> None:
    with plugin_host(plugin, name="circuitgen", with_installed=["spice"]) as host:
        result = run_pipeline(host, "circuitgen", tmp_path, overrides=TINY)
    assert result.state.status == "completed", result.state.error
    artifacts = tmp_path / "run" / "artifacts"
    table = (artifacts / "evaluation" / "table.md").read_text()
    for column in ("fixed 2+2 (seed)", "set decoder", "analytic", "analytic + fit"):
        assert column in table
    for plot in ("pole_zero_maps.png", "response_overlays.png", "topology_confusion.png", "training_curves.png"):
        assert (artifacts / "evaluation" / plot).stat().st_size > 10_000
    generation = json.loads((artifacts / "generation" / "generation.json").read_text())
    assert generation["specs"] == 6 and generation["design"]["netlist_valid"] == 1.0
    assert generation["design"]["right_type"] == 1.0
    assert "## Targets" in (artifacts / "report.md").read_text()
    metrics = result.metrics
    assert metrics["test/fixed_2+2_(seed)/pole_count_accuracy"] < 0.6  # always 2 poles: only the 2-pole families
    assert 0 <= metrics["test/set_decoder/topology_accuracy"] <= 1 and "generation/design/within_5pct" in metrics


def test_bad_config_is_a_clear_cli_error(tmp_path) -> None:
    with plugin_host(plugin, name="circuitgen"):
        result = invoke(["run", "--plugin", "circuitgen", "--set", "design.series=E7", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "design.series" in result.stderr


def test_importing_needs_neither_torch_nor_ngspice() -> None:
    code = "import sys, kaspix_circuitgen.plugin, kaspix_circuitgen.design, kaspix_circuitgen.analyze;print('torch' in sys.modules)"
    env = {**os.environ, "PATH": os.path.dirname(sys.executable), "NGSPICE_LIBRARY_PATH": "/nonexistent"}
    light = subprocess.run(
        [sys.executable, "-c", "import sys, kaspix_circuitgen.plugin; print('torch' in sys.modules, 'numpy' in sys.modules)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert light.stdout.split() == ["False", "False"]
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert heavy.stdout.strip() == "False"


def test_design_without_ngspice_says_the_check_was_skipped(monkeypatch) -> None:
    import kaspix_spice.ac

    monkeypatch.setattr(kaspix_spice.ac.shutil, "which", lambda _name: None)
    with plugin_host(plugin, name="circuitgen", with_installed=["spice"]):
        result = invoke(["circuitgen", "design", "--type", "highpass", "--fc", "300", "--family", "cr_highpass"])
    assert result.exit_code == 0
    assert "ngspice AC check: skipped, ngspice is not installed" in result.output
