"""Emulator evaluation against SPICE: ESR, MAE, log-spectral distance, magnitude-response and characteristic-frequency error, plots.

**Waveform metrics** come from the test split's clips, and are reported for two starting
conditions: clips that fade in from 0 V (the circuit starts at rest) and clips that start at full
level (the circuit starts from its DC operating point for the first sample, as ngspice starts it
and as real audio, cut anywhere, does). A dataset holds either or both (``generate.fade_in_share``);
the evaluator makes the missing version of every test clip, the same excitation (its recipe and
seed) with or without the fade-in (``generate.fade_in_ms``, 5 ms if that is 0), and simulates it
like the dataset's own clips.

* **ESR**: ``sum (y - y_hat)^2 / sum y^2`` over all of a circuit's test clips together
  (energy-weighted, so a nearly silent clip cannot dominate).
* **MAE**: mean ``|y - y_hat|`` in volts, averaged over clips.
* **LSD** (log-spectral distance, dB): per clip, STFTs of ``y`` and ``y_hat`` (Hann window of
  1024 samples, hop 512, zero-padded at both ends: scipy's ``stft`` defaults), power spectra
  ``P = |STFT|^2`` floored at 60 dB below the target's largest bin; per frame the RMS over
  frequency of ``10 log10 P_hat - 10 log10 P``; the mean over frames; averaged over clips. The
  floor makes a filter's deep stop band count down to -60 dB re its peak, so the figure is larger
  than definitions that stop at a higher floor or average the log-spectra first.

**Magnitude responses** come from probing every test knob setting with one white-noise clip
(0.25 V RMS-scale, starting at full level), simulated and run through the model: ``|H|`` is
``|csd(x, y)| / psd(x)`` (Welch, 2048-sample segments). The response error is the RMS dB difference
within 40 dB of the true peak, 20 Hz to 0.9 Nyquist; the characteristic frequency follows the
template's ``kind`` (-3 dB cutoff for low/high-pass, peak for band-pass, dip for notch).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from kaspix.atomic import atomic_write_json

__all__ = [
    "PROBE_SEED",
    "STARTS",
    "characteristic_frequency",
    "esr",
    "evaluate",
    "lsd_db",
    "mae",
    "magnitude_response",
    "predict",
    "response_error_db",
]

PROBE_SEED = 12345
#: The two starting conditions scored: ``fade_in`` (from rest) and ``no_fade_in`` (from the operating point).
STARTS = ("fade_in", "no_fade_in")
#: The fade-in of the ``fade_in`` condition when the dataset's config has none.
DEFAULT_FADE_MS = 5.0
log = logging.getLogger("kaspix.spice")


def esr(prediction: np.ndarray, target: np.ndarray) -> float:
    """Error-to-signal ratio ``sum (y - y_hat)^2 / sum y^2``."""
    return float(np.sum((target - prediction) ** 2) / (np.sum(target**2) + 1e-12))


def mae(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error (volts)."""
    return float(np.mean(np.abs(target - prediction)))


def lsd_db(prediction: np.ndarray, target: np.ndarray, nperseg: int = 1024, floor_db: float = 60.0) -> float:
    """Log-spectral distance in dB (see the module docstring for the definition).

    RMS over frequency of the STFT log-power difference, averaged over frames; powers floored at
    ``floor_db`` below the target's largest bin so that empty bins do not dominate.
    """
    from scipy import signal

    _, _, sp = signal.stft(prediction, nperseg=nperseg)
    _, _, st = signal.stft(target, nperseg=nperseg)
    pp, pt = np.abs(sp) ** 2, np.abs(st) ** 2
    floor = max(float(pt.max()) * 10 ** (-floor_db / 10), 1e-20)
    diff = 10 * np.log10(np.maximum(pp, floor)) - 10 * np.log10(np.maximum(pt, floor))
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def magnitude_response(x: np.ndarray, y: np.ndarray, fs: float, nperseg: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and ``|H|`` in dB estimated from input ``x`` and output ``y``."""
    from scipy import signal

    nperseg = min(nperseg, len(x))
    f, pxy = signal.csd(x, y, fs=fs, nperseg=nperseg)
    _, pxx = signal.welch(x, fs=fs, nperseg=nperseg)
    return f, 20 * np.log10(np.abs(pxy) / np.maximum(pxx, 1e-30) + 1e-12)


def response_error_db(f: np.ndarray, h_true_db: np.ndarray, h_pred_db: np.ndarray, span_db: float = 40.0) -> float:
    """RMS difference in dB of two magnitude responses, over 20 Hz .. 0.9 Nyquist where the true one
    is within ``span_db`` of its peak (so a filter's deep stop band does not dominate)."""
    band = (f >= 20) & (f <= 0.9 * f[-1])
    band &= h_true_db >= np.max(h_true_db[band]) - span_db
    return float(np.sqrt(np.mean((h_pred_db[band] - h_true_db[band]) ** 2)))


def characteristic_frequency(f: np.ndarray, h_db: np.ndarray, kind: str) -> float | None:
    """Cutoff (-3 dB from the passband), centre (peak) or notch (dip) frequency in Hz; None for other kinds."""
    band = (f >= 20) & (f <= 0.9 * f[-1])
    f, h = f[band], h_db[band]
    if kind == "bandpass":
        return float(f[np.argmax(h)])
    if kind == "notch":
        return float(f[np.argmin(h)])
    if kind == "lowpass":
        below = np.flatnonzero(h < np.max(h[: max(3, len(h) // 20)]) - 3)
        return float(f[below[0]]) if len(below) else float(f[-1])
    if kind == "highpass":
        below = np.flatnonzero(h < np.max(h[-max(3, len(h) // 20) :]) - 3)
        return float(f[below[-1]]) if len(below) else float(f[0])
    return None


def predict(model: Any, x: np.ndarray, knobs: np.ndarray, circuit_id: np.ndarray, batch: int = 16) -> np.ndarray:
    """Run ``model`` on whole clips ``x (N, T)``, each from the steady state for its first sample; returns ``(N, T)``."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.as_tensor(x[i : i + batch], dtype=torch.float32, device=device)[..., None]
            kb = torch.as_tensor(knobs[i : i + batch], dtype=torch.float32, device=device)
            cb = torch.as_tensor(circuit_id[i : i + batch], dtype=torch.long, device=device)
            out.append(model(xb, kb, cb)[..., 0].cpu().numpy())
    return np.concatenate(out) if out else np.zeros_like(x)


def evaluate(
    model: Any,
    dataset_path: str | Path,
    out_dir: str | Path,
    *,
    split: str = "test",
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    probe: bool = True,
    starts: bool = True,
    plots: bool = True,
) -> dict[str, Any]:
    """Metrics per circuit and overall, plus PNG plots in ``out_dir``; writes ``evaluation.json`` there (atomically).

    ``split``, ``val_fraction``, ``test_fraction`` and ``seed`` select the clips as training split them
    (:func:`kaspix_spice.dataset.split_settings`).

    Args:
        probe: Measure ``|H|`` and the characteristic frequency (one simulation per test setting).
        starts: Score both starting conditions (one simulation per test clip, for the version of it
            the dataset does not hold).

    Returns:
        ``{"overall": {...}, "per_circuit": {name: {...}}}`` for the clips as stored, with ``esr``,
        ``mae``, ``lsd_db`` and, with ``probe``, ``response_error_db`` and, for linear filters,
        ``freq_error_hz`` (mean absolute) and ``freq_error_rel``; with ``starts`` also
        ``"starts": {"fade_in": {"overall", "per_circuit"}, "no_fade_in": {...}}`` with ``esr``,
        ``mae``, ``lsd_db`` and ``clips`` (test clips whose versions could not be made or
        simulated are left out of both conditions; a condition without clips is left out).
    """
    import h5py

    from kaspix_spice.config import GenerateConfig
    from kaspix_spice.dataset import read_metadata, split_settings
    from kaspix_spice.generate import load_templates

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = read_metadata(dataset_path)
    fs = float(meta["fs"])
    config = GenerateConfig.model_validate(meta["config"])
    names = {int(k): Path(v).stem for k, v in meta["circuit_mapping"].items()}
    with h5py.File(dataset_path, "r") as f:
        cid_all, sid_all = f["circuit_id"][()], f["setting_id"][()]
        rows = (
            split_settings(cid_all, sid_all, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)[split]
            if split != "all"
            else np.arange(len(cid_all))
        )
        x, y = f["audio_in"][()][rows], f["audio_out"][()][rows]
        knobs, physical = f["knobs"][()][rows], f["knobs_physical"][()][rows]
        recipes = [json.loads(r) for r in f["recipe"][()][rows].astype(str)]
    cid, sid = cid_all[rows], sid_all[rows]
    templates = dict(enumerate(load_templates(config)))
    pred = predict(model, x, knobs, cid)
    per_circuit = _scores(cid, names, pred, y)
    for c in np.unique(cid):
        idx = np.flatnonzero(cid == c)
        name = names[int(c)]
        if plots:
            _plot_waveform(out_dir / f"waveform_{name}.png", x[idx[0]], y[idx[0]], pred[idx[0]], fs, name)
        if probe and not templates[int(c)].own_sources:
            per_circuit[name].update(
                _probe(
                    model,
                    meta["circuit_kinds"][name],
                    templates[int(c)],
                    config,
                    int(c),
                    idx,
                    sid,
                    knobs,
                    physical,
                    fs,
                    out_dir if plots else None,
                )
            )
    result: dict[str, Any] = {"overall": _overall(per_circuit), "per_circuit": per_circuit}
    if starts:
        result["starts"] = {}
        versions = _start_versions(x, y, recipes, cid, physical, templates, config)
        for start, (keep, xs, ys) in versions.items():
            if not len(keep):  # e.g. templates driven by their own sources: no clips to remake
                continue
            scores = _scores(cid[keep], names, predict(model, xs, knobs[keep], cid[keep]), ys)
            result["starts"][start] = {"overall": _overall(scores), "per_circuit": scores}
    atomic_write_json(out_dir / "evaluation.json", result)
    return result


def _scores(cid: np.ndarray, names: dict[int, str], pred: np.ndarray, y: np.ndarray) -> dict[str, dict[str, Any]]:
    """ESR (energy-weighted over a circuit's clips), mean MAE and mean LSD per circuit."""
    scores = {}
    for c in np.unique(cid):
        idx = np.flatnonzero(cid == c)
        scores[names[int(c)]] = {
            "esr": esr(pred[idx], y[idx]),
            "mae": float(np.mean([mae(pred[i], y[i]) for i in idx])),
            "lsd_db": float(np.mean([lsd_db(pred[i], y[i]) for i in idx])),
            "clips": len(idx),
        }
    return scores


def _overall(per_circuit: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Means over circuits."""
    overall = {k: float(np.mean([s[k] for s in per_circuit.values()])) for k in ("esr", "mae", "lsd_db")}
    for key in ("freq_error_hz", "response_error_db"):
        values = [s[key] for s in per_circuit.values() if s.get(key) is not None]
        if values:
            overall[key] = float(np.mean(values))
    return overall


def _start_versions(
    x: np.ndarray,
    y: np.ndarray,
    recipes: list[dict[str, Any]],
    cid: np.ndarray,
    physical: np.ndarray,
    templates: dict[int, Any],
    config: Any,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per starting condition ``(rows kept, inputs, outputs)``: the stored clip, or its other version simulated.

    A clip is remade from its recipe and seed (:func:`kaspix_spice.excitation.make_clip`); one that
    does not remake into the stored clip (another excitation, a template with its own sources) or
    whose simulation fails is left out.
    """
    from kaspix_spice.excitation import make_clip
    from kaspix_spice.simulate import SimulationError
    from kaspix_spice.simulator import choose_simulator, simulate_template

    fade_ms = config.fade_in_ms or DEFAULT_FADE_MS
    made: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {start: [] for start in STARTS}
    for i, recipe in enumerate(recipes):
        template = templates[int(cid[i])]
        if template.own_sources or "seed" not in recipe:
            continue
        stored = "fade_in" if recipe.get("fade_in_ms", 0.0) > 0 else "no_fade_in"
        other = "no_fade_in" if stored == "fade_in" else "fade_in"
        share = {"fade_in": 1.0, "no_fade_in": 0.0}
        again, _ = make_clip(config.recipes, x.shape[1], config.fs, recipe["seed"], recipe.get("fade_in_ms", 0.0) or fade_ms, share[stored])
        if not np.allclose(again, x[i], rtol=0, atol=1e-6):
            continue
        other_x, _ = make_clip(config.recipes, x.shape[1], config.fs, recipe["seed"], fade_ms, share[other])
        values = {k.name: float(physical[i, j]) for j, k in enumerate(template.knobs)}
        try:
            other_y = simulate_template(template, values, other_x, config, choose_simulator(template, config.simulator)).y
        except SimulationError as exc:
            log.warning("evaluation: the %s version of test clip %d (%s) failed to simulate: %s", other, i, template.name, exc)
            continue
        made[stored].append((i, x[i], y[i]))
        made[other].append((i, other_x.astype(np.float32), np.asarray(other_y, dtype=np.float32)))
    versions = {}
    for start, items in made.items():
        keep = np.array([i for i, _, _ in items], dtype=np.int64)
        shape = (0, x.shape[1])
        versions[start] = (
            keep,
            np.stack([v for _, v, _ in items]) if items else np.zeros(shape, np.float32),
            np.stack([v for _, _, v in items]) if items else np.zeros(shape, np.float32),
        )
    return versions


def _probe(
    model: Any,
    kind: str,
    template: Any,
    config: Any,
    c: int,
    idx: np.ndarray,
    sid: np.ndarray,
    knobs: np.ndarray,
    physical: np.ndarray,
    fs: float,
    plot_dir: Path | None,
) -> dict[str, Any]:
    """Simulate one white-noise clip per test setting and run it through the model; compare |H| and f_c."""
    from kaspix_spice.excitation import white
    from kaspix_spice.simulate import SimulationError
    from kaspix_spice.simulator import choose_simulator, simulate_template

    n = round(config.clip_seconds * fs)
    x = 0.25 * white(np.random.default_rng(PROBE_SEED), n, fs, {})
    simulator = choose_simulator(template, config.simulator)
    responses, errors, rel, response_errors = [], [], [], []
    for setting in np.unique(sid[idx]):
        row = idx[np.flatnonzero(sid[idx] == setting)[0]]
        values = {k.name: float(physical[row, j]) for j, k in enumerate(template.knobs)}
        try:
            y = simulate_template(template, values, x, config, simulator).y
        except SimulationError:
            continue
        p = predict(model, x[None], knobs[row][None], np.array([c]))[0]
        f, h_true = magnitude_response(x, y, fs)
        _, h_pred = magnitude_response(x, p, fs)
        responses.append((values, f, h_true, h_pred))
        response_errors.append(response_error_db(f, h_true, h_pred))
        fc_true, fc_pred = characteristic_frequency(f, h_true, kind), characteristic_frequency(f, h_pred, kind)
        if fc_true is not None and fc_pred is not None:
            errors.append(abs(fc_pred - fc_true))
            rel.append(abs(fc_pred - fc_true) / fc_true)
    if plot_dir is not None and responses:
        _plot_responses(plot_dir / f"response_{template.name}.png", responses, template.name)
    scores: dict[str, Any] = {"response_error_db": float(np.mean(response_errors)) if response_errors else None}
    if not errors:
        return {**scores, "freq_error_hz": None}
    return {**scores, "freq_error_hz": float(np.mean(errors)), "freq_error_rel": float(np.mean(rel))}


def _plot_waveform(path: Path, x: np.ndarray, y: np.ndarray, p: np.ndarray, fs: float, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(len(y), int(0.02 * fs))
    start = max(0, int(np.argmax(np.abs(y))) - n // 2)
    start = min(start, len(y) - n)
    t = (np.arange(start, start + n)) / fs * 1e3
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(t, x[start : start + n], color="0.7", lw=0.8, label="input")
    ax.plot(t, y[start : start + n], lw=1.4, label="SPICE")
    ax.plot(t, p[start : start + n], "--", lw=1.2, label="model")
    ax.set(xlabel="time (ms)", ylabel="volts", title=f"{name}: predicted vs SPICE")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_responses(path: Path, responses: list[tuple[dict[str, float], np.ndarray, np.ndarray, np.ndarray]], name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (values, f, h_true, h_pred) in enumerate(responses):
        color = f"C{i % 10}"
        label = ", ".join(f"{k}={v:.3g}" for k, v in values.items())
        ax.semilogx(f[1:], h_true[1:], color=color, lw=1.4, label=label)
        ax.semilogx(f[1:], h_pred[1:], "--", color=color, lw=1.0)
    ax.set(xlabel="frequency (Hz)", ylabel="|H| (dB)", title=f"{name}: SPICE (solid) vs model (dashed)", xlim=(20, f[-1]))
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
