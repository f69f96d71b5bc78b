"""Data sources for the codec: endless, seeded streams of fixed-length mono segments.

The interface (every source below implements it):

* A source is built as ``factory(*, sample_rate, segment_samples, seed, **options)``; the plugin
  registers the factories by name (``ctx.parts.data_sources.build("wav_folder", root=..., ...)``).
* ``iter(source)`` gives an endless iterator of float32 torch tensors of shape ``(segment_samples,)``
  at ``sample_rate``: random crops, seeded by ``seed`` — each new ``iter`` starts the same sequence.
  Clips shorter than a segment are zero-padded on the right.
* Audio files are read by :func:`kaspix_cspace.audio.read_wav` (mono mix-down and resampling to
  ``sample_rate`` as documented there; unreadable files are a :class:`~kaspix.KaspixError`).

Sources:

* ``synth_speech`` (the default) and ``synth_music``: a pool of clips from :mod:`kaspix_cspace.synth`,
  one synthetic speaker or piece per clip; nothing is read or downloaded.
* ``wav_folder``: every ``*.wav`` under a folder, recursively.
* ``libritts``: a local copy of LibriTTS (``<root>/<subset>/<speaker>/<chapter>/<id>.wav`` with
  ``<id>.normalized.txt`` and ``<id>.original.txt`` beside it).
* ``hf_stream``: a HuggingFace ``datasets`` audio dataset on this machine (a folder, or a Hub
  dataset already in the local cache), streamed; needs the ``kaspix-cspace[hf]`` extra. Nothing is
  downloaded.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from kaspix import KaspixError

from kaspix_cspace.audio import read_wav
from kaspix_cspace.synth import SYNTH_KINDS

__all__ = [
    "FileSource",
    "HFStreamSource",
    "LibriTTSSource",
    "SynthSource",
    "Utterance",
    "hf_stream",
    "libritts",
    "libritts_utterances",
    "synth_music",
    "synth_speech",
    "wav_folder",
]

log = logging.getLogger(__name__)

#: Decoded files kept in memory by a file source (least recently used ones are dropped).
CACHE_FILES = 256
#: Seeds of synthesized pools: clip ``i`` of a pool seeded ``s`` uses ``s * POOL_STRIDE + i``.
POOL_STRIDE = 100_003


def _crop(audio: np.ndarray, length: int, rng: np.random.Generator) -> torch.Tensor:
    """A random ``length``-sample crop of ``audio`` (zero-padded when it is shorter)."""
    if len(audio) <= length:
        return torch.from_numpy(np.pad(audio, (0, length - len(audio))).astype(np.float32))
    start = int(rng.integers(0, len(audio) - length + 1))
    return torch.from_numpy(np.ascontiguousarray(audio[start : start + length], dtype=np.float32))


def _check_sizes(sample_rate: int, segment_samples: int) -> None:
    if sample_rate <= 0 or segment_samples <= 0:
        raise KaspixError(f"sample_rate and segment_samples must be positive, got {sample_rate} and {segment_samples}")


class SynthSource:
    """Random crops of a pool of synthesized clips.

    Args:
        kind: ``"speech"`` or ``"music"`` (:data:`kaspix_cspace.synth.SYNTH_KINDS`).
        sample_rate: Hz.
        segment_samples: Samples per segment.
        seed: Seeds the pool (clip ``i`` is synthesized with seed ``seed * 100003 + i``) and the crops;
            pools of different seeds share no clip.
        pool_seconds: Total duration of the pool.
        clip_seconds: Duration of each clip (one synthetic speaker or piece each).
    """

    def __init__(
        self, kind: str, *, sample_rate: int, segment_samples: int, seed: int = 0, pool_seconds: float = 60.0, clip_seconds: float = 3.0
    ) -> None:
        _check_sizes(sample_rate, segment_samples)
        if kind not in SYNTH_KINDS:
            raise KaspixError(f"unknown synthetic kind {kind!r}", hint=f"use one of {', '.join(SYNTH_KINDS)}")
        if pool_seconds <= 0 or clip_seconds <= 0:
            raise KaspixError(f"pool_seconds and clip_seconds must be positive, got {pool_seconds} and {clip_seconds}")
        self.sample_rate, self.segment_samples, self.seed = sample_rate, segment_samples, seed
        make = SYNTH_KINDS[kind]
        count = max(1, round(pool_seconds / clip_seconds))
        self.clips = [make(clip_seconds, sample_rate=sample_rate, seed=seed * POOL_STRIDE + i) for i in range(count)]

    def __iter__(self) -> Iterator[torch.Tensor]:
        rng = np.random.default_rng(self.seed)
        while True:
            yield _crop(self.clips[int(rng.integers(len(self.clips)))], self.segment_samples, rng)


class FileSource:
    """Random crops of audio files, each file picked with probability proportional to its duration.

    Args:
        paths: The audio files.
        sample_rate: Hz; files at other rates are resampled (see :func:`kaspix_cspace.audio.read_wav`).
        segment_samples: Samples per segment.
        seed: Seeds the crops.
        where: Names the collection in error messages.
    """

    def __init__(self, paths: list[Path], *, sample_rate: int, segment_samples: int, seed: int = 0, where: str = "") -> None:
        import soundfile as sf

        _check_sizes(sample_rate, segment_samples)
        if not paths:
            raise KaspixError(
                "no audio files found", where=where or None, hint="check the folder; WAV files (*.wav) are searched recursively"
            )
        self.paths = list(paths)
        self.sample_rate, self.segment_samples, self.seed = sample_rate, segment_samples, seed
        seconds = []
        for path in self.paths:
            try:
                info = sf.info(str(path))
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise KaspixError(
                    f"not a readable audio file ({str(exc).strip()})", where=str(path), hint="remove or re-encode it"
                ) from None
            if info.frames == 0:
                raise KaspixError("audio file holds no samples", where=str(path), hint="remove it from the folder")
            seconds.append(info.frames / info.samplerate)
        self.seconds = np.asarray(seconds)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    @property
    def total_seconds(self) -> float:
        """Duration of all files together."""
        return float(self.seconds.sum())

    def load(self, index: int) -> np.ndarray:
        """File ``index`` as float32 mono at :attr:`sample_rate` (cached)."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        audio, _ = read_wav(self.paths[index], sample_rate=self.sample_rate, what="training audio")
        self._cache[index] = audio
        if len(self._cache) > CACHE_FILES:
            self._cache.popitem(last=False)
        return audio

    def __iter__(self) -> Iterator[torch.Tensor]:
        rng = np.random.default_rng(self.seed)
        weights = self.seconds / self.seconds.sum()
        while True:
            yield _crop(self.load(int(rng.choice(len(self.paths), p=weights))), self.segment_samples, rng)


def _folder(root: str | Path, what: str) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise KaspixError(f"{what} folder not found", where=str(path), hint="check the path")
    if not path.is_dir():
        raise KaspixError(f"{what} path is not a folder", where=str(path), hint="give the folder that holds the audio")
    return path


def synth_speech(*, sample_rate: int = 24000, segment_samples: int, seed: int = 0, **options: Any) -> SynthSource:
    """Speech-like synthesized clips (the codec's default training data); options: ``pool_seconds``, ``clip_seconds``."""
    return SynthSource("speech", sample_rate=sample_rate, segment_samples=segment_samples, seed=seed, **options)


def synth_music(*, sample_rate: int = 24000, segment_samples: int, seed: int = 0, **options: Any) -> SynthSource:
    """Music-like synthesized clips (out of distribution for a codec trained on speech); options as :func:`synth_speech`."""
    return SynthSource("music", sample_rate=sample_rate, segment_samples=segment_samples, seed=seed, **options)


def wav_folder(root: str | Path, *, sample_rate: int = 24000, segment_samples: int, seed: int = 0) -> FileSource:
    """Every ``*.wav`` (any case) under ``root``, recursively; see :class:`FileSource`."""
    folder = _folder(root, "WAV")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    return FileSource(paths, sample_rate=sample_rate, segment_samples=segment_samples, seed=seed, where=str(folder))


@dataclass(frozen=True)
class Utterance:
    """One LibriTTS utterance: its ids, audio file and transcripts (``None`` when the file is absent)."""

    id: str
    subset: str
    speaker: str
    chapter: str
    path: Path
    text_normalized: str | None
    text_original: str | None


def _text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def libritts_utterances(root: str | Path, subsets: list[str] | None = None, speakers: list[str] | None = None) -> list[Utterance]:
    """The utterances of a local LibriTTS copy, sorted by id.

    Args:
        root: The folder holding the subsets (``train-clean-100``, ``dev-clean``, ...).
        subsets: Subset folder names to use; default every subset found.
        speakers: Speaker ids to keep; default all.

    Raises:
        KaspixError: the root or an asked-for subset is missing, or no utterance is found.
    """
    folder = _folder(root, "LibriTTS")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if subsets:
        missing = [s for s in subsets if s not in found]
        if missing:
            raise KaspixError(
                f"LibriTTS subset(s) not found: {', '.join(missing)}", where=str(folder), hint=f"subsets here: {', '.join(found) or 'none'}"
            )
    keep = set(speakers) if speakers else None
    items = []
    for subset in subsets or found:
        for wav in sorted((folder / subset).glob("*/*/*.wav")):
            speaker, chapter = wav.parent.parent.name, wav.parent.name
            if not wav.stem.startswith(f"{speaker}_{chapter}_") or (keep is not None and speaker not in keep):
                continue
            items.append(
                Utterance(
                    id=wav.stem,
                    subset=subset,
                    speaker=speaker,
                    chapter=chapter,
                    path=wav,
                    text_normalized=_text(wav.with_suffix(".normalized.txt")),
                    text_original=_text(wav.with_suffix(".original.txt")),
                )
            )
    if not items:
        raise KaspixError(
            "no LibriTTS utterances found",
            where=str(folder),
            hint="the layout is <root>/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<n>_<m>.wav",
        )
    return sorted(items, key=lambda u: u.id)


class LibriTTSSource(FileSource):
    """A :class:`FileSource` over LibriTTS utterances, which it keeps (with their texts) as :attr:`utterances`."""

    def __init__(self, utterances: list[Utterance], *, sample_rate: int, segment_samples: int, seed: int = 0, where: str = "") -> None:
        super().__init__([u.path for u in utterances], sample_rate=sample_rate, segment_samples=segment_samples, seed=seed, where=where)
        self.utterances = utterances


def libritts(
    root: str | Path,
    *,
    sample_rate: int = 24000,
    segment_samples: int,
    seed: int = 0,
    subsets: list[str] | None = None,
    speakers: list[str] | None = None,
) -> LibriTTSSource:
    """A local LibriTTS copy (see :func:`libritts_utterances`), optionally restricted to some subsets and speakers."""
    utterances = libritts_utterances(root, subsets, speakers)
    return LibriTTSSource(utterances, sample_rate=sample_rate, segment_samples=segment_samples, seed=seed, where=str(root))


class HFStreamSource:
    """Random crops of a HuggingFace ``datasets`` audio dataset on this machine, streamed (``kaspix-cspace[hf]``).

    kaspix never downloads data: ``dataset`` is a folder (written by ``Dataset.save_to_disk``, or
    data files such as parquet or an ``audiofolder``), or a Hub dataset already in the local
    HuggingFace cache (``hf download --repo-type dataset NAME`` fetches one, outside kaspix). The
    rows are streamed (``IterableDataset``), so a large corpus is never loaded whole. The audio
    column is decoded by :func:`kaspix_cspace.audio.decode_audio` (mono mix-down, resampling to
    ``sample_rate``), not by ``datasets``, whose decoders change between versions.

    Args:
        dataset: A local folder, or the name of a Hub dataset in the local cache.
        name: Its configuration (``None`` for the default).
        split: The split to stream.
        audio_column: The column holding the audio.
        sample_rate: Hz; audio at another rate is resampled.
        segment_samples: Samples per segment.
        seed: Seeds the stream's shuffle buffer and the crops.
        crops_per_example: Segments taken from each streamed example.
        shuffle_buffer: Examples held by the stream's shuffle buffer.
    """

    def __init__(
        self,
        dataset: str = "mythicinfinity/libritts",
        name: str | None = "clean",
        split: str = "train.clean.100",
        audio_column: str = "audio",
        *,
        sample_rate: int,
        segment_samples: int,
        seed: int = 0,
        crops_per_example: int = 4,
        shuffle_buffer: int = 1000,
    ) -> None:
        _check_sizes(sample_rate, segment_samples)
        try:
            import datasets
        except ImportError:
            raise KaspixError(
                "the hf_stream data source needs the HuggingFace datasets package",
                hint='pip install "kaspix-cspace[hf]"',
            ) from None
        self.dataset, self.name, self.split, self.audio_column = dataset, name, split, audio_column
        self.sample_rate, self.segment_samples, self.seed = sample_rate, segment_samples, seed
        self.crops_per_example, self.shuffle_buffer = crops_per_example, shuffle_buffer
        self._stream = _local_stream(datasets, dataset, name, split)
        columns = self._stream.column_names
        if columns is not None and audio_column not in columns:
            raise KaspixError(
                f"dataset has no column {audio_column!r}; its columns: {', '.join(columns)}",
                where=dataset,
                hint="set the source's audio_column",
            )
        self._stream = self._stream.cast_column(audio_column, datasets.Audio(decode=False))

    def __iter__(self) -> Iterator[torch.Tensor]:
        rng = np.random.default_rng(self.seed)
        epoch = 0
        while True:
            count = 0
            for row, example in enumerate(self._stream.shuffle(seed=self.seed + epoch, buffer_size=self.shuffle_buffer)):
                where = f"{self.dataset} ({self.split}), row {row} of pass {epoch}"
                audio = _row_audio(example[self.audio_column], sample_rate=self.sample_rate, where=where)
                for _ in range(self.crops_per_example):
                    yield _crop(audio, self.segment_samples, rng)
                count += 1
            if count == 0:
                raise KaspixError(f"split {self.split!r} has no rows", where=self.dataset)
            epoch += 1


def _local_stream(datasets: Any, dataset: str, name: str | None, split: str) -> Any:
    """The split of ``dataset`` (a folder or a cached Hub dataset) as an ``IterableDataset``, never from the network."""
    folder = Path(dataset).expanduser()
    if folder.is_dir() and ((folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()):
        saved = datasets.load_from_disk(str(folder))
        if isinstance(saved, datasets.DatasetDict):
            if split not in saved:
                raise KaspixError(f"no split {split!r}; the folder has {', '.join(saved)}", where=dataset, hint="set the source's split")
            saved = saved[split]
        return saved.to_iterable_dataset()
    if not folder.is_dir():
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            folder = Path(snapshot_download(dataset, repo_type="dataset", local_files_only=True))
        except (LocalEntryNotFoundError, ValueError):
            raise KaspixError(
                f"{dataset!r} is neither a folder nor a dataset in the local HuggingFace cache; kaspix never downloads data",
                where="data source hf_stream",
                hint=f"fetch it once yourself (hf download --repo-type dataset {dataset}), or give a local folder",
            ) from None
    try:  # a local folder: datasets lists and reads its files on disk (tests run this with the network blocked)
        return datasets.load_dataset(str(folder), name, split=split, streaming=True)
    except (ValueError, FileNotFoundError) as exc:
        raise KaspixError(f"cannot stream split {split!r} (config {name!r}) from {folder}: {exc}", where=dataset) from None


def _row_audio(value: Any, *, sample_rate: int, where: str) -> np.ndarray:
    """Mono float32 samples at ``sample_rate`` of an undecoded ``datasets`` audio value (``{"bytes", "path"}``)."""
    import io

    from kaspix_cspace.audio import decode_audio

    data = value.get("bytes") if isinstance(value, dict) else None
    path = value.get("path") if isinstance(value, dict) else None
    if data is None and not path:
        raise KaspixError("audio value holds neither bytes nor a path", where=where)
    audio, _ = decode_audio(io.BytesIO(data) if data is not None else str(path), sample_rate=sample_rate, where=where, what="dataset audio")
    return audio


def hf_stream(*, sample_rate: int = 24000, segment_samples: int, seed: int = 0, **options: Any) -> HFStreamSource:
    """A streamed HuggingFace audio dataset (opt-in extra ``kaspix-cspace[hf]``); options as :class:`HFStreamSource`."""
    return HFStreamSource(sample_rate=sample_rate, segment_samples=segment_samples, seed=seed, **options)
