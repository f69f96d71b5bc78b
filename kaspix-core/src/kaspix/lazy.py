"""Factories that import their module only when called, so plugin modules stay light to import."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_factory"]


def lazy_factory(module: str, attribute: str, description: str = "") -> Callable[..., Any]:
    """A factory that imports ``module`` and calls its ``attribute`` with the arguments it is given.

    Register it instead of the real factory when the real one lives in a module that imports
    torch or another heavy library: ``kaspix plugins`` and ``kaspix --help`` then never import it.

    Args:
        module: Dotted module path, e.g. ``"kaspix_spice.losses"``.
        attribute: The factory's name in that module, e.g. ``"esr"``.
        description: The one line ``kaspix plugins`` shows (the factory's docstring is not read,
            since that would import the module).

    Example::

        register("esr", lazy_factory("kaspix_spice.losses", "esr", "Error-to-signal ratio"))
    """

    def factory(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    factory.__doc__ = description or f"{module}.{attribute}"
    factory.__name__ = attribute
    factory.__qualname__ = attribute
    return factory
