"""Tests of the example plugin: the estimator alone, and the pipeline through kaspix."""

import pytest
from kaspix.testing import invoke, plugin_host, run_pipeline
from kaspix_example_rc import plugin
from kaspix_example_rc.rc import fit_time_constant, step_response


def test_fit_recovers_tau_without_noise() -> None:
    times = [i / 48_000 for i in range(200)]
    assert fit_time_constant(times, step_response(1e-3, times)) == pytest.approx(1e-3, rel=1e-9)


def test_pipeline_runs_and_records_metrics(tmp_path) -> None:
    with plugin_host(plugin, name="rcfit") as host:
        result = run_pipeline(host, "rc-fit", tmp_path, overrides=["noise=0.001"])
    assert result.state.status == "completed"
    assert result.metrics["tau_relative_error"] < 0.02
    assert (result.run.artifacts / "fit.json").is_file()


def test_bad_config_is_a_clear_cli_error(tmp_path) -> None:
    with plugin_host(plugin, name="rcfit"):
        result = invoke(["run", "--plugin", "rcfit", "--set", "n_samples=one", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "field 'n_samples'" in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.integration
def test_with_a_part_of_another_plugin(tmp_path) -> None:
    pytest.importorskip("kaspix_spice")
    torch = pytest.importorskip("torch")
    with plugin_host(plugin, name="rcfit", with_installed=["spice"]) as host:
        esr = host.parts.losses.build("spice:esr")
        result = run_pipeline(host, "rc-fit", tmp_path, overrides=["noise=0"])
    assert host.plugins["spice"].ok and host.plugins["rcfit"].ok
    assert result.metrics["tau_relative_error"] < 1e-6
    target = torch.ones(1, 8)
    assert float(esr(target, target)) == 0.0
    assert float(esr(torch.zeros(1, 8), target)) == pytest.approx(1.0, rel=1e-6)
