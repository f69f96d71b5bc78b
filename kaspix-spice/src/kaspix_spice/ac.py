"""ngspice's AC analysis of a template: the small-signal response to check MNA (and designs) against.

The template is rendered as for a transient run (:meth:`kaspix_spice.netlist.Template.render`), with
``Vin input 0 DC 0 AC 1`` instead of the external source and a ``.control`` block that runs
``ac dec N f1 f2`` and writes ``v(output)`` with 15 digits. ngspice runs as a separate batch process
(``ngspice -b``), so this does not touch the shared library of :mod:`kaspix_spice.simulate`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from kaspix_spice.netlist import Template
from kaspix_spice.simulate import SimulationError

__all__ = ["ac_netlist", "ac_response", "ngspice_available"]


def ngspice_available() -> bool:
    """Whether the ``ngspice`` program is on the PATH."""
    return shutil.which("ngspice") is not None


def ac_netlist(
    template: Template, values: dict[str, float] | None, *, f_start: float, f_stop: float, per_decade: int, out: Path
) -> list[str]:
    """The netlist lines of an AC sweep of ``template`` that writes ``v(output)`` to ``out``.

    The transient's shunt resistors (``.options rshunt``) are left out: this sweep checks the exact
    small-signal response.
    """
    lines = template.render(values or {}, step=1.0, stop=1.0)
    dropped = ("Vin input 0 external", ".save", ".tran", ".options rshunt")
    kept = [line for line in lines if not line.startswith(dropped) and line.strip().lower() != ".end"]
    return [
        *kept,
        "Vin input 0 DC 0 AC 1",
        ".control",
        "set numdgt=15",
        f"ac dec {int(per_decade)} {f_start:.12g} {f_stop:.12g}",
        f"wrdata {out} v(output)",
        "quit",
        ".endc",
        ".end",
        "",
    ]


def ac_response(
    template: Template,
    values: dict[str, float] | None = None,
    *,
    f_start: float = 1.0,
    f_stop: float = 1e6,
    per_decade: int = 20,
    timeout_s: float = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and the complex ``v(output)`` of an AC sweep with a 1 V input.

    Args:
        template: A loaded template; ``values`` sets its knobs (missing ones keep their defaults).
        f_start, f_stop, per_decade: The logarithmic sweep.
        timeout_s: Wall-clock limit of the ngspice process.

    Raises:
        SimulationError: ngspice is missing, rejects the netlist, or writes no data.
    """
    if not ngspice_available():
        raise SimulationError("ngspice is not installed (apt-get install ngspice)")
    with tempfile.TemporaryDirectory(prefix="kaspix-ac-") as folder:
        out = Path(folder) / "ac.txt"
        netlist = Path(folder) / "ac.cir"
        netlist.write_text("\n".join(ac_netlist(template, values, f_start=f_start, f_stop=f_stop, per_decade=per_decade, out=out)))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        try:
            done = subprocess.run(["ngspice", "-b", str(netlist)], capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
        except subprocess.TimeoutExpired:
            raise SimulationError(f"ngspice's AC analysis timed out after {timeout_s:g} s") from None
        if not out.is_file():
            errors = [line for line in (done.stdout + done.stderr).splitlines() if "error" in line.lower()]
            raise SimulationError("ngspice wrote no AC data: " + ("; ".join(errors[-3:]) or f"exit code {done.returncode}"))
        data = np.loadtxt(out, ndmin=2)
    return data[:, 0], data[:, 1] + 1j * data[:, 2]
