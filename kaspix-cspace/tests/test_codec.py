"""The codec: bottleneck, receptive field, checkpoints, seamless chunked inference, fidelity, training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from kaspix import KaspixError
from kaspix.config import validate_config
from kaspix_cspace.audio import read_wav
from kaspix_cspace.codec_checkpoint import load_codec, save_codec
from kaspix_cspace.codec_config import MODEL_PRESETS, CodecConfig, CodecModelConfig
from kaspix_cspace.codec_infer import context_samples, reconstruct
from kaspix_cspace.codec_model import CodecModel, low_band_mdct
from kaspix_cspace.codec_train import train_codec
from kaspix_cspace.fidelity import fidelity
from kaspix_cspace.synth import music_like, speech_like

FS = 8000
TINY = {"strides": [4, 4], "channels": 4, "max_channels": 8, "latent_channels": 4, "res_blocks": 1}


def _randomized(model: CodecModel, seed: int = 0) -> CodecModel:
    """Every weight random (residual branches are zero at init), so every path carries signal."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    return model.eval()


@pytest.mark.parametrize("size", sorted(MODEL_PRESETS))
def test_bottleneck_is_at_most_a_quarter_of_the_sample_rate(size: str) -> None:
    model = CodecModel(CodecModelConfig(size=size), sample_rate=24000)
    assert model.latent_rate <= 24000 / 4
    assert model.latent_rate == model.config.latent_channels * 24000 / model.hop
    z = model.encode(torch.zeros(1, 2400))  # 0.1 s
    assert z.shape == (1, model.config.latent_channels, -(-2400 // model.hop))
    assert z.numel() <= 2400 / 4 + model.config.latent_channels  # at most one partial frame more


def test_a_wider_bottleneck_is_a_clear_config_error() -> None:
    with pytest.raises(KaspixError, match="bottleneck is too wide"):
        validate_config(CodecConfig, {"model": {"strides": [4, 4], "latent_channels": 8}})
    with pytest.raises(KaspixError, match="multiple of checkpoint_every"):
        validate_config(CodecConfig, {"steps": 700, "checkpoint_every": 500})


def test_model_is_scale_equivariant_and_keeps_any_length() -> None:
    torch.manual_seed(0)  # the same weights and input whatever ran before
    model = _randomized(CodecModel(CodecModelConfig(**TINY), sample_rate=FS))
    x = torch.randn(2, 1001)
    with torch.no_grad():
        y = model(x)
        assert y.shape == x.shape and model(x[:, None]).shape == (2, 1, 1001)
        roundoff = 1e-5 * float((3.5 * y).abs().max())  # float32 sums, relative to the output's scale
        torch.testing.assert_close(model(3.5 * x), 3.5 * y, rtol=1e-4, atol=roundoff)


def test_receptive_field_bounds_the_gradient_support() -> None:
    model = _randomized(CodecModel(CodecModelConfig(**TINY), sample_rate=FS))
    left, right = model.receptive_field
    x = torch.randn(1, 2048, requires_grad=True)
    t = 1024
    model(x)[0, t].backward()
    support = torch.nonzero(x.grad[0]).flatten()
    assert t - support.min().item() <= left and support.max().item() - t <= right
    assert t - support.min().item() > left // 3  # the bound is not wildly loose


def test_chunked_inference_equals_one_pass_without_clicks() -> None:
    model = _randomized(CodecModel(CodecModelConfig(**TINY), sample_rate=FS), seed=1)
    x = speech_like(6.0, sample_rate=FS, seed=5) + 0.3 * music_like(6.0, sample_rate=FS, seed=5)
    one_pass = reconstruct(model, x, chunk=0)
    chunk = 1000  # rounded up to whole hops: 1008
    chunked = reconstruct(model, x, chunk=chunk)
    assert chunked.shape == x.shape
    scale = np.abs(one_pass).max()
    assert np.abs(chunked - one_pass).max() <= 1e-5 * scale
    borders = np.arange(1008, len(x), 1008)
    jumps = np.abs(np.diff(chunked))
    at_borders = jumps[borders - 1].max()
    elsewhere = np.delete(jumps, borders - 1).max()
    assert at_borders <= elsewhere
    assert context_samples(model) % model.hop == 0 and context_samples(model) >= max(model.receptive_field)


def test_checkpoint_round_trip_and_bad_files(tmp_path: Path) -> None:
    model = _randomized(CodecModel(CodecModelConfig(**TINY), sample_rate=FS))
    path = save_codec(tmp_path / "codec.pt", model, {"loss": "cspace", "steps": 3})
    loaded, info = load_codec(path)
    assert info == {"loss": "cspace", "steps": 3} and loaded.sample_rate == FS and loaded.config == model.config
    x = torch.randn(1, 700)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))

    with pytest.raises(KaspixError, match="not found"):
        load_codec(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(KaspixError, match="not a kaspix codec checkpoint"):
        load_codec(tmp_path / "text.pt")
    torch.save({"model": {}, "optimizer": {}, "epoch": 1}, tmp_path / "last.pt")
    with pytest.raises(KaspixError, match="training-state file"):
        load_codec(tmp_path / "last.pt")
    payload = torch.load(path, weights_only=True)
    payload["model"]["latent_channels"] = 2  # a config the weights do not fit
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(KaspixError, match="do not fit its model config"):
        load_codec(tmp_path / "mismatch.pt")
    payload["model"]["strides"] = [1]
    torch.save(payload, tmp_path / "invalid.pt")
    with pytest.raises(KaspixError, match="model config is invalid"):
        load_codec(tmp_path / "invalid.pt")


def test_fidelity_on_known_signals() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(FS).astype(np.float32)
    noise = rng.standard_normal(FS).astype(np.float32)
    noise *= np.sqrt(np.sum(x**2) / np.sum(noise**2)) * 10 ** (-20 / 20)  # 20 dB below the signal
    scores = fidelity(x, x + noise, sample_rate=FS)
    assert scores["si_snr_db"] == pytest.approx(20.0, abs=0.1)
    assert scores["mse"] == pytest.approx(float(np.mean(noise.astype(np.float64) ** 2)), rel=1e-4)
    assert scores["cspace_error_db"] == pytest.approx(-20.0, abs=0.5)  # white noise: the same fraction in every oscillator
    scaled = fidelity(x, 0.5 * x, sample_rate=FS)
    assert scaled["si_snr_db"] > 60 and scaled["cspace_error"] == pytest.approx(0.25, rel=1e-3)
    with pytest.raises(KaspixError, match="--trim"):
        fidelity(x, x[:-10], sample_rate=FS)
    trimmed = fidelity(x, x[:-10], sample_rate=FS, trim=True)
    assert trimmed["trimmed_samples"] == 10 and trimmed["samples"] == FS - 10


def test_a_few_training_steps_lower_the_loss_and_write_the_reconstruction(tmp_path: Path) -> None:
    config = CodecConfig(
        sample_rate=FS,
        model=CodecModelConfig(**TINY),
        steps=16,
        checkpoint_every=8,
        batch_size=4,
        segment_seconds=0.25,
        lr=3e-3,
        data_args={"pool_seconds": 4.0, "clip_seconds": 1.0},
        val_batches=1,
        threads=1,
    )
    threads = torch.get_num_threads()
    result = train_codec(config, "cspace", tmp_path / "run", validation=None)
    assert torch.get_num_threads() == threads  # restored after training
    history = result["history"]
    assert [r["step"] for r in history] == [8, 16]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(np.isfinite(r["si_snr_db"]) and r["mse"] > 0 and r["cspace_error"] > 0 for r in history)
    validation, _ = read_wav(tmp_path / "run" / "validation.wav")
    for step in (8, 16):
        audio, rate = read_wav(tmp_path / "run" / "checkpoints" / f"recon_step{step:06d}.wav")
        assert rate == FS and audio.shape == validation.shape
    model, info = load_codec(result["checkpoint"])
    assert info["loss"] == "cspace" and info["steps"] == 16 and model.latent_rate == FS / 4
    assert json.loads((tmp_path / "run" / "train.json").read_text())["steps_per_second"] > 0
    assert result["steps"] == 16 and result["seconds"] > 0


def test_mdct_init_is_a_low_pass_codec_before_training() -> None:
    basis = low_band_mdct(16, 16)
    np.testing.assert_allclose(basis @ basis.T, np.eye(16), atol=1e-12)  # orthonormal: perfect reconstruction with every bin
    model = CodecModel(CodecModelConfig(**TINY, init="mdct"), sample_rate=FS).eval()  # keeps 4 of 16 bins: below 1 kHz
    t = np.arange(FS) / FS
    with torch.no_grad():
        for freq, kept in ((200.0, True), (3000.0, False)):
            x = np.sin(2 * np.pi * freq * t).astype(np.float32)
            y = model(torch.from_numpy(x)[None])[0].numpy()
            middle = slice(100, -100)  # away from the edges, where a frame has no neighbour to cancel its aliasing
            if kept:
                assert (
                    fidelity(x[middle], y[middle], sample_rate=FS)["si_snr_db"] > 30
                )  # measured 37 dB: the sine window leaks a little into the dropped bins
            else:
                assert np.sqrt(np.mean(y[middle] ** 2)) < 0.01
