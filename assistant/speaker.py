"""The speaker thread: speaks queued text with a :class:`~assistant.tts.PiperTTS` voice into an
``AudioSink``.

:class:`Speaker` owns one worker thread that synthesizes and plays queued utterances into any
object implementing the ``AudioSink`` protocol (``docs/architecture.md``: ``start(sample_rate)``,
``write(int16)``, ``drain(timeout=None)``, ``stop()``, ``close()``), publishes
:class:`~assistant.events.TTSStarted`, :class:`~assistant.events.TTSFirstAudio` and
:class:`~assistant.events.PlaybackFinished`, and can be interrupted at once (barge-in) with
:meth:`Speaker.stop`. Audio is mono ``np.int16`` at the voice's rate; the sink resamples.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np

from assistant.audio.playback import AudioSink
from assistant.events import EventBus, Notice, PlaybackFinished, TTSFirstAudio, TTSStarted
from assistant.tts import PiperTTS

__all__ = ["Speaker"]

log = logging.getLogger(__name__)


@dataclass
class _Utterance:
    text: str
    interaction: str
    epoch: int


class Speaker:
    """Speaks queued text through an ``AudioSink`` on one worker thread.

    The worker owns both synthesis and playback: for each utterance it calls
    ``sink.start(tts.sample_rate)``, then for every sentence from :meth:`PiperTTS.stream`
    ``sink.write(int16 samples)`` (so sentence 1 plays while sentence 2 is synthesized),
    then ``sink.drain()``. Events, all carrying the interaction id given to :meth:`say`:

    * :class:`~assistant.events.TTSStarted` (``text``) when synthesis of an utterance starts;
    * :class:`~assistant.events.TTSFirstAudio` (``text``) just before the first samples are
      handed to ``sink.write`` (time-to-first-audio = its ``t`` minus TTSStarted's);
    * :class:`~assistant.events.PlaybackFinished` (``interrupted``) after the drain, after a
      :meth:`stop`, or after an error (``interrupted=True``, with a
      :class:`~assistant.events.Notice` describing the error). Every TTSStarted is followed
      by exactly one PlaybackFinished. Utterances discarded before they started publish
      nothing.

    Handlers run on the worker thread (``EventBus`` is synchronous) and may call
    :meth:`stop`. The Speaker subscribes to nothing; the pipeline wires
    ``StopRequested`` → :meth:`stop`.

    Args:
        tts: the voice (anything with ``sample_rate`` and ``stream(text)`` like
            :class:`PiperTTS`).
        sink: an ``AudioSink`` (``assistant.audio.AudioPlayer`` or ``BufferSink``). The
            caller keeps ownership; see :meth:`close`.
        bus: where events go (none published if ``None``).
        interaction_id_fn: called by :meth:`say` when no interaction id is given, e.g. the
            pipeline's ``lambda: current_interaction``.
        drain_margin_s: ``drain`` is given the written audio's duration plus this many
            seconds before the Speaker gives up on a stuck device.
    """

    def __init__(
        self,
        tts: PiperTTS,
        sink: AudioSink,
        bus: Optional[EventBus] = None,
        interaction_id_fn: Optional[Callable[[], str]] = None,
        *,
        drain_margin_s: float = 5.0,
    ) -> None:
        self._tts = tts
        self._sink = sink
        self._bus = bus
        self._interaction_id_fn = interaction_id_fn
        self._drain_margin_s = float(drain_margin_s)
        self._cond = threading.Condition()
        self._queue: deque[_Utterance] = deque()
        self._epoch = 0  # bumped by stop(); utterances of an older epoch are cancelled
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="tts-speaker", daemon=True)
        self._thread.start()

    # -- public API ---------------------------------------------------------------------

    @property
    def tts(self) -> PiperTTS:
        """The voice used for the next utterance."""
        return self._tts

    @property
    def is_speaking(self) -> bool:
        """True while an utterance is being synthesized/played or one is queued."""
        with self._cond:
            return self._busy or bool(self._queue)

    def say(self, text: str, interaction: str = "") -> None:
        """Queue ``text`` to be spoken after anything already queued; returns at once.

        Args:
            text: what to say (empty text still yields TTSStarted → PlaybackFinished).
            interaction: id stamped on this utterance's events; if empty,
                ``interaction_id_fn()`` is used when given.

        Raises:
            RuntimeError: the Speaker is closed.
        """
        if not interaction and self._interaction_id_fn is not None:
            interaction = self._interaction_id_fn() or ""
        with self._cond:
            if self._closed:
                raise RuntimeError("Speaker is closed")
            self._queue.append(_Utterance(str(text), interaction, self._epoch))
            self._cond.notify_all()

    def stop(self) -> bool:
        """Barge-in: discard queued utterances, cancel the current one and silence the sink.

        Safe from any thread, including an event handler on the worker thread; returns at
        once. The current utterance stops synthesizing at the next sentence boundary and
        ``sink.stop()`` discards audio already queued in the sink; its
        PlaybackFinished(interrupted=True) follows from the worker.

        Returns:
            True if something was speaking or queued.
        """
        with self._cond:
            self._epoch += 1
            had_queue = bool(self._queue)
            self._queue.clear()
            active = self._busy
            self._cond.notify_all()
        if active:
            self._sink_stop()
        return active or had_queue

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until nothing is queued or speaking.

        Args:
            timeout: seconds; ``None`` waits without limit.

        Returns:
            True if idle, False if the timeout expired first.
        """
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and not self._queue, timeout)

    def set_voice(self, tts: PiperTTS) -> None:
        """Use ``tts`` from the next utterance on (the one speaking keeps its voice)."""
        with self._cond:
            self._tts = tts

    def close(self, timeout: float = 5.0, close_sink: bool = False) -> None:
        """Stop speaking, discard the queue and end the worker thread. Idempotent.

        Args:
            timeout: seconds to wait for the worker to finish its current sentence.
            close_sink: also call ``sink.close()`` (default False: the creator of the sink
                closes it).
        """
        with self._cond:
            already = self._closed
            self._closed = True
        self.stop()
        with self._cond:
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if close_sink and not already:
            try:
                self._sink.close()
            except Exception:
                log.exception("closing the audio sink failed")

    def __enter__(self) -> "Speaker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- worker -------------------------------------------------------------------------

    def _publish(self, event: Any) -> None:
        if self._bus is not None:
            self._bus.publish(event)

    def _sink_stop(self) -> None:
        try:
            self._sink.stop()
        except Exception:
            log.exception("sink.stop() failed")

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    self._queue.clear()
                    self._cond.notify_all()
                    return
                utt = self._queue.popleft()
                if utt.epoch != self._epoch:
                    continue
                self._busy = True
                tts = self._tts
            try:
                self._speak(utt, tts)
            except Exception:  # never let the worker die
                log.exception("speaker worker failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _speak(self, utt: _Utterance, tts: PiperTTS) -> None:
        def cancelled() -> bool:
            return self._epoch != utt.epoch or self._closed

        iid = utt.interaction
        self._publish(TTSStarted(interaction=iid, text=utt.text))
        interrupted = cancelled()
        started = False
        written = 0
        rate = 0
        chunks: Optional[Iterator[np.ndarray]] = None
        try:
            if not interrupted:
                rate = int(tts.sample_rate)
                chunks = tts.stream(utt.text)
                for chunk in chunks:  # each next() synthesizes one sentence
                    if cancelled():
                        interrupted = True
                        break
                    if chunk.size == 0:
                        continue
                    if not started:
                        self._sink.start(rate)
                        started = True
                        self._publish(TTSFirstAudio(interaction=iid, text=utt.text))
                        if cancelled():  # a handler called stop()
                            interrupted = True
                            break
                    self._sink.write(chunk)
                    written += int(chunk.size)
                    if cancelled():
                        interrupted = True
                        break
            if started and not interrupted:
                limit = written / rate + self._drain_margin_s
                ok = self._sink.drain(timeout=limit)
                interrupted = cancelled()
                if ok is False and not interrupted:  # a stuck device: silence it and move on
                    log.warning("audio output did not finish playing within %.1f s", limit)
                    self._sink_stop()
        except Exception as exc:
            log.exception("speaking %r failed", utt.text[:60])
            interrupted = True
            hint = getattr(exc, "hint", "") or "Check the output device and the TTS voice in Settings."
            self._publish(Notice(interaction=iid, stage="tts", level="error",
                                 message=f"Could not speak the reply: {getattr(exc, 'message', exc)}", hint=hint))
        finally:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()
        if interrupted and started:
            # Also discards anything written between stop() and our cancellation check.
            self._sink_stop()
        self._publish(PlaybackFinished(interaction=iid, interrupted=interrupted))
