"""Configs: YAML + overrides validated by pydantic, with errors that say where and how to fix."""

from pathlib import Path

import pytest
from kaspix import Config, KaspixError
from kaspix.config import apply_overrides, config_to_yaml, load_config, parse_override
from pydantic import Field


class Train(Config):
    epochs: int = Field(3, ge=1)
    learning_rate: float = 1e-3


class Demo(Config):
    name: str = "demo"
    circuits: list[str] = ["rc_lowpass.cir"]
    train: Train = Train()


def test_defaults_file_and_overrides_apply_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: mine\ntrain:\n  epochs: 5\n")
    cfg = load_config(Demo, path, ["train.learning_rate=0.01", "circuits=[a.cir, b.cir]"])
    assert cfg.name == "mine"
    assert cfg.train.epochs == 5
    assert cfg.train.learning_rate == 0.01
    assert cfg.circuits == ["a.cir", "b.cir"]


def test_override_values_are_read_as_yaml() -> None:
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("flag=true") == (["flag"], True)
    assert parse_override("s=hello world") == (["s"], "hello world")
    assert apply_overrides({"a": 1}, ["a.b=2"]) == {"a": {"b": 2}}


def test_malformed_override_is_a_clear_error() -> None:
    with pytest.raises(KaspixError, match=r"dotted\.path=value"):
        parse_override("epochs")


def test_unknown_field_names_path_and_suggests(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epoch: 5\n")
    with pytest.raises(KaspixError) as info:
        load_config(Demo, path)
    message = str(info.value)
    assert f"{path}: field 'train.epoch': unknown field; did you mean 'epochs'?" in message
    assert "fields here: epochs, learning_rate" in message


def test_wrong_type_from_set_names_set_and_value() -> None:
    with pytest.raises(KaspixError) as info:
        load_config(Demo, None, ["train.epochs=many"])
    message = str(info.value)
    assert "--set: field 'train.epochs'" in message
    assert "got 'many'" in message


def test_constraint_violation_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train: {epochs: 0}\n")
    with pytest.raises(KaspixError, match=r"field 'train.epochs': Input should be greater than or equal to 1"):
        load_config(Demo, path)


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: a\ntrain:\n  epochs: 3\n bad: [\n")
    with pytest.raises(KaspixError) as info:
        load_config(Demo, path)
    assert f"{path}, line 4" in str(info.value)
    assert "invalid YAML" in str(info.value)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(KaspixError, match="config file not found"):
        load_config(Demo, tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(KaspixError, match="top level must be a mapping"):
        load_config(Demo, path)


def test_yaml_round_trip() -> None:
    cfg = load_config(Demo, None, ["train.epochs=7"])
    path_text = config_to_yaml(cfg)
    assert "epochs: 7" in path_text
    assert Demo.model_validate(__import__("yaml").safe_load(path_text)) == cfg
