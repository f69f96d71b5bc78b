"""ESpace: audio through an echo-state reservoir (the Rust ``kaspix_esn``) as a "neural ruler".

A reservoir of N leaky tanh units whose leak rates are log-spaced (by default from 0.01 to 1, time
scales of 1 to 100 samples) turns each audio sample into an N-dimensional state that depends on
the recent past: fast units follow the waveform, slow ones its envelope. The three studies here
(each computes its numbers, writes a PNG and returns a JSON-ready dict with the PNG path):

- :func:`esn_spectrogram_study`: the states over time, units sorted by leak rate, under the waveform.
- :func:`esn_search_study`: the state at one sample of a query, its Euclidean distance to every
  state of a target (:mod:`kaspix_cspace.search`); the best match and the sharpness of the "V".
- :func:`esn_robustness_study`: that search over network sizes, seeds and sparsity levels, in the
  audio itself, a delayed copy and a delayed noisy copy.

Reservoirs are seeded (:class:`EsnSpec`), run from a zero state over the whole file in chunks of
:data:`CHUNK` samples with the state carried over (the same states as one pass, bit for bit), so
any length fits in memory. float64 by default: ``kaspix_esn`` runs it at millions of steps per
second, within 1e-12 of a numpy reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from kaspix import KaspixError

from kaspix_cspace.audio import check_sample_index
from kaspix_cspace.plotting import new_figure, save_png
from kaspix_cspace.search import best_match, delayed_copy, distance_curve, runner_up_margin, v_sharpness

if TYPE_CHECKING:
    from kaspix_esn import Reservoir

__all__ = [
    "CHUNK",
    "DEFAULT_ESN_VARIANTS",
    "EsnSpec",
    "esn_distance_curve",
    "esn_robustness_study",
    "esn_robustness_table",
    "esn_search_study",
    "esn_spectrogram_study",
    "esn_states",
    "iter_esn_states",
    "query_state",
]

#: Samples run per call into the reservoir (64 units in float64: 32 MiB of states).
CHUNK = 1 << 16

#: (label, changes to the default reservoir) searched by :func:`esn_robustness_table`.
DEFAULT_ESN_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    *((f"size {n}", {"n_units": n}) for n in (16, 32, 64, 128, 256)),
    *((f"seed {s}", {"seed": s}) for s in (1, 2, 3)),
    *((f"sparsity {p:g}", {"sparsity": p}) for p in (0.0, 0.5, 0.98)),
)


@dataclass(frozen=True)
class EsnSpec:
    """A seeded reservoir for audio.

    Attributes:
        n_units: Units N.
        leak_low: Smallest leak rate (slowest unit, time scale ``1 / leak_low`` samples).
        leak_high: Largest leak rate (fastest unit).
        spectral_radius: Spectral radius of W.
        sparsity: Fraction of zero entries in W.
        input_scaling: W_in is uniform in ``[-input_scaling, input_scaling]``.
        seed: Seed of W, W_in and the bias.
        precision: ``"float64"`` or ``"float32"`` (about 2.5x faster, states within ~1e-6).
    """

    n_units: int = 64
    leak_low: float = 0.01
    leak_high: float = 1.0
    spectral_radius: float = 0.9
    sparsity: float = 0.9
    input_scaling: float = 1.0
    seed: int = 0
    precision: str = "float64"

    def with_(self, **changes: Any) -> EsnSpec:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    @property
    def dtype(self) -> type[np.floating]:
        """The numpy float type the reservoir runs in."""
        if self.precision not in ("float32", "float64"):
            raise KaspixError(f"precision must be float32 or float64, got {self.precision!r}", where="precision")
        return np.float64 if self.precision == "float64" else np.float32

    def reservoir(self) -> Reservoir:
        """The reservoir (the same weights for the same spec, on every platform)."""
        from kaspix_esn import Reservoir, log_leak_rates

        try:
            leak = log_leak_rates(self.n_units, self.leak_low, self.leak_high)
            return Reservoir(
                self.n_units,
                leak_rates=leak,
                spectral_radius=self.spectral_radius,
                sparsity=self.sparsity,
                input_scaling=self.input_scaling,
                seed=self.seed,
            )
        except ValueError as exc:
            raise KaspixError(f"invalid reservoir settings: {exc}", where="reservoir") from None


def iter_esn_states(
    reservoir: Reservoir, audio: np.ndarray, dtype: type[np.floating], chunk: int = CHUNK
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, states)`` for consecutive chunks of ``audio``, from a zero state, the state carried over.

    Shape:
        ``audio`` ``(T,)``; each ``states`` ``(L, N)`` for samples ``start .. start + L - 1``.
    """
    signal = np.ascontiguousarray(audio, dtype=dtype)
    state = None
    for start in range(0, signal.shape[0], chunk):
        states = reservoir.run(signal[start : start + chunk], initial_state=state)
        state = states[-1]
        yield start, states


def esn_states(audio: np.ndarray, spec: EsnSpec) -> np.ndarray:
    """All the states of ``audio`` ``(T,)``: shape ``(T, N)`` in ``spec.dtype`` (for short audio)."""
    return spec.reservoir().run(np.ascontiguousarray(audio, dtype=spec.dtype))


def query_state(reservoir: Reservoir, audio: np.ndarray, at: int, dtype: type[np.floating]) -> np.ndarray:
    """The state ``(N,)`` after sample ``at`` of ``audio``, exactly as a run over the whole file has it."""
    state = None
    for _, states in iter_esn_states(reservoir, audio[: at + 1], dtype):
        state = states[-1]
    assert state is not None
    return state


def esn_distance_curve(reservoir: Reservoir, query_vector: np.ndarray, target: np.ndarray, dtype: type[np.floating]) -> np.ndarray:
    """Euclidean distance from ``query_vector`` ``(N,)`` to the state at every sample of ``target`` ``(T,)``: ``(T,)`` float64."""
    return np.concatenate([distance_curve(query_vector, states) for _, states in iter_esn_states(reservoir, target, dtype)])


def _unit_ticks(leak: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Y ticks for units sorted by leak rate: positions and their time scales (``1 / leak`` samples)."""
    ticks = np.unique(np.linspace(0, leak.size - 1, min(6, leak.size)).astype(int))
    return ticks, [f"{1 / leak[i]:.3g}" for i in ticks]


def esn_spectrogram_study(
    audio: np.ndarray,
    rate: int,
    out: Path,
    *,
    spec: EsnSpec | None = None,
    at: int | None = None,
    columns: int = 2000,
    where: str = "audio",
) -> dict[str, Any]:
    """The "neural spectrogram": reservoir states over time (every ``T / columns`` samples), units sorted
    by leak rate (fast at the top), under the waveform; a marker at ``at`` when given.

    The image shows the signed state at each plotted sample (a diverging colour scale clipped at
    the 99.5th percentile of ``|state|``), so fast units alias when ``T / columns`` exceeds their
    time scale; the summary gives how much each unit's state varies over the whole file (its
    standard deviation over time: fast units follow the waveform, slow ones only its envelope).
    """
    spec = spec or EsnSpec()
    if at is not None:
        check_sample_index(at, audio.shape[0], where)
    reservoir = spec.reservoir()
    leak = reservoir.weights()["leak_rates"]
    order = np.argsort(leak, kind="stable")
    hop = max(1, audio.shape[0] // columns)
    picked, total, square_sum, peak, state_at = [], np.zeros(spec.n_units), np.zeros(spec.n_units), 0.0, None
    for start, states in iter_esn_states(reservoir, audio, spec.dtype):
        picked.append(states[(-start) % hop :: hop])
        total += states.sum(axis=0, dtype=np.float64)
        square_sum += np.einsum("tn,tn->n", states, states, dtype=np.float64)
        peak = max(peak, float(np.abs(states).max()))
        if at is not None and start <= at < start + states.shape[0]:
            state_at = states[at - start]
    image = np.concatenate(picked)[:, order]
    mean = total / audio.shape[0]
    std = np.sqrt(np.maximum(square_sum / audio.shape[0] - mean**2, 0.0))[order]
    png = _plot_spectrogram(audio, rate, hop, image, leak[order], at, out)
    result: dict[str, Any] = {
        "samples": audio.shape[0],
        "sample_rate": rate,
        "units": spec.n_units,
        "leak_rate_range": [float(leak.min()), float(leak.max())],
        "precision": spec.precision,
        "hop": hop,
        "peak_abs_state": peak,
        "std_by_unit": std,
        "std_fastest_quarter": float(std[-max(1, std.size // 4) :].mean()),
        "std_slowest_quarter": float(std[: max(1, std.size // 4)].mean()),
        "png": str(png),
    }
    if state_at is not None:
        strongest = int(np.argmax(np.abs(state_at)))
        result["at"] = at
        result["state_norm_at"] = float(np.linalg.norm(state_at))
        result["strongest_unit_at"] = {"unit": strongest, "leak_rate": float(leak[strongest]), "state": float(state_at[strongest])}
    return result


def _plot_spectrogram(audio: np.ndarray, rate: int, hop: int, image: np.ndarray, leak: np.ndarray, at: int | None, path: Path) -> Path:
    """Waveform above the states ``(T', N)`` (units in ``leak`` order, fastest on top)."""
    figure, axes = new_figure(2, 1, size=(11, 7), sharex=True, height_ratios=[1, 3])
    axes[0].plot(np.arange(audio.shape[0]) / rate, audio, lw=0.5)
    axes[0].set_ylabel("amplitude")
    limit = float(np.percentile(np.abs(image), 99.5)) or 1.0
    extent = (0.0, (image.shape[0] * hop) / rate, 0, image.shape[1])
    shown = axes[1].imshow(
        image.T, aspect="auto", origin="lower", extent=extent, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    ticks, labels = _unit_ticks(leak)
    axes[1].set_yticks(ticks + 0.5, labels)
    axes[1].set_ylabel("unit time scale (samples)")
    axes[1].set_xlabel("time (s)")
    figure.colorbar(shown, ax=axes[1], label="state")
    for ax in axes if at is not None else ():
        ax.axvline(at / rate, color="black", lw=0.8, ls="--")
    axes[0].set_title(
        f"echo-state reservoir, {leak.size} units, every {hop} samples" + (f", marker at sample {at}" if at is not None else "")
    )
    return save_png(figure, path)


def esn_search_study(
    query: np.ndarray,
    target: np.ndarray,
    rate: int,
    at: int,
    out: Path,
    *,
    spec: EsnSpec | None = None,
    zoom: int | None = None,
    where: str = "query",
) -> dict[str, Any]:
    """Search the query's state at ``at`` among every state of the target (same reservoir, both from zero).

    The best match is the target sample with the smallest Euclidean distance (the earliest on ties);
    on the query itself it is ``at`` (distance 0), on a copy delayed by k samples ``at + k``. The V
    sharpness (:func:`~kaspix_cspace.search.v_sharpness`) and the closest rival
    (:func:`runner_up_margin`) are measured 0.5 ms or more from the match; the PNG shows the whole
    curve and ``+- zoom`` samples (default 10 ms) around the match.
    """
    spec = spec or EsnSpec()
    check_sample_index(at, query.shape[0], where)
    reservoir = spec.reservoir()
    vector = query_state(reservoir, query, at, spec.dtype)
    curve = esn_distance_curve(reservoir, vector, target, spec.dtype)
    match, distance = best_match(curve)
    width = max(1, rate // 2000)
    zoom = zoom or max(1, rate // 100)
    rival, margin = runner_up_margin(curve, match, width)
    png = _plot_search(curve, at, match, zoom, out)
    return {
        "at": at,
        "target_samples": target.shape[0],
        "units": spec.n_units,
        "precision": spec.precision,
        "best_match": match,
        "distance": distance,
        "offset": match - at,
        "median_distance": float(np.median(curve)),
        "sharpness": v_sharpness(curve, match, width),
        "sharpness_width": width,
        "runner_up": rival,
        "margin": margin,
        "png": str(png),
    }


def _plot_search(curve: np.ndarray, at: int, match: int, zoom: int, path: Path) -> Path:
    """The distance curve over the whole target, and zoomed to ``match +- zoom``."""
    figure, axes = new_figure(2, 1, size=(11, 7))
    lo, hi = max(0, match - zoom), min(curve.size, match + zoom + 1)
    for ax, first, values in ((axes[0], 0, curve), (axes[1], lo, curve[lo:hi])):
        ax.plot(np.arange(first, first + values.size), values, lw=0.8, color="black")
        ax.axvline(match, color="red", ls="--", lw=0.8, label=f"best match {match}")
        ax.set_ylabel("Euclidean distance")
    axes[0].set_title(f"distance to the reservoir state at query sample {at}")
    axes[0].legend(loc="upper right")
    axes[1].set_title(f"+-{zoom} samples around the match")
    axes[1].set_xlabel("target sample")
    return save_png(figure, path)


def esn_robustness_table(
    audio: np.ndarray,
    at: int,
    base: EsnSpec,
    *,
    variants: tuple[tuple[str, dict[str, Any]], ...] = DEFAULT_ESN_VARIANTS,
    radius: int = 12_000,
    shift: int = 37,
    snr_db: float = 20.0,
    width: int = 12,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per reservoir variant: the search of the state at ``at`` in three targets built from the
    excerpt ``at +- radius`` (states computed on each, from zero): the excerpt itself (``self``; the
    match must be ``at``), a copy delayed by ``shift`` samples (``shift``; the match must be
    ``at + shift``) and that copy plus white noise at ``snr_db`` (``noisy``; seeded by ``seed``).

    Returns:
        Rows with ``label``, ``n_units``, ``seed``, ``sparsity`` and, for each target ``c`` in
        ``self``, ``shift``, ``noisy``: ``c_match`` (sample), ``c_error`` (samples from where the
        match must be) and ``c_sharpness`` (V sharpness ``width`` samples from the match); plus
        ``margin``, the self search's :func:`runner_up_margin` beyond ``width`` samples.
    """
    lo, hi = max(0, at - radius), min(audio.shape[0], at + radius + 1)
    excerpt = np.asarray(audio[lo:hi], dtype=np.float64)
    targets = {"self": (excerpt, at), "shift": (delayed_copy(excerpt, shift), at + shift)}
    targets["noisy"] = (delayed_copy(excerpt, shift, snr_db=snr_db, seed=seed), at + shift)
    rows = []
    for label, changes in variants:
        spec = base.with_(**changes)
        states = {name: esn_states(signal, spec) for name, (signal, _) in targets.items()}
        query = states["self"][at - lo]
        row: dict[str, Any] = {"label": label, **{key: getattr(spec, key) for key in ("n_units", "seed", "sparsity")}}
        for name, (_, expected) in targets.items():
            curve = distance_curve(query, states[name])
            match = best_match(curve)[0]
            row[f"{name}_match"] = match + lo
            row[f"{name}_error"] = match + lo - expected
            row[f"{name}_sharpness"] = v_sharpness(curve, match, width)
            if name == "self":
                row["margin"] = runner_up_margin(curve, match, width)[1]
        rows.append(row)
    return rows


def _plot_robustness(rows: list[dict[str, Any]], shift: int, snr_db: float, path: Path) -> Path:
    """Match errors and V sharpness per reservoir variant, for the three targets (grouped bars)."""
    figure, axes = new_figure(2, 1, size=(11, 7), sharex=True)
    x = np.arange(len(rows))
    names = {"self": "itself", "shift": f"delayed {shift}", "noisy": f"delayed {shift} + noise {snr_db:g} dB"}
    for i, (name, legend) in enumerate(names.items()):
        offset = (i - 1) * 0.27
        axes[0].bar(x + offset, [row[f"{name}_error"] for row in rows], 0.27, label=legend)
        axes[1].bar(x + offset, [row[f"{name}_sharpness"] for row in rows], 0.27, label=legend)
    axes[0].set_ylabel("match error (samples)")
    axes[0].legend()
    axes[1].set_ylabel("V sharpness")
    axes[1].set_xticks(x, [row["label"] for row in rows], rotation=45, ha="right")
    return save_png(figure, path)


def esn_robustness_study(
    audio: np.ndarray,
    rate: int,
    at: int,
    out: Path,
    *,
    spec: EsnSpec | None = None,
    shift: int = 37,
    snr_db: float = 20.0,
    radius: int | None = None,
    variants: tuple[tuple[str, dict[str, Any]], ...] = DEFAULT_ESN_VARIANTS,
    seed: int = 0,
    where: str = "audio",
) -> dict[str, Any]:
    """:func:`esn_robustness_table` (radius default 0.5 s, sharpness and margin 0.5 ms from the match),
    its PNG, and counts of exact matches per target."""
    spec = spec or EsnSpec()
    check_sample_index(at, audio.shape[0], where)
    radius = radius or rate // 2
    if shift < 0 or at + shift >= min(audio.shape[0], at + radius + 1):
        raise KaspixError(
            f"the shifted match at {at} + {shift} falls outside the searched excerpt",
            where=where,
            hint=f"choose --at below {audio.shape[0] - shift} and a shift below the search radius {radius}",
        )
    width = max(1, rate // 2000)
    rows = esn_robustness_table(audio, at, spec, variants=variants, radius=radius, shift=shift, snr_db=snr_db, width=width, seed=seed)
    png = _plot_robustness(rows, shift, snr_db, out)
    return {
        "at": at,
        "shift": shift,
        "snr_db": snr_db,
        "radius": radius,
        "sharpness_width": width,
        "precision": spec.precision,
        "rows": rows,
        "exact_self_matches": sum(row["self_error"] == 0 for row in rows),
        "exact_shift_matches": sum(row["shift_error"] == 0 for row in rows),
        "exact_noisy_matches": sum(row["noisy_error"] == 0 for row in rows),
        "variants": len(rows),
        "png": str(png),
    }
