"""Reading and writing WAV files: the documented policy for stereo, other rates and broken files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
from kaspix import KaspixError
from kaspix_cspace.audio import check_sample_index, read_wav, write_wav


def test_round_trip_pcm16_and_float(tmp_path) -> None:
    x = (0.5 * np.sin(np.arange(2400) / 7)).astype(np.float32)
    audio, rate = read_wav(write_wav(tmp_path / "a" / "pcm.wav", x, 24_000))
    assert rate == 24_000 and audio.dtype == np.float32 and audio.shape == (2400,)
    assert np.abs(audio - x).max() <= 1 / 32768
    exact, _ = read_wav(write_wav(tmp_path / "float.wav", x, 24_000, subtype="FLOAT"))
    np.testing.assert_array_equal(exact, x)
    clipped, _ = read_wav(write_wav(tmp_path / "loud.wav", 3 * x, 24_000))
    assert clipped.max() <= 1.0 and sf.info(str(tmp_path / "loud.wav")).subtype == "PCM_16"


def test_stereo_is_mixed_down_and_other_rates_resampled(tmp_path, caplog) -> None:
    t = np.arange(4800) / 48_000
    left, right = np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], 1), 48_000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING):
        mono, rate = read_wav(tmp_path / "stereo.wav")
        resampled, new_rate = read_wav(tmp_path / "stereo.wav", sample_rate=24_000)
    assert rate == 48_000 and np.allclose(mono, 0.75 * left, atol=1e-6)
    assert "mixed down to mono" in caplog.text and "resampled from 48000 Hz to 24000 Hz" in caplog.text
    assert new_rate == 24_000 and resampled.shape == (2400,)
    middle = slice(200, 2200)  # away from the filter's edges
    np.testing.assert_allclose(resampled[middle], 0.75 * np.sin(2 * np.pi * 440 * np.arange(2400) / 24_000)[middle], atol=2e-3)


def test_broken_inputs_are_clear_errors(tmp_path) -> None:
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 24_000)
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.nan], np.float32), 24_000, subtype="FLOAT")
    cases = {
        "missing.wav": "file not found",
        "text.wav": "not a readable audio file",
        "empty.wav": "holds no samples",
        "nan.wav": "NaN or infinite",
        ".": "not a file",
    }
    for name, message in cases.items():
        with pytest.raises(KaspixError, match=message) as info:
            read_wav(tmp_path / name, what="query audio")
        assert info.value.where == str(tmp_path / name) and info.value.hint


def test_check_sample_index() -> None:
    assert check_sample_index(0, 10, "f.wav") == 0 and check_sample_index(9, 10, "f.wav") == 9
    for bad in (-1, 10):
        with pytest.raises(KaspixError, match=r"outside the audio \(0 \.\. 9, 10 samples\)"):
            check_sample_index(bad, 10, "f.wav")
