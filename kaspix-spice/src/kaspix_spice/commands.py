"""``kaspix spice ...`` commands: inspect a netlist template, generate a dataset, export it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from kaspix import KaspixError


@click.command("inspect")
@click.argument("netlist", required=False)
@click.option("--list", "list_shipped", is_flag=True, help="List the shipped circuits.")
@click.option(
    "--own-sources", is_flag=True, help="Check it as driven by its own sources (generate.excitation: template): keep Vin, need .tran."
)
def inspect_command(netlist: str | None, list_shipped: bool, own_sources: bool) -> None:
    """Print a template's kind, knobs, ranges and nodes, or every rule it breaks (with line numbers)."""
    from kaspix_spice.classify import classify, format_hz
    from kaspix_spice.netlist import DEFAULT_RANGE, check_template_text, read_template_text, resolve_circuit, shipped_circuits

    if list_shipped or netlist is None:
        for name in shipped_circuits():
            click.echo(name)
        return
    path = resolve_circuit(netlist)
    result = check_template_text(read_template_text(path), path, {}, own_sources=own_sources)
    if isinstance(result, list):
        for problem in result:
            click.echo(f"error: {problem}", err=True)
        raise KaspixError(
            f"the template breaks {len(result)} rule(s), listed above",
            where=str(path),
            hint="fix each line above; the conventions are in kaspix-spice/README.md, section Netlist templates",
        )
    click.echo(f"{result.name}  ({path})")
    click.echo(f"kind: {classify(result).describe()}")
    if result.tran:
        step, stop = result.tran
        click.echo(f"driven by its own sources: .tran step {step:.4g} s (sample rate {format_hz(1 / step)}), stop {stop:.4g} s")
    click.echo(f"nodes: {', '.join(result.nodes)}")
    click.echo("knobs:" if result.knobs else "knobs: none")
    for knob in result.knobs:
        scale = "log" if knob.log else "lin"
        click.echo(
            f"  {knob.name:<12} default {knob.default:<10.4g} range {knob.low:.4g} .. {knob.high:.4g} ({scale})  "
            f"line {knob.line}, range from {knob.range_source}"
        )
    for knob in result.knobs:
        if knob.range_source == DEFAULT_RANGE:
            click.echo(
                f"warning: knob {knob.name} has no range in the netlist or the config, so it is sampled over "
                f"{knob.low:.4g} .. {knob.high:.4g} ({DEFAULT_RANGE}); if that makes no physical sense, give it one: "
                f"`.param {knob.name}={knob.default:g} ; range LOW..HIGH` or generate.knob_ranges",
                err=True,
            )
    source = "its own sources kept" if result.own_sources else "Vin on node 'input'"
    click.echo(f"ok: {source}, node 'output' present, every knob used")


def load_generate_config(path: Path | None, overrides: list[str]) -> Any:
    """The generation config from a YAML file in either form, plus ``--set`` overrides.

    The file may be the pipeline's config (``kaspix config --plugin spice > full.yaml``: its
    ``generate:`` section is used, the rest is checked too) or the fields of ``generate:`` alone.
    Overrides name generation fields, with or without the ``generate.`` prefix.
    """
    from kaspix.config import load_config, read_yaml_mapping

    from kaspix_spice.config import GenerateConfig, SpiceConfig

    bare = [o.removeprefix("generate.") for o in overrides]
    if path is not None and "generate" in read_yaml_mapping(path):
        return load_config(SpiceConfig, path, [f"generate.{o}" for o in bare]).generate
    return load_config(GenerateConfig, path, bare)


@click.command("generate")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML: the pipeline's config (its generate: section) or the generation fields alone.",
)
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE", help="Override a field, e.g. --set settings_per_circuit=4.")
@click.option("--workers", type=int, help="Worker processes (each with its own ngspice).")
@click.option("--executor", type=click.Choice(["local", "ray"]), help="Run shards locally or on a Ray cluster.")
@click.option("--address", help="Ray cluster address (with --executor ray).")
@click.option("--regenerate", is_flag=True, help="Simulate again the shards made from other inputs (an edited netlist, ...).")
def generate_command(
    out_dir: Path,
    config_path: Path | None,
    overrides: tuple[str, ...],
    workers: int | None,
    executor: str | None,
    address: str | None,
    regenerate: bool,
) -> None:
    """Simulate a dataset into OUT_DIR/dataset.h5; rerun the same command to resume."""
    import logging

    from kaspix_spice.generate import generate

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    extra = [f"workers={workers}"] if workers else []
    extra += [f"executor={executor}"] if executor else []
    extra += [f"ray_address={address}"] if address else []
    extra += ["on_stale=regenerate"] if regenerate else []
    cfg = load_generate_config(config_path, [*overrides, *extra])
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
