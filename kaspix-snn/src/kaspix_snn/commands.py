"""``kaspix snn ...`` commands (light to import: h5py and numpy load when a command runs)."""

from __future__ import annotations

from pathlib import Path

import click
from kaspix import KaspixError

__all__ = ["COMMANDS", "inspect_command"]


@click.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--images", default=1000, show_default=True, help="Recorded images the firing rates are averaged over.")
def inspect_command(path: Path, images: int) -> None:
    """Summarize a recording: PATH is an activity_dataset.h5 or a run folder holding one."""
    import numpy as np

    from kaspix_snn.activity import ActivityReader
    from kaspix_snn.files import ACTIVITY

    file = path / "artifacts" / ACTIVITY if path.is_dir() else path
    if not file.is_file():
        raise KaspixError(f"no recording at {file}", hint=f"give an {ACTIVITY} or a run folder whose record_activity step finished")
    try:
        reader = ActivityReader(file)
    except (OSError, KeyError) as exc:
        raise KaspixError(f"not a kaspix-snn recording: {exc}", where=str(file)) from None
    with reader:
        meta = reader.metadata
        count = min(images, len(reader))
        click.echo(f"{file}  ({file.stat().st_size / 2**20:.1f} MiB)")
        click.echo(f"experiment {meta['experiment']!r}, label {meta['dataset_name']!r}, data {meta['data_source']}")
        click.echo(
            f"{len(reader)} images, {meta['ticks_per_image']} ticks each, encoding {meta['encoding']}, potentials {meta['potentials']}"
        )
        click.echo(f"images per class: {np.bincount(reader.labels, minlength=len(meta['class_names'])).tolist()}")
        for layer in reader.layer_names:
            rates = np.zeros(reader.units(layer))
            for start in range(0, count, 256):
                rates += reader.spikes(layer, slice(start, min(start + 256, count))).mean(axis=1).sum(axis=0)
            rates /= max(count, 1)
            stored = reader.file[f"layers/{layer}/spikes"]
            click.echo(
                f"  {layer:<10} {reader.units(layer):>7} units  mean rate {rates.mean():.4f}/tick  silent {np.mean(rates == 0):.0%}  "
                f"spikes {stored.shape} {stored.compression or 'uncompressed'}" + ("  + potentials" if reader.has_potentials(layer) else "")
            )


COMMANDS = (inspect_command,)
