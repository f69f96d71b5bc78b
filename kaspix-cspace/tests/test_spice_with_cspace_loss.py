"""Any plugin can train with the ``cspace`` loss by name: the spice emulator with ``train.loss=cspace``."""

from __future__ import annotations

import json

import pytest
from kaspix.testing import plugin_host, run_pipeline
from kaspix_cspace import plugin

pytestmark = pytest.mark.integration
pytest.importorskip("kaspix_spice")

TINY = [
    "generate.circuits=[rc_lowpass]",
    "generate.settings_per_circuit=3",
    "generate.clips_per_setting=1",
    "generate.clip_seconds=0.02",
    "generate.workers=1",
    "train.epochs=2",
    "train.batch_size=2",
    "train.model_args={modes: 4, channels: 4, layers: 1}",
    "train.loss=cspace",
    "train.loss_args={sample_rate: 48000, n_oscillators: 16, hop: 4}",
    "probe_responses=false",
]


def test_spice_emulator_trains_with_the_cspace_loss(tmp_path) -> None:
    with plugin_host(plugin, name="cspace", with_installed=["spice"]) as host:
        assert host.parts.losses.get("cspace").plugin == "cspace"
        result = run_pipeline(host, "spice", tmp_path, overrides=TINY)
    assert result.state.status == "completed", result
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0 < metrics["train/best_val_loss"] < float("inf") and metrics["train/epochs"] == 2
    assert metrics["test/esr"] < 1.0  # better than predicting silence
