"""The ``spice`` pipeline end to end on a tiny config: per-circuit and per-start scores, other models, reproducibility."""

from __future__ import annotations

import json

from kaspix.runner import resume_run
from kaspix.testing import plugin_host, run_pipeline
from kaspix_spice import plugin

TINY = [
    "generate.circuits=[rc_lowpass, diode_clipper]",
    "generate.settings_per_circuit=3",
    "generate.clips_per_setting=1",
    "generate.clip_seconds=0.03",
    "generate.workers=1",
    "train.epochs=3",
    "train.batch_size=2",
    "train.model_args={modes: 4, channels: 4, layers: 1}",
    "train.threads=1",  # as OMP_NUM_THREADS=1 in the test runs: more threads than free cores make small ops crawl
]


def test_pipeline_runs_and_reports_per_circuit(tmp_path) -> None:
    with plugin_host(plugin, name="spice") as host:
        result = run_pipeline(host, "spice", tmp_path, overrides=TINY)
    assert result.state.status == "completed", result
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    for key in (
        "test/esr",
        "test/lsd_db",
        "test/rc_lowpass/esr",
        "test/rc_lowpass/freq_error_hz",
        "test/diode_clipper/mae",
        "test/fade_in/esr",
        "test/no_fade_in/lsd_db",
        "test/no_fade_in/diode_clipper/esr",
        "generate/samples",
        "train/time_capped",
    ):
        assert key in metrics, sorted(metrics)
    evaluation = run / "artifacts" / "evaluation"
    assert (evaluation / "waveform_rc_lowpass.png").stat().st_size > 1000
    assert (evaluation / "response_rc_lowpass.png").stat().st_size > 1000
    assert (run / "artifacts" / "model.pt").is_file()
    assert metrics["train/time_capped"] == 0
    evaluation_json = json.loads((evaluation / "evaluation.json").read_text())
    assert evaluation_json["starts"]["no_fade_in"]["per_circuit"]["rc_lowpass"]["clips"] == 1
    assert "no_fade_in" in result.run.log_path.read_text()  # the per-circuit table


def test_two_runs_of_one_config_give_identical_metrics(tmp_path) -> None:
    """The budget is a number of epochs and the schedule follows steps: machine load changes nothing.

    The process's thread count differs between the runs (as when an earlier step set
    ``OMP_NUM_THREADS``); ``train.threads`` fixes the one training and evaluation use.
    """
    import torch

    overrides = [*TINY, "generate.circuits=[cr_highpass]", "probe_responses=false", "train.threads=2"]
    scores = []
    ambient = torch.get_num_threads()
    for name, threads in (("first", 1), ("second", 3)):
        torch.set_num_threads(threads)
        with plugin_host(plugin, name="spice") as host:
            result = run_pipeline(host, "spice", tmp_path / name, overrides=overrides)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(ambient)
        assert result.state.status == "completed", result
        metrics = json.loads((tmp_path / name / "run" / "metrics.json").read_text())
        scores.append({k: v for k, v in metrics.items() if k.startswith("test/") or k in ("train/best_val_loss", "train/epochs")})
    assert scores[0] == scores[1]
    assert scores[0]["train/epochs"] == 3


def test_a_resume_with_another_budget_trains_afresh(tmp_path) -> None:
    """Checkpoints of another train config are not continued (they would end at their own epoch 3)."""
    overrides = [*TINY, "generate.circuits=[cr_highpass]", "probe_responses=false", "score_starts=false"]
    with plugin_host(plugin, name="spice") as host:
        assert run_pipeline(host, "spice", tmp_path, overrides=overrides).state.status == "completed"
        resumed = resume_run(host, tmp_path / "run", ["train.epochs=2"], from_step="train")
    assert resumed.state.status == "completed", resumed
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["train/epochs"] == 2
    assert "training from scratch" in resumed.run.log_path.read_text()


def test_other_models_and_losses_by_name(tmp_path) -> None:
    overrides = [
        *TINY,
        "generate.circuits=[cr_highpass]",
        "train.model=film_gru",
        "train.model_args={hidden: 8}",
        "train.segment=480",
        "train.loss_args={warmup: 64}",
        "train.schedule=constant",
        "train.loss=esr_dc",
        "train.epochs=1",
        "probe_responses=false",
    ]
    with plugin_host(plugin, name="spice") as host:
        result = run_pipeline(host, "spice", tmp_path, overrides=overrides)
    assert result.state.status == "completed", result
    assert "test/esr" in json.loads((tmp_path / "run" / "metrics.json").read_text())
