"""The registered losses: zero on identical inputs, finite gradients, mrstft == auraloss, SI-SNR values."""

from __future__ import annotations

import auraloss
import numpy as np
import pytest
import torch
from kaspix.testing import plugin_host
from kaspix_cspace import plugin
from kaspix_cspace.losses import CSpaceLoss, si_snr_db

NAMES = ("cspace", "mel", "mrstft", "si_snr")


def audio(batch: int = 2, n: int = 6000, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 24_000
    tone = torch.sin(2 * torch.pi * 220 * t) * 0.3
    return tone + 0.05 * torch.randn(batch, n, generator=generator)


@pytest.mark.parametrize("name", NAMES)
def test_zero_on_identical_inputs_positive_otherwise_finite_gradients(name: str) -> None:
    with plugin_host(plugin, name="cspace") as host:
        loss = host.parts.losses.build(name)
    target = audio()
    for shape in [(2, 6000), (2, 1, 6000), (2, 6000, 1)]:
        same = target.reshape(shape).clone().requires_grad_()
        value = loss(same, target.reshape(shape))
        value.backward()
        assert abs(value.item()) <= 1e-6, (name, shape, value.item())
        assert same.grad is not None and torch.isfinite(same.grad).all()
        noisy = (target + 0.05 * audio(seed=1)).reshape(shape).requires_grad_()
        value = loss(noisy, target.reshape(shape))
        value.backward()
        assert value.item() > 1e-3 and torch.isfinite(noisy.grad).all() and noisy.grad.abs().sum() > 0


def test_mrstft_agrees_with_auraloss() -> None:
    with plugin_host(plugin, name="cspace") as host:
        ours = host.parts.losses.build("mrstft")
    reference = auraloss.freq.MultiResolutionSTFTLoss()
    target = audio(n=12000)[:, None]
    for prediction in (target + 0.1 * audio(n=12000, seed=3)[:, None], 0.5 * target, torch.roll(target, 30, -1)):
        torch.testing.assert_close(ours(prediction, target), reference(prediction, target), rtol=1e-5, atol=1e-6)


def test_si_snr_db_of_a_known_noise_level_and_scale_invariance() -> None:
    rng = np.random.default_rng(0)
    target = torch.from_numpy(rng.standard_normal((1, 48000)))
    noise = torch.from_numpy(rng.standard_normal((1, 48000)))
    noise = noise - (noise * target).sum() / (target**2).sum() * target  # orthogonal to the target
    noise = noise / noise.norm() * target.norm() * 10 ** (-20 / 20)
    assert si_snr_db(target + noise, target).item() == pytest.approx(20.0, abs=0.05)
    assert si_snr_db(3 * (target + noise), target).item() == pytest.approx(20.0, abs=0.05)
    with plugin_host(plugin, name="cspace") as host:
        loss = host.parts.losses.build("si_snr", max_db=60.0)
    assert loss(target + noise, target).item() == pytest.approx(60.0 - 20.0, abs=0.05)


def test_cspace_loss_is_relative_and_adds_the_documented_time_term() -> None:
    target = audio()
    loss = CSpaceLoss(time_weight=0.1)
    assert loss(2 * target, target).item() == pytest.approx(loss(4 * target, 2 * target).item(), rel=1e-4)
    prediction = target + 0.05  # a DC error, which the oscillators barely see
    esr = ((prediction - target) ** 2).sum(1) / (target**2).sum(1)
    state_only = CSpaceLoss(time_weight=0.0)(prediction, target).item()
    assert loss(prediction, target).item() == pytest.approx(state_only + 0.1 * esr.mean().item(), rel=1e-5)


@pytest.mark.parametrize("name", ["cspace", "mel", "mrstft", "si_snr"])
def test_reduction_none_gives_each_items_own_loss(name: str) -> None:
    from kaspix_cspace.landscape import landscape_losses

    generator = torch.Generator().manual_seed(1)
    target = torch.randn(1, 4800, generator=generator).expand(3, -1)
    prediction = target + 0.1 * torch.randn(3, 4800, generator=generator)
    per_item = landscape_losses(24_000, (name,))[name](prediction, target)
    assert per_item.shape == (3,)
    alone = torch.stack([landscape_losses(24_000, (name,))[name](prediction[i : i + 1], target[i : i + 1])[0] for i in range(3)])
    torch.testing.assert_close(per_item, alone, rtol=1e-5, atol=1e-6)
