"""One dictation session: microphone blocks in, committed text typed into the focused window.

The chain, per session (:class:`DictationSession`)::

    audio thread ── add(block) ──▶ Committer (LocalAgreement-2, flush at pauses)
    "dictation" worker: step() ──▶ Formatter (spoken punctuation, "scratch that", …)
                                ──▶ Typist (XTest / wtype / clipboard / file)
                                ──▶ DictationHeard on the bus (the overlay)

Only committed text is typed; the unstable tail goes to the overlay (never typed, never
backspaced and retyped). The worker also ends the session on "stop dictation" (the
:class:`~assistant.dictation.commands.Formatter` sees it), after
``stop_after_silence_s`` of audio without speech (Silero VAD), or when typing fails; the
mode (:mod:`assistant.dictation.mode`) is told through ``on_end``.

"Scratch that" refuses when the keyboard focus moved since the text was typed (the
backspaces would hit another window): the corrections are dropped with a notice and the
formatter starts afresh for the new window.

Password fields: before each batch is typed (xtest and wtype backends), AT-SPI is asked
whether the focused object is a password field (:class:`~assistant.dictation.focus.FocusProbe`).
If it is, the batch is dropped — not typed, not kept in the history — with a warning
notice once per focus change, and the formatter starts afresh (a later "scratch that"
must not delete what was never typed). When AT-SPI cannot tell, text is typed as before.

Privacy: no dictated text is logged; :class:`~assistant.events.DictationHeard` carries
no interaction id, so traces never hold it. With ``keep_history`` the committed text is
appended to a 0600 history file (:func:`history_path`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from assistant.dictation.commands import Backspace, EditOp, Formatter, TypeText
from assistant.dictation.committer import Committer, DictationUpdate
from assistant.dictation.focus import FocusProbe
from assistant.dictation.typing import Typist, TypingError
from assistant.events import DictationHeard, EventBus, Notice
from assistant.paths import data_dir
from assistant.settings import DictationSettings

log = logging.getLogger(__name__)

#: The spoken commands most often misheard as words ("comma" → "comment"), passed to
#: Whisper as hotwords (the bias guard keeps them from being invented).
COMMAND_HOTWORDS = ("comma", "period", "new line", "scratch that", "question mark", "stop dictation")
#: Silence after a phrase's pause, seconds, after which the audio buffer is dropped and the
#: next phrase is decoded on its own with the text so far as the prompt. Decoding a short
#: phrase at the end of a long buffer dropped it now and then ("scratch that" after a
#: sentence); alone with the prompt it is kept.
RESTART_AFTER_PAUSE_S = 1.9
#: Silence (Silero VAD, in the audio processed so far) after a phrase, seconds, that closes
#: it: the words the formatter held back (a command's first word) are decided and "scratch
#: that" will remove this phrase as a whole. Measured on the processed audio, not on the
#: clock: behind a slow decode the next phrase may already be queued (a CI run closed the
#: phrase "scratch" while "that I bought…" waited, and typed "Scratch that I bought…").
PHRASE_CLOSE_S = 1.2
#: How long the worker sleeps when the committer had nothing to decode, seconds.
IDLE_POLL_S = 0.04
#: The typing backends that type into the focused window: only these ask AT-SPI whether
#: it is a password field (clipboard and file typists do not type into a window).
PROBED_BACKENDS = ("xtest", "wtype")
PASSWORD_MESSAGE = "Not typed: the focused field is a password field."
PASSWORD_HINT = ("Dictation never types into password fields (the text would be hidden from you). "
                 "Type the password yourself; move the focus to another field to dictate there.")


def history_path() -> Path:
    """The local dictation history file (``keep_history``): ``<data dir>/dictation-history.txt``."""
    return data_dir() / "dictation-history.txt"


def append_history(text: str) -> None:
    """Append ``text`` to :func:`history_path` (created 0600, its folder 0700).

    Raises:
        OSError: the file cannot be written (the caller tells the user; dictation goes on).
    """
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(text)


class DictationSession:
    """Streaming dictation into one :class:`~assistant.dictation.typing.Typist`.

    Args:
        asr: the loaded :class:`~assistant.asr.WhisperASR` (shared with commands).
        settings: the ``dictation`` settings (pause, silence stop, punctuation, user
            vocabulary, replacements, history).
        typist: where the text goes; closed by :meth:`close`.
        bus: where :class:`DictationHeard` and :class:`Notice` go.
        hotwords: the skills' vocabulary; ``settings.words`` and the spoken side of
            ``settings.replacements`` are added in front (the user's words matter most).
            Biasing cannot invent words (the ASR's bias guard).
        on_end: called once, on the worker thread, with the reason ("voice", "silence",
            "error") when the session ends by itself.
        focus_probe: asks whether the focused field is a password field (closed by
            :meth:`close`). None: a :class:`~assistant.dictation.focus.FocusProbe` is made
            by :meth:`start` when the typist is one of :data:`PROBED_BACKENDS` and
            ``probe_focus`` is true; otherwise nothing is asked.
        probe_focus: False: never make a probe (only an explicit ``focus_probe`` is used).

    Attributes:
        typed: the text the focused window gained (after corrections), as the formatter
            believes; ``len(typed)`` goes into :class:`~assistant.events.DictationStopped`.
        delays_ms: for each typed batch, milliseconds from the end (in the audio) of its
            last committed word to the keystrokes, measured on the audio clock (for
            ``benchmarks/dictation_bench.py``); kept for the last 1000 batches.

    Threading: :meth:`add` on the audio thread (queues only); everything else on the
    session's own "dictation" thread, started by :meth:`start`.
    """

    def __init__(self, asr, settings: DictationSettings, typist: Typist, bus: EventBus, *,
                 hotwords: Sequence[str] = (), on_end: Optional[Callable[[str], None]] = None,
                 focus_probe: Optional[FocusProbe] = None, probe_focus: bool = True) -> None:
        self.settings = settings.model_copy()
        # the user's vocabulary: custom words, then what they say for each replacement
        # ("Zurich" for "Zürich"), so the ASR hears the spoken form the formatter looks for
        words = list(dict.fromkeys(w.strip() for w in [*settings.words, *settings.replacements] if w.strip()))
        self.committer = Committer(asr, interval_s=settings.interval_s, pause_s=settings.pause_s,
                                   window_s=settings.window_s,
                                   restart_after_s=settings.pause_s + RESTART_AFTER_PAUSE_S,
                                   hotwords=words + list(COMMAND_HOTWORDS) + list(hotwords))
        self.formatter = Formatter(settings.replacements, auto_punctuation=settings.auto_punctuation)
        self.typist = typist
        self.bus = bus
        self.on_end = on_end
        self.delays_ms: list[float] = []
        self._stop = threading.Event()
        self._ended = False
        self._phrase_open = False  # a flush ended a phrase that is not closed yet
        self._focus = typist.focus()
        self.focus_probe = focus_probe
        self._make_probe = focus_probe is None and probe_focus and typist.name in PROBED_BACKENDS
        self._password_serial: Optional[int] = None  # the focus change already warned about
        self._typed_before = ""  # text typed before the formatter was last reset
        self._typed_ok = ""  # formatter.typed after the last batch that was typed
        self._started_at = 0.0
        self._samples_at_start = 0
        self._thread = threading.Thread(target=self._work, name="dictation", daemon=True)

    @property
    def typed(self) -> str:
        """The text typed so far (see the class doc)."""
        return self._typed_before + self.formatter.typed

    def start(self) -> None:
        """Start the worker thread."""
        self._started_at = time.monotonic()
        if self._make_probe:
            self._make_probe = False
            self.focus_probe = FocusProbe()  # starts its helper without waiting for it
        self._thread.start()

    def add(self, block: np.ndarray) -> None:
        """Queue one audio block (16 kHz mono ``int16`` or float32; audio thread, never
        blocks on a decode)."""
        if not self._stop.is_set():
            self.committer.add(block)

    def close(self, *, flush: bool = True, timeout: float = 30.0) -> str:
        """End the session: stop the worker, then (``flush``) decode and type what was
        said up to now, and close the typist.

        Args:
            flush: type the rest (the user stopped); False drops it ("stop dictation"
                already ended the text).
            timeout: seconds to wait for the worker's current decode.
        Returns:
            :attr:`typed`.
        """
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if flush and not self.formatter.stop_requested and not self._ended:
            try:
                self.handle(self.committer.flush())
                self._apply(self.formatter.end_phrase())
            except TypingError as exc:
                self._typing_failed(exc)
            except Exception:  # noqa: BLE001 - a bug must not lose the session's end
                log.exception("dictation flush failed")
        try:
            self.typist.close()
        except Exception:  # noqa: BLE001
            log.exception("typist close failed")
        if self.focus_probe is not None:
            self.focus_probe.close()
        return self.typed

    # ---------------------------------------------------------------- worker
    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                result = self.step()
                if result == "idle":
                    time.sleep(IDLE_POLL_S)
                elif result != "busy":
                    return self._end(result)
        except TypingError as exc:
            self._typing_failed(exc)
            self._end("error")
        except Exception as exc:  # noqa: BLE001 - keep the engine running, tell the user
            log.exception("dictation failed")
            self.bus.publish(Notice(stage="dictation", level="error", message=f"Dictation failed: {exc}",
                                    hint="See the log for details; start dictation again."))
            self._end("error")

    def step(self) -> str:
        """One step of the worker: let the committer do what is due (at most one decode),
        type the result, close a held phrase after silence.

        Returns:
            ``"busy"`` (something was decoded), ``"idle"`` (nothing to do yet),
            ``"voice"`` ("stop dictation" was said) or ``"silence"``
            (``stop_after_silence_s`` without speech): the last two end the session.

        Raises:
            TypingError: typing failed (the worker ends the session with a notice).
        """
        update = self.committer.step()
        if update is None:
            self._close_phrase_after_silence()
            return "silence" if self._silent_too_long() else "idle"
        self.handle(update)
        return "voice" if self.formatter.stop_requested else "busy"

    def _silent_too_long(self) -> bool:
        limit = self.settings.stop_after_silence_s
        return bool(limit) and self.committer.silence_seconds >= limit

    def _end(self, reason: str) -> None:
        self._ended = True
        self._stop.set()
        if self.on_end is not None:
            self.on_end(reason)

    def handle(self, update: DictationUpdate) -> None:
        """Format the update's committed text, type it, publish what was heard (the
        worker's step for each committer update; tests may feed updates directly).

        A flush (a pause) ends the phrase — unless the formatter holds back a word that
        may begin a command: a flush's decode sometimes drops the last word and gives it
        back in the next decode ("scratch" … "that"), so the phrase stays open for the next
        update, or until PHRASE_CLOSE_S of silence decides the held word. (Word timestamps
        cannot place the pause instead: the first word after a commit is often dated
        hundreds of ms too early.)"""
        ops: list[EditOp] = self.formatter.process(update.committed) if update.committed.strip() else []
        if update.committed.strip():
            self._phrase_open = False
        if update.phrase_end:
            if self.formatter.holding:
                self._phrase_open = True
            else:
                ops += self.formatter.end_phrase()
        if ops:
            self._apply(ops)
            if update.words:
                lag_s = self.committer.audio_seconds - update.words[-1].end_s
                self.delays_ms = (self.delays_ms + [lag_s * 1000.0])[-1000:]
        if update.committed or update.tail or update.phrase_end:
            self.bus.publish(DictationHeard(committed=update.committed, tail=update.tail))

    def _close_phrase_after_silence(self) -> None:
        if self._phrase_open and self.committer.silence_seconds >= PHRASE_CLOSE_S:
            self._phrase_open = False
            self._apply(self.formatter.end_phrase())

    def _apply(self, ops: list[EditOp]) -> None:
        """Type ``ops`` (after the password and focus checks) and keep the history if asked."""
        if not ops or self._refuse_password_field():
            return
        self.typist.apply(self._check_focus(ops))
        self._typed_ok = self.formatter.typed
        typed = "".join(op.text for op in ops if isinstance(op, TypeText))
        if self.settings.keep_history and typed:
            try:
                append_history(typed)
            except OSError as exc:
                self.bus.publish(Notice(stage="dictation", level="warning",
                                        message=f"Dictation history not saved: {exc.strerror}", hint=""))

    def _refuse_password_field(self) -> bool:
        """True (the batch must be dropped) when the probe says the focus is on a password
        field; warns once per focus change and resets the formatter, keeping what was
        typed before for :attr:`typed` and a "stop dictation" just said."""
        info = self.focus_probe.query() if self.focus_probe is not None else None
        if info is None or not info.password:
            return False
        stop = self.formatter.stop_requested
        self._typed_before += self._typed_ok
        self._typed_ok = ""
        self.formatter.reset()
        self.formatter.stop_requested = stop
        if info.serial != self._password_serial:
            self._password_serial = info.serial
            self.bus.publish(Notice(stage="dictation", level="warning", message=PASSWORD_MESSAGE, hint=PASSWORD_HINT))
        return True

    def _check_focus(self, ops: list[EditOp]) -> list[EditOp]:
        """Drop backspaces when the focus moved since the last typing ("scratch that"
        must not delete in another window)."""
        now = self.typist.focus()
        moved = now is not None and self._focus is not None and now != self._focus
        self._focus = now if now is not None else self._focus
        if not moved or not any(isinstance(op, Backspace) for op in ops):
            return ops
        self.bus.publish(Notice(stage="dictation", level="warning",
                                message="Not corrected: the focus moved to another window since that text was typed.",
                                hint="Go back to that window and say \"scratch that\" again, or correct it by hand."))
        return [op for op in ops if not isinstance(op, Backspace)]

    def _typing_failed(self, exc: TypingError) -> None:
        self.bus.publish(Notice(stage="dictation", level="error", message=exc.message, hint=exc.hint))
