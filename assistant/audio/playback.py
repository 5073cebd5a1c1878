"""Playback sinks: the :class:`AudioSink` protocol, the speaker and the in-memory sinks.

:class:`AudioPlayer` is callback based: ``write`` only appends to a queue, the PortAudio
thread pulls from it, so ``stop()`` (barge-in) empties the queue and the next callback
outputs silence. :class:`BufferSink` keeps what would be played (``--output reply.wav``,
tests); :class:`NullSink` discards it (no output device). Samples written to a sink are
mono int16 at the rate given to ``start`` (22,050 Hz for Piper joe-medium); the sink
resamples with ``soxr``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from pathlib import Path
from typing import Any, Optional, Protocol, Union, runtime_checkable

import numpy as np
import soxr

from assistant.audio.decode import PathLike, float_to_int16, write_wav
from assistant.audio.devices import DEVICES_HINT, open_stream, resolve_stream, sd
from assistant.errors import AssistantError, DeviceError

log = logging.getLogger(__name__)


@runtime_checkable
class AudioSink(Protocol):
    """Speech output (``docs/architecture.md``): implemented by :class:`AudioPlayer`,
    :class:`BufferSink` and :class:`NullSink`.

    ``start(sample_rate)`` before an utterance (Hz); ``write(samples)`` with mono int16
    samples, shape ``(n,)``, blocking until they are queued; ``drain(timeout)`` waits until
    queued audio has played (seconds; ``None`` = no limit); ``stop()`` discards queued audio
    and returns at once, and may be called from any thread (it must also release a blocked
    ``write``/``drain``); ``close()`` releases the device.
    """

    def start(self, sample_rate: int) -> Any:
        """Begin an utterance of ``sample_rate`` Hz samples."""
        ...

    def write(self, samples: np.ndarray) -> Any:
        """Queue int16 mono samples, shape ``(n,)``."""
        ...

    def drain(self, timeout: Optional[float] = None) -> Any:
        """Wait until queued audio has played (``timeout`` in seconds, ``None`` = no limit)."""
        ...

    def stop(self) -> Any:
        """Discard queued audio at once (barge-in); callable from any thread."""
        ...

    def close(self) -> Any:
        """Release the device."""
        ...


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
        fmt = self._format = resolve_stream(device, "output")
        self.device_index = fmt.index
        self.device_name = fmt.name
        self.device_rate, self.channels = fmt.rate, fmt.channels
        self.max_queue = int(max_queue_s * self.device_rate)
        self._cond = threading.Condition()  # guards the queue; shared with the callback
        self._rs_lock = threading.Lock()  # guards the resampler, never taken by the callback
        # Serialises opening/starting and aborting/closing the PortAudio stream: a writer
        # reopening it while a barge-in aborts it deadlocked PortAudio's Pulse back-end
        # (seen when cached TTS pieces were written at once). Never taken by the callback.
        self._stream_lock = threading.RLock()
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
        with self._stream_lock:
            self._open_locked()

    def _open_locked(self) -> None:
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
        self._stream = open_stream(self._format, "output", blocksize=max(256, int(self.device_rate * 0.02)),
                                   callback=self._callback, finished_callback=self._finished)
        try:
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise DeviceError(f"The speaker {self.device_name!r} cannot be opened ({exc}).", DEVICES_HINT) from exc

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
            raise DeviceError(f"The speaker {self.device_name!r} failed: {self._error}.", DEVICES_HINT)
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
            with self._stream_lock:
                with self._cond:
                    stopped = gen != self._generation or self._closed
                if not stopped:  # a barge-in since: leave the stream aborted
                    self._open_locked()

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
                raise DeviceError(f"The speaker {self.device_name!r} failed: {self._error}.", DEVICES_HINT)
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
        with self._stream_lock:
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
                self._chunks.append(float_to_int16(tail))
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
                self._chunks.append(float_to_int16(self._resampler.resample_chunk(xf)))
            else:
                self._chunks.append(x.astype(np.int16) if x.dtype == np.int16 else float_to_int16(x.astype(np.float32)))

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
