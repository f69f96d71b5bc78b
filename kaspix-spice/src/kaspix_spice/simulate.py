"""Exact, fast transient simulation through ngspice's shared library (ctypes, no PySpice).

How it stays exact and fast:

* the netlist's ``Vin input 0 external`` asks the library for its voltage at every time point;
  the ``GetVSRCData`` callback answers with the input linearly interpolated between samples;
* the ``GetSyncData`` callback clamps every time step so that ngspice lands on each point of a
  grid of ``substeps`` points per sample period: the output is read on the input's sample grid
  with no interpolation error; trapezoidal integration's error falls as ``1 / substeps**2``;
* both callbacks are compiled C (:mod:`kaspix_spice.feed`), so no Python runs per time point;
* ngspice starts from its DC operating point for ``x[0]``.

One library instance lives in each process (:func:`engine`); ``OMP_NUM_THREADS`` is set to 1
before the library loads, as ngspice links libgomp.
"""

from __future__ import annotations

import ctypes as C
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaspix_spice.feed import make_feed

LIBRARY_ENV = "NGSPICE_LIBRARY_PATH"
_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libngspice.so.0",
    "/usr/lib/x86_64-linux-gnu/libngspice.so",
    "/usr/lib/libngspice.so.0",
    "/usr/local/lib/libngspice.so",
)

_SendChar = C.CFUNCTYPE(C.c_int, C.c_char_p, C.c_int, C.c_void_p)
_ControlledExit = C.CFUNCTYPE(C.c_int, C.c_int, C.c_bool, C.c_bool, C.c_int, C.c_void_p)
_BGThreadRunning = C.CFUNCTYPE(C.c_int, C.c_bool, C.c_int, C.c_void_p)


class _VectorInfo(C.Structure):
    _fields_ = [
        ("v_name", C.c_char_p),
        ("v_type", C.c_int),
        ("v_flags", C.c_short),
        ("v_realdata", C.POINTER(C.c_double)),
        ("v_compdata", C.c_void_p),
        ("v_length", C.c_int),
    ]


class SimulationError(RuntimeError):
    """A simulation that did not finish (no convergence, timeout, bad netlist); the message says why."""


def library_path() -> Path:
    """The ngspice shared library: ``$NGSPICE_LIBRARY_PATH`` or Debian's ``libngspice0``."""
    configured = os.environ.get(LIBRARY_ENV)
    if configured:
        return Path(configured)
    for candidate in _CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    from kaspix import KaspixError

    raise KaspixError(
        "the ngspice shared library was not found", hint=f"apt-get install libngspice0, or set {LIBRARY_ENV} to libngspice.so.0"
    )


class NgSpice:
    """The ngspice shared library of this process, set up for sample-exact external input.

    Use :func:`engine` rather than building one: the library holds global state.
    """

    def __init__(self, path: Path | None = None) -> None:
        os.environ["OMP_NUM_THREADS"] = "1"
        self._lib = C.CDLL(str(path or library_path()))
        self._lib.ngSpice_Command.argtypes = [C.c_char_p]
        self._lib.ngSpice_Circ.argtypes = [C.POINTER(C.c_char_p)]
        self._lib.ngGet_Vec_Info.argtypes = [C.c_char_p]
        self._lib.ngGet_Vec_Info.restype = C.POINTER(_VectorInfo)
        self._messages: list[str] = []
        self._exited = False
        self.feed = make_feed()
        # ctypes callbacks must stay referenced for as long as the library may call them
        self._callbacks = (
            _SendChar(self._on_text),
            _SendChar(self._on_status),
            _ControlledExit(self._on_exit),
            _BGThreadRunning(lambda *_: 0),
        )
        text, status, exit_, bg = self._callbacks
        self._lib.ngSpice_Init(text, status, exit_, None, None, bg, None)
        ident = C.c_int(0)
        self._lib.ngSpice_Init_Sync(self.feed.source, None, self.feed.sync, C.byref(ident), None)

    # -- callbacks ---------------------------------------------------------------------------
    def _on_text(self, text: bytes, _ident: int, _user: object) -> int:
        self._messages.append(text.decode("utf-8", errors="replace"))
        return 0

    def _on_status(self, _text: bytes, _ident: int, _user: object) -> int:
        return 0

    def _on_exit(self, status: int, _unload: bool, _quit: bool, _ident: int, _user: object) -> int:
        self._exited = True
        self._messages.append(f"ngspice asked to exit with status {status}")
        return 0

    # -- API -----------------------------------------------------------------------------------
    def command(self, text: str) -> None:
        """Send one interactive command (``destroy all``, ``remcirc``, ...)."""
        self._lib.ngSpice_Command(text.encode())

    def version(self) -> str:
        """The library's version, e.g. ``ngspice-39``."""
        self._messages.clear()
        self.command("version -s")
        for message in self._messages:
            if match := re.search(r"ngspice-\S+", message):
                return match.group(0)
        return "ngspice (unknown version)"

    def _vector(self, name: str) -> np.ndarray | None:
        pointer = self._lib.ngGet_Vec_Info(name.encode())
        if not pointer:
            return None
        info = pointer.contents  # a static struct inside ngspice: copy before the next call
        if not info.v_realdata or info.v_length <= 0:
            return None
        return np.ctypeslib.as_array(info.v_realdata, (info.v_length,)).copy()

    def simulate(self, netlist: Sequence[str], x: np.ndarray, fs: float, *, substeps: int = 2, timeout_s: float = 60.0) -> np.ndarray:
        """Run a transient analysis with ``Vin`` fed from ``x``; return ``v(output)`` on the sample grid.

        Args:
            netlist: Lines from :meth:`kaspix_spice.netlist.Template.render` (``Vin input 0 external``,
                ``.tran`` with a maximum step of ``1 / (fs * substeps)``, ending ``x``'s last sample).
            x: Input samples (volts).
            fs: Sample rate in Hz.
            substeps: Time points per sample period.
            timeout_s: Wall-clock limit.

        Raises:
            SimulationError: when ngspice rejects the netlist, does not converge, or runs out of time.
        """
        if self._exited:
            raise SimulationError("ngspice exited earlier in this process; start a new process")
        self.feed.start(np.asarray(x, dtype=np.float64), float(fs), 1.0 / (fs * substeps), timeout_s)
        self._messages.clear()
        lines = [*netlist]
        if lines[-1].strip().lower() != ".end":
            lines.append(".end")
        array = (C.c_char_p * (len(lines) + 1))(*[line.encode("utf-8") for line in lines], None)
        try:
            if self._lib.ngSpice_Circ(array) != 0 or self._load_failed():
                raise SimulationError("ngspice rejected the netlist: " + self._errors())
            self._lib.ngSpice_Command(b"run")
            t = self._vector("time")
            y = self._vector("V(output)")
            stop = (len(x) - 1) / fs
            if self.feed.timed_out():
                raise SimulationError(f"timed out after {timeout_s:g} s")
            if t is None or y is None or len(t) != len(y) or t[-1] < stop - 0.5 / (fs * substeps):
                reached = f"{t[-1]:.6g} s of {stop:.6g} s" if t is not None and len(t) else "nothing"
                raise SimulationError(f"the transient analysis stopped early ({reached}): " + self._errors())
            return np.interp(np.arange(len(x)) / fs, t, y)
        finally:
            self._lib.ngSpice_Command(b"destroy all")
            self._lib.ngSpice_Command(b"remcirc")

    def _load_failed(self) -> bool:
        return any("circuit not parsed" in m.lower() or "there is no circuit" in m.lower() for m in self._messages)

    def _errors(self) -> str:
        lines = [m.removeprefix("stderr ").strip() for m in self._messages if m.startswith("stderr")]
        lines = [line for line in lines if line and not line.lower().startswith("note:")]
        return "; ".join(lines[-4:]) or "no message from ngspice"


@dataclass(frozen=True)
class Simulated:
    """A simulated output, the time points per sample it took, its estimated error, and what made it.

    ``error_estimate`` is relative to the output's RMS (NaN when ``substeps`` was fixed; 0 for the
    exact analytic ``mna`` simulator, which takes no substeps: ``substeps`` is 0).
    """

    y: np.ndarray
    substeps: int
    error_estimate: float
    simulator: str = "ngspice"


def simulate_to_tolerance(
    render: Callable[[int], Sequence[str]],
    x: np.ndarray,
    fs: float,
    *,
    substeps: int | str = "auto",
    tolerance: float = 1e-2,
    max_substeps: int = 16,
    timeout_s: float = 60.0,
) -> Simulated:
    """Simulate ``x`` with a fixed ``substeps``, or (``"auto"``) refine until the error is within ``tolerance``.

    Trapezoidal integration's error falls as ``h**2``: halving the step cuts it by four, so the
    error of the finer of two runs is about a third of their difference (Richardson's estimate).
    ``"auto"`` runs 1, 2, 4, ... substeps until that estimate is at most ``tolerance`` or
    ``max_substeps`` is reached. The finer run's output is returned, not an extrapolation.

    Two measured facts shape the estimate:

    * It holds only once the runs are in the ``h**2`` regime. At 1-4 substeps they often are not
      (clicks through a 10.7 kHz resonance: the estimate from 2 and 4 substeps read 0.008 where the
      error was 0.021), so an estimate is trusted only when the last two differences shrank by a
      factor between 3 and 5.5, as ``h**2`` makes them; from there on it is within a few percent.
    * It is the RMS of the error relative to the output's RMS (the square root of the
      error-to-signal ratio a model is trained on). The largest error relative to the RMS, used
      before, charges sparse signals their crest factor: clicks through a Q = 21 resonance (crest
      factor ~56) with an error of 1e-3 of the peak read as 0.07.

    Args:
        render: The netlist for a given ``substeps`` (its ``.tran`` maximum step depends on it).
        x, fs: Input samples and sample rate.
        timeout_s: Wall-clock limit for all the runs of this sample together.
    """
    deadline = time.monotonic() + timeout_s
    run = engine()
    if substeps != "auto":
        return Simulated(run.simulate(render(int(substeps)), x, fs, substeps=int(substeps), timeout_s=timeout_s), int(substeps), math.nan)
    steps = 1
    coarse = run.simulate(render(steps), x, fs, substeps=steps, timeout_s=timeout_s)
    last_difference = math.nan
    while True:
        steps *= 2
        fine = run.simulate(render(steps), x, fs, substeps=steps, timeout_s=max(deadline - time.monotonic(), 1e-3))
        difference = float(np.sqrt(np.mean((fine - coarse) ** 2)))
        rms = float(np.sqrt(np.mean(fine**2)))
        error = difference / 3 / rms if rms > 0 else 0.0
        in_regime = difference == 0 or 3.0 <= last_difference / difference <= 5.5
        if (error <= tolerance and in_regime) or steps >= max_substeps:
            return Simulated(fine, steps, error)
        coarse, last_difference = fine, difference


_ENGINE: NgSpice | None = None


def engine() -> NgSpice:
    """This process's ngspice (loaded on first use)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = NgSpice()
    return _ENGINE
