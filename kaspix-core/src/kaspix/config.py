"""Pipeline configs: YAML files validated by pydantic, with ``--set a.b=value`` overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from kaspix.errors import KaspixError, did_you_mean

__all__ = [
    "Config",
    "apply_overrides",
    "config_schema",
    "config_to_yaml",
    "format_validation_error",
    "load_config",
    "parse_override",
    "parse_yaml_mapping",
    "read_yaml_mapping",
    "validate_config",
]

M = TypeVar("M", bound=BaseModel)

#: libyaml's safe loader when PyYAML was built with it (about 6x faster on large files), else the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Config(BaseModel):
    """Base class for pipeline configs: unknown fields are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one ``a.b=value`` override; the value is read as YAML (``3``, ``true``, ``[1, 2]``)."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or not all(path):
        raise KaspixError(f"cannot read override {text!r}", where="--set", hint="write it as dotted.path=value, e.g. --set train.epochs=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML: keep it as a string and let validation judge it
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return ``data`` with every ``a.b=value`` override applied (nested dicts are created)."""
    result = _deep_copy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value
    return result


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file, line and column."""
    if not path.is_file():
        raise KaspixError(f"config file not found: {path}", hint="check the path, or print the defaults with `kaspix config --plugin NAME`")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KaspixError(f"not UTF-8 text ({exc.reason})", where=str(path), hint="save the config as UTF-8") from None
    return parse_yaml_mapping(text, source=str(path))


def parse_yaml_mapping(text: str, *, source: str) -> dict[str, Any]:
    """Parse YAML text that must hold a mapping; errors name ``source``, the line and the column."""
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}, column {mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise KaspixError(f"invalid YAML: {problem}", where=where, hint="check indentation and that each key is followed by ': '") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KaspixError(
            f"the top level must be a mapping of field: value, got a {type(data).__name__}",
            where=source,
            hint="start from `kaspix config --plugin NAME > my.yaml`",
        )
    return data


def load_config(model: type[M], path: str | Path | None = None, overrides: Iterable[str] = ()) -> M:
    """Build a validated config from defaults, an optional YAML file and overrides (in that order).

    Raises:
        KaspixError: naming the file or ``--set``, the field path, the problem and a fix.
    """
    overrides = list(overrides)
    data = read_yaml_mapping(Path(path)) if path is not None else {}
    data = apply_overrides(data, overrides)
    source = str(path) if path is not None else "config"
    return validate_config(model, data, source=source, overridden={".".join(parse_override(o)[0]) for o in overrides})


def validate_config(model: type[M], data: Mapping[str, Any], *, source: str = "config", overridden: set[str] | None = None) -> M:
    """Validate ``data`` against ``model``, turning pydantic errors into one readable :class:`KaspixError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise KaspixError(format_validation_error(model, exc, source=source, overridden=overridden or set())) from None


def format_validation_error(model: type[BaseModel], exc: ValidationError, *, source: str, overridden: set[str]) -> str:
    """One line per problem: where it came from, the field path, what is wrong, and a hint."""
    lines = [f"invalid config ({len(exc.errors())} problem{'s' if len(exc.errors()) != 1 else ''}):"]
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        field_path = ".".join(loc) or "(top level)"
        origin = "--set" if field_path in overridden else source
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            siblings = _field_names_at(model, loc[:-1])
            suggestion = did_you_mean(loc[-1], siblings)
            message = "unknown field" + (f"; {suggestion}" if suggestion else "")
            hint = f"fields here: {', '.join(siblings)}" if siblings else None
        else:
            hint = None
            if "input" in error and error["type"] != "missing":
                message += f" (got {error['input']!r})"
        lines.append(f"  {origin}: field '{field_path}': {message}")
        if hint:
            lines.append(f"    hint: {hint}")
    lines.append("  hint: `kaspix config --plugin NAME` prints every field with its default")
    return "\n".join(lines)


def _field_names_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """Field names of the (nested) model at ``loc``, or [] when it cannot be followed."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = fields[part].annotation
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def config_to_yaml(config: BaseModel) -> str:
    """The config as YAML, every field written out (JSON-compatible values)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def config_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The config model's JSON Schema."""
    return model.model_json_schema()
