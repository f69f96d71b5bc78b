"""Reading and writing WAV files for every ``kaspix cspace`` command and step.

Policy, the same everywhere in the package:

- Audio comes back as float32 mono of shape ``(T,)`` in [-1, 1] (PCM is scaled by soundfile).
- Several channels are mixed down to mono (their mean); a warning says so.
- When ``sample_rate`` is given and the file has another rate, the audio is resampled to it with
  ``scipy.signal.resample_poly`` (polyphase, Kaiser window); a warning says so. Without
  ``sample_rate`` the file's own rate is kept and returned.
- A missing path, a folder, a file soundfile cannot decode, an empty file or one holding NaN or
  infinite samples is a :class:`kaspix.KaspixError` (exit code 2 in the CLI) naming the file.

``write_wav`` writes atomically (temporary file + rename): PCM 16-bit by default (samples clipped
to [-1, 1]), or 32-bit float (``subtype="FLOAT"``, not clipped).
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from kaspix import KaspixError
from kaspix.atomic import atomic_write_bytes

if TYPE_CHECKING:
    import numpy as np

__all__ = ["check_sample_index", "decode_audio", "read_wav", "write_wav"]

log = logging.getLogger(__name__)

#: The WAV subtypes :func:`write_wav` writes.
SUBTYPES = ("PCM_16", "FLOAT")


def read_wav(path: str | Path, *, sample_rate: int | None = None, what: str = "audio") -> tuple[np.ndarray, int]:
    """Read an audio file as float32 mono, resampled to ``sample_rate`` when one is given.

    Args:
        path: The file (any format libsndfile reads: WAV, FLAC, OGG, AIFF, ...).
        sample_rate: The rate wanted, in Hz; ``None`` keeps the file's rate.
        what: What the file is for (``"query audio"``), used in error messages.

    Returns:
        ``(audio, rate)``: float32 array of shape ``(T,)`` and its sample rate in Hz.

    Raises:
        KaspixError: the file is missing, not audio, empty or not finite.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise KaspixError(f"{what} file not found", where=where, hint="check the path; the commands take WAV files")
    if not path.is_file():
        raise KaspixError(f"{what} path is not a file", where=where, hint="give a WAV file, not a folder")
    return decode_audio(str(path), sample_rate=sample_rate, where=where, what=what)


def decode_audio(source: str | BinaryIO, *, sample_rate: int | None = None, where: str, what: str = "audio") -> tuple[np.ndarray, int]:
    """Decode audio from a file path or an open binary file, with the policy of :func:`read_wav`.

    Args:
        source: A path, or a file-like object holding an encoded file (``io.BytesIO(wav_bytes)``).
        sample_rate: The rate wanted, in Hz; ``None`` keeps the source's rate.
        where: Where the audio comes from, for messages (a path, ``dataset row 12``).
        what: What the audio is for, used in error messages.

    Returns:
        ``(audio, rate)``: float32 array of shape ``(T,)`` and its sample rate in Hz.

    Raises:
        KaspixError: the source is not audio, empty or not finite.
    """
    import numpy as np
    import soundfile as sf

    if sample_rate is not None and sample_rate <= 0:
        raise KaspixError(f"sample rate must be positive, got {sample_rate}", where=where)
    try:
        data, rate = sf.read(source, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        detail = str(exc).rsplit("': ", 1)[-1].strip().rstrip(".") or type(exc).__name__
        raise KaspixError(
            f"{what} is not a readable audio file ({detail})",
            where=where,
            hint="give a WAV file (PCM or float); other formats libsndfile reads (FLAC, OGG) work too",
        ) from None
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise KaspixError(f"{what} file holds no samples", where=where, hint="give a file with audio in it")
    if not np.isfinite(data).all():
        raise KaspixError(f"{what} holds NaN or infinite samples", where=where, hint="write the file again from finite audio")
    if data.shape[1] > 1:
        log.warning("%s: %d channels mixed down to mono (their mean)", where, data.shape[1])
    audio = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    rate = int(rate)
    if sample_rate is not None and sample_rate != rate:
        from scipy.signal import resample_poly

        log.warning("%s: resampled from %d Hz to %d Hz", where, rate, sample_rate)
        g = math.gcd(rate, int(sample_rate))
        audio = resample_poly(audio.astype(np.float64), int(sample_rate) // g, rate // g)
        rate = int(sample_rate)
        if audio.size == 0:
            raise KaspixError(f"{what} is too short to resample to {rate} Hz", where=where)
    return np.ascontiguousarray(audio, dtype=np.float32), rate


def write_wav(path: str | Path, audio: np.ndarray, rate: int, *, subtype: str = "PCM_16") -> Path:
    """Write mono ``audio`` (shape ``(T,)`` or ``(T, 1)``) to ``path`` atomically.

    Args:
        path: The WAV file to write; its folder is created.
        audio: Samples in [-1, 1] (float) — PCM output clips anything outside.
        rate: Sample rate in Hz.
        subtype: ``"PCM_16"`` (default) or ``"FLOAT"`` (32-bit float, lossless for float32 audio).

    Returns:
        The path written.
    """
    import numpy as np
    import soundfile as sf

    if subtype not in SUBTYPES:
        raise ValueError(f"subtype must be one of {SUBTYPES}, got {subtype!r}")
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if subtype == "PCM_16":
        samples = np.clip(samples, -1.0, 1.0)
    buffer = io.BytesIO()
    sf.write(buffer, samples, int(rate), subtype=subtype, format="WAV")
    return atomic_write_bytes(path, buffer.getvalue())


def check_sample_index(at: int, length: int, where: str, *, what: str = "--at") -> int:
    """Return ``at`` if it is a sample index of a signal of ``length`` samples, else raise.

    Raises:
        KaspixError: ``at`` is outside ``0 .. length - 1``.
    """
    if not 0 <= at < length:
        raise KaspixError(
            f"{what} {at} is outside the audio (0 .. {length - 1}, {length} samples)",
            where=where,
            hint=f"choose a sample between 0 and {length - 1}",
        )
    return at
