"""The config: the seed's sections, defaults, the seed's example file as written, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from kaspix import KaspixError
from kaspix.config import load_config
from kaspix.testing import invoke, plugin_host
from kaspix_snn import plugin
from kaspix_snn.config import SnnConfig
from kaspix_snn.testing import SMALL, write_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_default_config_is_printed_with_every_section() -> None:
    with plugin_host(plugin, name="snn"):
        result = invoke(["config", "--plugin", "snn"])
    assert result.exit_code == 0, result.output
    for section in ("name:", "seed: 0", "network:", "simulation:", "preparation:", "training:", "evaluation:", "visualizations:"):
        assert section in result.output
    assert "ticks_per_image: 20" in result.output and "source: digits" in result.output


def test_the_seed_example_loads_as_written_and_filters_0_means_a_complete_basis() -> None:
    config = load_config(SnnConfig, CONFIGS / "seed_example.yaml")
    conv = config.network.layers[0]
    assert (conv.layer_type, conv.filters, conv.kernel_size, conv.stride, conv.padding) == ("conv", 0, 9, 3, "same")
    assert config.simulation.dataset_name_base == "mnist_exp" and config.evaluation.eval_samples == 100
    assert config.visualizations.network_activity.params.plots == ["spike_raster", "firing_rate_hist_by_layer"]
    from kaspix_snn.network import build_spec, make_weights

    spec = build_spec(config.network, (1, 8, 8), name=config.name, seed=0)
    layer = spec["layers"][0]
    assert layer["filters"] == 81 and layer["complete_basis"] and layer["out_shape"] == [81, 3, 3]
    weights = make_weights(spec)["conv1"].reshape(81, 81).double()
    assert (weights @ weights.T - __import__("torch").eye(81, dtype=weights.dtype)).abs().max() < 1e-5  # orthonormal


def test_the_shipped_fashion_mnist_config_loads() -> None:
    config = load_config(SnnConfig, CONFIGS / "fashion_mnist.yaml")
    assert config.data.source == "fashion_mnist"


@pytest.mark.parametrize(
    ("yaml_data", "expected"),
    [
        ({"network": {"layers": [{"layer_type": "conv", "filtrs": 3}]}}, "field 'network.layers.0.conv.filtrs': unknown field"),
        ({"simulation": {"tick_per_image": 3}}, "did you mean 'ticks_per_image'"),
        ({"network": {"layers": [{"layer_type": "conv", "filters": -1}]}}, "field 'network.layers.0.conv.filters'"),
        ({"network": {"layers": [{"layer_type": "pool"}]}}, "at least one conv or dense layer"),
        ({"simulation": {"ticks_per_image": 10}, "preparation": {"time_bins": 4}}, "time_bins (4) must divide"),
        ({"preparation": {"layers": ["conv9"]}}, "preparation.layers names ['conv9']"),
        ({"preparation": {"feature_types": ["avg_S", "final_v"]}, "simulation": {"potentials": "none"}}, "final_v"),
        ({"visualizations": {"network_activity": {"params": {"plots": ["raster"]}}}}, "visualizations.network_activity.params.plots.0"),
    ],
)
def test_mistakes_are_one_clear_cli_error_naming_the_field(tmp_path: Path, yaml_data: dict, expected: str) -> None:
    path = write_config(tmp_path / "bad.yaml", yaml_data)
    with plugin_host(plugin, name="snn"):
        result = invoke(["run", "--plugin", "snn", "-c", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


def test_a_layer_that_does_not_fit_the_images_is_named() -> None:
    from kaspix_snn.network import build_spec

    config = SnnConfig.model_validate({"network": {"layers": [{"layer_type": "conv", "kernel_size": 9, "padding": "valid"}]}})
    with pytest.raises(KaspixError, match="kernel_size 9 is larger than the 8x8 input") as error:
        build_spec(config.network, (1, 8, 8), name="x", seed=0)
    assert error.value.where == "network.layers.0 (conv1)"


def test_small_test_config_is_valid() -> None:
    assert SnnConfig.model_validate(SMALL).simulation.potentials == "all"


def test_the_plugin_module_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    heavy = "('torch', 'numpy', 'norse', 'h5py', 'matplotlib', 'sklearn')"
    code = f"import sys, kaspix_snn.plugin; print(sorted(m for m in {heavy} if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
