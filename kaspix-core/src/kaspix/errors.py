"""Errors that users can fix: shown as one clear message, never as a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["KaspixError", "did_you_mean"]


class KaspixError(Exception):
    """A mistake the user can fix (bad config, unknown name, missing file).

    The CLI prints ``where: message`` and the hint, and exits with code 2.

    Args:
        message: What is wrong.
        where: Where it is wrong (a file, a field path, a plugin), if known.
        hint: How to fix it.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return a 'did you mean ...?' phrase for the candidates closest to ``name``."""
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not matches:
        return None
    return "did you mean " + " or ".join(repr(m) for m in matches) + "?"
