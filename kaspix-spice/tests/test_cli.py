"""``kaspix spice ...`` commands and the plugin's wiring, through the real CLI."""

from __future__ import annotations

import subprocess
import sys

import h5py
import torch
from kaspix.testing import invoke, plugin_host
from kaspix_spice import plugin


def test_inspect_prints_knobs_ranges_and_nodes(real_style) -> None:
    with plugin_host(plugin, name="spice"):
        result = invoke(["spice", "inspect", str(real_style)])
    assert result.exit_code == 0, result.output
    assert "R_tune" in result.output and "2000 .. 4.7e+04 (log)" in result.output
    assert "nodes: " in result.output and "output" in result.output


def test_inspect_lists_every_problem_with_line_numbers(write_cir) -> None:
    path = write_cir("* t\n.param R_a=1k\n.param C_b=ten\nVin in 0 DC 0\nR1 in x {R_a}\n.end\n")
    with plugin_host(plugin, name="spice"):
        result = invoke(["spice", "inspect", str(path)])
    assert result.exit_code == 2
    assert f"{path}, line 3: the value 'ten' of .param C_b does not parse" in result.output
    assert f"{path}, line 4: Vin must go from node 'input' to ground" in result.output
    assert "no node named 'output'" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output


def test_inspect_shipped_name_and_list() -> None:
    with plugin_host(plugin, name="spice"):
        assert "diode_clipper" in invoke(["spice", "inspect", "--list"]).output
        result = invoke(["spice", "inspect", "sallen_key_lowpass"])
        missing = invoke(["spice", "inspect", "no_such_circuit"])
    assert "Q_ratio" in result.output and "kind: lowpass" in result.output
    assert missing.exit_code == 2 and "unknown circuit" in missing.output


def test_generate_and_export_commands(tmp_path) -> None:
    out = tmp_path / "ds"
    args = [
        "--set",
        "circuits=[rc_lowpass]",
        "--set",
        "settings_per_circuit=2",
        "--set",
        "clips_per_setting=1",
        "--set",
        "clip_seconds=0.01",
    ]
    with plugin_host(plugin, name="spice"):
        result = invoke(["spice", "generate", str(out), *args, "--workers", "1"])
        assert result.exit_code == 0, result.output
        exported = invoke(["spice", "export", str(out / "dataset.h5"), "--format", "pt"])
        bad = invoke(["spice", "generate", str(tmp_path / "x"), "--set", "settings_per_circuitz=2"])
    assert exported.exit_code == 0
    with h5py.File(out / "dataset.h5") as f:
        assert f["audio_out"].shape == (2, 480)
    assert len(torch.load(out / "dataset.pt", weights_only=True)["y"]) == 2
    assert bad.exit_code == 2 and "unknown field" in bad.output and "settings_per_circuit" in bad.output


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, kaspix_spice.plugin; print(sorted(m for m in ('torch', 'h5py', 'scipy', 'PySpice', 'matplotlib') if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_parts_are_registered_and_build() -> None:
    with plugin_host(plugin, name="spice") as host:
        parts = host.parts
        for name in ("film_modal", "film_gru", "film_lstm", "concat_lstm", "film_tcn"):
            model = parts.models.build(name, n_knobs=3, n_circuits=2)
            y = model(torch.randn(2, 64, 1), torch.rand(2, 3), torch.tensor([0, 1]))
            assert y.shape == (2, 64, 1)
        target = torch.randn(2, 64, 1)
        for name in ("esr", "esr_dc", "mse"):
            loss = parts.losses.build(name)
            assert float(loss(target, target)) == 0.0 and float(loss(torch.zeros_like(target), target)) > 0
        assert abs(float(parts.losses.build("esr")(torch.zeros_like(target), target)) - 1.0) < 1e-6
        assert float(parts.losses.build("esr", pre_emphasis=0.95, warmup=8)(target * 0.5, target)) > 0
        assert "spice" in parts.pipelines and "spice" in parts.data_sources and "spice" in parts.evaluators


def test_generate_reads_the_pipeline_config_and_its_own_fields(tmp_path) -> None:
    full = tmp_path / "full.yaml"
    small = ["--set", "circuits=[rc_lowpass]", "--set", "settings_per_circuit=1", "--set", "clip_seconds=0.005"]
    with plugin_host(plugin, name="spice"):
        printed = invoke(["config", "--plugin", "spice"])
        full.write_text(printed.output)
        result = invoke(["spice", "generate", str(tmp_path / "a"), "--config", str(full), *small, "--workers", "1"])
        prefixed = invoke(["spice", "generate", str(tmp_path / "b"), "--set", "generate.circuits=[cr_highpass]", *small[2:]])
        (tmp_path / "fields.yaml").write_text("circuits: [rc_lowpass]\nsettings_per_circuit: 1\nclip_seconds: 0.005\n")
        fields = invoke(["spice", "generate", str(tmp_path / "c"), "--config", str(tmp_path / "fields.yaml")])
        (tmp_path / "typo.yaml").write_text(printed.output.replace("settings_per_circuit:", "settings_per_circuitz:"))
        typo = invoke(["spice", "generate", str(tmp_path / "d"), "--config", str(tmp_path / "typo.yaml")])
    assert printed.exit_code == 0 and "generate:" in printed.output
    for run in (result, prefixed, fields):
        assert run.exit_code == 0, run.output
    with h5py.File(tmp_path / "b" / "dataset.h5") as f:
        assert f.attrs["circuit_mapping"] == '{"0": "cr_highpass.cir"}'
    assert typo.exit_code == 2 and "generate.settings_per_circuitz" in typo.output and "did you mean" in typo.output


def test_export_of_a_file_that_is_not_a_dataset_is_a_clear_error(tmp_path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = [1, 2]
    out = tmp_path / "ds"
    small = ["--set", "circuits=[rc_lowpass]", "--set", "settings_per_circuit=1", "--set", "clip_seconds=0.005"]
    with plugin_host(plugin, name="spice"):
        assert invoke(["spice", "generate", str(out), *small]).exit_code == 0
        results = {
            path.name: invoke(["spice", "export", str(path)])
            for path in (text, other, out / "shards" / "shard_00000.h5", tmp_path / "missing.h5")
        }
    expected = {
        "notes.h5": "not an HDF5 file",
        "other.h5": "not a kaspix-spice dataset: it has no 'audio_in'",
        "shard_00000.h5": "one shard of a generation, not the merged dataset",
        "missing.h5": "dataset not found",
    }
    for name, message in expected.items():
        assert results[name].exit_code == 2 and message in results[name].output, results[name].output
        assert "Traceback" not in results[name].output
