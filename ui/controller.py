"""The bridge between the Qt app and the engine.

* :class:`EventBridge` subscribes to the engine's :class:`~assistant.events.EventBus` and
  re-emits every event as a Qt signal. The bus calls it on whatever engine thread published
  the event; the signal is delivered to GUI-thread slots through a queued connection.
* :class:`EngineController` owns (or borrows) the :class:`~assistant.pipeline.Assistant` and
  runs every blocking engine call on worker threads: start-up (models + Rasa) and settings
  changes on a :class:`QThreadPool`; turns (typed requests, recordings, Rasa retraining) on a
  one-thread pool so they never overlap; the live microphone loop
  (``Assistant.run(MicrophoneSource(...), stop_event=...)``) on its own :class:`QThread`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, QThreadPool, Signal

from assistant.errors import AssistantError
from assistant.events import (
    DictationHeard,
    DictationStarted,
    DictationStopped,
    Event,
    EventBus,
    Progress,
    TraceWritten,
)
from assistant.settings import Settings, load_settings, save_settings
from ui.ui_settings import UISettings, load_ui_settings, save_ui_settings
from ui.workers import Task, submit

log = logging.getLogger(__name__)


class EventBridge(QObject):
    """Engine events → Qt signal. ``event`` is emitted on the publishing (engine) thread and
    delivered to slots in the GUI thread (Qt queues cross-thread signals)."""

    event = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, bus: EventBus) -> None:
        """Start forwarding ``bus``'s events (detaching from a previous bus)."""
        self.detach()
        self._unsubscribe = bus.subscribe(self._forward)

    def detach(self) -> None:
        """Stop forwarding."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _forward(self, ev: Event) -> None:  # engine thread
        try:
            self.event.emit(ev)
        except RuntimeError:  # the QObject was deleted while the engine still publishes
            self.detach()


def error_text(exc: BaseException) -> tuple[str, str]:
    """(message, hint) of an exception; AssistantError carries both."""
    if isinstance(exc, AssistantError):
        return exc.message, exc.hint
    return f"{type(exc).__name__}: {exc}", "This is a bug; the log has the details."


class MicLoop(QThread):
    """Runs ``assistant.run(MicrophoneSource(device), stop_event=...)`` until :meth:`stop`."""

    failed = Signal(str, str)

    def __init__(self, assistant: Any, device: str | None, block_ms: int, push_to_talk: bool,
                 parent: QObject | None = None, gain_db: float = 0.0) -> None:
        super().__init__(parent)
        self.setObjectName("mic-loop")
        self.assistant = assistant
        self.device = device
        self.block_ms = block_ms
        self.gain_db = gain_db
        self.push_to_talk = push_to_talk
        self.stop_event = threading.Event()
        self._source = None
        self._lock = threading.Lock()

    def run(self) -> None:  # worker thread
        threading.current_thread().name = "mic-loop"
        try:
            from assistant.audio import MicrophoneSource

            source = MicrophoneSource(self.device, block_ms=self.block_ms, gain_db=self.gain_db)
            with self._lock:
                self._source = source
                if self.stop_event.is_set():
                    source.close()
                    return
            try:
                self.assistant.run(source, push_to_talk=self.push_to_talk, stop_event=self.stop_event)
            finally:
                source.close()
        except Exception as exc:  # noqa: BLE001 - reported to the window
            if not self.stop_event.is_set():
                self.failed.emit(*error_text(exc))

    def stop(self) -> None:
        """Ask the loop to end (returns at once; the loop ends within one audio block)."""
        self.stop_event.set()
        with self._lock:
            if self._source is not None:
                self._source.close()


class EngineController(QObject):
    """Everything the window does to the engine, none of it blocking the GUI thread.

    Args:
        settings: engine settings; loaded with :func:`assistant.settings.load_settings` if None
            (a corrupt file is moved aside and :attr:`startup_notices` says so).
        ui_settings: app settings (``ui.toml``); loaded if None.
        assistant: an already constructed (possibly started) Assistant to use instead of
            creating one. Then the controller does not close it (``owns_engine=False``).
        sink: audio sink for a new Assistant (None = the speakers).
        listen: open the microphone when the engine is ready (else only on the mic button).

    Signals:
        event(Event): every engine event, on the GUI thread.
        ready(): the engine has started.
        start_failed(message, hint): the engine could not start.
        notice(level, message, hint): something the app (not the engine) wants shown.
        busy(task, running): a background task started/finished.
        settings_applied(Settings): new settings are saved and in effect.
        mic_changed(running): the microphone loop started or stopped.
        dictation_started(source, backend): dictation mode began (``DictationStarted``).
        dictation_heard(committed, tail): newly committed text and the unstable tail
            (``DictationHeard``).
        dictation_stopped(reason, typed_chars): dictation mode ended (``DictationStopped``).
        dictation_changed(on): dictation mode switched on or off (for toggles: tray, button).
    """

    event = Signal(object)
    ready = Signal()
    start_failed = Signal(str, str)
    notice = Signal(str, str, str)
    busy = Signal(str, bool)
    settings_applied = Signal(object)
    ui_settings_applied = Signal(object)
    mic_changed = Signal(bool)
    request_done = Signal(object)
    dictation_started = Signal(str, str)
    dictation_heard = Signal(str, str)
    dictation_stopped = Signal(str, int)
    dictation_changed = Signal(bool)

    def __init__(self, settings: Settings | None = None, ui_settings: UISettings | None = None, *,
                 assistant: Any = None, sink: Any = None, listen: bool | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.startup_notices: list[str] = []
        if settings is None:
            settings, msg = load_settings()
            if msg:
                self.startup_notices.extend(msg.splitlines())  # one notice per bad key
        if ui_settings is None:
            ui_settings, msg = load_ui_settings()
            if msg:
                self.startup_notices.extend(msg.splitlines())
        self.settings: Settings = settings
        self.ui_settings: UISettings = ui_settings
        self.listen_on_ready = ui_settings.listen_on_start if listen is None else listen
        self.bus = assistant.bus if assistant is not None else EventBus()
        self.assistant = assistant
        self.owns_engine = assistant is None
        self._sink = sink
        self.bridge = EventBridge(self)
        self.bridge.event.connect(self.event)
        self.bridge.event.connect(self._dictation_event)
        #: dictation mode is on, as the engine's Dictation* events said (GUI thread)
        self.dictation_on = False
        self.bridge.attach(self.bus)
        #: finished interaction traces, oldest first (from ``TraceWritten``; the latency page)
        self.traces: deque = deque(maxlen=max(1, settings.trace.keep))
        self.bus.subscribe(lambda ev: self.traces.append(ev.trace), TraceWritten)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(3)
        self.turns = QThreadPool(self)  # one at a time: typed requests, recordings, retraining
        self.turns.setMaxThreadCount(1)
        self.mic: MicLoop | None = None
        self.muted = False
        self.starting = False
        self.tasks: list[Task] = []  # finished and running tasks, for diagnostics/tests
        self._queued: list[Callable[[], None]] = []
        self._closing = False

    # ------------------------------------------------------------------ status
    @property
    def is_ready(self) -> bool:
        """The engine has started and can take requests."""
        return bool(self.assistant is not None and self.assistant.ready)

    @property
    def mic_running(self) -> bool:
        """The live microphone loop is running."""
        return self.mic is not None and self.mic.isRunning()

    def _submit(self, pool: QThreadPool, name: str, fn: Callable[[], Any], on_done=None, on_error=None) -> Task:
        self.busy.emit(name, True)

        def done(result: Any) -> None:
            self.busy.emit(name, False)
            if on_done is not None:
                on_done(result)

        def error(exc: BaseException) -> None:
            self.busy.emit(name, False)
            if on_error is not None:
                on_error(exc)
            else:
                self._report(exc, stage=name)

        task = submit(pool, name, fn, on_done=done, on_error=error)
        self.tasks.append(task)
        del self.tasks[:-50]
        return task

    def _report(self, exc: BaseException, stage: str = "app") -> None:
        message, hint = error_text(exc)
        self.notice.emit("error", message, hint)

    # ------------------------------------------------------------------ start / stop
    def start(self) -> Task | None:
        """Start the engine on a worker thread (returns at once). Progress arrives as
        :class:`~assistant.events.Progress` events; then :attr:`ready` or
        :attr:`start_failed`."""
        if self.is_ready:
            self.ready.emit()
            self._after_ready()
            return None
        if self.starting:
            return None
        self.starting = True
        if self.assistant is None:
            from assistant.pipeline import Assistant

            self.assistant = Assistant(self.settings, self.bus, sink=self._sink)
        assistant = self.assistant
        self.bus.publish(Progress(task="start", fraction=0.0, message="Starting the assistant"))

        def started(_: Any) -> None:
            self.starting = False
            self.ready.emit()
            self._after_ready()

        def failed(exc: BaseException) -> None:
            self.starting = False
            message, hint = error_text(exc)
            self.start_failed.emit(message, hint)

        return self._submit(self.pool, "start", assistant.start, started, failed)

    def _after_ready(self) -> None:
        queued, self._queued = self._queued, []
        for fn in queued:
            fn()
        if self.listen_on_ready and not self.muted and not self.mic_running and not self._closing:
            self.start_microphone(push_to_talk=False)

    def _when_ready(self, fn: Callable[[], None]) -> None:
        if self.is_ready:
            fn()
        else:
            self._queued.append(fn)  # runs when start() has finished

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop the microphone, wait for workers, close the engine if we own it. Called at
        quit (the only place the GUI thread waits)."""
        self._closing = True
        self.stop_microphone(wait=True)
        if self.assistant is not None:
            try:
                self.assistant.stop("quit")
            except Exception:  # noqa: BLE001
                log.exception("stop at quit failed")
        self.turns.clear()
        self.pool.clear()
        self.turns.waitForDone(int(timeout_s * 1000))
        self.pool.waitForDone(int(timeout_s * 1000))
        self.bridge.detach()
        if self.owns_engine and self.assistant is not None:
            try:
                self.assistant.close()
            except Exception:  # noqa: BLE001
                log.exception("closing the engine failed")

    # ------------------------------------------------------------------ requests
    def ask(self, text: str) -> None:
        """Process a typed request (on the turn worker): Rasa → skill → spoken reply."""
        text = text.strip()
        if not text:
            return

        def go() -> None:
            assistant = self.assistant
            self._submit(self.turns, "request", lambda: assistant.handle_text(text, wait=True, timeout=120),
                         self.request_done.emit)

        self._when_ready(go)

    def process_file(self, path: str | Path, *, realtime: bool = False, push_to_talk: bool = True) -> None:
        """Run a recording through the same path as the microphone (on the turn worker).

        Args:
            realtime: pace the file like a live microphone (partial transcripts appear as the
                words are "spoken"); otherwise as fast as the engine takes it.
            push_to_talk: treat the recording as a command (no wake word needed).
        """
        path = Path(path)

        def work() -> list:
            return self.assistant.process_file(path, push_to_talk=push_to_talk, realtime=realtime)

        def go() -> None:
            resume = self.mic_running
            if resume:  # one audio source at a time
                self.stop_microphone(wait=False)

            def done(results: Any) -> None:
                self.request_done.emit(results)
                if resume and not self.muted:
                    self.start_microphone()

            def failed(exc: BaseException) -> None:
                self._report(exc, "recording")
                if resume and not self.muted:
                    self.start_microphone()

            self._submit(self.turns, "recording", work, done, failed)

        self._when_ready(go)

    def listen_now(self, trigger: str = "button") -> None:
        """Start listening now (mic button, hotkey, tray). Opens the microphone if needed."""
        if not self.is_ready:
            self.notice.emit("info", "The assistant is still starting.", "It will listen as soon as it is ready.")
            self._when_ready(lambda: self.listen_now(trigger))
            return
        if self.muted:
            self.set_muted(False)
        if self.mic_running:
            self.assistant.listen(trigger)
        else:
            self.start_microphone(push_to_talk=True)

    def end_utterance(self) -> None:
        """Push-to-talk released: end the utterance now instead of at the VAD's endpoint
        (:meth:`assistant.pipeline.Assistant.end_utterance`). Returns at once."""
        if self.is_ready and self.assistant is not None:
            self.assistant.end_utterance()

    def toggle_listening(self, trigger: str = "hotkey") -> None:
        """Hotkey in toggle mode: stop if listening or speaking, else listen."""
        from assistant.events import State

        if self.is_ready and self.assistant.state in (State.LISTENING, State.SPEAKING):
            self.stop_speaking(trigger)
        else:
            self.listen_now(trigger)

    def stop_speaking(self, reason: str = "button") -> None:
        """Stop the voice and cancel the interaction (barge-in). Returns at once."""
        if self.assistant is not None:
            self.assistant.stop(reason)

    # ------------------------------------------------------------------ dictation
    @property
    def dictating(self) -> bool:
        """Dictation mode is on: the engine's word once it has started, else what the
        Dictation* events said."""
        if self.is_ready:
            return self.assistant.dictation.active
        return self.dictation_on

    def dictate(self, source: str = "hotkey") -> None:
        """Enter dictation mode (hotkey, tray, Dictate button, ``assistant-gui --dictate``):
        opens the microphone if needed (unmuting it), then asks the engine, which publishes
        ``DictationStarted`` (or a ``Notice`` saying why not). Returns at once."""
        if not self.is_ready:
            self.notice.emit("info", "The assistant is still starting.", "Dictation starts as soon as it is ready.")
            self._when_ready(lambda: self.dictate(source))
            return
        if self.muted:
            self.set_muted(False)
        if not self.mic_running:
            self.start_microphone(push_to_talk=False)
        # off the GUI thread: starting stops the voice first (a barge-in waits for it)
        self._submit(self.pool, "dictation", lambda: self.assistant.dictation.start(source))

    def stop_dictation(self, reason: str = "user") -> None:
        """Leave dictation mode; the engine publishes ``DictationStopped``. Returns at once."""
        if self.assistant is not None:  # off the GUI thread: the rest is decoded and typed first
            self._submit(self.pool, "dictation", lambda: self.assistant.dictation.stop(reason))

    def toggle_dictation(self, source: str = "hotkey") -> None:
        """Dictation hotkey, tray action, Dictate button: stop dictating if on, else start."""
        if self.dictating:
            self.stop_dictation("user")
        else:
            self.dictate(source)

    def clear_dictation_history(self, on_done: Callable[[], None] | None = None) -> None:
        """Delete the local dictation history (Settings → Dictation), on a worker thread;
        then ``on_done()`` runs on the GUI thread (default: a notice says it is done)."""
        def done(_: Any) -> None:
            if on_done is not None:
                on_done()
            else:
                self.notice.emit("info", "The dictation history was cleared.", "")

        def go() -> None:
            self._submit(self.pool, "dictation-history", self.assistant.dictation.clear_history, done)

        if self.assistant is None:
            self.notice.emit("info", "The dictation history is cleared once the assistant has started.", "")
        self._when_ready(go)

    def _dictation_event(self, ev: Event) -> None:  # GUI thread (queued from the bridge)
        if isinstance(ev, DictationStarted):
            self.dictation_on = True
            self.dictation_started.emit(ev.source, ev.backend)
            self.dictation_changed.emit(True)
        elif isinstance(ev, DictationHeard):
            self.dictation_heard.emit(ev.committed, ev.tail)
        elif isinstance(ev, DictationStopped):
            self.dictation_on = False
            self.dictation_stopped.emit(ev.reason, int(ev.typed_chars))
            self.dictation_changed.emit(False)

    # ------------------------------------------------------------------ microphone
    def start_microphone(self, push_to_talk: bool = False) -> None:
        """Open the microphone and run the live pipeline on its own thread."""
        if not self.is_ready or self.mic_running or self._closing:
            return
        s = self.settings.audio
        mic = MicLoop(self.assistant, s.input_device, s.block_ms, push_to_talk, self, gain_db=s.input_gain_db)
        mic.failed.connect(self._mic_failed)
        mic.finished.connect(lambda: self.mic_changed.emit(self.mic_running))
        self.mic = mic
        mic.start()
        self.mic_changed.emit(True)

    def stop_microphone(self, wait: bool = False) -> None:
        """Stop the live microphone loop (returns at once unless ``wait``)."""
        mic, self.mic = self.mic, None
        if mic is not None:
            mic.stop()
            if wait:
                mic.wait(5000)
            self.mic_changed.emit(False)

    def _mic_failed(self, message: str, hint: str) -> None:
        self.notice.emit("error", message, hint or "Choose another microphone in Settings → Microphone.")
        self.mic_changed.emit(False)

    def set_muted(self, muted: bool) -> None:
        """Mute closes the microphone (nothing is captured); unmute reopens it."""
        self.muted = bool(muted)
        if muted:
            self.stop_microphone()
        elif self.is_ready:
            self.start_microphone()
        self.mic_changed.emit(self.mic_running)

    # ------------------------------------------------------------------ settings
    def apply_settings(self, settings: Settings, ui_settings: UISettings | None = None) -> Task | None:
        """Save ``settings`` (and ``ui_settings``) and apply them live on a worker thread:
        voice, speed, volume and wake word through ``Assistant.apply_settings``; a new ASR
        model is loaded; a new input device reopens the microphone; a changed skill set
        retrains Rasa. Emits :attr:`settings_applied` when done."""
        old = self.settings
        self.settings = settings.model_copy(deep=True)
        try:  # disk full / no permission: say so; the file on disk is unchanged, the values apply
            save_settings(self.settings)
            if ui_settings is not None:
                save_ui_settings(ui_settings)
        except AssistantError as exc:
            self.notice.emit("error", exc.message, exc.hint)
        if ui_settings is not None:
            self.ui_settings = ui_settings.model_copy(deep=True)
            self.ui_settings_applied.emit(self.ui_settings)
        if self.assistant is None or not self.is_ready:
            if self.assistant is not None:  # not started: nothing to reload, the values are kept
                self.assistant.apply_settings(self.settings)
            self.settings_applied.emit(self.settings)
            return None
        assistant, new = self.assistant, self.settings.model_copy(deep=True)
        # the mic loop builds its source and endpointer when it starts: reopen it for those
        mic_changed = (old.audio != new.audio or old.vad != new.vad) and self.mic_running
        skills_changed = (old.skills.disabled != new.skills.disabled)

        def work() -> None:
            assistant.apply_settings(new)  # voice, wake word, ASR model, skill options

        def done(_: Any) -> None:
            if mic_changed:
                self.stop_microphone(wait=False)
                self.start_microphone()
            self.settings_applied.emit(self.settings)
            if skills_changed:
                self.retrain()

        return self._submit(self.pool, "settings", work, done)

    def apply_ui_settings(self, ui_settings: UISettings) -> None:
        """Save and apply the app's own settings (theme, font scale, tray)."""
        self.ui_settings = ui_settings.model_copy(deep=True)
        save_ui_settings(self.ui_settings)
        self.ui_settings_applied.emit(self.ui_settings)

    def retrain(self, on_done: Callable[[Any], None] | None = None) -> Task | None:
        """Reload the skills and retrain/restart Rasa with the enabled skills (on the turn
        worker, so no request meets a half-started language engine). Progress events show
        the training; the conversation keeps working once it is done."""
        if self.assistant is None:
            return None
        assistant = self.assistant

        def work() -> None:
            assistant.reload_skills()

        def failed(exc: BaseException) -> None:
            message, hint = error_text(exc)
            self.notice.emit("error", f"Retraining the language engine failed: {message}", hint)

        return self._submit(self.turns, "retrain", work, on_done, failed)

    def preview_voice(self, tts_settings: Any, text: str = "Hello! This is how I sound.") -> Task | None:
        """Speak ``text`` with the voice, speed and volume of ``tts_settings`` (loads the
        voice on a worker; plays through the engine's output)."""
        if not self.is_ready:
            self.notice.emit("info", "The voice can be previewed once the assistant has started.", "")
            return None
        assistant = self.assistant

        def work() -> None:
            assistant.preview_voice(tts_settings, text)

        return self._submit(self.pool, "preview", work)
