"""A generation folder never mixes samples of other inputs: edited netlists, failed runs, other configs."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from kaspix import KaspixError
from kaspix_spice.config import GenerateConfig, Recipe
from kaspix_spice.dataset import read_metadata
from kaspix_spice.generate import generate
from kaspix_spice.layout import shard_path

RC = "* rc\n.param R_cut=4.7k\n.param C_cut=10n\nVin input 0 DC 0\nR1 input output {R_cut}\nC1 output 0 {C_cut}\nRLoad output 0 1Meg\n"
CR = "* cr\n.param R_hp=10k\nVin input 0 DC 0\nC1 input output 100n\nR1 output 0 {R_hp}\n.end\n"


def _config(*circuits: str, **changes) -> GenerateConfig:
    fields = {
        "circuits": list(circuits),
        "settings_per_circuit": 2,
        "clip_seconds": 0.005,
        "shard_size": 1,
        "workers": 1,
        "recipes": [Recipe(kind="pink")],
    }
    return GenerateConfig(**{**fields, **changes})


def _mtimes(out, count: int) -> list[int]:
    return [shard_path(out, i).stat().st_mtime_ns for i in range(count)]


def test_an_edited_netlist_is_refused_then_regenerated_alone(write_cir, tmp_path) -> None:
    rc, cr = write_cir(RC, "rc.cir"), write_cir(CR, "cr.cir")
    cfg, out = _config(str(rc), str(cr)), tmp_path / "data"
    first = generate(cfg, out)
    with h5py.File(first) as f:
        before, made_by = f["audio_out"][()], f.attrs["fingerprint"]
    mtimes = _mtimes(out, 4)
    rc.write_text(RC.replace("RLoad output 0 1Meg", "RLoad output 0 1k"))
    shard_path(out, 3).unlink()
    with pytest.raises(KaspixError, match=r"2 of the 4 shards .* the netlist of rc changed \(shard 0-1\)") as caught:
        generate(cfg, out)
    assert "--regenerate" in caught.value.hint
    assert _mtimes(out, 3) == mtimes[:3], "a refused resume touches nothing"

    path = generate(cfg.model_copy(update={"on_stale": "regenerate"}), out)
    now = _mtimes(out, 4)
    assert now[0] != mtimes[0] and now[1] != mtimes[1], "the shards of the edited circuit are simulated again"
    assert now[2] == mtimes[2], "the untouched circuit's finished shard is kept"
    with h5py.File(path) as f:
        after = f["audio_out"][()]
        assert f.attrs["fingerprint"] != made_by, "what trains on the dataset sees that its samples changed"
    assert np.max(np.abs(after[:2])) < 0.5 * np.max(np.abs(before[:2])), "the 1k load divides the output"
    np.testing.assert_array_equal(after[2:], before[2:])


def test_comments_and_layout_do_not_make_a_netlist_stale(write_cir, tmp_path) -> None:
    rc = write_cir(RC, "rc.cir")
    cfg, out = _config(str(rc)), tmp_path / "data"
    generate(cfg, out)
    mtimes = _mtimes(out, 2)
    rc.write_text(RC.replace("Vin input 0 DC 0\n", "* a comment, in any language: resistencia\n\nVin input 0 DC 0\n"))
    generate(cfg, out)
    assert _mtimes(out, 2) == mtimes


def test_a_changed_config_names_the_fields(write_cir, tmp_path) -> None:
    rc = write_cir(RC, "rc.cir")
    out = tmp_path / "data"
    generate(_config(str(rc)), out)
    with pytest.raises(KaspixError, match=r"config field\(s\) clip_seconds, seed changed"):
        generate(_config(str(rc), clip_seconds=0.004, seed=3), out)
    generate(_config(str(rc), workers=2), out)  # how shards are run is not what they hold


def test_a_failed_generation_does_not_block_its_folder(write_cir, tmp_path) -> None:
    rc = write_cir(RC, "rc.cir")
    bad = write_cir("* bad\n.param R_x=1k\nVin input 0 DC 0\nR1 input output 1k\nC1 output 0 10n\n.end\n", "bad.cir")
    out = tmp_path / "data"
    with pytest.raises(KaspixError, match="knob 'R_x' is never used"):
        generate(_config(str(rc), str(bad)), out)
    path = generate(_config(str(rc)), out)
    assert read_metadata(path)["circuit_mapping"] == {"0": "rc.cir"}


def test_shards_from_before_provenance_are_stale(write_cir, tmp_path) -> None:
    rc = write_cir(RC, "rc.cir")
    cfg, out = _config(str(rc)), tmp_path / "data"
    generate(cfg, out)
    with h5py.File(shard_path(out, 1), "a") as f:
        del f.attrs["facts"]
    with pytest.raises(KaspixError, match=r"1 of the 2 shards .* records no provenance"):
        generate(cfg, out)


def test_misspelt_circuit_in_knob_ranges_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"circuit 'rc_lowpas' is not in circuits; did you mean 'rc_lowpass'"):
        GenerateConfig(circuits=["rc_lowpass", "cr_highpass"], knob_ranges={"rc_lowpas": {"R_cut": (1e3, 2e3)}})
    assert GenerateConfig(circuits=["rc_lowpass"], knob_ranges={"rc_lowpass": {"R_cut": (1e3, 2e3)}}).knob_ranges
