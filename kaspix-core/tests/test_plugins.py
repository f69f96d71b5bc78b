"""Plugin loading: entry points, isolation of broken plugins, strict mode, disabling, unknown hooks."""

import importlib
import json
import os
import subprocess
import sys
import types

import pytest
from kaspix import Config, Pipeline, Step, hookimpl
from kaspix.plugins import PluginLoadError, PluginSource, load_plugins
from kaspix.registry import AmbiguousPartError, UnknownPartError
from kaspix.testing import plugin_host, run_pipeline


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


def test_name_clash_keeps_both_plugins_and_is_ambiguous_only_when_used() -> None:
    @hookimpl
    def register_losses(register):
        register("extra_loss", lambda: "extra")

    first = module_with(register_models=register_models)
    second = module_with(register_models=register_models, register_losses=register_losses)
    host = load_plugins([source("first", first), source("second", second)], strict=True)
    assert host.plugins["first"].ok and host.plugins["second"].ok
    assert host.parts.models.get("first:tiny").plugin == "first"
    assert host.parts.models.get("second:tiny").plugin == "second"
    assert host.parts.losses.build("extra_loss") == "extra"  # unique bare names keep working
    with pytest.raises(AmbiguousPartError, match=r"model 'tiny' is ambiguous: first:tiny, second:tiny"):
        host.parts.models.get("tiny")
    assert "tiny" not in host.parts.models and "second:tiny" in host.parts.models
    assert host.warnings() == ["model 'tiny' is registered by several plugins: use first:tiny, second:tiny"]


def test_same_plugin_registering_a_name_twice_fails_whole() -> None:
    @hookimpl
    def register_losses(register):
        register("twice", lambda: None)
        register("twice", lambda: None)

    host = load_plugins([source("double", module_with(register_models=register_models, register_losses=register_losses))])
    assert "registers loss 'twice' twice" in host.plugins["double"].error
    assert "tiny" not in host.parts.models  # all or nothing


def test_unknown_part_lists_qualified_names_and_pluralises_kinds() -> None:
    host = load_plugins([source("good", module_with(register_models=register_models))])
    with pytest.raises(UnknownPartError) as info:
        host.parts.losses.get("esr")
    assert "known losses: none registered" in str(info.value)
    with pytest.raises(UnknownPartError, match="did you mean 'good:tiny'"):
        host.parts.models.get("good:tiyn")


def test_registering_a_qualified_name_is_refused() -> None:
    @hookimpl
    def register_losses(register):
        register("mine:l1", lambda: None)

    host = load_plugins([source("mine", module_with(register_losses=register_losses))])
    assert "contains ':'" in host.plugins["mine"].error


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


CLASH_MODULES = {
    # "aclash" sorts before "zreal", as the newcomer sorted before "spice" in the report
    "aclash_plugin": """
        from kaspix import hookimpl

        @hookimpl
        def register_losses(register):
            register("esr", lambda: "aclash esr")
            register("gain", lambda: "aclash gain")
    """,
    "zreal_plugin": """
        import click
        from kaspix import hookimpl

        @click.command("inspect")
        @click.argument("what")
        def inspect(what):
            click.echo(f"inspected {what}")

        @hookimpl
        def register_losses(register):
            register("gain", lambda: "zreal gain")

        @hookimpl
        def register_commands(register):
            register(inspect)
    """,
}


def test_real_entry_points_clash_never_disables_a_plugin(plugin_env, kaspix_cli) -> None:
    env = plugin_env("kaspix-clash", {"aclash": "aclash_plugin", "zreal": "zreal_plugin"}, CLASH_MODULES)
    listing = kaspix_cli(["plugins", "--json"], env=env)
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    assert plugins["aclash"]["status"] == plugins["zreal"]["status"] == "ok"
    assert "loss 'gain' is registered by several plugins: use aclash:gain, zreal:gain" in listing.stderr
    table = kaspix_cli(["plugins"], env=env)
    assert "warning" in table.stdout and "aclash:gain, zreal:gain" in table.stdout
    command = kaspix_cli(["zreal", "inspect", "x"], env=env)
    assert command.returncode == 0 and command.stdout == "inspected x\n"


@pytest.mark.integration
def test_clash_with_the_installed_spice_plugin(plugin_env) -> None:
    pytest.importorskip("kaspix_spice")
    env = plugin_env("kaspix-bclash", {"bclash": "aclash_plugin"}, CLASH_MODULES)
    code = (
        "from kaspix.plugins import load_plugins; h = load_plugins(); "
        "print(h.plugins['spice'].ok, h.plugins['bclash'].ok, h.parts.losses.get('spice:esr').plugin); "
        "h.parts.losses.get('esr')"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("True True spice")
    assert "loss 'esr' is ambiguous: bclash:esr, spice:esr" in result.stderr


def test_command_of_a_plugin_that_failed_to_load_says_why(plugin_env, kaspix_cli) -> None:
    env = plugin_env("kaspix-broken", {"brokencmd": "brokencmd_plugin"}, {"brokencmd_plugin": "import not_installed_dependency\n"})
    result = kaspix_cli(["brokencmd", "inspect", "x"], env=env)
    assert result.returncode == 2
    assert "plugin 'brokencmd' failed to load: ModuleNotFoundError: No module named 'not_installed_dependency'" in result.stderr
    assert "(see kaspix plugins)" in result.stderr and "No such command" not in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_host_loads_the_installed_plugin_under_test_once_beside_others(plugin_env, monkeypatch, tmp_path) -> None:
    env = plugin_env(
        "kaspix-pair",
        {"provider": "provider_plugin", "consumer": "consumer_plugin"},
        {
            "provider_plugin": """
                from kaspix import hookimpl

                @hookimpl
                def register_losses(register):
                    register("half", lambda: (lambda p, t: (p - t) / 2))
            """,
            "consumer_plugin": """
                from kaspix import Config, Pipeline, Step, hookimpl

                class C(Config):
                    loss: str = "provider:half"

                def use(ctx):
                    ctx.log_metrics({"value": ctx.parts.losses.build(ctx.config.loss)(5.0, 1.0)})

                @hookimpl
                def register_pipelines(register):
                    register(Pipeline("consume", C, (Step("use", use),)))
            """,
        },
    )
    for path in reversed(env["PYTHONPATH"].split(os.pathsep)):
        if path:
            monkeypatch.syspath_prepend(path)
    consumer = importlib.import_module("consumer_plugin")
    with plugin_host(consumer, name="consumer", with_installed=["provider"]) as host:
        assert sorted(host.plugins) == ["consumer", "provider"]
        result = run_pipeline(host, "consume", tmp_path)
    assert result.metrics == {"value": 2.0}
    with plugin_host(consumer, name="consumer", with_installed=True) as host:  # itself installed: loaded once
        assert host.plugins["consumer"].ok
