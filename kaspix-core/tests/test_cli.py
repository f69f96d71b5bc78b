"""The CLI: plugin commands, config printing, user mistakes, and a start-up without torch."""

import json
import sys
import types

import click
import pytest
import yaml
from kaspix import Config, Pipeline, Step, hookimpl
from kaspix.testing import invoke, plugin_host
from pydantic import Field


class Knobs(Config):
    """Knob settings."""

    cutoff_hz: float = Field(1000.0, gt=0, description="cutoff frequency")
    circuits: list[str] = ["rc_lowpass.cir"]


@click.command("hello")
@click.argument("who")
def hello(who: str) -> None:
    """Say hello."""
    click.echo(f"hello {who}")


@hookimpl
def register_commands(register):
    register(hello)


@hookimpl
def register_pipelines(register):
    register(Pipeline("demo", Knobs, (Step("noop", lambda ctx: None),), description="does nothing"))
    register(Pipeline("demo-extra", Knobs, (Step("noop", lambda ctx: None),)))


PLUGIN = types.SimpleNamespace(register_commands=register_commands, register_pipelines=register_pipelines)


def test_plugin_commands_appear_under_the_plugin_name() -> None:
    with plugin_host(PLUGIN, name="demo"):
        assert invoke(["demo", "hello", "world"]).stdout == "hello world\n"
        help_text = invoke(["--help"]).stdout
    assert "demo" in help_text and "run" in help_text


def test_config_prints_defaults_as_yaml_and_schema() -> None:
    with plugin_host(PLUGIN, name="demo"):
        result = invoke(["config", "--plugin", "demo"])
        assert result.exit_code == 0
        assert yaml.safe_load(result.stdout) == {"cutoff_hz": 1000.0, "circuits": ["rc_lowpass.cir"]}
        schema = json.loads(invoke(["config", "--pipeline", "demo-extra", "--schema"]).stdout)
    assert schema["properties"]["cutoff_hz"]["exclusiveMinimum"] == 0


def test_pipeline_of_another_plugin_is_rejected_clearly() -> None:
    other = types.SimpleNamespace(register_pipelines=register_pipelines)
    with plugin_host(other, name="first"):
        result = invoke(["config", "--plugin", "nosuch", "--pipeline", "demo"])
    assert result.exit_code == 2
    assert "unknown plugin 'nosuch'" in result.stderr


def test_user_mistakes_exit_2_without_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cutoff_hz: [\n")
    cases = [
        (["run", "--plugin", "demo", "-c", str(tmp_path / "missing.yaml")], "config file not found"),
        (["run", "--plugin", "demo", "-c", str(bad)], "invalid YAML"),
        (["run", "--plugin", "demo", "--set", "cutof_hz=3"], "did you mean 'cutoff_hz'"),
        (["run", "--plugin", "demo", "--set", "cutoff_hz=-1"], "greater than 0"),
        (["run", "--pipeline", "dmo"], "did you mean 'demo'"),
        (["run"], "--plugin NAME"),
        (["run", "--resume", str(tmp_path)], "not a kaspix run folder"),
    ]
    with plugin_host(PLUGIN, name="demo"):
        for args, expected in cases:
            result = invoke(args)
            assert result.exit_code == 2, (args, result.output)
            assert expected in result.stderr, (args, result.stderr)
            assert "Traceback" not in result.output
            assert result.stderr.startswith("error: ")


@pytest.mark.integration
def test_installed_example_plugin_is_discovered(kaspix_cli) -> None:
    pytest.importorskip("kaspix_example_rc", reason="the example plugin is not installed in this environment")
    result = kaspix_cli(["plugins", "--json"])
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["rcfit"]["status"] == "ok"
    assert plugins["rcfit"]["parts"] == {"loss": ["mean_absolute_error"], "pipeline": ["rc-fit"]}


def test_plugins_and_help_do_not_import_torch(kaspix_cli) -> None:
    probe = (
        "import sys; from kaspix.cli import cli\n"
        "for args in (['--help'], ['plugins'], ['plugins', '--json']):\n"
        "    try:\n"
        "        cli.main(args=args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in ('torch', 'norse', 'PySpice', 'librosa', 'h5py') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="
