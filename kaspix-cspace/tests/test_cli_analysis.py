"""``kaspix cspace`` analysis commands through the real CLI: summaries, PNGs, JSON, and clear errors."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from kaspix_cspace.audio import write_wav

RATE = 24_000


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> str:
    """One second of a swelling harmonic tone with noise and a click at 0.6 s."""
    t = np.arange(RATE) / RATE
    x = sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 5)) * 0.2 * np.sin(np.pi * t) ** 2
    x = x + 0.02 * np.random.default_rng(0).standard_normal(t.size)
    x[int(0.6 * RATE) : int(0.6 * RATE) + 16] += 0.5 * np.exp(-np.arange(16) / 3)
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    write_wav(path, x, RATE)
    return str(path)


def test_spectrogram_and_search(wav, tmp_path, run_json, run) -> None:
    code, output = run("spectrogram", wav, "--at", "14400", "--out", str(tmp_path / "spec.png"))
    assert code == 0, output
    assert "64 oscillators 20..10800 Hz" in output and (tmp_path / "spec.png").stat().st_size > 10_000
    delayed = tmp_path / "delayed.wav"
    audio, _ = sf.read(wav, dtype="float32")
    write_wav(delayed, np.concatenate([np.zeros(57, np.float32), audio]), RATE)
    result = run_json("search", wav, str(delayed), "--at", "14400", "--out", str(tmp_path / "search.png"))
    assert result["sum_match"] == result["forward_match"] == result["backward_match"] == 14400 + 57
    assert result["png"] == str(tmp_path / "search.png") and (tmp_path / "search.png").stat().st_size > 10_000
    code, output = run("search", wav, wav, "--at", "14400", "--hop", "4", "--out", str(tmp_path / "s.png"))
    assert code == 0 and "best match (forward + backward): sample 14400" in output, output


def test_landscape_quantize_drift_robustness(wav, tmp_path, run_json, run) -> None:
    landscape = run_json(
        "landscape", wav, "--at", "9000", "--length", "2048", "--max-shift", "48", "--step", "8", "--out", str(tmp_path / "l.png")
    )
    assert set(landscape["measures"]) == {"mel", "mrstft", "cspace"}
    assert all(m["argmin_shift"] == 0 for m in landscape["measures"].values())
    assert len(landscape["curves"]["cspace"]) == len(landscape["shifts"]) == 13
    quantize = run_json("quantize", wav, "--at", "12000", "--oscillators", "16", "--out", str(tmp_path / "q.png"))
    assert quantize["same_best_match"] and quantize["bound_holds"] and quantize["search_correlation"] > 0.999
    drift = run_json("drift", wav, "--seconds", "3", "--oscillators", "4", "--precision", "float32", "--out", str(tmp_path / "d.png"))
    assert drift["looped"] and drift["seconds"] == 3.0 and drift["float32"]["max_relative"] <= 1e-6
    code, output = run("robustness", wav, "--at", "12000", "--radius", "2400", "--out", str(tmp_path / "r.png"))
    assert code == 0, output
    assert "exact matches: itself 13/13" in output and (tmp_path / "r.png").is_file()


def test_stereo_and_other_rates_follow_the_policy(wav, tmp_path, caplog, run_json, run) -> None:
    audio, _ = sf.read(wav, dtype="float32")
    sf.write(tmp_path / "stereo48k.wav", np.repeat(np.stack([audio, audio], 1), 2, axis=0), 2 * RATE)
    with caplog.at_level(logging.WARNING, logger="kaspix_cspace.audio"):
        code, output = run("spectrogram", str(tmp_path / "stereo48k.wav"), "--out", str(tmp_path / "x.png"))
        assert code == 0 and "48000 samples at 48000 Hz" in output and "2 channels mixed down to mono" in caplog.text, output
        code, output = run("spectrogram", str(tmp_path / "stereo48k.wav"), "--sample-rate", "24000", "--out", str(tmp_path / "y.png"))
        assert code == 0 and "24000 samples at 24000 Hz" in output and "resampled from 48000 Hz to 24000 Hz" in caplog.text, output
    result = run_json("search", wav, str(tmp_path / "stereo48k.wav"), "--at", "12000", "--out", str(tmp_path / "z.png"))
    assert abs(result["sum_match"] - 12000) <= 1  # the target is resampled to the query's rate


def test_bad_inputs_are_one_clear_error_with_exit_code_2(wav, tmp_path, run) -> None:
    (tmp_path / "notes.wav").write_text("not audio at all")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), RATE)
    cases = [
        (["search", str(tmp_path / "missing.wav"), wav, "--at", "10"], "query audio file not found"),
        (["search", wav, str(tmp_path / "notes.wav"), "--at", "10"], "target audio is not a readable audio file"),
        (["spectrogram", str(tmp_path / "empty.wav")], "audio file holds no samples"),
        (["search", wav, wav, "--at", str(RATE)], "--at 24000 is outside the audio (0 .. 23999, 24000 samples)"),
        (["landscape", wav, "--at", "-5"], "--at -5 is outside the audio"),
        (["quantize", wav, "--at", "10"], "does not fit in the audio"),
        (["robustness", wav, "--at", str(RATE - 5)], "falls outside the searched excerpt"),
        (["spectrogram", str(tmp_path)], "audio path is not a file"),
    ]
    for args, message in cases:
        code, output = run(*args, "--out", str(tmp_path / "never.png"))
        assert code == 2, (args, output)
        assert "error: " in output and message in output and "hint: " in output, (args, output)
        assert "Traceback" not in output
    assert not (tmp_path / "never.png").exists()


def test_plugin_module_and_commands_import_nothing_heavy() -> None:
    code = (
        "import sys, kaspix_cspace.plugin, kaspix_cspace.commands_analysis; "
        "print(sorted(m for m in ('torch', 'numpy', 'scipy', 'matplotlib', 'soundfile', 'librosa') if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
