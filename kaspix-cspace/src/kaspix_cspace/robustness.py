"""Does the CSpace "ruler" hold across banks? The split search over bank sizes, Q rules and seeds.

For each bank variant the query vector at ``at`` is searched (summed forward + backward distance)
in two targets built from the same excerpt of the audio (``at +- radius`` samples, states computed
on the excerpt): the excerpt itself (the match must be ``at``) and a copy delayed by ``shift``
samples with white noise at ``snr_db`` (the match must be ``at + shift``). The only random parts
are the bank's frequency jitter (varied by seed) and the noise (seeded).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from kaspix_cspace.bank import BankSpec, bank_features
from kaspix_cspace.search import best_match, delayed_copy, v_sharpness
from kaspix_cspace.split_search import split_curves

__all__ = ["DEFAULT_VARIANTS", "bank_variants", "robustness_table"]

#: (label, changes to the default bank) searched by default.
DEFAULT_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    *((f"size {n}", {"n_oscillators": n}) for n in (16, 32, 64, 128, 256)),
    *((f"Q {q:g}", {"q": q}) for q in (2.0, 32.0, 128.0)),
    *((f"bandwidth {b:g} Hz", {"q_rule": "constant_bandwidth", "bandwidth_hz": b}) for b in (5.0, 50.0)),
    *((f"jitter seed {s}", {"jitter": 0.5, "seed": s}) for s in (0, 1, 2)),
)


def bank_variants(base: BankSpec, variants: tuple[tuple[str, dict[str, Any]], ...] = DEFAULT_VARIANTS) -> list[tuple[str, BankSpec]]:
    """``base`` with each variant's changes applied, labelled."""
    return [(label, base.with_(**changes)) for label, changes in variants]


def robustness_table(
    audio: np.ndarray,
    at: int,
    base: BankSpec,
    *,
    variants: tuple[tuple[str, dict[str, Any]], ...] = DEFAULT_VARIANTS,
    radius: int | None = None,
    shift: int = 37,
    snr_db: float = 20.0,
    width: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per bank variant: match errors (samples) and V sharpness (see the module docstring).

    Args:
        audio: Mono audio ``(T,)`` at ``base.sample_rate``.
        at: The query sample.
        base: The bank the variants start from.
        variants: ``(label, changes)`` pairs.
        radius: Half-width of the excerpt searched (default 0.5 s).
        shift: Delay of the noisy copy, in samples.
        snr_db: Signal-to-noise ratio of the noisy copy.
        width: Distance (samples) at which :func:`~kaspix_cspace.search.v_sharpness` is measured
            (default 0.5 ms).
        seed: Seed of the noise.

    Returns:
        Rows with ``label``, the bank's fields, ``self_match``, ``self_error``, ``shift_match``,
        ``shift_error``, ``self_sharpness``, ``shift_sharpness``.
    """
    rate = base.sample_rate
    radius = radius or rate // 2
    width = width or max(1, rate // 2000)
    lo, hi = max(0, at - radius), min(audio.shape[0], at + radius + 1)
    excerpt = np.asarray(audio[lo:hi], dtype=np.float64)
    noisy = delayed_copy(excerpt, shift, snr_db=snr_db, seed=seed)
    rows = []
    for label, spec in bank_variants(base, variants):
        clean = bank_features(excerpt, spec)
        query = clean[at - lo]
        self_curve = split_curves(query, clean)["sum"]
        shift_curve = split_curves(query, bank_features(noisy, spec))["sum"]
        self_match, shift_match = best_match(self_curve)[0] + lo, best_match(shift_curve)[0] + lo
        rows.append(
            {
                "label": label,
                **{k: v for k, v in asdict(spec).items() if k not in ("sample_rate", "f_max", "normalize")},
                "self_match": self_match,
                "self_error": self_match - at,
                "shift_match": shift_match,
                "shift_error": shift_match - (at + shift),
                "self_sharpness": v_sharpness(self_curve, self_match - lo, width),
                "shift_sharpness": v_sharpness(shift_curve, shift_match - lo, width),
            }
        )
    return rows
