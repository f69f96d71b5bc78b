"""What every ``kaspix cspace`` command shares: options, input files, and how results are printed.

Usage in a command module (keep numpy/torch/matplotlib imports inside the command function)::

    @click.command("search")
    @click.argument("query")
    @at_option()
    @out_option("cspace_search.png")
    @json_option
    def search_command(query: str, at: int, out: Path, as_json: bool) -> None:
        audio, rate, path = load_input(query, what="query audio")
        ...
        emit(["best match: sample 48000"], {"best_match": 48000, "png": str(out)}, as_json)

Results are printed as a few human lines, or with ``--json`` as one JSON object (numpy scalars
and arrays become numbers and lists; NaN and infinities become ``null``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from kaspix import KaspixError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_OUT_DIR",
    "at_option",
    "emit",
    "input_wav_path",
    "json_option",
    "load_input",
    "noisy_copy_options",
    "out_option",
    "sample_rate_option",
    "to_jsonable",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Where PNGs go when ``--out`` is not given (relative to the working directory).
DEFAULT_OUT_DIR = Path("results")


def out_option(default_name: str) -> Callable[[F], F]:
    """``--out PATH``: where the command writes its PNG (default ``results/<default_name>``)."""
    return click.option(
        "--out",
        "out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_OUT_DIR / default_name,
        show_default=True,
        help="PNG file to write (its folder is created).",
    )


def noisy_copy_options(function: F) -> F:
    """The robustness commands' target: ``--shift`` (delay), ``--snr`` (noise), ``--seed``, ``--radius`` (excerpt)."""
    options = (
        click.option(
            "--shift", type=click.IntRange(min=0), default=37, show_default=True, help="Delay (samples) of the noisy copy searched."
        ),
        click.option("--snr", "snr_db", type=float, default=20.0, show_default=True, help="SNR (dB) of the noisy copy."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise."),
        click.option("--radius", type=click.IntRange(min=1), help="Search --at +- RADIUS samples (default 0.5 s)."),
    )
    for option in reversed(options):
        function = option(function)
    return function


def json_option(function: F) -> F:
    """``--json``: print machine-readable results (the parameter is named ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")(function)


def at_option(*, required: bool = True, default: int | None = None, help: str = "Sample index of the query.") -> Callable[[F], F]:
    """``--at SAMPLE``: a sample index (checked against the audio by :func:`kaspix_cspace.audio.check_sample_index`)."""
    return click.option("--at", "at", type=int, required=required and default is None, default=default, metavar="SAMPLE", help=help)


def sample_rate_option(function: F) -> F:
    """``--sample-rate HZ``: resample the input to this rate (default: keep the file's rate)."""
    return click.option(
        "--sample-rate",
        "sample_rate",
        type=click.IntRange(min=1),
        default=None,
        metavar="HZ",
        help="Resample inputs to this rate (default: the (first) file's own rate).",
    )(function)


def input_wav_path(value: str | Path, *, what: str = "audio") -> Path:
    """Turn a command-line argument into the path of an existing file, or raise a clear error.

    Raises:
        KaspixError: the path is empty, missing or a folder.
    """
    if not str(value).strip():
        raise KaspixError(f"no {what} file given", hint="give the path of a WAV file")
    path = Path(value).expanduser()
    if not path.exists():
        raise KaspixError(f"{what} file not found", where=str(path), hint="check the path; the commands take WAV files")
    if not path.is_file():
        raise KaspixError(f"{what} path is not a file", where=str(path), hint="give a WAV file, not a folder")
    return path


def load_input(value: str | Path, *, what: str = "audio", sample_rate: int | None = None) -> tuple[np.ndarray, int, Path]:
    """Resolve and read an input WAV: ``(audio float32 (T,), rate, path)``; see :func:`kaspix_cspace.audio.read_wav`."""
    from kaspix_cspace.audio import read_wav

    path = input_wav_path(value, what=what)
    audio, rate = read_wav(path, sample_rate=sample_rate, what=what)
    return audio, rate, path


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, tuples and paths made JSON-ready; NaN and infinities become ``None``."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return to_jsonable(obj.tolist())
    if isinstance(obj, Iterable):
        return [to_jsonable(v) for v in obj]
    return str(obj)


def emit(summary: str | Iterable[str], result: Mapping[str, Any], as_json: bool) -> None:
    """Print the human ``summary`` lines, or (``as_json``) ``result`` as one indented JSON object."""
    if as_json:
        click.echo(json.dumps(to_jsonable(result), indent=2, allow_nan=False))
        return
    for line in [summary] if isinstance(summary, str) else summary:
        click.echo(line)
