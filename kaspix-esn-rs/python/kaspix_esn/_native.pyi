"""Type stubs of the compiled module ``kaspix_esn._native`` (Rust, pyo3)."""

from collections.abc import Sequence
from typing import TypedDict, TypeVar, final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str
TANH_F32_MAX_ERROR: float
"""Largest absolute error of the float32 tanh approximation against the exact tanh."""
TANH_F64_MAX_ERROR: float
"""Largest absolute error of the float64 tanh (expm1-based, vectorised) against the exact tanh."""
TANH_F64_MAX_REL_ERROR: float
"""Largest relative error of the float64 tanh against the exact tanh."""

_F = TypeVar("_F", np.float32, np.float64)

class ReservoirWeights(TypedDict):
    """The float64 weights of a reservoir, as returned by ``Reservoir.weights``."""

    w: NDArray[np.float64]
    w_in: NDArray[np.float64]
    bias: NDArray[np.float64]
    leak_rates: NDArray[np.float64]

def log_leak_rates(n_units: int, low: float = 0.01, high: float = 1.0) -> NDArray[np.float64]:
    """``n_units`` leak rates spaced logarithmically from ``low`` to ``high`` (inclusive)."""

@final
class Reservoir:
    """A leaky-integrator echo-state reservoir:
    ``x[t] = (1 - a) * x[t-1] + a * tanh(W @ x[t-1] + W_in @ u[t] + b)``.

    ``leak_rates`` is None (``log_leak_rates(n_units)``), one float, or one value per unit.
    W has a fraction ``sparsity`` of zero entries and standard-normal nonzero entries, scaled by
    power iteration to ``spectral_radius``; W_in and b are uniform in
    ``[-input_scaling, input_scaling]`` and ``[-bias_scaling, bias_scaling]``. The same ``seed``
    gives the same weights everywhere. Immutable and safe to share between threads.
    """

    def __init__(
        self,
        n_units: int = 64,
        *,
        leak_rates: float | ArrayLike | None = None,
        spectral_radius: float = 0.9,
        sparsity: float = 0.9,
        input_scaling: float = 1.0,
        bias_scaling: float = 0.1,
        n_inputs: int = 1,
        seed: int = 0,
    ) -> None: ...
    @staticmethod
    def from_weights(
        w: ArrayLike,
        w_in: ArrayLike,
        bias: ArrayLike | None = None,
        leak_rates: float | ArrayLike | None = None,
    ) -> Reservoir:
        """A reservoir with the given matrices: ``w`` (N, N), ``w_in`` (N, C) or (N,),
        ``bias`` (N,) or None for zeros, ``leak_rates`` as in the constructor."""
    @property
    def n_units(self) -> int:
        """Number of units N."""
    @property
    def n_inputs(self) -> int:
        """Number of input channels C."""
    def weights(self) -> ReservoirWeights:
        """Copies of the float64 weights ``w``, ``w_in``, ``bias``, ``leak_rates``."""
    def run(self, signal: NDArray[_F], initial_state: ArrayLike | None = None, out: NDArray[_F] | None = None) -> NDArray[_F]:
        """The (T, N) states for ``signal`` (T,) or (T, C), float32 or float64, C-contiguous,
        finite; from ``initial_state`` (zeros by default); written into ``out`` when given.
        Releases the GIL."""
    def run_batch(
        self, signals: Sequence[NDArray[_F]], n_threads: int | None = None, out: Sequence[NDArray[_F]] | None = None
    ) -> list[NDArray[_F]]:
        """``run`` on each signal (one dtype, any lengths) on ``n_threads`` threads (default:
        the number of CPUs), each from a zero state, into the arrays of ``out`` when given.
        Releases the GIL."""
