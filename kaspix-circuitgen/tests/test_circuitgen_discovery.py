"""The plugin is found through its entry point and loads cleanly."""

import kaspix_circuitgen
from kaspix.plugins import load_plugins


def test_entry_point_loads_the_plugin_module() -> None:
    host = load_plugins(disabled=())
    info = host.plugins["circuitgen"]
    assert info.error is None, info.error
    assert info.module == "kaspix_circuitgen.plugin"
    assert info.version == kaspix_circuitgen.__version__ == "0.1.0"
    assert info.distribution == "kaspix-circuitgen"
