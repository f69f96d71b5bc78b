"""Job processes: started in their own session (so they outlive the server), signalled as a group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["launch", "pid_alive", "runs_marker", "signal_group"]


def launch(args: list[str], *, output: Path, cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``kaspix ARGS`` with stdout and stderr appended to ``output``.

    The process leads a new session and process group (its pid is the group id), so a signal to
    the group reaches everything it started, and stopping the server does not stop it.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "kaspix", *args],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )


def signal_group(pid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to the process group led by ``pid``; False when it no longer exists."""
    if pid <= 1:  # 0 and -1 would mean this server's own group, or every process
        return False
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def runs_marker(pid: int, marker: str) -> bool:
    """True when the live process ``pid`` has ``marker`` among its arguments.

    A restarted server uses it to tell its job (whose arguments name the run folder) from an
    unrelated process that got the same pid. Without ``/proc`` only liveness is checked.
    """
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            arguments = handle.read().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc").is_dir()  # no /proc at all: trust the pid; else the process just ended
    except OSError:
        return True
    return marker.encode() in arguments
