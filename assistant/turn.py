"""One turn's work, off the audio thread: utterance audio → partial and final transcripts
(:func:`transcribe_stream`), and text → Rasa → intent, entities and reply
(:func:`understand`). Both only publish events and return values; the
:class:`~assistant.pipeline.Assistant` decides what the state machine does with them.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Sequence

from assistant.errors import NLUError
from assistant.events import EventBus, FinalTranscript, IntentRecognized, PartialTranscript
from assistant.settings import ASRSettings
from assistant.trace import Trace

#: Queue marker put by the audio loop at the first trailing silence of an utterance: decode
#: now, the utterance may be over (speculative final decode; see ``SPECULATE_AFTER_MS``).
SPECULATE = object()
#: Queue marker: the endpoint; decode the final transcript.
ENDPOINT = None
#: Queue marker: cancelled (nothing said, barge-in, source ended before speech).
CANCELLED = False


@dataclass
class TurnResult:
    """What one interaction produced.

    Attributes:
        interaction: interaction id.
        transcript: final transcript ("" for typed input it is the typed text).
        intent: namespaced intent (e.g. ``clock__ask_time``), "" if NLU did not run.
        confidence: intent confidence in [0, 1].
        entities: Rasa entities (``entity``, ``value``, ...).
        reply: the text spoken back.
        expects_answer: the dialogue waits for an answer (a form asks for a slot).
        trace: the interaction's events, once finished.
        error: a user-facing error message if the turn failed.
    """

    interaction: str
    transcript: str = ""
    intent: str = ""
    confidence: float = 0.0
    entities: list = field(default_factory=list)
    reply: str = ""
    expects_answer: bool = False
    trace: Trace | None = None
    error: str = ""


def _drain_into(streamer, audio_q: queue.Queue) -> None:
    """Add every audio block already queued (up to the next marker) to ``streamer``."""
    while True:
        try:
            nxt = audio_q.get_nowait()
        except queue.Empty:
            return
        if nxt is ENDPOINT or nxt is CANCELLED or nxt is SPECULATE:
            audio_q.queue.appendleft(nxt)  # type: ignore[attr-defined]
            return
        streamer.add(nxt)


def transcribe_stream(asr, s: ASRSettings, hotwords: Sequence[str], bus: EventBus, interaction: str,
                      audio_q: queue.Queue) -> str | None:
    """Consume one utterance from ``audio_q`` and return its final transcript.

    Items of ``audio_q``: int16 mono blocks at 16 kHz (``np.ndarray`` shape ``(n,)``),
    :data:`SPECULATE` (decode now), :data:`ENDPOINT` (decode the final) or
    :data:`CANCELLED`. Publishes :class:`PartialTranscript` every
    ``s.partial_interval_s`` seconds of audio when ``s.partials`` (at most a 50 % CPU duty
    cycle, so the final decode never queues behind a partial) and one
    :class:`FinalTranscript` (with the decode time in ms).

    Args:
        asr: a loaded :class:`~assistant.asr.WhisperASR`.
        s: the ASR settings (partials on/off and their interval, seconds).
        hotwords: the skills' vocabulary phrases biasing the decode (may be empty).
    Returns:
        The final transcript, or None when cancelled.
    Raises:
        ModelError: the decode failed.
    """
    from assistant.asr import StreamingTranscriber

    streamer = StreamingTranscriber(asr, interval_s=s.partial_interval_s, hotwords=list(hotwords) or None)
    next_partial_at = 0.0
    while True:
        try:
            item = audio_q.get(timeout=0.05)
        except queue.Empty:
            item = ...
        if item is CANCELLED:
            return None
        if item is ENDPOINT:
            t0 = time.monotonic()
            final = streamer.finish()
            decode_ms = getattr(final, "decode_ms", (time.monotonic() - t0) * 1000)
            bus.publish(FinalTranscript(interaction=interaction, text=final.text,
                                        audio_seconds=getattr(final, "audio_seconds", 0.0), decode_ms=decode_ms))
            return final.text
        if item is SPECULATE:
            partial = streamer.maybe_partial(force=True)
            if partial is not None and s.partials:
                bus.publish(PartialTranscript(interaction=interaction, committed=partial[0], pending=partial[1]))
            continue
        if item is not ...:
            streamer.add(item)
            _drain_into(streamer, audio_q)
        if s.partials and time.monotonic() >= next_partial_at:
            t0 = time.monotonic()
            partial = streamer.maybe_partial()
            if partial is not None:
                # Leave the CPU idle for as long as the decode took (≤ 50 % duty cycle),
                # so the speculative final decode at the first trailing silence can start
                # at once instead of queueing behind partials.
                next_partial_at = time.monotonic() + (time.monotonic() - t0)
                bus.publish(PartialTranscript(interaction=interaction, committed=partial[0], pending=partial[1]))


@dataclass(frozen=True)
class Understood:
    """What Rasa made of one text: the reply to speak and whether the dialogue is over."""

    reply: str
    expects_answer: bool
    dialogue_over: bool


def understand(nlu, bus: EventBus, sender_id: str, interaction: str, text: str, result: TurnResult) -> Understood:
    """Send ``text`` to Rasa (NLU, dialogue, skill actions), fill ``result`` (intent,
    confidence, entities) and publish :class:`IntentRecognized`.

    Args:
        nlu: the running :class:`~assistant.nlu.sidecar.RasaSidecar` (None if not started).
        sender_id: the conversation id Rasa keeps the dialogue state under.
    Returns:
        The joined reply text (may be ""), whether it expects an answer, and whether the
        dialogue is over (no form active, no question asked).
    Raises:
        NLUError: the language engine is not running or failed.
    """
    if nlu is None:
        raise NLUError("The language engine is not running.", "Start the assistant with skills enabled.")
    dialogue = nlu.message(sender_id, text, interaction=interaction)
    result.intent, result.confidence = dialogue.intent, dialogue.confidence
    result.entities = list(dialogue.entities)
    bus.publish(IntentRecognized(interaction=interaction, intent=dialogue.intent, confidence=dialogue.confidence,
                                 entities=tuple(dict(e) for e in dialogue.entities), text=text))
    reply = " ".join(r.strip() for r in dialogue.replies if r and r.strip())
    return Understood(reply=reply, expects_answer=dialogue.expects_answer,
                      dialogue_over=not dialogue.expects_answer and dialogue.active_loop is None)
