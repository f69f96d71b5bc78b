"""The five steps end to end on a small seed-style config, with real norse; artifacts, resuming, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import torch
from kaspix.testing import invoke, plugin_host, run_pipeline
from kaspix_snn import plugin
from kaspix_snn.data import write_idx
from kaspix_snn.testing import SMALL, tiny_images, write_config

PNG = b"\x89PNG\r\n\x1a\n"


def test_small_config_runs_all_five_steps_with_every_artifact(tmp_path: Path, small_config: Path) -> None:
    with plugin_host(plugin, name="snn") as host:
        result = run_pipeline(host, "snn", tmp_path, config_path=small_config)
        shown = invoke(["snn", "inspect", str(result.run.path)])
        (tmp_path / "fake.h5").write_bytes(b"not hdf5")
        refused = invoke(["snn", "inspect", str(tmp_path / "fake.h5")])
    assert shown.exit_code == 0 and "100 images, 8 ticks each" in shown.output and "conv1" in shown.output, shown.output
    assert refused.exit_code == 2 and "not a kaspix-snn recording" in refused.stderr
    assert result.state.status == "completed"
    assert result.state.completed_steps == ["build_network", "record_activity", "prepare_data", "train", "evaluate"]
    art = result.run.artifacts

    network = json.loads((art / "network.json").read_text())
    assert [layer["name"] for layer in network["layers"]] == ["conv1", "pool1"] and network["neurons"] == 8 * 8 * 8
    assert network["inhibition"] == {"enabled": True, "strength": 0.5} and network["input"]["encoding"] == "current"

    with h5py.File(art / "activity_dataset.h5") as f:
        assert f["labels"].shape == (100,) and np.bincount(f["labels"][:]).tolist() == [10] * 10
        assert f["layers/conv1/spikes"].shape == (100, 8, 64) and f["layers/conv1/spikes"].compression == "gzip"
        assert f["layers/conv1/potentials"].shape == (100, 8, 512) and f["images"].shape == (100, 1, 8, 8)
        assert json.loads(f.attrs["metadata"])["dataset_name"] == "tiny" and f.attrs["complete_images"] == 100

    train = torch.load(art / "train_data.pt", weights_only=True)
    test = torch.load(art / "test_data.pt", weights_only=True)
    scaler = torch.load(art / "scaler.pt", weights_only=True)
    assert train["features"].shape == (70, 512 * 4 + 128 * 3) and len(test["labels"]) == 30
    assert np.bincount(train["labels"].numpy()).tolist() == [7] * 10  # stratified
    assert not set(train["rows"].tolist()) & set(test["rows"].tolist())
    assert scaler["mean"].shape == scaler["scale"].shape == (train["features"].shape[1],)
    assert set(torch.load(art / "model.pth", weights_only=True)) >= {"0.mean", "0.scale"}

    history = json.loads((art / "training_metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3] and all({"train_accuracy", "val_accuracy"} <= set(h) for h in history)
    assert json.loads((art / "model.json").read_text())["best_epoch"] in (1, 2, 3)

    summary = json.loads((art / "evaluation_summary.json").read_text())
    assert summary["test_images"] == 20 and 0 <= summary["accuracy"] <= 1
    assert set(summary["per_class"]["3"]) == {"precision", "recall", "f1", "support"}
    assert np.array(summary["confusion_matrix"]).sum() == 20
    assert summary["baseline"]["test_images"] == 20 and "logistic regression" in summary["baseline"]["model"]
    assert summary["think_longer"]["ticks_per_image"] == 16 and "accuracy" in summary["think_longer"]
    assert result.metrics["accuracy"] == summary["accuracy"] and "record/neuron_ticks_per_s" in result.metrics

    plots = {p.name for p in (art / "plots").iterdir()}
    assert plots == {
        "spike_raster.png",
        "firing_rate_hist_by_layer.png",
        "membrane_traces.png",
        "input_images.png",
        "training_curves.png",
        "confusion_matrix.png",
        "confusion_matrix_normalized.png",
        "confusion_matrix_think_longer.png",
    }
    assert all((art / "plots" / name).read_bytes().startswith(PNG) for name in plots)


def test_a_failed_step_resumes_with_a_fix_and_earlier_steps_are_not_redone(tmp_path: Path) -> None:
    images, labels = tiny_images(n_per_class=5)
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    config = {
        **SMALL,
        "data": {"source": "mnist", "path": str(folder)},
        "simulation": {**SMALL["simulation"], "potentials": "none", "images_per_label": None},
        "preparation": {"feature_types": ["avg_S", "first_spike", "layer_rates"], "time_bins": 4},
        "training": {**SMALL["training"], "model": "nope", "val_fraction": 0.0, "patience": None},
        "evaluation": {"think_longer": False},
        "visualizations": {"network_activity": {"enabled": False}},
    }
    path = write_config(tmp_path / "mnist.yaml", config)
    run = tmp_path / "run"
    with plugin_host(plugin, name="snn"):
        failed = invoke(["run", "--plugin", "snn", "-c", str(path), "--out", str(run)])
        assert failed.exit_code == 2 and "model 'nope'" in failed.stderr, failed.stderr
        state = json.loads((run / "run.json").read_text())
        assert state["status"] == "failed" and state["completed_steps"] == ["build_network", "record_activity", "prepare_data"]
        recorded = (run / "artifacts/activity_dataset.h5").stat().st_mtime_ns
        resumed = invoke(["run", "--resume", str(run), "--set", "training.model=mlp"])
    assert resumed.exit_code == 0, resumed.stderr
    assert (run / "artifacts/activity_dataset.h5").stat().st_mtime_ns == recorded
    summary = json.loads((run / "artifacts/evaluation_summary.json").read_text())
    assert summary["test_images"] == 10 and "think_longer" not in summary and summary["data_source"].startswith("mnist")
    assert not (run / "artifacts/plots/spike_raster.png").exists()


def test_an_interrupted_recording_continues_where_it_stopped(tmp_path: Path, small_config: Path) -> None:
    from kaspix.config import load_config
    from kaspix_snn.config import SnnConfig
    from kaspix_snn.data import digits
    from kaspix_snn.record import record_activity

    with plugin_host(plugin, name="snn") as host:
        run_pipeline(host, "snn", tmp_path, config_path=small_config)
    art = tmp_path / "run" / "artifacts"
    config = load_config(SnnConfig, small_config)

    def stop_after_two(batches: range) -> object:
        for index, start in enumerate(batches):
            if index == 2:
                raise KeyboardInterrupt
            yield start

    (art / "activity_dataset.h5").rename(art / "first.h5")
    try:
        record_activity(config, art, digits(), track=stop_after_two)
    except KeyboardInterrupt:
        pass
    with h5py.File(art / "activity_dataset.h5.partial") as partial:
        assert partial.attrs["complete_images"] == 64
    seen = []
    figures = record_activity(config, art, digits(), track=lambda batches: (seen.append(b) or b for b in batches))
    assert seen == [64, 96] and figures["images"] == 100
    with h5py.File(art / "activity_dataset.h5") as resumed, h5py.File(art / "first.h5") as first:
        for name in ("labels", "layers/conv1/spikes", "layers/pool1/spikes", "layers/conv1/potentials"):
            assert np.array_equal(resumed[name][:], first[name][:]), name
