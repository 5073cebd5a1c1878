"""Dictation as a mode of the engine's one state machine.

:class:`DictationMode` enters ``DICTATING`` (trigger ``DICTATE``) and leaves it
(``STOP_DICTATION``), owns the :class:`~assistant.dictation.session.DictationSession` in
between and publishes :class:`~assistant.events.DictationStarted` /
:class:`~assistant.events.DictationStopped`. The engine's audio loop hands it every block
while the state is ``DICTATING`` (:meth:`DictationMode.feed`) instead of running the wake
word and the endpointer: assistant commands are paused, only the dictation commands
("stop dictation", "scratch that", …) work.

Ways in: the dictation hotkey, the tray, ``assistant dictate``, ``assistant-gui --dictate``
(all :meth:`DictationMode.start`), and saying "start dictation" as a command
(:func:`is_start_command`, checked by the engine before the NLU). Ways out: the hotkey
again, "stop dictation", ``stop_after_silence_s`` without speech, a typing error, a typed
request, or the end of the audio source.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Callable, Optional, Sequence

from rapidfuzz import fuzz

from assistant.dictation.session import DictationSession, history_path
from assistant.dictation.typing import Typist, TypingError, choose_typist
from assistant.events import DictationStarted, DictationStopped, EventBus, Notice, State
from assistant.machine import StateMachine, Trigger
from assistant.settings import DictationSettings

log = logging.getLogger(__name__)

#: Spoken commands that start dictation (matched on the whole utterance).
START_PHRASES = ("start dictation", "start dictating", "begin dictation", "dictation mode",
                 "take dictation", "dictate")
#: Minimum rapidfuzz ratio (0–100) between the utterance and a start phrase: tolerates
#: one ASR slip ("start dictation" → "start the dictation", "stark dictation").
START_MIN_RATIO = 85.0


def is_start_command(transcript: str) -> bool:
    """Whether a final transcript is a request to start dictation ("Start dictation.").

    Case, punctuation and a leading "please"/trailing "please" are ignored; the rest must
    match one of :data:`START_PHRASES` with a rapidfuzz ratio ≥ :data:`START_MIN_RATIO`.
    """
    text = " ".join(re.sub(r"[^\w\s']", " ", transcript.lower()).split())
    text = re.sub(r"^(please |ok |okay )|( please| now)$", "", text)
    return bool(text) and any(fuzz.ratio(text, p) >= START_MIN_RATIO for p in START_PHRASES)


class DictationMode:
    """Start, feed and stop dictation on the engine's :class:`~assistant.machine.StateMachine`.

    Args:
        machine: the engine's state machine.
        bus: the engine's bus.
        asr: returns the loaded Whisper model (None before the engine started).
        settings: returns the current ``dictation`` settings.
        hotwords: returns the skills' vocabulary (biases dictation too).
        before_start: called before entering the mode (the engine stops its voice: a
            barge-in).
        after_stop: called after returning to idle (the engine speaks announcements that
            waited).
    """

    def __init__(self, machine: StateMachine, bus: EventBus, *, asr: Callable[[], object],
                 settings: Callable[[], DictationSettings], hotwords: Callable[[], Sequence[str]],
                 before_start: Callable[[], None] = lambda: None,
                 after_stop: Callable[[], None] = lambda: None) -> None:
        self.machine, self.bus = machine, bus
        self._asr, self._settings, self._hotwords = asr, settings, hotwords
        self._before_start, self._after_stop = before_start, after_stop
        self._session: Optional[DictationSession] = None
        self._lock = threading.RLock()

    @property
    def active(self) -> bool:
        """Dictation is on (state ``DICTATING``)."""
        return self._session is not None

    @property
    def session(self) -> Optional[DictationSession]:
        """The running session (None when dictation is off)."""
        return self._session

    def start(self, source: str = "hotkey", *, typist: Optional[Typist] = None, interaction: str = "") -> bool:
        """Enter dictation.

        Args:
            source: who asked ("hotkey", "tray", "voice", "cli"), for
                :class:`DictationStarted`.
            typist: where the text goes; default: the ``dictation.typing`` setting
                (:func:`~assistant.dictation.typing.choose_typist`).
            interaction: the turn that understood "start dictation" (its DICTATE is
                dropped if that turn was abandoned meanwhile); "" otherwise.
        Returns:
            True if dictation is now on (also when it already was); False if it could not
            start: the typing backend failed (a :class:`Notice` says what to do), the
            engine is not started, or the turn was abandoned.
        """
        with self._lock:
            if self._session is not None:
                return True
            asr = self._asr()
            if asr is None:
                self.bus.publish(Notice(stage="dictation", level="error", message="Dictation needs a started assistant.",
                                        hint="Wait until the models are loaded."))
                return False
            settings = self._settings()
            try:
                typist = typist or choose_typist(settings.typing, on_notice=self._notice)
            except TypingError as exc:
                self.bus.publish(Notice(stage="dictation", level="error", message=exc.message, hint=exc.hint))
                return False
            self._before_start()
            if self.machine.fire(Trigger.DICTATE, interaction) is None:  # stale turn
                typist.close()
                return False
            self._session = DictationSession(asr, settings, typist, self.bus, hotwords=self._hotwords(),
                                             on_end=self._ended_by_itself)
            self._session.start()
        self.bus.publish(DictationStarted(source=source, backend=typist.name))
        return True

    def feed(self, block) -> None:
        """Hand one audio block to the session (the engine's audio thread)."""
        session = self._session
        if session is not None:
            session.add(block)

    def stop(self, reason: str = "user") -> None:
        """Leave dictation: what was said so far is typed (unless ``reason`` is "voice":
        "stop dictation" ended the text), the typist is closed, the state returns to idle
        and :class:`DictationStopped` is published. No effect when dictation is off."""
        with self._lock:
            session, self._session = self._session, None
            if session is None:
                return
            typed = session.close(flush=reason != "voice")
            if self.machine.state is State.DICTATING:
                self.machine.fire(Trigger.STOP_DICTATION)
        self.bus.publish(DictationStopped(reason=reason, typed_chars=len(typed)))
        self._after_stop()

    def toggle(self, source: str = "hotkey") -> None:
        """:meth:`stop` when on, else :meth:`start` (the dictation hotkey)."""
        if self.active:
            self.stop("user")
        else:
            self.start(source)

    def _ended_by_itself(self, reason: str) -> None:
        # On the session's worker thread: stopping joins nothing there (close() knows).
        threading.Thread(target=self.stop, args=(reason,), name="dictation-stop", daemon=True).start()

    def _notice(self, message: str) -> None:
        self.bus.publish(Notice(stage="dictation", level="info", message=message, hint=""))

    @staticmethod
    def clear_history() -> None:
        """Delete the local dictation history (Settings → Dictation → Clear history).

        Raises:
            OSError: the file exists but cannot be removed.
        """
        history_path().unlink(missing_ok=True)
