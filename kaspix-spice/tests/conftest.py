"""Shared fixtures: small netlists written by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL_STYLE = """* Filtro universal — estilo de las netlists reales
* kind: lowpass
.param R_tune=10k ; rango del potenciómetro, range 2k..47k
.param C_f=10n
.param R_half={R_tune * 0.5} ; resistencia derivada
Vin input 0 DC 0 AC 1
R1 input a {R_half}
R2 a b {R_half}
C1 b 0 {C_f}
* amplificador operacional ideal
E1 output 0 VOLTAGE ( b output ) 1e5
RLoad output 0 100k ; carga
.subckt buf in out
Ebuf out 0 in 0 1
.ends
.model DX D(Is=1e-14)
.tran 10u 10m
.ac dec 10 10 100k
.control
run
.endc
.end
"""


@pytest.fixture
def real_style(tmp_path: Path) -> Path:
    """A netlist written the way real ones are: comments in Spanish, AC source, braces, own analyses."""
    path = tmp_path / "universal.cir"
    path.write_text(REAL_STYLE, encoding="utf-8")
    return path


@pytest.fixture
def write_cir(tmp_path: Path):
    """Write a netlist text to a .cir file and return its path."""

    def write(text: str, name: str = "t.cir") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
