"""Typed registries of named parts, each remembering the plugin that gave it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kaspix.errors import KaspixError, did_you_mean

T = TypeVar("T")

#: The kinds of part a plugin can register, in display order.
PART_KINDS: tuple[str, ...] = ("data_source", "model", "loss", "evaluator", "pipeline")


@dataclass(frozen=True)
class Part(Generic[T]):
    """A registered part: a factory (or, for pipelines, a :class:`~kaspix.Pipeline`)."""

    name: str
    kind: str
    obj: T
    plugin: str
    description: str = ""


class DuplicatePartError(KaspixError):
    """Two plugins registered the same name for the same kind of part."""


class UnknownPartError(KaspixError):
    """A config or command asked for a part name that nobody registered."""


def first_doc_line(obj: object) -> str:
    """The first line of an object's docstring, or an empty string."""
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


class Registry(Generic[T]):
    """Parts of one kind, keyed by name.

    Args:
        kind: The kind of part held here, one of :data:`PART_KINDS`.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._parts: dict[str, Part[T]] = {}

    def add(self, name: str, obj: T, *, plugin: str, description: str = "") -> Part[T]:
        """Register ``obj`` under ``name``; a name already taken raises :class:`DuplicatePartError`."""
        if not name or not isinstance(name, str):
            raise KaspixError(f"a {self.kind} needs a non-empty string name, got {name!r}", where=f"plugin {plugin!r}")
        existing = self._parts.get(name)
        if existing is not None:
            raise DuplicatePartError(
                f"{self.kind} {name!r} is registered by both plugin {existing.plugin!r} and plugin {plugin!r}",
                hint=f"rename one of them, or disable a plugin with KASPIX_DISABLE_PLUGINS={plugin}",
            )
        part = Part(name=name, kind=self.kind, obj=obj, plugin=plugin, description=description or first_doc_line(obj))
        self._parts[name] = part
        return part

    def get(self, name: str) -> Part[T]:
        """The part called ``name``; an unknown name raises :class:`UnknownPartError` with close matches."""
        try:
            return self._parts[name]
        except KeyError:
            known = sorted(self._parts)
            suggestion = did_you_mean(name, known)
            listing = ", ".join(f"{n} (plugin {self._parts[n].plugin})" for n in known) or "none registered"
            raise UnknownPartError(
                f"unknown {self.kind} {name!r}" + (f"; {suggestion}" if suggestion else ""),
                hint=f"known {self.kind}s: {listing}. `kaspix plugins` lists every plugin and its parts",
            ) from None

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered as ``name`` with the given arguments and return what it builds."""
        factory = self.get(name).obj
        if not callable(factory):
            raise KaspixError(f"{self.kind} {name!r} is not a factory and cannot be built")
        return factory(*args, **kwargs)

    def remove(self, name: str) -> None:
        """Forget ``name`` (used to roll back a plugin whose registration failed half-way)."""
        self._parts.pop(name, None)

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._parts)

    def from_plugin(self, plugin: str) -> list[Part[T]]:
        """The parts registered by one plugin, in registration order."""
        return [p for p in self._parts.values() if p.plugin == plugin]

    def __contains__(self, name: object) -> bool:
        return name in self._parts

    def __iter__(self) -> Iterator[Part[T]]:
        return iter(list(self._parts.values()))

    def __len__(self) -> int:
        return len(self._parts)


class Registries:
    """One :class:`Registry` per kind of part."""

    def __init__(self) -> None:
        self.data_sources: Registry[Callable[..., Any]] = Registry("data_source")
        self.models: Registry[Callable[..., Any]] = Registry("model")
        self.losses: Registry[Callable[..., Any]] = Registry("loss")
        self.evaluators: Registry[Callable[..., Any]] = Registry("evaluator")
        # Holds kaspix.pipeline.Pipeline objects; typed loosely to keep this module import-light.
        self.pipelines: Registry[Any] = Registry("pipeline")

    def of_kind(self, kind: str) -> Registry[Any]:
        """The registry for ``kind`` (one of :data:`PART_KINDS`)."""
        for registry in self.all():
            if registry.kind == kind:
                return registry
        raise KaspixError(f"unknown part kind {kind!r}", hint=f"kinds are: {', '.join(PART_KINDS)}")

    def all(self) -> tuple[Registry[Any], ...]:
        """Every registry, in :data:`PART_KINDS` order."""
        return (self.data_sources, self.models, self.losses, self.evaluators, self.pipelines)
