"""run_batch: independent sequences on threads, with the GIL released."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
from kaspix_esn import Reservoir


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3, None])
def test_batch_equals_one_run_per_signal(dtype, n_threads):
    reservoir = Reservoir(24, n_inputs=2, seed=5)
    rng = np.random.default_rng(1)
    signals = [rng.uniform(-1, 1, (length, 2)).astype(dtype) for length in (50, 1, 333, 120, 7)]
    outputs = reservoir.run_batch(signals, n_threads=n_threads)
    assert len(outputs) == len(signals)
    for signal, out in zip(signals, outputs, strict=True):
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, reservoir.run(signal))


def test_batch_accepts_a_3d_array_tuple_and_empty_list():
    reservoir = Reservoir(8, seed=0)
    stack = np.random.default_rng(2).uniform(-1, 1, (4, 30))
    outputs = reservoir.run_batch(stack)
    np.testing.assert_array_equal(np.stack(outputs), np.stack([reservoir.run(s) for s in stack]))
    assert len(reservoir.run_batch(tuple(stack))) == 4
    assert reservoir.run_batch([]) == []


def _counts_while(call) -> tuple[int, int]:
    """Increments a pure-Python counter thread makes during ``call()``, and during a sleep of the same length."""
    count = 0
    stop = False

    def spin() -> None:
        nonlocal count
        while not stop:
            count += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # a held GIL could leak at most ~2 ms of counting around the call
    thread = threading.Thread(target=spin)
    thread.start()
    try:
        time.sleep(0.02)
        start_count, start = count, time.perf_counter()
        call()
        during_call, elapsed = count - start_count, time.perf_counter() - start
        start_count = count
        time.sleep(elapsed)
        during_sleep = count - start_count
    finally:
        stop = True
        thread.join()
        sys.setswitchinterval(interval)
    return during_call, during_sleep


@pytest.mark.parametrize("method", ["run", "run_batch"])
def test_computation_releases_the_gil(method):
    # With the GIL held, the counter thread could count only in the ~1 ms switch intervals
    # around the ~0.3 s call (a ratio below 0.01); released, it counts throughout, as during a
    # sleep, less what other work on a 2-core machine takes from it (ratios of 0.27 to 1 seen).
    reservoir = Reservoir(64, seed=0)
    signal = np.sin(np.arange(100_000) * 0.01)
    call = (lambda: reservoir.run(signal)) if method == "run" else (lambda: reservoir.run_batch([signal], n_threads=1))
    during_call, during_sleep = _counts_while(call)
    assert during_call > 0.1 * during_sleep, (during_call, during_sleep)


def test_out_arrays_are_filled_and_returned():
    reservoir = Reservoir(16, seed=6)
    signal = np.sin(np.arange(200) * 0.05)
    out = np.full((200, 16), np.nan)
    assert reservoir.run(signal, out=out) is out
    np.testing.assert_array_equal(out, reservoir.run(signal))
    signals = [signal.astype(np.float32), signal[:50].astype(np.float32)]
    outs = [np.empty((200, 16), np.float32), np.empty((50, 16), np.float32)]
    returned = reservoir.run_batch(signals, n_threads=2, out=outs)
    assert all(a is b for a, b in zip(returned, outs, strict=True))
    for s, o in zip(signals, outs, strict=True):
        np.testing.assert_array_equal(o, reservoir.run(s))
