"""Typed registries of named parts, each remembering the plugin that gave it.

Every part has a qualified name ``plugin:name`` (``spice:esr``) that is always unique, and a
bare name (``esr``) that works as long as only one plugin registers it. Two plugins may
register the same bare name: both keep working, and the bare name is an error only when it
is used, naming every qualified candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kaspix.errors import KaspixError, did_you_mean

__all__ = [
    "PART_KINDS",
    "QUALIFIER",
    "AmbiguousPartError",
    "DuplicatePartError",
    "Part",
    "Registries",
    "Registry",
    "UnknownPartError",
    "first_doc_line",
]

T = TypeVar("T")

#: The kinds of part a plugin can register, in display order.
PART_KINDS: tuple[str, ...] = ("data_source", "model", "loss", "evaluator", "pipeline")

#: Separates the plugin from the part name in a qualified name (``spice:esr``).
QUALIFIER = ":"


@dataclass(frozen=True)
class Part(Generic[T]):
    """A registered part: a factory (or, for pipelines, a :class:`~kaspix.Pipeline`)."""

    name: str
    kind: str
    obj: T
    plugin: str
    description: str = ""

    @property
    def qualified_name(self) -> str:
        """``plugin:name``, unique across every plugin."""
        return f"{self.plugin}{QUALIFIER}{self.name}"


class DuplicatePartError(KaspixError):
    """One plugin registered the same name twice for the same kind of part."""


class UnknownPartError(KaspixError):
    """A config or command asked for a part name that nobody registered."""


class AmbiguousPartError(KaspixError):
    """A bare part name that several plugins register was used; a qualified name is needed."""


def first_doc_line(obj: object) -> str:
    """The first line of an object's docstring, or an empty string."""
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _plural(kind: str) -> str:
    return kind + ("es" if kind.endswith("s") else "s")


class Registry(Generic[T]):
    """Parts of one kind, addressable as ``plugin:name`` or, when unambiguous, ``name``.

    Args:
        kind: The kind of part held here, one of :data:`PART_KINDS`.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._parts: dict[str, Part[T]] = {}  # by qualified name, in registration order

    def add(self, name: str, obj: T, *, plugin: str, description: str = "") -> Part[T]:
        """Register ``obj`` as ``plugin:name``; the same plugin registering a name twice raises :class:`DuplicatePartError`."""
        if not name or not isinstance(name, str):
            raise KaspixError(f"a {self.kind} needs a non-empty string name, got {name!r}", where=f"plugin {plugin!r}")
        if QUALIFIER in name:
            raise KaspixError(
                f"{self.kind} name {name!r} contains {QUALIFIER!r}",
                where=f"plugin {plugin!r}",
                hint=f"register the bare name; kaspix adds the plugin prefix ({plugin}{QUALIFIER}...) itself",
            )
        part = Part(name=name, kind=self.kind, obj=obj, plugin=plugin, description=description or first_doc_line(obj))
        if part.qualified_name in self._parts:
            raise DuplicatePartError(
                f"plugin {plugin!r} registers {self.kind} {name!r} twice",
                hint="give each part its own name",
            )
        self._parts[part.qualified_name] = part
        return part

    def get(self, name: str) -> Part[T]:
        """The part called ``name`` (``plugin:name`` or a bare name).

        Raises:
            UnknownPartError: nobody registered it (close matches are suggested).
            AmbiguousPartError: a bare name that several plugins register.
        """
        if QUALIFIER in name:
            part = self._parts.get(name)
            if part is not None:
                return part
            raise self._unknown(name)
        candidates = [p for p in self._parts.values() if p.name == name]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise self._unknown(name)
        qualified = ", ".join(p.qualified_name for p in candidates)
        raise AmbiguousPartError(
            f"{self.kind} {name!r} is ambiguous: {qualified}",
            hint=f"say which one with its qualified name, e.g. {candidates[0].qualified_name}",
        )

    def _unknown(self, name: str) -> UnknownPartError:
        known = self.names()
        suggestion = did_you_mean(name, known + [p.qualified_name for p in self._parts.values()])
        listing = ", ".join(p.qualified_name for p in self._parts.values()) or "none registered"
        return UnknownPartError(
            f"unknown {self.kind} {name!r}" + (f"; {suggestion}" if suggestion else ""),
            hint=f"known {_plural(self.kind)}: {listing}. `kaspix plugins` lists every plugin and its parts",
        )

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered as ``name`` with ``*args, **kwargs`` and return what it builds."""
        part = self.get(name)
        if not callable(part.obj):
            raise KaspixError(f"{self.kind} {part.qualified_name!r} is not a factory and cannot be built")
        return part.obj(*args, **kwargs)

    def remove(self, qualified_name: str) -> None:
        """Forget ``plugin:name`` (used to roll back a plugin whose registration failed half-way)."""
        self._parts.pop(qualified_name, None)

    def names(self) -> list[str]:
        """All bare names, sorted and without repeats."""
        return sorted({p.name for p in self._parts.values()})

    def clashes(self) -> dict[str, list[str]]:
        """Bare names that several plugins register, each with its qualified names."""
        by_name: dict[str, list[str]] = {}
        for part in self._parts.values():
            by_name.setdefault(part.name, []).append(part.qualified_name)
        return {name: qualified for name, qualified in sorted(by_name.items()) if len(qualified) > 1}

    def from_plugin(self, plugin: str) -> list[Part[T]]:
        """The parts registered by one plugin, in registration order."""
        return [p for p in self._parts.values() if p.plugin == plugin]

    def __contains__(self, name: object) -> bool:
        """True when ``name`` resolves to exactly one part."""
        if not isinstance(name, str):
            return False
        if QUALIFIER in name:
            return name in self._parts
        return sum(p.name == name for p in self._parts.values()) == 1

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

    def clash_warnings(self) -> list[str]:
        """One line per bare name that several plugins register, for ``kaspix plugins``."""
        return [
            f"{registry.kind} {name!r} is registered by several plugins: use {', '.join(qualified)}"
            for registry in self.all()
            for name, qualified in registry.clashes().items()
        ]
