"""Registries: names, plugins, clear errors for duplicates and unknown names."""

import pytest
from kaspix.registry import AmbiguousPartError, DuplicatePartError, Registries, Registry, UnknownPartError


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


def test_same_name_from_two_plugins_is_ambiguous_only_when_used() -> None:
    models = Registry("model")
    models.add("film_gru", make_gru, plugin="spice")
    models.add("film_gru", lambda hidden=8: "other", plugin="thirdparty")
    assert models.build("spice:film_gru", hidden=4) == {"kind": "gru", "hidden": 4}
    assert models.build("thirdparty:film_gru") == "other"
    with pytest.raises(AmbiguousPartError, match="model 'film_gru' is ambiguous: spice:film_gru, thirdparty:film_gru"):
        models.build("film_gru")
    assert models.clashes() == {"film_gru": ["spice:film_gru", "thirdparty:film_gru"]}
    assert models.names() == ["film_gru"]
    with pytest.raises(DuplicatePartError, match="plugin 'spice' registers model 'film_gru' twice"):
        models.add("film_gru", make_gru, plugin="spice")


def test_unknown_name_suggests_close_matches_and_lists_known() -> None:
    losses = Registry("loss")
    losses.add("esr", lambda: None, plugin="spice")
    losses.add("esr_dc", lambda: None, plugin="spice")
    with pytest.raises(UnknownPartError) as info:
        losses.get("esr_cd")
    message = str(info.value)
    assert "unknown loss 'esr_cd'" in message
    assert "did you mean 'esr_dc'" in message
    assert "known losses: spice:esr, spice:esr_dc" in message


def test_registries_cover_every_kind() -> None:
    parts = Registries()
    assert [r.kind for r in parts.all()] == ["data_source", "model", "loss", "evaluator", "pipeline"]
    assert parts.of_kind("loss") is parts.losses
