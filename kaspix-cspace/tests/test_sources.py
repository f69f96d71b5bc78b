"""Synthesized audio and the codec's data sources, on files the tests write."""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch
from kaspix import KaspixError
from kaspix.testing import plugin_host
from kaspix_cspace import plugin
from kaspix_cspace.audio import write_wav
from kaspix_cspace.codec_model import CodecModel
from kaspix_cspace.sources import hf_stream, libritts, libritts_utterances, synth_music, synth_speech, wav_folder
from kaspix_cspace.synth import music_like, speech_like

FS = 8000


@pytest.mark.parametrize("make", [speech_like, music_like])
def test_synth_is_seeded_finite_and_normalized(make) -> None:
    a = make(1.0, sample_rate=FS, seed=3)
    assert a.dtype == np.float32 and a.shape == (FS,)
    assert np.array_equal(a, make(1.0, sample_rate=FS, seed=3))
    assert not np.array_equal(a, make(1.0, sample_rate=FS, seed=4))
    peak = np.abs(a).max()
    assert 10 ** (-12 / 20) - 1e-6 <= peak <= 10 ** (-1 / 20) + 1e-6


def test_speech_like_has_pauses_and_voiced_harmonics() -> None:
    x = speech_like(4.0, sample_rate=FS, seed=0).astype(np.float64)
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames**2).mean(axis=1))
    assert (rms < 0.02 * rms.max()).mean() > 0.05  # silent gaps between syllables/words
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / FS)
    assert spectrum[(freqs > 70) & (freqs < 1000)].sum() > 0.5 * spectrum.sum()  # energy where f0 and F1 live


def test_synth_source_yields_seeded_segments() -> None:
    source = synth_speech(sample_rate=FS, segment_samples=400, seed=1, pool_seconds=2.0, clip_seconds=1.0)
    first = list(islice(source, 5))
    again = list(islice(source, 5))
    assert all(s.dtype == torch.float32 and s.shape == (400,) for s in first)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    other = synth_speech(sample_rate=FS, segment_samples=400, seed=2, pool_seconds=2.0, clip_seconds=1.0)
    assert not np.array_equal(source.clips[0], other.clips[0])
    music = synth_music(sample_rate=FS, segment_samples=400, seed=1, pool_seconds=1.0, clip_seconds=1.0)
    assert next(iter(music)).shape == (400,)


def test_wav_folder_is_recursive_resamples_and_pads_short_files(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 0.5 * np.ones(2 * FS, dtype=np.float32), FS)
    write_wav(tmp_path / "sub" / "deeper" / "b.WAV", np.full(FS, -0.5, dtype=np.float32), 2 * FS)  # another rate
    write_wav(tmp_path / "sub" / "short.wav", np.full(100, 0.25, dtype=np.float32), FS)
    (tmp_path / "notes.txt").write_text("not audio")
    source = wav_folder(tmp_path, sample_rate=FS, segment_samples=300, seed=0)
    assert [p.name for p in source.paths] == ["a.wav", "b.WAV", "short.wav"]
    assert source.total_seconds == pytest.approx(2.5 + 100 / FS)
    assert source.load(1).shape == (FS // 2,)  # 1 s at 16 kHz resampled to 8 kHz
    segments = list(islice(source, 300))
    assert {0.5, -0.5, 0.25} <= {round(float(s[0]), 2) for s in segments}
    padded = next(s for s in segments if round(float(s[0]), 2) == 0.25)  # the short file, zero-padded on the right
    assert torch.allclose(padded[:100], torch.tensor(0.25), atol=1e-3) and not padded[100:].any()


def test_wav_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(KaspixError, match="not found"):
        wav_folder(tmp_path / "missing", sample_rate=FS, segment_samples=10)
    with pytest.raises(KaspixError, match="no audio files"):
        wav_folder(tmp_path, sample_rate=FS, segment_samples=10)
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(KaspixError, match="not a readable audio file"):
        wav_folder(tmp_path, sample_rate=FS, segment_samples=10)


def _libritts_tree(root: Path) -> None:
    """A tiny LibriTTS copy: two subsets, three speakers, transcripts beside the audio."""
    layout = {
        "dev-clean": [("84", "121123", 2), ("174", "50561", 1)],
        "train-clean-100": [("19", "198", 2)],
    }
    for subset, speakers in layout.items():
        for speaker, chapter, count in speakers:
            folder = root / subset / speaker / chapter
            for i in range(count):
                uid = f"{speaker}_{chapter}_{i:06d}_000000"
                audio = np.sin(2 * np.pi * 200 * (1 + i) * np.arange(FS // 2) / FS).astype(np.float32) * 0.5
                write_wav(folder / f"{uid}.wav", audio, FS)
                (folder / f"{uid}.normalized.txt").write_text(f"Text {uid}.", encoding="utf-8")
                (folder / f"{uid}.original.txt").write_text(f"text {uid}", encoding="utf-8")
    (root / "train-clean-100" / "19" / "198" / "19_198.trans.tsv").write_text("ignored\n")
    write_wav(root / "dev-clean" / "84" / "121123" / "stray.wav", np.zeros(10, np.float32), FS)  # not an utterance id


def test_libritts_reads_the_directory_layout(tmp_path: Path) -> None:
    _libritts_tree(tmp_path)
    everything = libritts_utterances(tmp_path)
    assert [u.id for u in everything] == [
        "174_50561_000000_000000",
        "19_198_000000_000000",
        "19_198_000001_000000",
        "84_121123_000000_000000",
        "84_121123_000001_000000",
    ]
    first = everything[1]
    assert (first.subset, first.speaker, first.chapter) == ("train-clean-100", "19", "198")
    assert first.text_normalized == "Text 19_198_000000_000000." and first.text_original == "text 19_198_000000_000000"
    source = libritts(tmp_path, sample_rate=FS, segment_samples=1000, seed=0, subsets=["dev-clean"], speakers=["84"])
    assert [u.id for u in source.utterances] == ["84_121123_000000_000000", "84_121123_000001_000000"]
    segment = next(iter(source))
    assert segment.shape == (1000,) and segment.dtype == torch.float32 and 0.4 < segment.abs().max() <= 0.5
    with pytest.raises(KaspixError, match="subset"):
        libritts_utterances(tmp_path, subsets=["test-other"])
    with pytest.raises(KaspixError, match="no LibriTTS utterances"):
        libritts_utterances(tmp_path, speakers=["9999"])


def test_hf_stream_without_the_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import fails as if not installed
    with pytest.raises(KaspixError, match=r"kaspix-cspace\[hf\]"):
        hf_stream(segment_samples=100)


def test_sources_and_the_codec_are_registered_parts(tmp_path: Path) -> None:
    _libritts_tree(tmp_path)
    with plugin_host(plugin, name="cspace") as host:
        source = host.parts.data_sources.build("libritts", tmp_path, sample_rate=FS, segment_samples=200, seed=0)
        assert len(source.utterances) == 5 and next(iter(source)).shape == (200,)
        speech = host.parts.data_sources.build("cspace:synth_speech", sample_rate=FS, segment_samples=200, pool_seconds=1.0)
        assert next(iter(speech)).shape == (200,)
        model = host.parts.models.build("cspace_codec", sample_rate=FS, strides=[4, 4], channels=4, latent_channels=4)
        assert isinstance(model, CodecModel) and model.latent_rate == FS / 4


def _wav_bytes(seconds: float, rate: int, freq: float) -> bytes:
    import io

    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _audio_dataset(rate: int = 16000):
    import datasets

    rows = {"audio": [{"bytes": _wav_bytes(0.5, rate, f), "path": None} for f in (200.0, 300.0, 400.0)], "speaker": ["a", "b", "c"]}
    return datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio(decode=False))


def test_hf_stream_reads_a_saved_dataset_from_disk_without_the_network(tmp_path: Path, offline: None) -> None:
    import datasets

    datasets.DatasetDict({"train": _audio_dataset(16000)}).save_to_disk(str(tmp_path / "corpus"))
    source = hf_stream(dataset=str(tmp_path / "corpus"), name=None, split="train", segment_samples=2000, seed=3, shuffle_buffer=4)
    first, again = list(islice(source, 30)), list(islice(source, 30))
    assert all(s.shape == (2000,) and s.dtype == torch.float32 for s in first)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))  # seeded: each iter starts the same sequence
    assert max(float(s.abs().max()) for s in first) == pytest.approx(0.5, abs=0.02)  # resampled 16 -> 24 kHz, level kept
    with pytest.raises(KaspixError, match="no split 'test'"):
        hf_stream(dataset=str(tmp_path / "corpus"), split="test", segment_samples=100)
    with pytest.raises(KaspixError, match=r"no column 'speech'.*audio, speaker"):
        hf_stream(dataset=str(tmp_path / "corpus"), split="train", audio_column="speech", segment_samples=100)


def test_hf_stream_reads_a_folder_of_data_files_without_the_network(tmp_path: Path, offline: None) -> None:
    (tmp_path / "corpus" / "data").mkdir(parents=True)
    _audio_dataset(24000).to_parquet(str(tmp_path / "corpus" / "data" / "train-00000-of-00001.parquet"))
    source = hf_stream(dataset=str(tmp_path / "corpus"), name=None, split="train", segment_samples=1000, shuffle_buffer=2)
    segments = list(islice(source, 12))
    assert all(s.shape == (1000,) for s in segments) and 0.3 < max(float(s.abs().max()) for s in segments) <= 0.51


def test_hf_stream_reads_a_hub_dataset_only_from_the_local_cache(tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "datasets--someone--speech"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit / "data").mkdir(parents=True)
    _audio_dataset(24000).to_parquet(str(repo / "snapshots" / commit / "data" / "train-00000-of-00001.parquet"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    source = hf_stream(dataset="someone/speech", name=None, split="train", segment_samples=1000, shuffle_buffer=2)
    segment = next(iter(source))
    assert segment.shape == (1000,) and 0.3 < float(segment.abs().max()) <= 0.51
    with pytest.raises(KaspixError, match="never downloads") as error:
        hf_stream(dataset="someone/not-fetched", segment_samples=1000)
    assert "hf download --repo-type dataset someone/not-fetched" in error.value.hint
