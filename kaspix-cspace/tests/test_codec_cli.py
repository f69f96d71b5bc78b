"""``kaspix cspace train-codec | codec | fidelity`` through the real CLI: results, JSON and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kaspix_cspace.audio import read_wav, write_wav
from kaspix_cspace.synth import music_like, speech_like

FS = 8000
TINY_MODEL = "model={strides: [4, 4], channels: 4, max_channels: 8, latent_channels: 4, res_blocks: 0}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, run_json) -> dict:
    """A codec trained for 4 steps on a WAV folder, with a validation file."""
    root = tmp_path_factory.mktemp("codec")
    for i in range(3):
        write_wav(root / "data" / f"clip{i}.wav", speech_like(1.0, sample_rate=FS, seed=10 + i), FS)
    validation = write_wav(root / "validation.wav", speech_like(1.5, sample_rate=FS, seed=99), FS)
    result = run_json(
        "train-codec",
        str(validation),
        "--loss",
        "mrstft",
        "--steps",
        "4",
        "--data",
        str(root / "data"),
        "--out",
        str(root / "out"),
        "--set",
        f"sample_rate={FS}",
        "--set",
        TINY_MODEL,
        "--set",
        "batch_size=2",
        "--set",
        "val_batches=1",
    )
    return {"root": root, "validation": validation, "result": result}


def test_train_codec_writes_the_codec_and_checkpoint_reconstructions(trained: dict) -> None:
    result, root = trained["result"], trained["root"]
    assert result["loss"] == "mrstft" and result["steps"] == 4 and result["latent_rate"] == FS / 4
    assert [r["step"] for r in result["history"]] == [4]  # checkpoint_every defaults to the steps when they are fewer than 500
    assert (root / "out" / "codec.pt").is_file() and (root / "out" / "checkpoints" / "recon_step000004.wav").is_file()
    assert result["validation"] == str(trained["validation"])


def test_codec_and_fidelity_commands(trained: dict, tmp_path: Path, run_json, run) -> None:
    long = tmp_path / "music.wav"
    write_wav(long, music_like(3.0, sample_rate=FS, seed=1), FS)
    out = tmp_path / "out.wav"
    code, output = run("codec", str(trained["root"] / "out" / "codec.pt"), str(long), str(out), "--chunk-seconds", "0.5")
    assert code == 0, output
    assert f"wrote {out}: {3 * FS} samples at {FS} Hz" in output
    audio, rate = read_wav(out)
    assert rate == FS and audio.shape == (3 * FS,) and np.isfinite(audio).all()
    scores = run_json("fidelity", str(long), str(out))
    assert set(scores) >= {"mse", "si_snr_db", "cspace_error", "cspace_error_db", "samples"} and scores["samples"] == 3 * FS
    code, output = run("fidelity", str(long), str(long))
    assert code == 0 and "CSpace error 0 " in output, output


def test_bad_inputs_are_clear_errors(trained: dict, tmp_path: Path, run) -> None:
    good = str(trained["validation"])
    codec = str(trained["root"] / "out" / "codec.pt")
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("not audio")
    shorter = tmp_path / "short.wav"
    write_wav(shorter, read_wav(good)[0][:-100], FS)
    cases = [
        (("fidelity", good, str(tmp_path / "missing.wav")), "not found"),
        (("fidelity", good, str(not_wav)), "not a readable audio file"),
        (("fidelity", good, str(shorter)), "--trim"),
        (("codec", good, good, str(tmp_path / "o.wav")), "not a kaspix codec checkpoint"),
        (("codec", str(tmp_path / "none.pt"), good, str(tmp_path / "o.wav")), "checkpoint file not found"),
        (("codec", codec, str(not_wav), str(tmp_path / "o.wav")), "not a readable audio file"),
        (("train-codec", "--data", str(tmp_path / "nowhere")), "training data folder not found"),
        (("train-codec", "--set", "steps=many"), "field 'steps'"),
        (("train-codec", str(tmp_path / "missing.wav")), "validation audio file not found"),
    ]
    for args, message in cases:
        code, output = run(*args)
        assert code == 2, (args, output)
        assert message in output and "Traceback" not in output, (args, output)
    code, output = run("fidelity", good, str(shorter), "--trim")
    assert code == 0 and "warning: the lengths differ by 100 samples" in output, output
