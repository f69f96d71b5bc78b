"""ESpace commands (esn-spectrogram, esn-search, esn-robustness) on the real Rust reservoir and real WAV files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from kaspix_cspace.audio import write_wav
from kaspix_cspace.espace import EsnSpec, esn_distance_curve, esn_states, iter_esn_states, query_state
from kaspix_cspace.search import distance_curve, runner_up_margin

RATE = 24_000
AT = 12_000


def chirp_with_bursts(samples: int = RATE) -> np.ndarray:
    """A rising chirp (200 Hz to 3.2 kHz) with decaying noise bursts every 6,000 samples, peak 0.9."""
    t = np.arange(samples) / RATE
    audio = 0.5 * np.sin(2 * np.pi * (200 + 1_500 * t) * t)
    rng = np.random.default_rng(0)
    for start in range(3_000, samples - 600, 6_000):
        audio[start : start + 600] += 0.3 * rng.standard_normal(600) * np.exp(-np.arange(600) / 150)
    return 0.9 * audio / np.abs(audio).max()


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> dict[str, str]:
    """The audio, a copy delayed by 123 samples and a copy advanced by 500 samples (PCM 16, so the
    copies hold exactly the same samples)."""
    folder = tmp_path_factory.mktemp("espace")
    audio = chirp_with_bursts()
    paths = {"audio": folder / "audio.wav", "delayed": folder / "delayed.wav", "advanced": folder / "advanced.wav"}
    write_wav(paths["audio"], audio, RATE)
    write_wav(paths["delayed"], np.concatenate([np.zeros(123), audio]), RATE)
    write_wav(paths["advanced"], audio[500:], RATE)
    return {name: str(path) for name, path in paths.items()}


def test_search_finds_the_query_sample_itself_and_known_shifts(wavs, tmp_path, run_json, run) -> None:
    code, output = run("esn-search", wavs["audio"], wavs["audio"], "--at", str(AT), "--out", str(tmp_path / "self.png"))
    assert code == 0, output
    assert f"best match: sample {AT} (distance 0, offset +0 from --at)" in output
    assert (tmp_path / "self.png").stat().st_size > 10_000
    delayed = run_json("esn-search", wavs["audio"], wavs["delayed"], "--at", str(AT), "--out", str(tmp_path / "d.png"))
    assert delayed["best_match"] == AT + 123 and delayed["offset"] == 123 and delayed["target_samples"] == RATE + 123
    assert delayed["distance"] < 1e-9 < delayed["median_distance"]  # the transient of the zeros has died out
    assert delayed["sharpness"] > 0.5 and delayed["png"] == str(tmp_path / "d.png")
    advanced = run_json("esn-search", wavs["audio"], wavs["advanced"], "--at", str(AT), "--out", str(tmp_path / "a.png"))
    assert advanced["best_match"] == AT - 500 and advanced["offset"] == -500
    for precision, units in (("float32", "64"), ("float64", "16")):
        result = run_json(
            "esn-search", wavs["audio"], wavs["delayed"], "--at", "9100", "--units", units, "--precision", precision, "--seed", "3"
        )
        assert result["best_match"] == 9100 + 123 and result["precision"] == precision and result["units"] == int(units)


def test_spectrogram_draws_the_states_and_marks_the_sample(wavs, tmp_path, run_json, run) -> None:
    code, output = run("esn-spectrogram", wavs["audio"], "--at", str(AT), "--out", str(tmp_path / "spec.png"))
    assert code == 0, output
    assert "24000 samples at 24000 Hz, 64 units (leak rates 0.01..1, float64), plotted every 12 samples" in output
    assert f"at sample {AT}: |state|" in output and (tmp_path / "spec.png").stat().st_size > 20_000
    result = run_json("esn-spectrogram", wavs["audio"], "--units", "16", "--sparsity", "0.5", "--out", str(tmp_path / "s16.png"))
    assert result["units"] == 16 and len(result["std_by_unit"]) == 16 and "at" not in result
    # Fast units follow the waveform, slow ones only its envelope.
    assert result["std_fastest_quarter"] > 2 * result["std_slowest_quarter"] > 0
    assert 0 < result["peak_abs_state"] < 1


def test_robustness_table_over_sizes_seeds_and_sparsity(wavs, tmp_path, run_json, run) -> None:
    result = run_json("esn-robustness", wavs["audio"], "--at", str(AT), "--radius", "6000", "--out", str(tmp_path / "r.png"))
    rows = result["rows"]
    assert [row["n_units"] for row in rows[:5]] == [16, 32, 64, 128, 256]
    assert {row["seed"] for row in rows} == {0, 1, 2, 3} and {row["sparsity"] for row in rows} == {0.0, 0.5, 0.9, 0.98}
    assert all(row["self_error"] == 0 and row["shift_error"] == 0 for row in rows)
    assert result["exact_self_matches"] == result["exact_shift_matches"] == result["variants"] == 11
    assert all(row["self_sharpness"] > 0.3 and 0 < row["margin"] < 1 for row in rows)
    assert all(isinstance(row["noisy_error"], int) for row in rows) and (tmp_path / "r.png").stat().st_size > 10_000
    code, output = run("esn-robustness", wavs["audio"], "--at", str(AT), "--radius", "6000", "--out", str(tmp_path / "r2.png"))
    assert code == 0 and "size 256" in output and "exact matches: itself 11/11, delayed 11/11" in output, output


def test_chunked_states_equal_one_pass_bit_for_bit() -> None:
    audio = chirp_with_bursts(5_000)
    spec = EsnSpec(n_units=24, seed=5)
    whole = esn_states(audio, spec)
    reservoir = spec.reservoir()
    chunks = list(iter_esn_states(reservoir, audio, np.float64, chunk=777))
    assert [start for start, _ in chunks] == list(range(0, 5_000, 777))
    np.testing.assert_array_equal(np.concatenate([states for _, states in chunks]), whole)
    np.testing.assert_array_equal(query_state(reservoir, audio, 4_321, np.float64), whole[4_321])
    curve = esn_distance_curve(reservoir, whole[2_500], audio, np.float64)
    np.testing.assert_array_equal(curve, distance_curve(whole[2_500], whole))
    rival, margin = runner_up_margin(curve, 2_500, 12)
    assert abs(rival - 2_500) >= 12 and margin == pytest.approx(curve[rival] / np.median(curve))


def test_bad_inputs_are_one_clear_error_with_exit_code_2(wavs, tmp_path, run) -> None:
    (tmp_path / "notes.wav").write_text("not audio at all")
    write_wav(tmp_path / "short.wav", np.zeros(100), RATE)
    cases = [
        (["esn-spectrogram", str(tmp_path / "missing.wav")], "audio file not found"),
        (["esn-spectrogram", str(tmp_path / "notes.wav")], "audio is not a readable audio file"),
        (["esn-spectrogram", wavs["audio"], "--at", str(RATE)], f"--at {RATE} is outside the audio"),
        (["esn-search", wavs["audio"], str(tmp_path / "missing.wav"), "--at", "10"], "target audio file not found"),
        (["esn-search", str(tmp_path / "short.wav"), wavs["audio"], "--at", "100"], "--at 100 is outside the audio (0 .. 99"),
        (["esn-robustness", wavs["audio"], "--at", str(RATE - 5)], "falls outside the searched excerpt"),
    ]
    for args, message in cases:
        code, output = run(*args, "--out", str(tmp_path / "never.png"))
        assert code == 2, (args, output)
        assert "error: " in output and message in output and "Traceback" not in output, (args, output)
    code, output = run("esn-search", wavs["audio"], wavs["audio"], "--at", "10", "--units", "0")
    assert code == 2 and "--units" in output
    assert not (tmp_path / "never.png").exists()


def test_command_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, kaspix_cspace.commands_espace; "
        "print(sorted(m for m in ('numpy', 'matplotlib', 'kaspix_esn', 'torch', 'scipy', 'soundfile') if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
