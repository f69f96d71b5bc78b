"""Progress for long work: a rich bar on a terminal, plain periodic log lines elsewhere."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["PLAIN_ENV", "is_interactive", "track"]

T = TypeVar("T")

PLAIN_ENV = "KASPIX_PLAIN_PROGRESS"


def is_interactive() -> bool:
    """True when progress bars make sense: stderr is a terminal and plain output was not asked for."""
    return sys.stderr.isatty() and os.environ.get(PLAIN_ENV, "") in {"", "0"}


def track(
    items: Iterable[T],
    *,
    description: str = "working",
    total: int | None = None,
    logger: logging.Logger | None = None,
    every_s: float = 10.0,
) -> Iterator[T]:
    """Yield from ``items`` while showing progress.

    On a terminal this is a rich progress bar; otherwise a log line is written at most
    every ``every_s`` seconds and once at the end, so CI logs and job logs stay readable.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if is_interactive():
        from rich.progress import track as rich_track

        yield from rich_track(items, description=description, total=total, transient=False)
        return
    log = logger or logging.getLogger("kaspix")
    start = last = time.monotonic()
    count = 0
    for item in items:
        yield item
        count += 1
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            log.info("%s: %s", description, _fraction(count, total))
    log.info("%s: done, %s in %.1f s", description, _fraction(count, total), time.monotonic() - start)


def _fraction(count: int, total: int | None) -> str:
    if total:
        return f"{count}/{total} ({100.0 * count / total:.0f}%)"
    return str(count)
