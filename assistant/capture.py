"""Capture: the audio loop's two buffers, between the microphone and the turn worker.

* :class:`PreRoll` keeps the last ``seconds`` of audio heard while not listening, so the
  start of a command said right after the wake word is not lost.
* :class:`UtteranceFeed` runs the VAD endpointer on one utterance and feeds its audio to
  the turn worker's queue (:mod:`assistant.turn` markers), holding back trailing silence
  so the final decode can start speculatively before the endpoint.

All audio is int16 mono at 16 kHz, as ``np.ndarray`` of shape ``(n,)``.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Callable, Optional

import numpy as np

from assistant.events import EventBus, SpeechStarted
from assistant.turn import SPECULATE

SAMPLE_RATE = 16_000

#: Audio from before the wake-word detection handed to the endpointer (s). openWakeWord
#: fires ``trigger_frames`` 80 ms frames after its score rises, which is after the phrase
#: ended: a command said without a pause ("Hey Jarvis what time is it") has already begun.
#: 0.32 s (measured on Piper and espeak-ng "Hey Jarvis. What time is it?" with no pause:
#: 0.16-0.24 s still cut "what"; 0.48+ brings back the end of "Jarvis").
WAKE_PRE_ROLL_S = 0.32


class PreRoll:
    """The last ``seconds`` of audio blocks (a little more: whole blocks are kept).

    Args:
        seconds: how much audio :meth:`take` returns at most, seconds.
    """

    def __init__(self, seconds: float) -> None:
        self.samples = int(seconds * SAMPLE_RATE)
        self._blocks: deque[np.ndarray] = deque()
        self._count = 0

    def add(self, block: np.ndarray) -> None:
        """Keep ``block``; drop the oldest blocks not needed for :attr:`samples`."""
        self._blocks.append(block)
        self._count += len(block)
        while self._blocks and self._count - len(self._blocks[0]) >= self.samples:
            self._count -= len(self._blocks.popleft())

    def take(self) -> np.ndarray:
        """The last :attr:`samples` samples kept (fewer at the start), and forget them."""
        audio = np.concatenate(self._blocks)[-self.samples:] if self._blocks else np.zeros(0, np.int16)
        self.clear()
        return audio

    def clear(self) -> None:
        """Forget everything kept."""
        self._blocks.clear()
        self._count = 0


class UtteranceFeed:
    """One utterance: endpointer events in, audio blocks and markers out to ``audio_q``.

    On speech start the endpointer's pre-roll goes to the queue with
    :class:`SpeechStarted`; while speech goes on every block follows; once the trailing
    silence reaches ``speculate_after_ms`` that block is queued with one
    :data:`~assistant.turn.SPECULATE` marker (the worker decodes what was said so far, the
    block included: the VAD's silence can begin inside a soft word ending) and later blocks
    are held back; if speech resumes the held blocks are queued after all.

    Semantic endpointing: when the worker finds that a decode of *everything queued so
    far* is a complete command (:mod:`assistant.nlu.complete`) — the speculative decode, or
    a partial decode that happened to hear the end of speech — it calls
    :meth:`allow_early_end`. The permission holds while the VAD hears no more speech; if the
    silence then reaches ``early_end_ms``, the utterance ends there (:attr:`ended_early`)
    instead of at the endpointer's full silence. When the permission comes after that silence
    has passed (the decode took longer), :meth:`allow_early_end` ends the utterance at once
    on the worker's thread through ``on_early_end`` instead of at the next block (up to one
    block, 80 ms, later); :meth:`feed` then returns that end event (:attr:`ended_by_worker`)
    so the audio loop finishes its side.

    Args:
        endpointer: a reset :class:`~assistant.vad.Endpointer`.
        audio_q: the turn worker's queue.
        bus: where :class:`SpeechStarted` is published.
        interaction: the listening interaction's id.
        speculate_after_ms: trailing silence before the speculative decode, ms.
        early_end_ms: trailing silence, ms, that ends a complete command; 0 = never early.
        hold_ms: trailing silence, ms, that ends an utterance whose decode stopped
            mid-phrase (:meth:`hold`); 0 = the endpointer's own.
        on_early_end: ``on_early_end(feed, event)``, called on the turn worker's thread
            (under this feed's lock) when :meth:`allow_early_end` ends the utterance: hand
            it over as the audio loop does at an endpoint (publish ``SpeechEnded``, fire
            the state machine's transition, queue the ``ENDPOINT`` marker). None: the
            early end always waits for the next block.

    Attributes:
        queued_samples: samples put on ``audio_q`` so far (16 kHz), held-back silence not
            included until it is released.
        ended_by_worker: the ``speech_end`` event when :meth:`allow_early_end` ended the
            utterance (and ``on_early_end`` handed it over), else None.
    """

    def __init__(self, endpointer, audio_q: queue.Queue, bus: EventBus, interaction: str,
                 speculate_after_ms: float, early_end_ms: float = 0.0, hold_ms: float = 0.0,
                 on_early_end: Optional[Callable[["UtteranceFeed", object], None]] = None) -> None:
        self.endpointer = endpointer
        self.audio_q = audio_q
        self.bus = bus
        self.interaction = interaction
        self.speculate_after_ms = speculate_after_ms
        self.early_end_ms = early_end_ms
        self.hold_ms = hold_ms
        self.on_early_end = on_early_end
        self.ended_early = False
        self.ended_by_worker = None
        self.queued_samples = 0
        self._lock = threading.Lock()  # feed() (audio thread) against allow_early_end() (worker)
        self._held: list[np.ndarray] = []
        self._speculating = False
        self._allowed_at: float | None = None  # endpointer.last_speech_end_s when allowed

    def _queue(self, block: np.ndarray) -> None:
        self.queued_samples += len(block)
        self.audio_q.put(block)

    @property
    def in_trailing_silence(self) -> bool:
        """The VAD hears silence after speech (any length short of the endpoint). Read by
        the turn worker (any thread): it starts no partial decode then (the speculative
        decode is about to be asked for and must not queue behind one), and a partial that
        ends in this silence is judged as a possible complete command."""
        return self.endpointer.silence_ms > 0

    def allow_early_end(self, heard_samples: int) -> bool:
        """Called by the turn worker (any thread): its decode of the first ``heard_samples``
        queued samples, with no speech after them, is a complete command.

        Granted only if nothing more was queued since (``heard_samples >=``
        :attr:`queued_samples`: the worker has checked all the audio) and the VAD is in
        trailing silence now; it lapses as soon as the VAD hears speech again. If the
        silence has already reached ``early_end_ms`` and ``on_early_end`` is set, the
        utterance ends now (:attr:`ended_by_worker`), exactly as :meth:`feed` would have
        ended it at the next block.

        Returns:
            Whether the permission was granted.
        """
        with self._lock:
            ep = self.endpointer
            if self.ended_by_worker is not None or heard_samples < self.queued_samples or ep.silence_ms <= 0:
                return False
            self._allowed_at = ep.last_speech_end_s
            if self.on_early_end is not None and self._may_end_early():
                ends = ep.end_now()
                if ends:
                    self.ended_early = True
                    self.ended_by_worker = ends[0]
                    self.on_early_end(self, ends[0])
            return True

    def hold(self, heard_samples: int) -> bool:
        """Called by the turn worker (any thread): its decode of the first ``heard_samples``
        queued samples stops mid-phrase ("set a timer for"), so this pause may last up to
        ``hold_ms`` before the endpoint instead of the endpointer's ``end_silence_ms``
        (:meth:`assistant.vad.Endpointer.hold`; it lapses when speech resumes).

        Granted under the same conditions as :meth:`allow_early_end`; False when
        ``hold_ms`` is 0 (off).
        """
        with self._lock:
            if not self.hold_ms or heard_samples < self.queued_samples or self.ended_by_worker is not None:
                return False
            return self.endpointer.hold(self.hold_ms)

    def _may_end_early(self) -> bool:
        ep = self.endpointer
        return bool(self.early_end_ms and self._allowed_at is not None and ep.silence_ms >= self.early_end_ms
                    and ep.last_speech_end_s == self._allowed_at)

    def feed(self, block: np.ndarray):
        """Process one block; return the endpointer's ``speech_end`` event when the
        utterance is over (VAD silence, start timeout or maximum length; or
        :attr:`ended_by_worker`, the block then unused), else None."""
        with self._lock:
            if self.ended_by_worker is not None:
                return self.ended_by_worker
            return self._feed(block)

    def _feed(self, block: np.ndarray):
        ep = self.endpointer
        speech_before = ep.in_speech
        for ev in ep.process(block):
            if ev.kind == "speech_start":
                self.bus.publish(SpeechStarted(interaction=self.interaction, audio_time=ev.audio_time))
                self._queue(ep.utterance())
            elif ev.kind == "speech_end":
                return ev
        if speech_before:
            if ep.silence_ms >= self.speculate_after_ms:
                # Trailing silence: let the worker decode what was said now, so the final
                # transcript is ready at the endpoint. The block in which the silence
                # reached speculate_after_ms is decoded too (a soft word ending the VAD
                # already scores as silence lies in it); later ones are held back.
                if not self._speculating:
                    self._queue(block)
                    self.audio_q.put(SPECULATE)
                    self._speculating = True
                else:
                    self._held.append(block)
            else:
                for b in self._held:  # speech resumed: the held audio belongs to it
                    self._queue(b)
                self._held.clear()
                self._speculating = False
                self._queue(block)
            if self._may_end_early():
                ends = ep.end_now()
                if ends:
                    self.ended_early = True
                    return ends[0]
        return None

    def end_now(self) -> list:
        """End the utterance at once (push-to-talk released): the endpointer's forced
        ``speech_end`` events (none if it was not in an utterance, or already ended)."""
        with self._lock:
            return [] if self.ended_by_worker is not None else list(self.endpointer.end_now())

    @property
    def had_speech(self) -> bool:
        """Speech was heard in this utterance."""
        return self.endpointer.had_speech
