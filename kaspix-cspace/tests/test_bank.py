"""The oscillator bank: block FFT == the float64 recurrence (60 s, Q up to 1000), numpy == torch, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from kaspix import KaspixError
from kaspix_cspace.bank import BankSpec, bank_features, features_at, oscillator_states, recurrence_states
from kaspix_cspace.bank_torch import OscillatorBank
from kaspix_cspace.drift import drift_report, loop_to_length

RATE = 24_000


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A tone with vibrato, a fifth above, noise, and a slow swell that goes silent."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    tone = 0.3 * np.sin(2 * np.pi * (220 * t + 2 * np.sin(2 * np.pi * 4 * t))) + 0.1 * np.sin(2 * np.pi * 330 * t)
    return ((tone + 0.05 * rng.standard_normal(t.size)) * np.sin(np.pi * t / 7) ** 2).astype(np.float32)


def test_fft_bank_equals_the_recurrence_over_60_seconds_at_q_1000() -> None:
    spec = BankSpec(n_oscillators=6, sample_rate=RATE, q=1000.0)
    report = drift_report(music_like(60.0), spec, precisions=("float32", "float64"))
    assert report["seconds"] == 60.0 and report["float32"]["relative"].shape == (60,)
    assert report["float32"]["max_relative"] <= 1e-6, report["float32"]["relative"]
    assert report["float64"]["max_worst_channel"] <= 1e-9, report["float64"]["worst_channel"]


def test_hops_offsets_directions_blocks_and_batches_match_the_plain_loop() -> None:
    spec = BankSpec(n_oscillators=6, sample_rate=RATE, q=300.0)
    poles = spec.poles()
    x = np.random.default_rng(1).standard_normal((2, 5003))
    for b in range(2):
        forward = recurrence_states(x[b], poles, method="loop")
        backward = recurrence_states(x[b, ::-1], poles, method="loop")[::-1]
        for hop, offset, block in [(1, 0, 4096), (1, 0, 700), (7, 3, 1000), (64, 63, 128), (5003, 4000, 4096)]:
            for direction, reference in (("forward", forward), ("backward", backward)):
                got = oscillator_states(x, poles, hop=hop, offset=offset, direction=direction, precision="float64", block_size=block)[b]
                expected = reference[offset::hop]
                assert got.shape == expected.shape
                assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max()


def test_features_layout_and_single_sample() -> None:
    spec = BankSpec(n_oscillators=4, sample_rate=RATE)
    x = music_like(0.2)
    features = bank_features(x, spec, precision="float64")
    forward = oscillator_states(x, spec.poles(), precision="float64") * spec.gains()
    backward = oscillator_states(x, spec.poles(), precision="float64", direction="backward") * spec.gains()
    assert features.shape == (x.size, 16)
    np.testing.assert_allclose(features, np.concatenate([forward.real, forward.imag, backward.real, backward.imag], -1))
    np.testing.assert_allclose(features_at(x, spec, 1234, precision="float64"), features[1234], atol=1e-12)


@pytest.mark.parametrize("precision,tolerance", [("float32", 2e-6), ("float64", 1e-12)])
def test_torch_module_equals_numpy(precision: str, tolerance: float) -> None:
    spec = BankSpec(n_oscillators=8, sample_rate=RATE, q=100.0)
    x = np.stack([music_like(0.5, seed=s) for s in range(3)])
    for hop, offset in [(1, 0), (16, 5)]:
        module = OscillatorBank(spec, hop=hop, block_size=2048, precision=precision)  # type: ignore[arg-type]
        got = module(torch.from_numpy(x)[:, None, :], offset=offset).numpy()
        expected = bank_features(x, spec, hop=hop, offset=offset, precision="float64")
        assert got.shape == expected.shape == (3, len(range(offset, x.shape[1], hop)), 32)
        assert np.linalg.norm(got - expected) <= tolerance * np.linalg.norm(expected)


def test_torch_gradient_is_finite_and_matches_linearity() -> None:
    module = OscillatorBank(BankSpec(n_oscillators=16, sample_rate=RATE), hop=8)
    x = torch.from_numpy(music_like(0.25)).repeat(2, 1).requires_grad_()
    features = module(x)
    features.pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    a, b = torch.randn(1, 3000, dtype=torch.float64), torch.randn(1, 3000, dtype=torch.float64)
    exact = OscillatorBank(BankSpec(n_oscillators=16, sample_rate=RATE), hop=8, precision="float64")
    torch.testing.assert_close(exact(a + 2 * b), exact(a) + 2 * exact(b))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_module_on_cuda_equals_cpu() -> None:
    module = OscillatorBank(BankSpec(n_oscillators=32, sample_rate=RATE), hop=4)
    x = torch.from_numpy(music_like(1.0))[None]
    torch.testing.assert_close(module(x.cuda()).cpu(), module(x), rtol=1e-4, atol=1e-5)


def test_bank_spec_rules_and_errors() -> None:
    spec = BankSpec(n_oscillators=10, sample_rate=RATE, q=4.0, min_bandwidth_hz=2.0)
    frequencies = spec.frequencies()
    assert frequencies[0] == pytest.approx(20.0) and frequencies[-1] == pytest.approx(0.45 * RATE)
    np.testing.assert_allclose(spec.decay_rates(), np.maximum(2 * np.pi * frequencies / 8.0, 2 * np.pi))
    assert np.all(np.abs(spec.poles()) < 1)
    jittered = spec.with_(jitter=0.5, seed=3).frequencies()
    assert np.all(np.diff(jittered) > 0) and not np.allclose(jittered, frequencies)
    np.testing.assert_array_equal(jittered, spec.with_(jitter=0.5, seed=3).frequencies())
    bandwidth = spec.with_(q_rule="constant_bandwidth", bandwidth_hz=30.0)
    np.testing.assert_allclose(bandwidth.decay_rates(), np.pi * 30.0)
    with pytest.raises(KaspixError, match="f_max"):
        BankSpec(sample_rate=RATE, f_max=13_000.0)


def test_loop_to_length() -> None:
    looped = loop_to_length(np.arange(5), 12)
    np.testing.assert_array_equal(looped, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    assert loop_to_length(np.arange(5), 3).tolist() == [0, 1, 2]
