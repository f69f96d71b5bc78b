"""Plugin loading: entry points, isolation of broken plugins, strict mode, disabling, unknown hooks."""

import json
import types

import pytest
from kaspix import Config, Pipeline, Step, hookimpl
from kaspix.plugins import PluginLoadError, PluginSource, load_plugins


def module_with(**hooks: object) -> types.ModuleType:
    module = types.ModuleType("fake_plugin")
    for name, function in hooks.items():
        setattr(module, name, function)
    return module


def source(name: str, plugin: object) -> PluginSource:
    return PluginSource(name=name, load=lambda: plugin, module=f"{name}_module")


def broken_loader() -> object:
    raise ImportError("No module named 'missing_dependency'")


class Empty(Config):
    pass


@hookimpl
def register_models(register):
    register("tiny", lambda: "tiny model", description="a tiny model")


@hookimpl
def register_pipelines(register):
    register(Pipeline(name="p", config_model=Empty, steps=(Step("only", lambda ctx: None),)))


def test_parts_are_registered_with_their_plugin() -> None:
    host = load_plugins([source("good", module_with(register_models=register_models, register_pipelines=register_pipelines))])
    assert host.parts.models.get("tiny").plugin == "good"
    assert host.plugins["good"].parts == {"model": ["tiny"], "pipeline": ["p"]}
    assert host.pipeline_part(plugin="good").name == "p"


def test_broken_plugin_is_reported_and_others_keep_working() -> None:
    good = module_with(register_models=register_models)
    host = load_plugins([PluginSource("broken", broken_loader, "broken_module"), source("good", good)], strict=False)
    assert host.plugins["broken"].error == "ImportError: No module named 'missing_dependency'"
    assert host.plugins["good"].ok
    assert "tiny" in host.parts.models


def test_strict_mode_raises_with_the_plugin_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASPIX_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match=r"plugin 'broken' .* failed to load"):
        load_plugins([PluginSource("broken", broken_loader, "broken_module")])


def test_disabled_plugins_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASPIX_DISABLE_PLUGINS", "good, other")
    host = load_plugins([source("good", module_with(register_models=register_models))])
    assert host.plugins["good"].disabled
    assert "tiny" not in host.parts.models


def test_unknown_hook_is_an_error_with_a_suggestion() -> None:
    @hookimpl
    def register_model(register):  # typo: the hook is register_models
        register("x", lambda: None)

    host = load_plugins([source("typo", module_with(register_model=register_model))], strict=False)
    error = host.plugins["typo"].error
    assert "unknown hook 'register_model'" in error
    assert "did you mean 'register_models'" in error
    host.pm.check_pending()  # the bad plugin was unregistered, nothing is left pending


def test_duplicate_across_plugins_skips_the_second_whole() -> None:
    @hookimpl
    def register_losses(register):
        register("extra_loss", lambda: None)

    first = module_with(register_models=register_models)
    second = module_with(register_models=register_models, register_losses=register_losses)
    host = load_plugins([source("first", first), source("second", second)])
    assert "registered by both plugin 'first' and plugin 'second'" in host.plugins["second"].error
    assert host.parts.models.get("tiny").plugin == "first"
    assert "extra_loss" not in host.parts.losses  # all or nothing


def test_registration_error_rolls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    def register_evaluators(register):
        register("half", lambda: None)
        raise RuntimeError("boom while registering")

    host = load_plugins([source("half", module_with(register_evaluators=register_evaluators))])
    assert host.plugins["half"].error == "RuntimeError: boom while registering"
    assert "half" not in host.parts.evaluators


def test_real_entry_points_broken_plugin_does_not_break_cli(plugin_env, kaspix_cli) -> None:
    env = plugin_env(
        "kaspix-test-plugins",
        {"brokenthing": "broken_thing", "okthing": "ok_thing"},
        {
            "broken_thing": "import this_module_does_not_exist\n",
            "ok_thing": """
                from kaspix import hookimpl

                @hookimpl
                def register_losses(register):
                    register("ok_loss", lambda: (lambda p, t: 0.0), description="always zero")
            """,
        },
    )
    result = kaspix_cli(["plugins", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["brokenthing"]["status"] == "error"
    assert "this_module_does_not_exist" in plugins["brokenthing"]["error"]
    assert plugins["okthing"]["status"] == "ok"
    assert plugins["okthing"]["parts"] == {"loss": ["ok_loss"]}
    assert plugins["okthing"]["version"] == "1.2.3"
    table = kaspix_cli(["plugins"], env=env)
    assert table.returncode == 0 and "brokenthing" in table.stdout and "error" in table.stdout

    strict = kaspix_cli(["plugins"], env={**env, "KASPIX_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2
    assert "plugin 'brokenthing' (broken_thing) failed to load" in strict.stderr
    assert "Traceback" in strict.stderr  # strict mode is for plugin authors: they get the traceback as the hint
