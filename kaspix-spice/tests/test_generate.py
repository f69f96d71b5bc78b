"""Sharded generation with real ngspice workers: failures skipped, resume, HDF5 layout, .pt export, splits."""

from __future__ import annotations

import json
import logging

import h5py
import numpy as np
import pytest
import torch
from kaspix import KaspixError
from kaspix_spice.config import GenerateConfig, Recipe
from kaspix_spice.dataset import SpiceDataset, export_pt, read_metadata, split_settings
from kaspix_spice.generate import generate, load_templates, plan
from kaspix_spice.layout import shard_path

# a knob range reaching negative resistance: those samples blow up in ngspice and must be skipped
FRAGILE = "* fragile\n* kind: lowpass\n.param R_x=1k ; range -2k..2k lin\nVin input 0 DC 0\nR1 input output {R_x}\nC1 output 0 10n\n.end\n"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    fragile = folder / "fragile.cir"
    fragile.write_text(FRAGILE)
    cfg = GenerateConfig(
        circuits=["rc_lowpass", "diode_clipper", str(fragile)],
        settings_per_circuit=4,
        clips_per_setting=2,
        clip_seconds=0.02,
        shard_size=5,
        workers=2,
        recipes=[Recipe(kind="pink"), Recipe(kind="chirp")],
        knob_ranges={"fragile": {"R_x": (-2e3, 2e3)}},
    )
    out = folder / "data"
    return cfg, out, generate(cfg, out)


def test_dataset_layout(generated) -> None:
    cfg, _out, path = generated
    meta = read_metadata(path)
    with h5py.File(path, "r") as f:
        n = f["audio_in"].shape[0]
        assert f["audio_in"].shape == f["audio_out"].shape == (n, 960)
        assert f["knobs"].shape == f["knob_mask"].shape == f["knobs_physical"].shape == (n, 3)
        mask, knobs = f["knob_mask"][()], f["knobs"][()]
        assert np.all(knobs[~mask] == 0) and np.all((knobs[mask] >= 0) & (knobs[mask] <= 1))
        cid = f["circuit_id"][()]
        assert np.all(mask[cid == 0].sum(1) == 2) and np.all(mask[cid == 1].sum(1) == 3)
        assert set(f["netlist_origin"][()].astype(str)) <= {"rc_lowpass.cir", "diode_clipper.cir", "fragile.cir"}
        assert json.loads(f["recipe"][0])["kind"] in ("pink", "chirp")
        assert np.all(np.isfinite(f["audio_out"][()]))
        substeps, errors, simulator = f["substeps"][()], f["error_estimate"][()], f["simulator"][()].astype(str)
        assert substeps.shape == errors.shape == simulator.shape == (n,)
        assert set(simulator[cid == 0]) == {"mna"} and set(simulator[cid == 1]) == {"ngspice"}, (
            "linear circuits run exactly, the rest in ngspice"
        )
        spice = simulator == "ngspice"
        assert set(substeps[spice]) <= {2, 4, 8, 16} and np.all(substeps[~spice] == 0) and np.all(errors[~spice] == 0)
        assert np.all(np.isfinite(errors)) and np.all((errors <= cfg.tolerance) | (substeps == cfg.max_substeps))
    assert meta["circuit_mapping"] == {"0": "rc_lowpass.cir", "1": "diode_clipper.cir", "2": "fragile.cir"}
    assert meta["fs"] == cfg.fs and meta["n_samples_total"] == n * 960
    assert meta["knob_names"]["diode_clipper"] == ["Drive", "R_clip", "C_clip"]
    assert meta["generator_version"] and json.loads(json.dumps(meta["config"]))["shard_size"] == 5
    accuracy = meta["accuracy"]
    assert accuracy["mna_samples"] + accuracy["ngspice_samples"] == n and accuracy["ngspice_samples"] == int(np.sum(spice))


def test_failed_samples_are_logged_and_skipped(generated) -> None:
    cfg, _out, path = generated
    meta = read_metadata(path)
    planned = len(plan(cfg, load_templates(cfg)))
    failed = meta["failed"]
    with h5py.File(path, "r") as f:
        kept = f["audio_in"].shape[0]
    assert failed and kept + len(failed) == planned
    for failure in failed:
        assert failure["circuit"] == "fragile" and failure["error"] and "knobs" in failure


def test_resume_recomputes_only_missing_shards(generated, caplog) -> None:
    cfg, out, _path = generated
    first, second = shard_path(out, 0), shard_path(out, 1)
    stamp = second.stat().st_mtime_ns
    first.unlink()
    with caplog.at_level(logging.INFO, logger="kaspix.spice"):
        generate(cfg.model_copy(update={"workers": 1}), out)
    assert first.is_file() and second.stat().st_mtime_ns == stamp
    assert "already done" in caplog.text


def test_other_config_in_same_folder_is_refused(generated) -> None:
    cfg, out, _path = generated
    with pytest.raises(KaspixError, match=r"made from other inputs: config field\(s\) seed changed"):
        generate(cfg.model_copy(update={"seed": 99}), out)


def test_export_pt_loads_with_weights_only(generated, tmp_path) -> None:
    _cfg, _out, path = generated
    target = export_pt(path, tmp_path / "data.pt")
    data = torch.load(target, weights_only=True)
    assert len(data["x"]) == len(data["y"]) > 0
    item = data["x"][0]
    assert set(item) == {"audio_in", "knobs", "circuit_id", "netlist_origin"}
    assert item["audio_in"].shape == data["y"][0].shape == (960,) and item["knobs"].shape == (3,)
    assert data["metadata"]["circuit_mapping"][0] == "rc_lowpass.cir" and data["metadata"]["fs"] == 48_000.0


def test_splits_never_share_a_knob_setting(generated) -> None:
    _cfg, _out, path = generated
    with h5py.File(path, "r") as f:
        cid, sid, physical = f["circuit_id"][()], f["setting_id"][()], f["knobs_physical"][()]
    splits = split_settings(cid, sid, val_fraction=0.25, test_fraction=0.25, seed=0)
    keys = {name: {tuple(physical[i]) for i in rows} for name, rows in splits.items()}
    assert not (keys["train"] & keys["val"]) and not (keys["train"] & keys["test"]) and not (keys["val"] & keys["test"])
    assert sum(len(r) for r in splits.values()) == len(cid)
    train = SpiceDataset(path, "train", segment=480, val_fraction=0.25, test_fraction=0.25)
    x, knobs, circuit, y = train[0]
    assert x.shape == y.shape == (480, 1) and knobs.shape == (3,) and circuit.dtype == torch.int64
    assert len(train) == 2 * len(splits["train"])


def test_a_supply_driven_template_makes_a_knob_to_waveform_dataset(buck_converter, tmp_path) -> None:
    """excitation: template: the buck converter's own supply and gate drive it; each knob setting gives its output transient."""
    cfg = GenerateConfig(
        circuits=[str(buck_converter)],
        excitation="template",
        settings_per_circuit=3,
        shard_size=2,
        workers=1,
        knob_ranges={"buck": {"D": (0.3, 0.7), "V_in_val": (10.0, 14.0)}},
    )
    path = generate(cfg, tmp_path / "buck")
    meta = read_metadata(path)
    assert meta["fs"] == pytest.approx(1e7) and meta["circuit_kinds"] == {"buck": "other"}
    with h5py.File(path) as f:
        out, physical = f["audio_out"][()], f["knobs_physical"][()]
        assert out.shape == (3, 10001) and np.all(f["audio_in"][()] == 0)
        assert set(f["simulator"][()].astype(str)) == {"ngspice"} and json.loads(f["recipe"][0])["kind"] == "template"
    names = meta["knob_names"]["buck"]
    duty, v_in = physical[:, names.index("D")], physical[:, names.index("V_in_val")]
    np.testing.assert_allclose(out[:, -2000:].mean(axis=1), duty * v_in, rtol=0.1)  # D * Vin, less the diode's drop
    with pytest.raises(KaspixError, match="driven by its own sources"):
        generate(cfg.model_copy(update={"simulator": "mna"}), tmp_path / "mna")
