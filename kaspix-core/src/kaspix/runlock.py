"""One process owns a run folder: an advisory lock file that the kernel releases when its owner dies.

``run.lock`` holds the owner's pid and host (for messages); ownership itself is an exclusive
``flock`` on that file, so a process killed with ``kill -9`` leaves no lock behind, and a run whose
``run.json`` still says ``running`` with nobody holding the lock is known to be dead.
POSIX only (``fcntl``); on other systems runs are not locked.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from types import TracebackType

from kaspix.errors import KaspixError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, runs are not protected
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "RunInUseError", "RunLock", "is_locked"]

LOCK_FILE = "run.lock"


class RunInUseError(KaspixError):
    """Another live process owns the run folder."""


def _owner_text(path: Path) -> str:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {owner['pid']} on host {owner['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class RunLock:
    """Exclusive ownership of a run folder for the length of a ``with`` block.

    Args:
        run_path: The run folder.

    Raises:
        RunInUseError: on entry, when another live process holds the lock.
    """

    def __init__(self, run_path: str | Path) -> None:
        self.path = Path(run_path) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if fcntl is None:
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunInUseError(
                    f"this run is being run by {_owner_text(self.path)}",
                    where=str(self.path.parent),
                    hint="wait for it to finish (or stop it), then resume; `kaspix runs` shows its status",
                ) from None
            if self._still_the_file(fd):
                break
            os.close(fd)  # the previous owner removed the file while we waited for it: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        self._fd = fd
        return self

    def _still_the_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # before unlocking, so no newcomer's fresh lock file is removed
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def is_locked(run_path: str | Path) -> bool:
    """True when a live process owns the run folder (always False where locks are unsupported)."""
    path = Path(run_path) / LOCK_FILE
    if fcntl is None or not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
