"""The input feed of a simulation: ngspice's ``GetVSRCData`` and ``GetSyncData`` callbacks.

Both callbacks run at every time point (hundreds of thousands per second of audio), so they are
compiled: ``_ngspice_feed.c`` is built with the package and loaded with ctypes, and ngspice calls
it with no Python in the loop. Where that library is missing (a platform without a C compiler at
install time) or ``KASPIX_SPICE_PYTHON_FEED=1`` is set, the same two callbacks run in Python:
identical results, several times slower (``benchmarks/spice_throughput.py`` measures both).
"""

from __future__ import annotations

import ctypes as C
import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np

PYTHON_FEED_ENV = "KASPIX_SPICE_PYTHON_FEED"

GetVSRCData = C.CFUNCTYPE(C.c_int, C.POINTER(C.c_double), C.c_double, C.c_char_p, C.c_int, C.c_void_p)
GetSyncData = C.CFUNCTYPE(C.c_int, C.c_double, C.POINTER(C.c_double), C.c_double, C.c_int, C.c_int, C.c_int, C.c_void_p)


class Feed(Protocol):
    """Where ngspice gets ``Vin``'s voltage and its time steps from."""

    name: str
    source: C._CFuncPtr  # a GetVSRCData function pointer
    sync: C._CFuncPtr  # a GetSyncData function pointer

    def start(self, x: np.ndarray, fs: float, grid: float, timeout_s: float) -> None:
        """Point the callbacks at ``x`` (kept alive until the next start) for a run on ``grid``."""

    def timed_out(self) -> bool:
        """Whether the last run was stopped at its deadline."""


class CompiledFeed:
    """The callbacks of ``_ngspice_feed.c``."""

    name = "compiled"

    def __init__(self, library: Path) -> None:
        self._lib = C.CDLL(str(library))
        self._lib.kx_feed_set.argtypes = [C.POINTER(C.c_double), C.c_long, C.c_double, C.c_double, C.c_double]
        self._lib.kx_feed_set.restype = None
        self.source = GetVSRCData(("kx_feed_source", self._lib))
        self.sync = GetSyncData(("kx_feed_sync", self._lib))
        self._x = np.zeros(1)

    def start(self, x: np.ndarray, fs: float, grid: float, timeout_s: float) -> None:
        self._x = np.ascontiguousarray(x, dtype=np.float64)
        self._lib.kx_feed_set(self._x.ctypes.data_as(C.POINTER(C.c_double)), len(self._x), fs, grid, timeout_s)

    def timed_out(self) -> bool:
        return bool(self._lib.kx_feed_timed_out())


class PythonFeed:
    """The same callbacks in Python (the fallback)."""

    name = "python"

    def __init__(self) -> None:
        self._x: list[float] = [0.0]
        self._fs = 1.0
        self._grid = 1.0
        self._deadline = float("inf")
        self._calls = 0
        self._timed_out = False
        self.source = GetVSRCData(self._on_source)
        self.sync = GetSyncData(self._on_sync)

    def start(self, x: np.ndarray, fs: float, grid: float, timeout_s: float) -> None:
        self._x = [float(v) for v in np.asarray(x, dtype=np.float64)] or [0.0]
        self._fs, self._grid = float(fs), float(grid)
        self._deadline = time.monotonic() + timeout_s
        self._calls = 0
        self._timed_out = False

    def timed_out(self) -> bool:
        return self._timed_out

    def _on_source(self, value: C.POINTER(C.c_double), t: float, _name: bytes, _ident: int, _user: object) -> int:
        x = self._x
        position = t * self._fs
        k = int(position)
        if position <= 0:
            value[0] = x[0]
        elif k >= len(x) - 1:
            value[0] = x[-1]
        else:
            value[0] = x[k] + (x[k + 1] - x[k]) * (position - k)
        return 0

    def _on_sync(self, t: float, delta: C.POINTER(C.c_double), _old: float, _redo: int, _ident: int, location: int, _user: object) -> int:
        if location != 0:
            return 0
        h = self._grid
        step_to_grid = (int(t / h + 1e-6) + 1) * h - t
        if delta[0] > step_to_grid:
            delta[0] = step_to_grid
        self._calls += 1
        if self._calls % 512 == 0 and time.monotonic() > self._deadline:
            self._timed_out = True
            delta[0] = 1e-30  # ngspice then stops with "timestep too small"
        return 0


def compiled_library() -> Path | None:
    """The built ``_ngspice_feed`` library next to this module, if the install compiled it."""
    return next(iter(sorted(Path(__file__).parent.glob("_ngspice_feed*.so"))), None)


def make_feed() -> Feed:
    """The compiled feed, or the Python one where it is missing or ``KASPIX_SPICE_PYTHON_FEED=1``."""
    library = compiled_library()
    if library is None or os.environ.get(PYTHON_FEED_ENV) == "1":
        return PythonFeed()
    return CompiledFeed(library)
