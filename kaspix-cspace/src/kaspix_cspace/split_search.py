"""Split-state search: forward-only, backward-only and summed distance curves of CSpace features.

Features are laid out ``[Re fwd, Im fwd, Re bwd, Im bwd]`` (:func:`kaspix_cspace.bank.bank_features`):
the first half sees the past, the second the future. Around an event the forward distance drops
only after it and the backward distance only before it; their sum is sharp at it.
"""

from __future__ import annotations

import numpy as np

from kaspix_cspace.search import distance_curve

__all__ = ["split_curves"]


def split_curves(query_vector: np.ndarray, target_features: np.ndarray) -> dict[str, np.ndarray]:
    """Distance curves of ``query_vector`` ``(4 C,)`` against ``target_features`` ``(T, 4 C)``.

    Returns:
        ``{"forward": d_f, "backward": d_b, "sum": d_f + d_b}``, each float64 ``(T,)``, where
        ``d_f`` uses the forward half of the features and ``d_b`` the backward half.
    """
    half = np.asarray(query_vector).shape[-1] // 2
    forward = distance_curve(query_vector[:half], target_features[:, :half])
    backward = distance_curve(query_vector[half:], target_features[:, half:])
    return {"forward": forward, "backward": backward, "sum": forward + backward}
