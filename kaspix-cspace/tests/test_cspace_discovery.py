"""The plugin is found through its entry point and loads cleanly."""

import kaspix_cspace
from kaspix.plugins import load_plugins


def test_entry_point_loads_the_plugin_module() -> None:
    host = load_plugins(disabled=())
    info = host.plugins["cspace"]
    assert info.error is None, info.error
    assert info.module == "kaspix_cspace.plugin"
    assert info.version == kaspix_cspace.__version__ == "0.1.0"
    assert info.distribution == "kaspix-cspace"
