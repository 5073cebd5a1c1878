"""Typed engine events and the one event bus every stage talks through.

Events are frozen dataclasses stamped with ``time.monotonic()`` seconds (field ``t``) and
the id of the interaction they belong to. The design follows Home Assistant's
``assist_pipeline`` ``PipelineEvent`` types and the Wyoming protocol's per-domain events
(``wake``, ``asr``, ``tts``): one small type per thing that happened, so a per-interaction
trace is simply the ordered list of events (see :mod:`assistant.trace`).

The bus dispatches synchronously on the publishing thread. Subscribers must return quickly;
the Qt UI re-posts each event to its GUI thread through a queued signal, so the engine
never imports Qt.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)


class State(str, Enum):
    """Pipeline states (see :mod:`assistant.pipeline`)."""

    IDLE = "idle"  # wake-word listening
    LISTENING = "listening"  # VAD-endpointed capture, partial transcripts
    UNDERSTANDING = "understanding"  # Rasa NLU + dialogue
    SPEAKING = "speaking"  # TTS playback, interruptible (barge-in)
    DICTATING = "dictating"  # dictation mode: committed text is typed into the focused window


@dataclass(frozen=True)
class Event:
    """Base of all events.

    Attributes:
        interaction: id of the interaction (one wake → reply cycle); "" outside one.
        t: ``time.monotonic()`` at creation, seconds.
    """

    interaction: str = ""
    t: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        """The event type name, e.g. ``"FinalTranscript"``."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict with an extra ``"type"`` key."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, Enum):
                d[k] = v.value
        d["type"] = self.name
        return d


@dataclass(frozen=True)
class StateChanged(Event):
    """The pipeline moved from ``previous`` to ``state``."""

    state: State = State.IDLE
    previous: State = State.IDLE


@dataclass(frozen=True)
class InteractionStarted(Event):
    """An interaction began; ``trigger`` is ``"wake"``, ``"hotkey"``, ``"text"``, ``"file"``
    or ``"follow_up"`` (the dialogue expected an answer)."""

    trigger: str = "wake"


@dataclass(frozen=True)
class InteractionFinished(Event):
    """An interaction ended (reply spoken, cancelled, or failed)."""

    outcome: str = "done"


@dataclass(frozen=True)
class WakeWordDetected(Event):
    """The wake-word model fired. ``score`` is the model's probability in [0, 1];
    ``audio_time`` is the stream position of the detection in seconds."""

    model: str = ""
    score: float = 0.0
    audio_time: float = 0.0


@dataclass(frozen=True)
class SpeechStarted(Event):
    """VAD detected the start of speech at stream position ``audio_time`` seconds."""

    audio_time: float = 0.0


@dataclass(frozen=True)
class SpeechEnded(Event):
    """Endpoint: VAD saw ``silence_ms`` of silence after speech ending at ``audio_time``
    seconds (stream position); ``timeout`` is True if the utterance hit the maximum length
    or no speech came at all; ``by_user`` is True if the user ended it (push-to-talk key
    released, :meth:`assistant.pipeline.Assistant.end_utterance`) before the VAD did;
    ``early`` is True if the utterance ended after ``vad.early_end_silence_ms`` because what
    was heard was already a complete command (semantic endpointing,
    :mod:`assistant.nlu.complete`)."""

    audio_time: float = 0.0
    silence_ms: float = 0.0
    timeout: bool = False
    by_user: bool = False
    early: bool = False


@dataclass(frozen=True)
class PartialTranscript(Event):
    """Streaming hypothesis: ``committed`` words are stable (LocalAgreement), ``pending``
    may still change."""

    committed: str = ""
    pending: str = ""

    @property
    def text(self) -> str:
        """Committed and pending text joined."""
        return f"{self.committed} {self.pending}".strip()


@dataclass(frozen=True)
class FinalTranscript(Event):
    """Final transcript of one utterance of ``audio_seconds`` seconds, decoded in
    ``decode_ms`` milliseconds (the streaming final decode plus, when it ran, the domain
    pass, which took ``domain_ms`` of them; see :mod:`assistant.asr.domain`)."""

    text: str = ""
    audio_seconds: float = 0.0
    decode_ms: float = 0.0
    domain_ms: float = 0.0


@dataclass(frozen=True)
class IntentRecognized(Event):
    """Rasa's NLU result: namespaced intent name, confidence in [0, 1] and the entities as
    ``[{"entity", "value", "start", "end"}]`` dicts."""

    intent: str = ""
    confidence: float = 0.0
    entities: tuple = ()
    text: str = ""


@dataclass(frozen=True)
class ActionStarted(Event):
    """A skill action (``action_<skill>__<name>``) started running."""

    action: str = ""


@dataclass(frozen=True)
class ActionFinished(Event):
    """A skill action finished; ``error`` is non-empty if it raised or timed out."""

    action: str = ""
    error: str = ""


@dataclass(frozen=True)
class Reply(Event):
    """Text the assistant will say. ``expects_answer`` means the dialogue waits for the
    user (a form asks for a slot), so the pipeline listens again without the wake word."""

    text: str = ""
    expects_answer: bool = False
    source: str = "dialogue"


@dataclass(frozen=True)
class Announcement(Event):
    """A skill wants to say ``text`` outside a dialogue turn (a timer is done, a reminder is
    due), published by :meth:`assistant.skills.host.SkillHost.speak`.

    Only the pipeline turns it into a :class:`Reply` (its own interaction, spoken when the
    assistant is idle), so every announcement reaches the window, the trace and the speaker
    exactly once. ``source`` is ``"skill:<id>"``; ``expects_answer`` as in :class:`Reply`.
    """

    text: str = ""
    expects_answer: bool = False
    source: str = "skill"


@dataclass(frozen=True)
class TTSStarted(Event):
    """Synthesis of ``text`` began."""

    text: str = ""


@dataclass(frozen=True)
class TTSFirstAudio(Event):
    """The first synthesized samples reached the output (TTFA)."""

    text: str = ""


@dataclass(frozen=True)
class PlaybackFinished(Event):
    """Speaking ended; ``interrupted`` is True for barge-in or stop."""

    interrupted: bool = False


@dataclass(frozen=True)
class AudioLevel(Event):
    """Input level of the last block, dBFS (≤ 0). Not recorded in traces."""

    dbfs: float = -100.0


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should see. ``level`` is ``"info"``, ``"warning"`` or
    ``"error"``; ``hint`` says what to do."""

    stage: str = ""
    level: str = "info"
    message: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Progress(Event):
    """Start-up / training progress of ``task`` in [0, 1] (``-1`` when unknown)."""

    task: str = ""
    fraction: float = -1.0
    message: str = ""


@dataclass(frozen=True)
class NLURestarting(Notice):
    """The language engine (Rasa sidecar) stopped and is being restarted.

    A :class:`Notice` (stage ``"nlu"``, level ``"warning"``), so everything that shows
    notices shows it; typed so that nobody has to search message texts. ``reason`` says
    what was seen (e.g. ``"process exited with code -9"``). Followed by :class:`NLUReady`
    once Rasa answers again, or by an error :class:`Notice` if the restart failed.
    """

    stage: str = "nlu"
    level: str = "warning"
    reason: str = ""


@dataclass(frozen=True)
class NLUReady(Event):
    """The language engine answers requests again after a restart (``restarted`` True) or
    after its first start (False). Clears what :class:`NLURestarting` showed."""

    restarted: bool = False


E = TypeVar("E", bound=Event)
Handler = Callable[[Event], None]


class EventBus:
    """Thread-safe publish/subscribe of :class:`Event` objects.

    ``publish`` calls every matching handler synchronously on the caller's thread. A handler
    that raises is logged and skipped; it never breaks the publisher.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: list[tuple[tuple[type, ...], Handler]] = []

    def subscribe(self, handler: Handler, *types: type[Event]) -> Callable[[], None]:
        """Call ``handler(event)`` for events of ``types`` (all events if none given).

        Returns:
            A function that unsubscribes the handler.
        """
        entry = (tuple(types) or (Event,), handler)
        with self._lock:
            self._handlers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._handlers:
                    self._handlers.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to its subscribers."""
        with self._lock:
            handlers = list(self._handlers)
        for types, handler in handlers:
            if isinstance(event, types):
                try:
                    handler(event)
                except Exception:  # a broken subscriber must not break the engine
                    log.exception("event handler %r failed on %s", handler, event.name)


@dataclass(frozen=True)
class TurnFinished(Event):
    """An interaction's :class:`~assistant.pipeline.TurnResult` is complete (transcript,
    intent, entities, reply, trace): how the CLI, the UI and benchmarks learn results
    (published on the engine thread that finished the turn, after
    :class:`InteractionFinished`). ``result`` is a ``TurnResult``; typed ``Any`` here
    because the pipeline imports this module."""

    result: Any = None


@dataclass(frozen=True)
class TraceWritten(Event):
    """The :class:`~assistant.trace.TraceRecorder` closed an interaction's trace (and wrote
    it to disk when the recorder has a folder). ``trace`` is a
    :class:`~assistant.trace.Trace`."""

    trace: Any = None


@dataclass(frozen=True)
class StopRequested(Event):
    """Someone asked to stop speaking / cancel the interaction (stop button, "stop" intent,
    barge-in). ``reason`` says who."""

    reason: str = ""


@dataclass(frozen=True)
class DictationStarted(Event):
    """Dictation mode began (:meth:`assistant.pipeline.Assistant.dictate`).

    ``source`` names who asked ("hotkey", "voice", "tray", "cli"); ``backend`` is the typing
    backend in use ("xtest", "wtype", "clipboard", "file", "none"). Dictation events carry no
    interaction id, so no trace records them (nothing dictated is traced)."""

    source: str = "hotkey"
    backend: str = ""


@dataclass(frozen=True)
class DictationHeard(Event):
    """What dictation hears, for the overlay: ``committed`` is the text committed by this
    update (already typed, or about to be; never retracted), ``tail`` the unstable rest of
    the latest hypothesis (shown, never typed; "" after a pause)."""

    committed: str = ""
    tail: str = ""


@dataclass(frozen=True)
class DictationStopped(Event):
    """Dictation mode ended. ``reason``: "user" (hotkey, stop button, CLI), "voice" ("stop
    dictation"), "silence" (``dictation.stop_after_silence_s`` without speech), "error"
    (typing failed; see the :class:`Notice`), "command" (a typed request). ``typed_chars``
    is how many characters the focused window gained (after corrections)."""

    reason: str = "user"
    typed_chars: int = 0
