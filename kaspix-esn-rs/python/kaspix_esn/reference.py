"""The reservoir update in plain numpy: the reference the compiled ``Reservoir`` is tested against."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def run_reference(
    signal: ArrayLike,
    w: ArrayLike,
    w_in: ArrayLike,
    bias: ArrayLike,
    leak_rates: ArrayLike,
    initial_state: ArrayLike | None = None,
) -> NDArray[np.floating]:
    """States ``x[t] = (1 - a) * x[t-1] + a * tanh(W @ x[t-1] + W_in @ u[t] + b)`` for every step.

    ``signal`` is (T,) or (T, C); ``w`` (N, N), ``w_in`` (N, C), ``bias`` and ``leak_rates`` (N,),
    e.g. ``run_reference(signal, **reservoir.weights())``. Computes in float32 when ``signal`` is
    float32 and in float64 otherwise; returns the (T, N) states in that dtype.
    """
    signal = np.asarray(signal)
    dtype = np.float32 if signal.dtype == np.float32 else np.float64
    u = signal.astype(dtype, copy=False)
    if u.ndim == 1:
        u = u[:, None]
    w = np.asarray(w, dtype=dtype)
    w_in = np.asarray(w_in, dtype=dtype).reshape(w.shape[0], -1)
    a = np.asarray(leak_rates, dtype=dtype)
    keep = (1 - a).astype(dtype)
    drive = u @ w_in.T + np.asarray(bias, dtype=dtype)
    x = np.zeros(w.shape[0], dtype=dtype) if initial_state is None else np.asarray(initial_state, dtype=dtype).copy()
    states = np.empty((u.shape[0], w.shape[0]), dtype=dtype)
    for t in range(u.shape[0]):
        x = keep * x + a * np.tanh(w @ x + drive[t])
        states[t] = x
    return states
