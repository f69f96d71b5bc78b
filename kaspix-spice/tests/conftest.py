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
def real_style(write_cir) -> Path:
    """A netlist written the way real ones are: comments in Spanish, AC source, braces, own analyses."""
    return write_cir(REAL_STYLE, "universal.cir")


BUCK = """* Buck converter driven by its own supply and gate sources
* Rango sugerido Duty: 0.2 a 0.8 (20% a 80%)
.param D=0.5
.param V_in_val=12 ; tensión de entrada, range 9..15 lin
.param T_sw=10u ; periodo de conmutación (Rango sugerido: 5u - 20u)
.param L_val=100u ; range 47u..220u
.param C_val=22u ; range 10u..47u
.param R_load=5 ; range 3..10
Vin input 0 DC {V_in_val}
Vgate gate 0 PULSE(0 5 0 10n 10n {D*T_sw} {T_sw})
S1 input sw gate 0 SW
.model SW SW(Ron=10m Roff=10Meg Vt=2.5 Vh=0.1)
D1 0 sw DSCH
.model DSCH D(Is=1e-6 Rs=10m N=1 Cjo=10p)
L1 sw output {L_val}
C1 output 0 {C_val}
Rload output 0 {R_load}
.tran 0.1u 1m
.end
"""


@pytest.fixture
def buck_converter(write_cir) -> Path:
    """A switching converter driven by its own supply and gate sources, with knobs in its Vin line and PULSE."""
    return write_cir(BUCK, "buck.cir")


@pytest.fixture
def write_cir(tmp_path: Path):
    """Write a netlist text to a .cir file and return its path."""

    def write(text: str, name: str = "t.cir") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
