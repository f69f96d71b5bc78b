"""How close a reconstruction is to its reference: time-domain MSE, CSpace error and SI-SNR.

* ``mse``: ``mean((out - ref)^2)``.
* ``si_snr_db``: scale-invariant SNR in dB (:func:`kaspix_cspace.losses.si_snr_db`).
* ``cspace_error``: relative error of the bidirectional oscillator-bank states,
  ``||F(out) - F(ref)||^2 / ||F(ref)||^2`` — the state term of the ``cspace`` loss
  (:class:`~kaspix_cspace.losses.CSpaceLoss` with its default bank and no time-domain term);
  ``cspace_error_db`` is the same in dB (lower is better; -20 dB = 1 % of the state energy).

Lengths: two signals of different lengths are an error (a :class:`~kaspix.KaspixError`) unless
``trim=True``, which compares the first ``min(len)`` samples and says so in the result
(``trimmed_samples``) and in a logged warning. Sample rates: the output file is resampled to the
reference's rate (with a warning, see :func:`kaspix_cspace.audio.read_wav`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from kaspix import KaspixError

from kaspix_cspace.audio import read_wav
from kaspix_cspace.losses import CSpaceLoss, si_snr_db

__all__ = ["fidelity", "fidelity_files"]

log = logging.getLogger(__name__)


@torch.no_grad()
def fidelity(
    reference: np.ndarray, estimate: np.ndarray, *, sample_rate: int, trim: bool = False, where: str | None = None
) -> dict[str, Any]:
    """Compare ``estimate`` with ``reference`` (both mono ``(T,)`` at ``sample_rate``).

    Args:
        reference: The original audio.
        estimate: The reconstruction.
        sample_rate: Hz (sets the oscillator bank of the CSpace error).
        trim: Compare the common first ``min(len)`` samples when lengths differ, instead of raising.
        where: Names the inputs in error messages.

    Returns:
        ``{"mse", "si_snr_db", "cspace_error", "cspace_error_db", "samples", "trimmed_samples"}``.

    Raises:
        KaspixError: the lengths differ (and ``trim`` is false), or an input is empty.
    """
    ref = np.asarray(reference, dtype=np.float32).reshape(-1)
    est = np.asarray(estimate, dtype=np.float32).reshape(-1)
    if ref.size == 0 or est.size == 0:
        raise KaspixError("cannot compare empty audio", where=where)
    trimmed = abs(len(ref) - len(est))
    if trimmed and not trim:
        raise KaspixError(
            f"the reference has {len(ref)} samples and the output {len(est)} ({trimmed} {'more' if len(est) > len(ref) else 'fewer'})",
            where=where,
            hint="compare files of the same length, or pass --trim to compare the first min(len) samples",
        )
    if trimmed:
        log.warning(
            "%slengths differ by %d samples; compared the first %d", f"{where}: " if where else "", trimmed, min(len(ref), len(est))
        )
    n = min(len(ref), len(est))
    x, y = torch.from_numpy(ref[:n])[None], torch.from_numpy(est[:n])[None]
    state_error = float(CSpaceLoss(sample_rate=sample_rate, time_weight=0.0)(y, x))
    return {
        "mse": float(torch.mean((y.double() - x.double()) ** 2)),
        "si_snr_db": float(si_snr_db(y, x)[0]),
        "cspace_error": state_error,
        "cspace_error_db": 10 * math.log10(state_error) if state_error > 0 else -math.inf,
        "samples": n,
        "trimmed_samples": trimmed,
    }


def fidelity_files(reference: str | Path, output: str | Path, *, trim: bool = False) -> dict[str, Any]:
    """:func:`fidelity` of two audio files; the output is resampled to the reference's rate. Adds ``sample_rate``."""
    ref, rate = read_wav(reference, what="reference audio")
    out, _ = read_wav(output, sample_rate=rate, what="output audio")
    result = fidelity(ref, out, sample_rate=rate, trim=trim, where=f"{reference} vs {output}")
    return {**result, "sample_rate": rate}
