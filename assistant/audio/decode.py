"""Samples and files: levels, int16 conversion, resampling, decoding and writing recordings.

Conventions (docs/architecture.md): inside the engine audio is **16 kHz mono int16**
(``np.ndarray`` of dtype ``int16``, shape ``(n,)``). Float audio, where a model wants it,
is float32 in [-1, 1) obtained as ``x.astype(np.float32) / 32768``.

Files are decoded by libsndfile (``soundfile``: WAV, FLAC, OGG/Vorbis, MP3, AIFF...) and,
for everything else, FFmpeg through PyAV (``av``: M4A/AAC, Opus, WebM, MP4...). All
resampling uses ``soxr`` (libsoxr "HQ" quality).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Optional, Union

import numpy as np
import soxr

from assistant.errors import AssistantError, AudioInputError

log = logging.getLogger(__name__)

#: The engine's sample rate, Hz.
SAMPLE_RATE = 16000

_FORMATS_HINT = "Use a WAV, FLAC, OGG, MP3, M4A or Opus recording with at least a few milliseconds of sound."

#: A file path as callers give it.
PathLike = Union[str, Path]


def dbfs(block: np.ndarray) -> float:
    """RMS level of a block in dBFS.

    Args:
        block: int16 samples (full scale 32768) or float samples (full scale 1.0), any shape.

    Returns:
        ``20·log10(rms / full_scale)``, clamped to [-100, 0]; -100.0 for an empty or silent
        block. A full-scale square wave is 0 dBFS and a full-scale sine -3.01 dBFS (RMS
        referenced to full scale, as in most meters; AES17 would call the sine 0 dBFS).
    """
    x = np.asarray(block)
    if x.size == 0:
        return -100.0
    full = 32768.0 if x.dtype == np.int16 else (float(np.iinfo(x.dtype).max) + 1 if np.issubdtype(x.dtype, np.integer) else 1.0)
    rms = math.sqrt(float(np.mean(np.square(x, dtype=np.float64))))
    if rms <= 0:
        return -100.0
    return float(min(0.0, max(-100.0, 20.0 * math.log10(rms / full))))


#: Level a quiet recorded command is raised to (:func:`normalize_level`), dBFS of its robust peak.
RECORDING_LEVEL_DBFS = -6.0
#: Most gain :func:`normalize_level` gives a recording, dB (a -36 dBFS peak reaches -6 dBFS;
#: quieter ones get these 30 dB and stay below): enough for a quiet microphone, not so much
#: that a silent file's hiss becomes loud.
RECORDING_MAX_GAIN_DB = 30.0
#: Percentile of ``|x|`` taken as a recording's peak: the loudest 0.1 % of samples (a click,
#: a clipped plosive) does not set the level.
PEAK_PERCENTILE = 99.9


def peak_dbfs(x: np.ndarray, percentile: float = PEAK_PERCENTILE) -> float:
    """Robust peak level of int16 samples, dBFS: the ``percentile`` of ``|x|`` over 32768,
    clamped to [-100, 0]; -100.0 for an empty or silent array."""
    a = np.abs(np.asarray(x, dtype=np.float32))
    if a.size == 0:
        return -100.0
    p = float(np.percentile(a, percentile)) / 32768.0
    return -100.0 if p <= 0 else float(min(0.0, max(-100.0, 20.0 * math.log10(p))))


def normalize_level(x: np.ndarray, target_dbfs: float = RECORDING_LEVEL_DBFS,
                    max_gain_db: float = RECORDING_MAX_GAIN_DB) -> tuple[np.ndarray, float]:
    """Raise a quiet recording to ``target_dbfs`` (peak normalisation, never attenuating).

    Silero VAD hears a quiet voice late or not at all (measured on ../shared/audio: jfk.flac's
    first speech chunk at 0.35 s with its peak at 0 to -20 dBFS, 0.48 s at -30, 1.25 s at -40;
    "turn on the office lights" 0.0 s at 0 dBFS, 0.86 s at -30) and Whisper loses words with
    it, so a recorded command is brought to a level the models were trained on before it
    takes the microphone's path. A whole recording is known in advance, so this is one gain
    for all of it (no automatic gain control's pumping); the live microphone has
    ``audio.input_gain_db`` instead.

    Args:
        x: int16 mono samples, shape ``(n,)``.
        target_dbfs: the robust peak (:func:`peak_dbfs`) to reach, dBFS.
        max_gain_db: the most gain applied, dB.

    Returns:
        ``(samples, gain_db)``: int16 ``(n,)`` (rounded and clipped to the int16 range: the
        0.1 % of samples above the robust peak may clip when a click stands out) and the
        gain applied, dB (0.0 when ``x`` is empty, silent or already at or above the target:
        then ``x`` itself is returned).
    """
    level = peak_dbfs(x)
    if level <= -100.0 or level >= target_dbfs:
        return x, 0.0
    gain_db = min(target_dbfs - level, max_gain_db)
    y = np.asarray(x, dtype=np.float32) * np.float32(10 ** (gain_db / 20))
    return np.clip(np.rint(y), -32768, 32767).astype(np.int16), float(gain_db)


def float_to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1) → int16 (×32768, rounded, clipped to the int16 range);
    same shape."""
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def resample(x: np.ndarray, sr_in: float, sr_out: float) -> np.ndarray:
    """Resample a whole signal with libsoxr (``soxr.resample``, "HQ" quality).

    Args:
        x: samples, shape ``(n,)`` or ``(n, channels)``; int16 or float32 (float64 is
            converted to float32).
        sr_in: rate of ``x``, Hz.
        sr_out: wanted rate, Hz.

    Returns:
        The resampled signal with the same dtype (int16 in → int16 out, float32 → float32)
        and channel layout, ``round(n · sr_out / sr_in)`` frames. ``x`` itself if the rates
        are equal.
    """
    x = np.asarray(x)
    if x.dtype not in (np.int16, np.float32):
        x = x.astype(np.float32)
    if sr_in == sr_out or x.shape[0] == 0:
        return x
    return soxr.resample(x, sr_in, sr_out)


def _to_mono_16k(x: np.ndarray, sr: float) -> np.ndarray:
    """float32 ``(n, channels)`` at ``sr`` → int16 ``(m,)`` at 16 kHz."""
    mono = x.mean(axis=1, dtype=np.float32) if x.ndim == 2 else x.astype(np.float32)
    mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)
    return float_to_int16(resample(np.ascontiguousarray(mono, dtype=np.float32), sr, SAMPLE_RATE))


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return data, int(sr)


def _decode_av(path: Path) -> tuple[np.ndarray, int]:
    """Decode the first audio stream with FFmpeg (PyAV); keeps what was decoded before a
    decoding error in the middle of the file (a truncated download)."""
    import av

    chunks: list[np.ndarray] = []
    rate = 0
    with av.open(str(path), mode="r") as container:
        if not container.streams.audio:
            raise AudioInputError(f"{path} contains no audio stream.", _FORMATS_HINT)
        stream = container.streams.audio[0]
        # Convert every frame to planar float at the stream's own rate and layout; soxr
        # does the resampling afterwards.
        converter = av.AudioResampler(format="fltp")
        try:
            for frame in container.decode(stream):
                if not rate:
                    rate = int(frame.sample_rate)
                for out in converter.resample(frame):
                    chunks.append(out.to_ndarray().T)  # (samples, channels)
        except (av.FFmpegError, ValueError, OSError) as exc:
            if not chunks:
                raise
            log.warning("%s: decoding stopped early (%s); using the %d frames decoded", path, exc, sum(len(c) for c in chunks))
    if not chunks:
        return np.zeros((0, 1), np.float32), rate or SAMPLE_RATE
    width = max(c.shape[1] for c in chunks)
    chunks = [c if c.shape[1] == width else np.repeat(c[:, :1], width, axis=1) for c in chunks]
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


#: Largest recording read from standard input (bytes): 10 minutes of 48 kHz stereo float.
MAX_STDIN_BYTES = 10 * 60 * 48000 * 2 * 4


def _read_stdin() -> np.ndarray:
    """Read a whole recording from standard input (``-``) and decode it like a file."""
    import sys
    import tempfile

    if sys.stdin is None or sys.stdin.isatty():
        raise AudioInputError("No recording on standard input (it is a terminal).",
                              "Pipe a recording in, e.g. assistant transcribe - < command.wav.")
    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(data) > MAX_STDIN_BYTES:
        raise AudioInputError(f"The recording on standard input is larger than {MAX_STDIN_BYTES >> 20} MB.",
                              "Give a shorter recording, or save it to a file.")
    with tempfile.TemporaryDirectory(prefix="assistant-stdin-") as tmp:
        f = Path(tmp) / "stdin"
        f.write_bytes(data)
        try:
            return read_audio(f)
        except AudioInputError as exc:
            message = exc.message.replace(f"Audio file {f}", "The recording on standard input")
            raise AudioInputError(message.replace(str(f), "standard input"), exc.hint) from None


def read_audio(path: PathLike) -> np.ndarray:
    """Decode an audio file to 16 kHz mono int16.

    libsndfile (``soundfile``) is tried first; if it does not recognise the file, FFmpeg
    (PyAV) decodes it (M4A/AAC, Opus, WebM, MP4...). Channels are averaged; the rate is
    converted with libsoxr. A file cut short in the middle of its data decodes to the part
    that is there (with a logged warning where the decoder reports it).

    Args:
        path: the file, or ``"-"`` for a recording on standard input (read whole, up to
            :data:`MAX_STDIN_BYTES`). Other non-regular files (FIFOs, devices such as
            ``/dev/zero``, sockets) are refused: they can block forever or never end.

    Returns:
        ``np.ndarray`` of int16, shape ``(n,)``, 16,000 samples per second, ``n > 0``.

    Raises:
        AudioInputError: the file is missing, a folder, not a regular file, unreadable,
            empty (0 bytes), not audio (neither decoder recognises it), has no audio
            stream, or holds no samples
            (e.g. a WAV header without data). The message names the file.
    """
    if str(path) == "-":
        return _read_stdin()
    p = Path(path).expanduser()
    if not p.exists():
        raise AudioInputError(f"Audio file not found: {p}.", "Check the path and file name.")
    if p.is_dir():
        raise AudioInputError(f"{p} is a folder, not an audio file.", "Give the path of a recording.")
    if not p.is_file():  # a FIFO would block forever, /dev/zero never ends
        kind = ("a named pipe" if p.is_fifo() else "a device" if p.is_char_device() or p.is_block_device()
                else "a socket" if p.is_socket() else "not a regular file")
        raise AudioInputError(f"{p} is not a regular audio file ({kind}).",
                              "Give the path of a recording, or - to read one from standard input.")
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except OSError as exc:
        raise AudioInputError(f"Audio file {p} cannot be opened ({exc.strerror or exc}).", "Check the file's permissions.") from exc
    if size == 0:
        raise AudioInputError(f"Audio file {p} is empty (0 bytes).", _FORMATS_HINT)

    errors: list[str] = []
    data: Optional[np.ndarray] = None
    sr = 0
    try:
        data, sr = _decode_soundfile(p)
    except Exception as exc:  # libsndfile raises LibsndfileError, RuntimeError, TypeError...
        errors.append(f"libsndfile: {_first_line(exc)}")
    if data is None:
        try:
            data, sr = _decode_av(p)
        except AudioInputError:
            raise
        except Exception as exc:  # any FFmpeg failure is a property of the file
            errors.append(f"FFmpeg: {_first_line(exc)}")
    if data is None:
        raise AudioInputError(
            f"{p} is not an audio file that can be decoded ({'; '.join(errors)}).",
            _FORMATS_HINT,
        )
    if data.shape[0] == 0 or sr <= 0:
        raise AudioInputError(f"Audio file {p} contains no audio samples (header only, or cut before the first sample).", _FORMATS_HINT)
    out = _to_mono_16k(data, sr)
    if out.size == 0:
        raise AudioInputError(f"Audio file {p} is too short to hold any audio at 16 kHz.", _FORMATS_HINT)
    return out


def write_wav(path: PathLike, samples: np.ndarray, sample_rate: int) -> Path:
    """Write a 16-bit PCM WAV file.

    Args:
        path: output file (its folder must exist).
        samples: int16 ``(n,)`` or ``(n, channels)``; float input in [-1, 1) is converted
            to int16 (×32768, clipped).
        sample_rate: Hz.

    Returns:
        ``Path(path)``.

    Raises:
        AssistantError: the file cannot be written (missing folder, permissions, disk full).
    """
    import soundfile as sf

    p = Path(path).expanduser()
    x = np.asarray(samples)
    if x.dtype != np.int16:
        x = float_to_int16(x.astype(np.float32))
    try:
        sf.write(str(p), x, int(sample_rate), subtype="PCM_16", format="WAV")
    except Exception as exc:  # LibsndfileError / OSError
        raise AssistantError(f"Cannot write WAV file {p} ({_first_line(exc)}).", "Check that the folder exists and is writable.") from exc
    return p

