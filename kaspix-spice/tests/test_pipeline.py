"""The ``spice`` pipeline end to end on a tiny config, with a resume."""

from __future__ import annotations

import json

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
        "generate/samples",
    ):
        assert key in metrics, sorted(metrics)
    evaluation = run / "artifacts" / "evaluation"
    assert (evaluation / "waveform_rc_lowpass.png").stat().st_size > 1000
    assert (evaluation / "response_rc_lowpass.png").stat().st_size > 1000
    assert (run / "artifacts" / "model.pt").is_file()


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
