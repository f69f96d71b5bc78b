"""The emulators: the modal kernels, exactness on a first-order circuit, causality, FFT sizes, streaming and the starting state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from kaspix_spice.modal import MODE_PARAMS, ModalBank, fft_size, film_modal, modal_kernel
from kaspix_spice.models import concat_lstm, film_gru, film_lstm, film_tcn
from scipy import signal


def test_kernel_is_a_sum_of_damped_cosines() -> None:
    decay, freq, re, im = 0.01, 0.3, 0.7, -0.2
    params = torch.tensor([[[[math.log(decay), math.log(freq), re, im]]]], dtype=torch.float64)
    t = np.arange(500)
    expected = decay * np.exp(-decay * t) * (re * np.cos(freq * t) - im * np.sin(freq * t))
    np.testing.assert_allclose(modal_kernel(params, 500)[0, 0].numpy(), expected, rtol=1e-12, atol=1e-15)


def test_one_mode_and_a_direct_term_reproduce_an_exactly_discretized_rc_filter() -> None:
    """RC low-pass driven by a linearly interpolated input: ``(b0 + b1 z^-1) / (1 - lam z^-1)``."""
    fs, fc = 48_000.0, 800.0
    decay = 2 * math.pi * fc / fs
    lam = math.exp(-decay)
    b0 = 1 - (1 - lam) / decay  # exact first-order-hold discretization of 1 / (1 + s / wc)
    b1 = (1 - lam) / decay - lam
    x = np.random.default_rng(0).standard_normal(4000)
    expected = signal.lfilter([b0, b1], [1, -lam], x)
    mode = [math.log(decay), math.log(1e-9), (b0 + b1 / lam) / decay, 0.0]
    params = torch.tensor([[*mode, -b1 / lam]], dtype=torch.float64)
    bank = ModalBank(channels=1, modes=1)
    y = bank(torch.from_numpy(x)[None, None], params)[0, 0].numpy()
    np.testing.assert_allclose(y, expected, atol=1e-9)


def test_output_is_causal_and_shaped_like_the_input() -> None:
    torch.manual_seed(0)
    model = film_modal(n_knobs=3, n_circuits=2, modes=4, channels=4, layers=2)
    with torch.no_grad():
        model.out.weight.normal_()  # open the nonlinear path, which starts at zero
    x = torch.randn(2, 300, 1)
    knobs, circuits = torch.rand(2, 3), torch.tensor([0, 1])
    later = x.clone()
    later[:, 200:] += 1.0
    y, y_later = model(x, knobs, circuits), model(later, knobs, circuits)
    assert y.shape == x.shape
    torch.testing.assert_close(y[:, :200], y_later[:, :200], atol=1e-5, rtol=0)
    assert not torch.allclose(y[:, 200:], y_later[:, 200:])


def test_knobs_move_the_modes() -> None:
    torch.manual_seed(0)
    model = film_modal(n_knobs=2, n_circuits=1, modes=2, layers=1)
    with torch.no_grad():
        model.hyper.bypass.normal_(0.0, 0.5)
    impulse = torch.zeros(2, 256, 1)
    impulse[:, 0] = 1.0
    responses = model(impulse, torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([0, 0]))
    assert not torch.allclose(responses[0], responses[1])
    assert model.sizes[0] == 2 * MODE_PARAMS + 1


@pytest.mark.parametrize(("minimum", "size"), [(1, 1), (7, 8), (9599, 9600), (4097, 4320)])
def test_fft_sizes_are_small_smooth_numbers(minimum: int, size: int) -> None:
    assert fft_size(minimum) == size


def _opened_modal(seed: int = 0):
    """A small ``film_modal`` with its nonlinear path and knob dependence switched on (both start at zero)."""
    torch.manual_seed(seed)
    model = film_modal(n_knobs=3, n_circuits=2, modes=4, channels=4, layers=2)
    with torch.no_grad():
        model.out.weight.normal_()
        model.hyper.bypass.normal_(0.0, 0.3)
    return model


EMULATORS = {
    "film_modal": _opened_modal,
    "film_gru": lambda: film_gru(3, 2, hidden=8),
    "film_lstm": lambda: film_lstm(3, 2, hidden=8, layers=2),
    "concat_lstm": lambda: concat_lstm(3, 2, hidden=8),
    "film_tcn": lambda: film_tcn(3, 2, channels=4, blocks=4),
}


@pytest.mark.parametrize("name", sorted(EMULATORS))
def test_streaming_in_chunks_with_carried_state_equals_the_whole_clip(name: str) -> None:
    torch.manual_seed(1)
    model = EMULATORS[name]().eval()
    x = 0.5 * torch.randn(2, 900, 1) + 0.3  # starts far from 0 V: the steady state matters
    knobs, circuits = torch.rand(2, 3), torch.tensor([0, 1])
    with torch.no_grad():
        whole = model(x, knobs, circuits)
        state, chunks = None, []
        for start, stop in [(0, 1), (1, 200), (200, 201), (201, 640), (640, 900)]:
            y, state = model.stream(x[:, start:stop], knobs, circuits, state)
            chunks.append(y)
    torch.testing.assert_close(torch.cat(chunks, dim=1), whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(EMULATORS))
def test_a_constant_input_starts_in_the_steady_state(name: str) -> None:
    """``x[0]`` held for ever before the clip: a constant input gives a constant output from the first sample."""
    model = EMULATORS[name]().eval()
    knobs, circuits = torch.rand(2, 3), torch.tensor([0, 1])
    with torch.no_grad():
        y = model(torch.full((2, 400, 1), 0.7), knobs, circuits)
    torch.testing.assert_close(y, y[:, :1].expand_as(y), atol=2e-5, rtol=0)


def test_the_modal_steady_state_is_the_state_after_a_long_constant_prefix() -> None:
    """Closed form vs. brute force: the model run on ``x[0]`` held for 20000 samples, then the clip."""
    model = _opened_modal().double().eval()
    knobs, circuits = torch.rand(2, 3, dtype=torch.float64), torch.tensor([0, 1])
    x = 0.4 * torch.randn(2, 300, 1, dtype=torch.float64) - 0.5
    with torch.no_grad():
        held = model(torch.cat([x[:, :1].expand(-1, 20_000, -1), x], dim=1), knobs, circuits)[:, 20_000:]
        from_rest = model(torch.cat([torch.zeros(2, 1, 1, dtype=torch.float64), x], dim=1), knobs, circuits)[:, 1:]
        steady = model(x, knobs, circuits)
    torch.testing.assert_close(steady, held, atol=1e-9, rtol=0)
    assert (steady - from_rest).abs().max() > 1e-2  # starting at rest would be another thing
