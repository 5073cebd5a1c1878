"""Audio I/O: devices, file decoding, resampling, capture sources and playback sinks.

Conventions (docs/architecture.md): inside the engine audio is **16 kHz mono int16**
(``np.ndarray`` of dtype ``int16``, shape ``(n,)``) in equal blocks of ``block_ms``
milliseconds (80 ms = 1280 samples by default, the openWakeWord frame). Float audio, where
a model wants it, is float32 in [-1, 1) obtained as ``x.astype(np.float32) / 32768``.

* Devices go through PortAudio (``sounddevice``). Capture opens the device at its default
  rate and a channel count it accepts, downmixes and resamples to 16 kHz with
  ``soxr.ResampleStream`` in the PortAudio callback thread.
* Files are decoded by libsndfile (``soundfile``: WAV, FLAC, OGG/Vorbis, MP3, AIFF...) and,
  for everything else, FFmpeg through PyAV (``av``: M4A/AAC, Opus, WebM, MP4...). All
  resampling uses ``soxr`` (libsoxr "HQ" quality).
* Playback (:class:`AudioPlayer`) is callback based: ``write`` only appends to a queue, the
  PortAudio thread pulls from it, so ``stop()`` (barge-in) empties the queue and the next
  callback outputs silence.

PortAudio enumerates devices once, when ``sounddevice`` is imported. Call
:func:`reinit_portaudio` after the audio server changed (hot-plug, a PulseAudio started
after import: tests do this) to see the new device list.
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import soxr

from assistant.errors import AssistantError, AudioInputError, DeviceError, SettingsError

try:  # PortAudio is a system library: reading files must work without it.
    import sounddevice as sd

    _SD_ERROR: Optional[str] = None
except OSError as _exc:  # pragma: no cover - depends on the machine
    sd = None  # type: ignore[assignment]
    _SD_ERROR = str(_exc)

log = logging.getLogger(__name__)

#: The engine's sample rate, Hz.
SAMPLE_RATE = 16000

_DEVICES_HINT = "Run `assistant devices` to list the audio devices and pick one by index or name."
_FORMATS_HINT = "Use a WAV, FLAC, OGG, MP3, M4A or Opus recording with at least a few milliseconds of sound."

PathLike = Union[str, Path]


# --------------------------------------------------------------------------------------
# PortAudio and devices
# --------------------------------------------------------------------------------------


def _require_portaudio() -> None:
    if sd is None:
        raise DeviceError(
            f"The PortAudio library could not be loaded ({_SD_ERROR}).",
            "Install PortAudio (Debian/Ubuntu: apt install libportaudio2; macOS: brew install portaudio).",
        )


def reinit_portaudio() -> None:
    """Re-initialise PortAudio so that it enumerates the devices again.

    PortAudio builds its device list once, at initialisation (``sounddevice`` does that at
    import). Call this after a device was plugged in or removed, or after the audio server
    (PulseAudio, PipeWire) changed, e.g. after setting ``PULSE_SERVER``. Streams that are
    still open become invalid: close every :class:`MicrophoneSource` and
    :class:`AudioPlayer` first.

    Raises:
        DeviceError: PortAudio is not installed or cannot be initialised.
    """
    _require_portaudio()
    try:
        sd._terminate()
        sd._initialize()
    except sd.PortAudioError as exc:
        raise DeviceError(f"PortAudio could not be re-initialised ({exc}).", _DEVICES_HINT) from exc


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device.

    Attributes:
        index: PortAudio device index (valid until the next :func:`reinit_portaudio`).
        name: device name as PortAudio reports it.
        hostapi: name of the host API (``"ALSA"``, ``"Windows WASAPI"``, ``"Core Audio"``...).
        max_input_channels: capture channels (0 for an output-only device).
        max_output_channels: playback channels (0 for an input-only device).
        default_samplerate: the device's default sample rate, Hz.
        is_default_input: PortAudio's default input device.
        is_default_output: PortAudio's default output device.
    """

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    def describe(self) -> str:
        """One line for listings: ``"3: USB Mic (ALSA, 1 in / 0 out, 48000 Hz) [default input]"``."""
        marks = [m for m, on in (("default input", self.is_default_input), ("default output", self.is_default_output)) if on]
        tail = f" [{', '.join(marks)}]" if marks else ""
        return (
            f"{self.index}: {self.name} ({self.hostapi}, {self.max_input_channels} in / "
            f"{self.max_output_channels} out, {self.default_samplerate:.0f} Hz){tail}"
        )


def _default_indices() -> tuple[int, int]:
    try:
        din, dout = sd.default.device
    except Exception:  # sounddevice raises various things for an unset default
        return -1, -1
    din = -1 if din is None else int(din)
    dout = -1 if dout is None else int(dout)
    if din < 0 or dout < 0:
        # ``sd.default.device`` is (-1, -1) unless the user set it: ask PortAudio.
        try:
            apis = sd.query_hostapis()
            api0 = apis[0] if apis else {}
            din = din if din >= 0 else int(api0.get("default_input_device", -1))
            dout = dout if dout >= 0 else int(api0.get("default_output_device", -1))
        except Exception:
            pass
        try:
            din = din if din >= 0 else int(sd.query_devices(kind="input")["index"])
        except Exception:
            pass
        try:
            dout = dout if dout >= 0 else int(sd.query_devices(kind="output")["index"])
        except Exception:
            pass
    return din, dout


def list_devices() -> list[DeviceInfo]:
    """List the audio devices PortAudio knows.

    Returns:
        Every device, in PortAudio index order (empty if there are none).

    Raises:
        DeviceError: PortAudio is not installed.
    """
    _require_portaudio()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"The audio devices could not be listed ({exc}).", _DEVICES_HINT) from exc
    din, dout = _default_indices()
    out = []
    for d in devices:
        idx = int(d["index"])
        api = apis[d["hostapi"]]["name"] if 0 <= d["hostapi"] < len(apis) else str(d["hostapi"])
        out.append(
            DeviceInfo(
                index=idx,
                name=str(d["name"]),
                hostapi=str(api),
                max_input_channels=int(d["max_input_channels"]),
                max_output_channels=int(d["max_output_channels"]),
                default_samplerate=float(d["default_samplerate"]),
                is_default_input=idx == din,
                is_default_output=idx == dout,
            )
        )
    return out


def _channels_key(kind: str) -> str:
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', not {kind!r}")
    return "max_input_channels" if kind == "input" else "max_output_channels"


def find_device(spec: Union[str, int, None], kind: str = "input") -> Optional[int]:
    """Resolve a device setting to a PortAudio index.

    Args:
        spec: ``None``/``""``/``"default"`` for the system default; an ``int`` (or a string
            of digits) for a device index; otherwise a case-insensitive substring of the
            device name (an exact name match wins over a substring match; among several
            substring matches the lowest index is used).
        kind: ``"input"`` (capture) or ``"output"`` (playback); the device must have
            channels of that kind.

    Returns:
        The device index, or ``None`` meaning "the system default" (which exists).

    Raises:
        DeviceError: no device of that kind exists, or none matches ``spec``; the message
            lists the available devices of that kind.
        ValueError: ``kind`` is not ``"input"``/``"output"`` (a programming error).
    """
    key = _channels_key(kind)
    devices = [d for d in list_devices() if getattr(d, key) > 0]
    available = "; ".join(d.describe() for d in devices) or "none"
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "default")):
        din, dout = _default_indices()
        default = din if kind == "input" else dout
        if not devices or default < 0:
            raise DeviceError(
                f"No audio {kind} device was found (available {kind} devices: {available}).",
                f"Connect a {'microphone' if kind == 'input' else 'speaker or headphones'}, check that the sound server is running, then {_DEVICES_HINT[0].lower()}{_DEVICES_HINT[1:]}",
            )
        return None
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        for d in devices:
            if d.index == index:
                return index
        raise DeviceError(f"There is no audio {kind} device with index {index} (available {kind} devices: {available}).", _DEVICES_HINT)
    needle = str(spec).strip().lower()
    exact = [d for d in devices if d.name.lower() == needle]
    if exact:
        return exact[0].index
    partial = [d for d in devices if needle in d.name.lower()]
    if partial:
        if len(partial) > 1:
            log.info("audio %s %r matches %d devices; using %s", kind, spec, len(partial), partial[0].describe())
        return partial[0].index
    raise DeviceError(f"No audio {kind} device matches {str(spec)!r} (available {kind} devices: {available}).", _DEVICES_HINT)


def _device_info(index: Optional[int], kind: str) -> dict:
    try:
        return dict(sd.query_devices(index, kind=kind) if index is None else sd.query_devices(index))
    except (sd.PortAudioError, ValueError) as exc:
        raise DeviceError(f"The audio {kind} device {index if index is not None else '(default)'} cannot be queried ({exc}).", _DEVICES_HINT) from exc


def _pick_stream_format(index: Optional[int], kind: str, rate: float, max_channels: int) -> tuple[int, int]:
    """Find ``(samplerate, channels)`` the device accepts: its default rate first, then
    48/44.1/16 kHz; mono first, then stereo, then its maximum channel count."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    rates = [int(round(rate))] + [r for r in (48000, 44100, 32000, 22050, 16000) if r != int(round(rate))]
    chans = [c for c in dict.fromkeys((1, 2, max_channels)) if 0 < c <= max(max_channels, 1)]
    last: Exception | None = None
    for r in rates:
        for c in chans:
            try:
                check(device=index, samplerate=r, channels=c, dtype="int16" if kind == "input" else "float32")
                return r, c
            except Exception as exc:  # PortAudioError or ValueError from sounddevice
                last = exc
    raise DeviceError(f"The audio {kind} device {index if index is not None else '(default)'} accepts none of the usual formats ({last}).", _DEVICES_HINT)


# --------------------------------------------------------------------------------------
# Samples: levels, resampling, files
# --------------------------------------------------------------------------------------


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


def _float_to_int16(x: np.ndarray) -> np.ndarray:
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
    return _float_to_int16(resample(np.ascontiguousarray(mono, dtype=np.float32), sr, SAMPLE_RATE))


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
        x = _float_to_int16(x.astype(np.float32))
    try:
        sf.write(str(p), x, int(sample_rate), subtype="PCM_16", format="WAV")
    except Exception as exc:  # LibsndfileError / OSError
        raise AssistantError(f"Cannot write WAV file {p} ({_first_line(exc)}).", "Check that the folder exists and is writable.") from exc
    return p


# --------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------


def _block_samples(block_ms: float) -> int:
    n = int(round(SAMPLE_RATE * block_ms / 1000.0))
    if n <= 0:
        raise ValueError(f"block_ms must be positive, not {block_ms}")
    return n


class FileSource:
    """An :class:`AudioSource` reading a recording, so files take the microphone's path.

    Args:
        path: any file :func:`read_audio` can decode.
        block_ms: block length in ms (80 → 1280 samples).
        realtime: if True, ``blocks()`` yields one block per ``block_ms`` of wall-clock
            time (a pretend microphone); otherwise as fast as the consumer takes them.
        pad_silence_s: seconds of digital silence (zeros) appended after the recording so
            that an endpointer sees the end of the utterance.

    Attributes:
        sample_rate: always 16000.
        block_samples: samples per block.
        audio: the whole decoded recording, int16 ``(n,)``.

    Raises:
        AudioInputError: at construction, if the file cannot be decoded (see
            :func:`read_audio`).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, path: PathLike, block_ms: float = 80, realtime: bool = False, pad_silence_s: float = 1.0) -> None:
        self.path = Path(path)
        self.block_samples = _block_samples(block_ms)
        self.realtime = realtime
        self.pad_silence_s = max(0.0, float(pad_silence_s))
        self.audio = read_audio(self.path)
        self._closed = threading.Event()

    @property
    def duration(self) -> float:
        """Length of the recording (without padding), seconds."""
        return len(self.audio) / SAMPLE_RATE

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield int16 blocks of exactly ``block_samples`` samples: the recording (the last
        block zero-padded), then ``ceil(pad_silence_s · 16000 / block_samples)`` blocks of
        zeros. Stops early after :meth:`close`."""
        n = self.block_samples
        pad_blocks = int(math.ceil(self.pad_silence_s * SAMPLE_RATE / n - 1e-9))
        total = int(math.ceil(len(self.audio) / n)) + pad_blocks
        start = time.monotonic()
        for i in range(total):
            if self._closed.is_set():
                return
            if self.realtime:
                delay = start + i * n / SAMPLE_RATE - time.monotonic()
                if delay > 0 and self._closed.wait(delay):
                    return
            block = self.audio[i * n : (i + 1) * n]
            if len(block) < n:
                block = np.concatenate([block, np.zeros(n - len(block), np.int16)])
            yield block

    def close(self) -> None:
        """Stop a running :meth:`blocks` generator (it ends before its next block)."""
        self._closed.set()

    def __enter__(self) -> "FileSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_STOP = object()


class MicrophoneSource:
    """Capture from a PortAudio input device as 16 kHz mono int16 blocks.

    The device is opened at its default sample rate with one channel if it accepts that
    (else two, else its maximum), ``latency="high"``. The PortAudio callback downmixes
    (mean of channels), resamples with ``soxr.ResampleStream`` (its state lives in the
    callback thread only), cuts equal blocks and puts them on a bounded queue; if the
    consumer falls behind by more than ``queue_s`` seconds the oldest blocks are dropped
    (counted in :attr:`dropped_blocks`).

    Args:
        device: ``None`` for the system default, an index, or a name substring
            (see :func:`find_device`).
        block_ms: block length, ms (80 → 1280 samples).
        queue_s: capacity of the block queue, seconds of audio.
        stall_timeout_s: if the device delivers nothing for this long, ``blocks()`` raises
            :class:`DeviceError` instead of hanging.
        gain_db: input gain in dB applied to the 16 kHz signal before it is cut into blocks
            (``10 ** (gain_db / 20)`` as a linear factor; samples that would exceed int16
            full scale are clipped). Settable while capturing through :attr:`gain_db`.

    Attributes:
        sample_rate: always 16000 (the rate of the blocks).
        device_rate: the rate the device is opened at, Hz.
        channels: channels the device is opened with.
        overflows: number of PortAudio ``input_overflow`` statuses seen (logged warnings).

    Raises:
        DeviceError: at construction, if the device does not exist or cannot be opened.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, device: Union[str, int, None] = None, block_ms: float = 80, queue_s: float = 10.0,
                 stall_timeout_s: float = 5.0, gain_db: float = 0.0) -> None:
        _require_portaudio()
        self.block_samples = _block_samples(block_ms)
        self.gain_db = gain_db  # sets _gain_db and the linear _gain read by the callback
        self.device_index = find_device(device, "input")
        info = _device_info(self.device_index, "input")
        self.device_name = str(info.get("name", "default"))
        self.device_rate, self.channels = _pick_stream_format(
            self.device_index, "input", float(info.get("default_samplerate") or 48000), int(info.get("max_input_channels") or 1)
        )
        self.stall_timeout_s = float(stall_timeout_s)
        self.overflows = 0
        self.dropped_blocks = 0
        self._queue: "queue.Queue[object]" = queue.Queue(maxsize=max(2, int(queue_s * 1000 / block_ms)))
        self._resampler = None if self.device_rate == SAMPLE_RATE else soxr.ResampleStream(self.device_rate, SAMPLE_RATE, 1, dtype="float32")
        self._pending = np.zeros(0, np.float32)
        self._error: Optional[str] = None
        self._closed = False
        self._started = False
        self._lock = threading.Lock()
        try:
            self._stream = sd.InputStream(
                device=self.device_index,
                samplerate=self.device_rate,
                channels=self.channels,
                dtype="int16",
                latency="high",
                blocksize=max(256, int(round(self.device_rate * block_ms / 1000.0))),
                callback=self._callback,
                finished_callback=self._finished,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"The microphone {self.device_name!r} cannot be opened ({exc}).", _DEVICES_HINT) from exc

    @property
    def gain_db(self) -> float:
        """Input gain, dB (0 = as captured). Setting it takes effect from the next
        PortAudio callback (one float assignment, no lock needed).

        Raises:
            SettingsError: on set, for a value outside -60…+40 dB or not finite.
        """
        return self._gain_db

    @gain_db.setter
    def gain_db(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value) or not -60.0 <= value <= 40.0:
            raise SettingsError(f"Input gain must be between -60 and +40 dB, got {value}.",
                                "Set audio.input_gain_db in settings.toml to a value from -20 to 30.")
        self._gain_db = value
        self._gain = 10.0 ** (value / 20.0)

    # PortAudio thread -------------------------------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        try:
            if status:
                if status.input_overflow:
                    self.overflows += 1
                    if self.overflows in (1, 10, 100) or self.overflows % 1000 == 0:
                        log.warning("microphone %r: input overflow #%d (audio lost; the machine is busy)", self.device_name, self.overflows)
                else:
                    log.warning("microphone %r: PortAudio status %s", self.device_name, status)
            x = indata.astype(np.float32) / 32768.0
            mono = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1)
            if self._resampler is not None:
                mono = self._resampler.resample_chunk(np.ascontiguousarray(mono))
            gain = self._gain
            if gain != 1.0:
                mono = mono * gain
            buf = np.concatenate([self._pending, mono]) if len(self._pending) else mono
            n = self.block_samples
            full = len(buf) // n
            for i in range(full):
                self._put(_float_to_int16(buf[i * n : (i + 1) * n]))
            self._pending = buf[full * n :].copy()
        except Exception as exc:  # never let an exception kill the PortAudio thread silently
            self._error = f"capture failed ({exc})"
            self._put(_STOP)
            raise sd.CallbackAbort from exc

    def _put(self, item: object) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped_blocks += 1
                except queue.Empty:
                    pass

    def _finished(self) -> None:
        if not self._closed and self._error is None:
            self._error = "the device stopped delivering audio (unplugged, or the sound server went away)"
        self._put(_STOP)

    # consumer side ----------------------------------------------------------------
    def start(self) -> None:
        """Start capturing (``blocks()`` does it if needed). Idempotent.

        Raises:
            DeviceError: the stream cannot be started.
        """
        with self._lock:
            if self._started or self._closed:
                return
            try:
                self._stream.start()
            except sd.PortAudioError as exc:
                raise DeviceError(f"The microphone {self.device_name!r} cannot be started ({exc}).", _DEVICES_HINT) from exc
            self._started = True

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield int16 blocks of ``block_samples`` samples at 16 kHz until :meth:`close`.

        Raises:
            DeviceError: the device disappeared or failed, or delivered no audio for
                ``stall_timeout_s`` seconds.
        """
        self.start()
        last = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closed:
                    return
                if self._error is not None:
                    self._raise()
                if time.monotonic() - last > self.stall_timeout_s:
                    self._error = f"no audio arrived for {self.stall_timeout_s:g} s"
                    self._raise()
                continue
            if item is _STOP:
                if self._closed:
                    return
                self._raise()
            last = time.monotonic()
            yield item  # type: ignore[misc]

    def _raise(self) -> None:
        msg = self._error or "the device stopped"
        raise DeviceError(
            f"The microphone {self.device_name!r} failed: {msg}.",
            f"Check that it is connected and not used exclusively by another program. {_DEVICES_HINT}",
        )

    def close(self) -> None:
        """Stop capturing and release the device; a running ``blocks()`` returns. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._stream.abort()
            self._stream.close()
        except Exception as exc:  # the device may already be gone
            log.debug("closing microphone: %s", exc)
        self._put(_STOP)

    def __enter__(self) -> "MicrophoneSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------------------
# Sinks
# --------------------------------------------------------------------------------------


class AudioPlayer:
    """Speech output through PortAudio (the TTS sink), interruptible at once.

    A ``sounddevice.OutputStream`` is opened at the device's default rate (mono if the
    device accepts it, else the samples are copied to every channel), float32,
    ``latency="high"``. ``write`` resamples with ``soxr.ResampleStream`` (from the rate given
    to :meth:`start`) and appends to a queue; the PortAudio callback pulls from the queue and
    outputs silence when it is empty. Nothing here blocks the caller except a full queue
    (``max_queue_s`` of audio) and :meth:`drain`.

    Args:
        device: ``None`` for the system default, an index or a name substring.
        max_queue_s: ``write`` waits while more than this many seconds are queued.

    Attributes:
        device_rate: the output rate, Hz.
        channels: output channels.

    Raises:
        DeviceError: at construction, no such output device; at :meth:`start`, it cannot
            be opened.
    """

    def __init__(self, device: Union[str, int, None] = None, max_queue_s: float = 60.0) -> None:
        _require_portaudio()
        self.device_index = find_device(device, "output")
        info = _device_info(self.device_index, "output")
        self.device_name = str(info.get("name", "default"))
        self.device_rate, self.channels = _pick_stream_format(
            self.device_index, "output", float(info.get("default_samplerate") or 48000), int(info.get("max_output_channels") or 1)
        )
        self.max_queue = int(max_queue_s * self.device_rate)
        self._cond = threading.Condition()  # guards the queue; shared with the callback
        self._rs_lock = threading.Lock()  # guards the resampler, never taken by the callback
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._offset = 0  # read position inside _chunks[0]
        self._queued = 0  # samples (at device rate) not yet handed to PortAudio
        self._generation = 0  # bumped by stop(): writes of an older generation are dropped
        self._in_rate: Optional[int] = None
        self._resampler = None
        self._stream = None
        self._last_audio_t = 0.0  # monotonic time the callback last output real samples
        self._error: Optional[str] = None
        self._closed = False
        self._accepting = False  # False after stop() until the next start()

    # PortAudio thread -------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        if status and status.output_underflow:
            log.debug("player: output underflow")
        filled = 0
        with self._cond:
            while filled < frames and self._chunks:
                head = self._chunks[0]
                take = min(frames - filled, len(head) - self._offset)
                outdata[filled : filled + take, 0] = head[self._offset : self._offset + take]
                filled += take
                self._offset += take
                if self._offset >= len(head):
                    self._chunks.popleft()
                    self._offset = 0
            self._queued -= filled
            if filled:
                self._last_audio_t = time.monotonic()
            self._cond.notify_all()
        outdata[filled:, 0] = 0.0
        if self.channels > 1:
            outdata[:, 1:] = outdata[:, :1]

    def _finished(self) -> None:
        with self._cond:
            if not self._closed and self._error is None and self._stream is not None and not self._stopping:
                self._error = "the output device stopped (unplugged, or the sound server went away)"
            self._cond.notify_all()

    _stopping = False

    # caller side ------------------------------------------------------------------
    def _open(self) -> None:
        if self._stream is not None and self._stream.active:
            return
        self._error = None
        self._stopping = False
        if self._stream is not None:
            try:  # restarting an aborted stream is cheaper than opening a new one
                self._stream.start()
                return
            except Exception:
                try:
                    self._stream.close()
                except Exception:
                    pass
                self._stream = None
        try:
            self._stream = sd.OutputStream(
                device=self.device_index,
                samplerate=self.device_rate,
                channels=self.channels,
                dtype="float32",
                latency="high",
                blocksize=max(256, int(self.device_rate * 0.02)),
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise DeviceError(f"The speaker {self.device_name!r} cannot be opened ({exc}).", _DEVICES_HINT) from exc

    def start(self, sample_rate: int) -> None:
        """Prepare to play samples of ``sample_rate`` Hz (e.g. 22050 for Piper joe-medium);
        opens the output stream if needed.

        Raises:
            DeviceError: the output device cannot be opened.
        """
        if self._closed:
            raise DeviceError("The audio player was closed.", "Create a new AudioPlayer.")
        with self._rs_lock:
            self._flush_resampler_locked()
            with self._cond:
                self._accepting = True
            self._in_rate = int(sample_rate)
            self._resampler = None if self._in_rate == self.device_rate else soxr.ResampleStream(self._in_rate, self.device_rate, 1, dtype="float32")
        self._open()

    def _flush_resampler_locked(self) -> None:
        # Caller holds _rs_lock: queue the resampler's delayed tail, start a fresh one.
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            self._resampler = soxr.ResampleStream(self._in_rate, self.device_rate, 1, dtype="float32")
            if len(tail):
                with self._cond:
                    if self._accepting:
                        self._chunks.append(tail.astype(np.float32, copy=False))
                        self._queued += len(tail)

    def write(self, samples: np.ndarray) -> None:
        """Queue int16 mono samples (at the rate given to :meth:`start`) for playback.

        Returns as soon as they are queued; waits only while more than ``max_queue_s`` are
        queued. Samples written after :meth:`stop` and before the next :meth:`start` are
        dropped silently (the TTS thread may still be producing after a barge-in).

        Raises:
            DeviceError: :meth:`start` was not called, or the device failed.
        """
        if self._in_rate is None:
            raise DeviceError("AudioPlayer.write() was called before start().", "Call start(sample_rate) first.")
        if self._error:
            raise DeviceError(f"The speaker {self.device_name!r} failed: {self._error}.", _DEVICES_HINT)
        x = np.asarray(samples)
        x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
        x = x.reshape(-1)
        with self._rs_lock:  # resample outside the callback's lock
            with self._cond:
                if not self._accepting:
                    return
                gen = self._generation
            if self._resampler is not None:
                x = self._resampler.resample_chunk(x)
        with self._cond:
            while self._queued > self.max_queue and gen == self._generation and not self._closed and not self._error:
                self._cond.wait(0.1)
            if gen != self._generation or self._closed or not len(x):
                return
            self._chunks.append(np.ascontiguousarray(x, dtype=np.float32))
            self._queued += len(x)
        if self._stream is None or not self._stream.active:
            self._open()

    def drain(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything written has been played (queue empty plus the device's
        output latency).

        Args:
            timeout: seconds to wait at most; ``None`` waits as long as needed.

        Returns:
            True if everything was played, False on timeout or if :meth:`stop` was called.

        Raises:
            DeviceError: the output device failed while playing.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            gen = self._generation
        with self._rs_lock:
            self._flush_resampler_locked()
        with self._cond:
            while self._queued > 0 and gen == self._generation and not self._error:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.05 if left is None else min(0.05, left))
            if gen != self._generation:
                return False
            if self._error:
                raise DeviceError(f"The speaker {self.device_name!r} failed: {self._error}.", _DEVICES_HINT)
        latency = float(self._stream.latency) if self._stream is not None else 0.0
        end = self._last_audio_t + latency
        while time.monotonic() < end:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if self._generation != gen:
                return False
            time.sleep(min(0.01, max(0.0, end - time.monotonic())))
        return True

    def stop(self) -> None:
        """Barge-in: discard everything queued and silence the output now.

        The queue is emptied under the lock, so the next callback (≤ 20 ms of audio later)
        outputs zeros; the stream is then aborted, which also drops what PortAudio had
        already buffered. Returns in well under 100 ms. A later :meth:`start`/:meth:`write`
        reopens the stream.
        """
        with self._cond:
            self._generation += 1
            self._accepting = False
            self._chunks.clear()
            self._offset = 0
            self._queued = 0
            self._stopping = True
            self._last_audio_t = 0.0
            self._cond.notify_all()
        with self._rs_lock:  # at most one resample_chunk() of a writer to wait for
            if self._in_rate is not None and self._resampler is not None:
                self._resampler = soxr.ResampleStream(self._in_rate, self.device_rate, 1, dtype="float32")
        stream = self._stream
        if stream is not None:
            try:
                stream.abort()
            except Exception as exc:
                log.debug("player abort: %s", exc)

    @property
    def is_playing(self) -> bool:
        """True while queued samples remain or the last ones may still be sounding."""
        if self._queued > 0:
            return True
        latency = float(self._stream.latency) if self._stream is not None else 0.0
        return self._last_audio_t > 0 and time.monotonic() < self._last_audio_t + latency

    def close(self) -> None:
        """Stop and release the device. Idempotent."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception as exc:
                log.debug("player close: %s", exc)
            self._stream = None

    def __enter__(self) -> "AudioPlayer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BufferSink:
    """An :class:`AudioSink` that keeps what would be played (for ``--output reply.wav``).

    Samples are kept at the rate of the first :meth:`start`; audio written after a
    ``start`` with another rate is resampled to it with libsoxr.

    Attributes:
        sample_rate: the first rate given to :meth:`start` (Hz), ``None`` before.
    """

    def __init__(self) -> None:
        self.sample_rate: Optional[int] = None
        self._in_rate: Optional[int] = None
        self._resampler = None
        self._chunks: list[np.ndarray] = []
        self._lock = threading.Lock()

    def start(self, sample_rate: int) -> None:
        """Begin an utterance of ``sample_rate`` Hz samples."""
        with self._lock:
            self._flush_locked()
            if self.sample_rate is None:
                self.sample_rate = int(sample_rate)
            self._in_rate = int(sample_rate)
            self._resampler = None if self._in_rate == self.sample_rate else soxr.ResampleStream(self._in_rate, self.sample_rate, 1, dtype="float32")

    def _flush_locked(self) -> None:
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if len(tail):
                self._chunks.append(_float_to_int16(tail))
            self._resampler = soxr.ResampleStream(self._in_rate, self.sample_rate, 1, dtype="float32")

    def write(self, samples: np.ndarray) -> None:
        """Append int16 mono samples (at the rate of the last :meth:`start`).

        Raises:
            AssistantError: :meth:`start` was not called.
        """
        if self._in_rate is None:
            raise AssistantError("BufferSink.write() was called before start().", "Call start(sample_rate) first.")
        x = np.asarray(samples).reshape(-1)
        with self._lock:
            if self._resampler is not None:
                xf = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
                self._chunks.append(_float_to_int16(self._resampler.resample_chunk(xf)))
            else:
                self._chunks.append(x.astype(np.int16) if x.dtype == np.int16 else _float_to_int16(x.astype(np.float32)))

    def drain(self, timeout: Optional[float] = None) -> bool:
        """Nothing to wait for; flushes the resampler. Returns True."""
        with self._lock:
            self._flush_locked()
        return True

    def stop(self) -> None:
        """Nothing is queued: what was written is kept."""
        self.drain()

    def close(self) -> None:
        """Flush; the samples stay available."""
        self.drain()

    @property
    def is_playing(self) -> bool:
        """Always False: nothing is ever pending."""
        return False

    @property
    def samples(self) -> np.ndarray:
        """Everything written so far, int16 ``(n,)`` at :attr:`sample_rate`."""
        with self._lock:
            self._flush_locked()
            return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)

    @property
    def duration(self) -> float:
        """Seconds of audio collected."""
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0

    def to_wav(self, path: PathLike) -> Path:
        """Write the collected audio as a 16-bit WAV at :attr:`sample_rate`.

        Raises:
            AssistantError: nothing was ever started, or the file cannot be written.
        """
        if self.sample_rate is None:
            raise AssistantError(f"No audio was produced, so {path} was not written.", "Check the TTS voice and the reply text.")
        return write_wav(path, self.samples, self.sample_rate)

    def __enter__(self) -> "BufferSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NullSink:
    """An :class:`AudioSink` that discards audio: used when no output device exists, so the
    assistant still answers (as text, in the UI and the CLI) instead of failing."""

    sample_rate: Optional[int] = None
    is_playing = False

    def start(self, sample_rate: int) -> None:
        """Accept an utterance at ``sample_rate`` Hz (ignored)."""
        self.sample_rate = int(sample_rate)

    def write(self, samples: np.ndarray) -> None:
        """Discard int16 samples."""

    def drain(self, timeout: Optional[float] = None) -> bool:
        """Nothing to wait for; returns True."""
        return True

    def stop(self) -> None:
        """Nothing to stop."""

    def close(self) -> None:
        """Nothing to close."""
