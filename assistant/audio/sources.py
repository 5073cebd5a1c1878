"""Capture sources: the :class:`AudioSource` protocol, the microphone and recordings.

A source yields **16 kHz mono int16** blocks (``np.ndarray``, shape ``(block_samples,)``)
of ``block_ms`` milliseconds each (80 ms = 1280 samples by default, the openWakeWord
frame). The pipeline (:meth:`assistant.pipeline.Assistant.run`) only iterates
:meth:`AudioSource.blocks`; whoever started it calls :meth:`AudioSource.close` to stop it.

Capture opens the device at its default rate and a channel count it accepts, downmixes and
resamples to 16 kHz with ``soxr.ResampleStream`` in the PortAudio callback thread.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Protocol, Union, runtime_checkable

import numpy as np
import soxr

from assistant.audio.decode import SAMPLE_RATE, PathLike, float_to_int16, normalize_level, read_audio
from assistant.audio.devices import DEVICES_HINT, open_stream, require_portaudio, resolve_stream, sd
from assistant.errors import DeviceError, SettingsError

log = logging.getLogger(__name__)


@runtime_checkable
class AudioSource(Protocol):
    """Where the engine's audio comes from: :class:`MicrophoneSource`, :class:`FileSource`.

    Attributes:
        sample_rate: Hz of the blocks; always 16000 in the engine.
        block_ms: length of one block, ms.
    """

    sample_rate: int
    block_ms: float

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield int16 mono blocks of ``block_ms`` ms until the audio ends or :meth:`close`.

        Raises:
            DeviceError, AudioInputError: the device or the recording failed.
        """
        ...

    def close(self) -> None:
        """Stop: a running :meth:`blocks` ends; may be called from any thread. Idempotent."""
        ...


def recording_padding_s(end_silence_ms: float) -> float:
    """Seconds of silence to append after a recording so that the endpointer, which needs
    ``end_silence_ms`` of silence to close an utterance, sees it end (with 0.8 s to spare,
    and at least 1.5 s).

    Args:
        end_silence_ms: the VAD's end-of-utterance silence, ms.

    Returns:
        ``max(1.5, end_silence_ms / 1000 + 0.8)``.
    """
    return max(1.5, end_silence_ms / 1000 + 0.8)


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
        block_ms: block length, ms.
        block_samples: samples per block.
        audio: the whole decoded recording, int16 ``(n,)``.
        gain_db: gain applied to it, dB (:meth:`for_recording`; 0.0 otherwise).

    Raises:
        AudioInputError: at construction, if the file cannot be decoded (see
            :func:`read_audio`).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, path: PathLike, block_ms: float = 80, realtime: bool = False, pad_silence_s: float = 1.0) -> None:
        self.path = Path(path)
        self.block_ms = float(block_ms)
        self.block_samples = _block_samples(block_ms)
        self.realtime = realtime
        self.pad_silence_s = max(0.0, float(pad_silence_s))
        self.audio = read_audio(self.path)
        self.gain_db = 0.0
        self._closed = threading.Event()
        self.started_at: float | None = None  # time.monotonic() of the first block (blocks())

    @classmethod
    def for_recording(cls, path: PathLike, *, block_ms: float, end_silence_ms: float,
                      realtime: bool = False, normalize: bool = True) -> "FileSource":
        """A source for a recorded command, padded so the endpointer sees its end.

        Args:
            path: any file :func:`read_audio` can decode.
            block_ms: block length, ms (``settings.audio.block_ms``).
            end_silence_ms: the VAD's end-of-utterance silence (``settings.vad.end_silence_ms``).
            realtime: pace the blocks at wall-clock speed (default: as fast as consumed).
            normalize: raise a quiet recording's level first (:func:`normalize_level`:
                robust peak to -6 dBFS, at most +30 dB; ``settings.audio.normalize_recordings``).

        Returns:
            A :class:`FileSource` with ``pad_silence_s = max(1.5, end_silence_ms/1000 + 0.8)``
            (see :func:`recording_padding_s`); :attr:`gain_db` is the gain applied.

        Raises:
            AudioInputError: the file cannot be decoded.
        """
        src = cls(path, block_ms=block_ms, realtime=realtime, pad_silence_s=recording_padding_s(end_silence_ms))
        if normalize:
            src.audio, src.gain_db = normalize_level(src.audio)
            if src.gain_db:
                log.info("%s is quiet: raised by %.1f dB", src.path.name, src.gain_db)
        return src

    @property
    def duration(self) -> float:
        """Length of the recording (without padding), seconds."""
        return len(self.audio) / SAMPLE_RATE

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield int16 blocks of exactly ``block_samples`` samples: the recording (the last
        block zero-padded), then ``ceil(pad_silence_s · 16000 / block_samples)`` blocks of
        zeros. Stops early after :meth:`close`. With ``realtime``, block ``i`` is yielded at
        ``started_at + i · block_s`` (``time.monotonic()`` seconds; ``started_at`` is set
        when the first block is asked for), on an absolute schedule that does not drift."""
        n = self.block_samples
        pad_blocks = int(math.ceil(self.pad_silence_s * SAMPLE_RATE / n - 1e-9))
        total = int(math.ceil(len(self.audio) / n)) + pad_blocks
        start = self.started_at = time.monotonic()
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
        block_ms: block length, ms.
        block_samples: samples per block.
        device_rate: the rate the device is opened at, Hz.
        channels: channels the device is opened with.
        overflows: number of PortAudio ``input_overflow`` statuses seen (logged warnings).

    Raises:
        DeviceError: at construction, if the device does not exist or cannot be opened.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, device: Union[str, int, None] = None, block_ms: float = 80, queue_s: float = 10.0,
                 stall_timeout_s: float = 5.0, gain_db: float = 0.0) -> None:
        require_portaudio()
        self.block_ms = float(block_ms)
        self.block_samples = _block_samples(block_ms)
        self.gain_db = gain_db  # sets _gain_db and the linear _gain read by the callback
        fmt = resolve_stream(device, "input")
        self.device_index = fmt.index
        self.device_name = fmt.name
        self.device_rate, self.channels = fmt.rate, fmt.channels
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
        self._stream = open_stream(fmt, "input", blocksize=max(256, int(round(self.device_rate * block_ms / 1000.0))),
                                   callback=self._callback, finished_callback=self._finished)

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
                self._put(float_to_int16(buf[i * n : (i + 1) * n]))
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
                raise DeviceError(f"The microphone {self.device_name!r} cannot be started ({exc}).", DEVICES_HINT) from exc
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
            f"Check that it is connected and not used exclusively by another program. {DEVICES_HINT}",
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

