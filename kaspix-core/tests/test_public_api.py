"""The public surface: every name the plugin guide imports is exported, and exports exist."""

import importlib
import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
PUBLIC_MODULES = ["kaspix", "kaspix.config", "kaspix.context", "kaspix.errors", "kaspix.pipeline", "kaspix.registry", "kaspix.runs"]


def guide_imports() -> list[tuple[str, str]]:
    text = GUIDE.read_text(encoding="utf-8")
    pairs = []
    for module, names in re.findall(r"from (kaspix[\w.]*) import ([\w, ]+)", text):
        pairs += [(module, name.strip()) for name in names.split(",") if name.strip()]
    return pairs


@pytest.mark.skipif(not GUIDE.is_file(), reason="needs the repository's docs/")
@pytest.mark.integration  # kaspix.training's exports need torch, which the core alone does not install
def test_every_name_the_guide_imports_is_exported() -> None:
    pairs = guide_imports()
    assert ("kaspix", "RegisterPart") in pairs and ("kaspix.testing", "plugin_host") in pairs
    for module, name in pairs:
        if module.startswith("kaspix_"):
            continue
        if module == "kaspix.training":
            pytest.importorskip("torch")
        assert name in importlib.import_module(module).__all__, f"{module}.{name} is used by the guide but not in __all__"


@pytest.mark.parametrize("module", [*PUBLIC_MODULES, "kaspix.testing", "kaspix.training", "kaspix.seeding", "kaspix.runlock"])
def test_all_lists_only_names_that_exist(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert not missing
