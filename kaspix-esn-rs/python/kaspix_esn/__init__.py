"""kaspix_esn: a leaky-integrator echo-state reservoir compiled in Rust.

``Reservoir`` runs ``x[t] = (1 - a) * x[t-1] + a * tanh(W @ x[t-1] + W_in @ u[t] + b)`` over
float32 or float64 signals, one at a time (``run``) or many on threads (``run_batch``).
``kaspix_esn.reference.run_reference`` is the same update in plain numpy, for cross-checks.
"""

from kaspix_esn._native import (
    TANH_F32_MAX_ERROR,
    TANH_F64_MAX_ERROR,
    TANH_F64_MAX_REL_ERROR,
    Reservoir,
    __version__,
    log_leak_rates,
)

__all__ = ["TANH_F32_MAX_ERROR", "TANH_F64_MAX_ERROR", "TANH_F64_MAX_REL_ERROR", "Reservoir", "__version__", "log_leak_rates"]
