"""``kaspix circuitgen ...`` commands: analyze a linear netlist, design a filter for a spec.

Only click and light modules are imported here; numpy, scipy and torch load when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from kaspix import KaspixError

from kaspix_circuitgen.families import FILTER_TYPES

__all__ = ["COMMANDS", "analyze_command", "design_command"]

SERIES_CHOICES = ("E12", "E24", "E48", "E96", "exact")


def _number(text: str, what: str) -> float:
    from kaspix_spice.netlist import parse_value

    try:
        return parse_value(text)
    except ValueError:
        raise KaspixError(f"{what} {text!r} is not a number", hint="write e.g. 1k, 2.2k, 50, 1e3 or 1meg") from None


@click.command("analyze")
@click.argument("netlist")
@click.option("--set", "overrides", multiple=True, metavar="KNOB=VALUE", help="Use this knob value (e.g. --set R_cut=10k).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def analyze_command(netlist: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Exact poles, zeros, DC/HF gain, filter type, cutoff or centre and Q of a linear netlist (MNA)."""
    from kaspix_circuitgen.analyze import analyze, format_analysis

    values = {}
    for item in overrides:
        name, sep, text = item.partition("=")
        if not sep:
            raise KaspixError(f"--set {item!r} is not KNOB=VALUE", hint="e.g. --set R_cut=10k")
        values[name.strip()] = _number(text.strip(), f"--set {name.strip()}")
    result = analyze(netlist, values or None)
    if as_json:
        plain = {k: ([[r.real, r.imag] for r in v] if k in ("poles", "zeros") else v) for k, v in result.items()}
        click.echo(json.dumps(plain, indent=2))
    else:
        click.echo(format_analysis(result))


@click.command("design")
@click.option("--type", "filter_type", type=click.Choice(FILTER_TYPES), required=True, help="The filter type.")
@click.option("--fc", "fc_text", required=True, help="Cutoff (low/high-pass) or centre (band-pass/stop) frequency in Hz: 1k, 50, 2.2e3.")
@click.option("--q", "q_text", help="Q: the pole-pair Q of a low/high-pass, f0 / bandwidth of a band filter.")
@click.option("--family", help="A family name or prefix (sallen_key, rlc, ...); default: every family of the type.")
@click.option("--n", "count", type=click.IntRange(1, 50), default=1, show_default=True, help="How many designs to print.")
@click.option("--series", type=click.Choice(SERIES_CHOICES, case_sensitive=False), default="E24", show_default=True)
@click.option(
    "--model",
    "run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="A circuitgen run whose trained model proposes the start values.",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Also write each netlist to OUT/designN_FAMILY.cir."
)
@click.option("--no-ngspice", is_flag=True, help="Skip the ngspice AC confirmation.")
def design_command(
    filter_type: str,
    fc_text: str,
    q_text: str | None,
    family: str | None,
    count: int,
    series: str,
    run_dir: Path | None,
    out_dir: Path | None,
    no_ngspice: bool,
) -> None:
    """Print a netlist (spice template conventions) for a filter spec, with E-series values, verified by MNA and ngspice."""
    from kaspix_spice.ac import ngspice_available

    from kaspix_circuitgen.design import Spec, design, render_netlist, spice_check

    spec = Spec(filter_type, _number(fc_text, "--fc"), None if q_text is None else _number(q_text, "--q"))
    spec.check()
    proposals = _model_proposals(run_dir, spec) if run_dir is not None else None
    designs = design(spec, family=family, series=series.upper() if series.lower() != "exact" else "exact", n=count, proposals=proposals)
    for number, d in enumerate(designs, start=1):
        netlist = render_netlist(d, spec)
        if len(designs) > 1:
            click.echo(f"* ---- design {number} of {len(designs)} ----")
        click.echo(netlist, nl=False)
        if no_ngspice:
            click.echo("* ngspice AC check: skipped (--no-ngspice)")
        elif not ngspice_available():
            click.echo("* ngspice AC check: skipped, ngspice is not installed (apt-get install ngspice)")
        else:
            check = spice_check(d, spec, netlist)
            click.echo(
                f"* ngspice AC check: {'fc' if filter_type in ('lowpass', 'highpass') else 'f0'} = {check['frequency_hz']:.6g} Hz "
                f"from the sweep, largest deviation from MNA {check['max_relative_deviation']:.2g} (relative)"
            )
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"design{number}_{d.family.name}.cir").write_text(netlist, encoding="utf-8")


def _model_proposals(run_dir: Path, spec: object) -> dict[str, object]:
    """Start values for every family from a trained model's spec encoder."""
    import numpy as np
    import torch

    from kaspix_circuitgen.data import spec_features
    from kaspix_circuitgen.families import FAMILIES
    from kaspix_circuitgen.inference import load_set_model
    from kaspix_circuitgen.physics import knob_values_from_unit

    path = run_dir / "artifacts" / "models" / "set_decoder.pt"
    if not path.is_file():
        raise KaspixError(f"no trained model in {run_dir}", hint="give the folder of a finished `kaspix run --plugin circuitgen`")
    model = load_set_model(path)
    features = torch.from_numpy(
        spec_features(
            np.array([FILTER_TYPES.index(spec.filter_type)]),
            np.array([spec.frequency_hz]),
            np.array([np.nan if spec.q is None else spec.q]),
        )
    )
    with torch.no_grad():
        return {
            fam.name: knob_values_from_unit(fam, model.propose(features, torch.tensor([i]))[1].clamp(-0.5, 1.5)).numpy()
            for i, fam in enumerate(FAMILIES)
        }


COMMANDS = (analyze_command, design_command)
