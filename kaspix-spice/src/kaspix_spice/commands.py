"""``kaspix spice ...`` commands: inspect a netlist template, generate a dataset, export it."""

from __future__ import annotations

from pathlib import Path

import click
from kaspix import KaspixError


@click.command("inspect")
@click.argument("netlist", required=False)
@click.option("--list", "list_shipped", is_flag=True, help="List the shipped circuits.")
def inspect_command(netlist: str | None, list_shipped: bool) -> None:
    """Print a template's knobs, ranges and nodes, or every rule it breaks (with line numbers)."""
    from kaspix_spice.netlist import check_template_text, read_template_text, resolve_circuit, shipped_circuits

    if list_shipped or netlist is None:
        for name in shipped_circuits():
            click.echo(name)
        return
    path = resolve_circuit(netlist)
    result = check_template_text(read_template_text(path), path, {})
    if isinstance(result, list):
        for problem in result:
            click.echo(f"error: {problem}", err=True)
        raise KaspixError(
            f"the template breaks {len(result)} rule(s), listed above",
            where=str(path),
            hint="fix each line above; the conventions are in kaspix-spice/README.md, section Netlist templates",
        )
    click.echo(f"{result.name}  ({path})")
    click.echo(f"kind: {result.kind}")
    click.echo(f"nodes: {', '.join(result.nodes)}")
    click.echo("knobs:" if result.knobs else "knobs: none")
    for knob in result.knobs:
        scale = "log" if knob.log else "lin"
        click.echo(f"  {knob.name:<12} default {knob.default:<10.4g} range {knob.low:.4g} .. {knob.high:.4g} ({scale})  line {knob.line}")
    click.echo("ok: Vin on node 'input', node 'output' present, every knob used")


@click.command("generate")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML with generation fields (circuits, recipes, ...)."
)
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE", help="Override a field, e.g. --set settings_per_circuit=4.")
@click.option("--workers", type=int, help="Worker processes (each with its own ngspice).")
@click.option("--executor", type=click.Choice(["local", "ray"]), help="Run shards locally or on a Ray cluster.")
@click.option("--address", help="Ray cluster address (with --executor ray).")
def generate_command(
    out_dir: Path, config_path: Path | None, overrides: tuple[str, ...], workers: int | None, executor: str | None, address: str | None
) -> None:
    """Simulate a dataset into OUT_DIR/dataset.h5; rerun the same command to resume."""
    import logging

    from kaspix.config import load_config

    from kaspix_spice.config import GenerateConfig
    from kaspix_spice.generate import generate

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    extra = [f"workers={workers}"] if workers else []
    extra += [f"executor={executor}"] if executor else []
    extra += [f"ray_address={address}"] if address else []
    cfg = load_config(GenerateConfig, config_path, [*overrides, *extra])
    path = generate(cfg, out_dir)
    click.echo(f"wrote {path}")


@click.command("export")
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["pt"]), default="pt", show_default=True)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file (default: DATASET with .pt).")
def export_command(dataset: Path, fmt: str, out: Path | None) -> None:
    """Export an HDF5 dataset to the seed project's .pt layout (loads with weights_only=True)."""
    from kaspix_spice.dataset import export_pt

    path = export_pt(dataset, out or dataset.with_suffix(f".{fmt}"))
    click.echo(f"wrote {path}")


COMMANDS = (inspect_command, generate_command, export_command)
