"""Registries: names, plugins, clear errors for duplicates and unknown names."""

import pytest
from kaspix.registry import DuplicatePartError, Registries, Registry, UnknownPartError


def make_gru(hidden: int = 8) -> dict:
    """A GRU emulator."""
    return {"kind": "gru", "hidden": hidden}


def test_build_calls_the_factory_and_remembers_the_plugin() -> None:
    models = Registry("model")
    part = models.add("film_gru", make_gru, plugin="spice")
    assert part.plugin == "spice"
    assert part.description == "A GRU emulator."
    assert models.build("film_gru", hidden=32) == {"kind": "gru", "hidden": 32}
    assert "film_gru" in models and len(models) == 1


def test_duplicate_names_name_both_plugins() -> None:
    models = Registry("model")
    models.add("film_gru", make_gru, plugin="spice")
    with pytest.raises(DuplicatePartError) as info:
        models.add("film_gru", make_gru, plugin="thirdparty")
    message = str(info.value)
    assert "'spice'" in message and "'thirdparty'" in message
    assert "KASPIX_DISABLE_PLUGINS=thirdparty" in message


def test_unknown_name_suggests_close_matches_and_lists_known() -> None:
    losses = Registry("loss")
    losses.add("esr", lambda: None, plugin="spice")
    losses.add("esr_dc", lambda: None, plugin="spice")
    with pytest.raises(UnknownPartError) as info:
        losses.get("esr_cd")
    message = str(info.value)
    assert "unknown loss 'esr_cd'" in message
    assert "did you mean 'esr_dc'" in message
    assert "esr (plugin spice)" in message


def test_registries_cover_every_kind() -> None:
    parts = Registries()
    assert [r.kind for r in parts.all()] == ["data_source", "model", "loss", "evaluator", "pipeline"]
    assert parts.of_kind("loss") is parts.losses
