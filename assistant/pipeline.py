"""The engine: wake word → endpointed capture with partial transcripts → final transcript →
Rasa (NLU + dialogue + skill actions) → Piper → back to idle, or back to listening when the
dialogue expects an answer.

Every state change is a trigger fired on the one :class:`~assistant.machine.StateMachine`;
its module docstring holds the transition table (listening by wake word, hotkey,
push-to-talk or follow-up; understanding; speaking; barge-in).

Threads: one *audio thread* (the caller of :meth:`Assistant.run`) reads the source and runs
wake word + VAD per block (~1 ms per 80 ms block); one *turn worker* per interaction runs
the streaming ASR partials, the final decode and Rasa (:mod:`assistant.turn`), and hands
the reply to the :class:`~assistant.speaker.Speaker`, which owns its own thread. The state
machine's owner thread applies the triggers all of them fire. For recordings
(:meth:`Assistant.process_file`) turns are processed synchronously so a file's later turns
meet the dialogue state the earlier turns left, as a person would wait for the reply.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from assistant import components
from assistant.errors import AssistantError
from assistant.events import (Announcement, AudioLevel, EventBus, InteractionFinished, InteractionStarted, NLURestarting,
                               Notice, PlaybackFinished, Progress, Reply, SpeechEnded, SpeechStarted, State,
                               StopRequested, TurnFinished, WakeWordDetected)
from assistant.dictation.mode import DictationMode, is_start_command
from assistant.machine import StateMachine, Trigger
from assistant.settings import Settings, TTSSettings, data_dir
from assistant.trace import TraceRecorder
from assistant.capture import WAKE_PRE_ROLL_S, PreRoll, UtteranceFeed
from assistant.turn import (CANCELLED, ENDPOINT, DomainRefiner, TurnEndJudge, TurnResult, finish_transcript,
                            forget_dialogue, transcribe_stream, understand, wait_consumed)

log = logging.getLogger(__name__)

__all__ = ["Assistant", "TurnResult"]

DIDNT_CATCH = "Sorry, I didn't catch that."
DIDNT_UNDERSTAND = "Sorry, I didn't understand that. Please ask in words."
ONE_MOMENT = "One moment."
CANNOT_DICTATE = "Sorry, I cannot start dictation here."


def _new_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class Assistant:
    """The engine facade used by the CLI and the Qt UI.

    Construct, call :meth:`start` (loads models, trains/starts Rasa; seconds), then feed it
    audio with :meth:`run` / :meth:`process_file`, or text with :meth:`handle_text`.
    Commands in are methods (:meth:`listen`, :meth:`end_utterance`, :meth:`stop`,
    :meth:`apply_settings`, :meth:`preview_voice`, :meth:`reload_skills`) and
    :attr:`dictation` (a :class:`~assistant.dictation.mode.DictationMode`: ``start``,
    ``stop``, ``toggle``); everything out is an event on :attr:`bus`.

    Args:
        settings: user settings (copied; change them through :meth:`apply_settings`).
        bus: the event bus (a new one if None).
        sink: where speech goes: an :class:`~assistant.audio.AudioPlayer` for the speakers
            (default, :func:`~assistant.components.build_output`) or a
            :class:`~assistant.audio.BufferSink` for ``--output``.
        use_wake_word: False for push-to-talk only.

    Raises (from :meth:`start`): ModelError, NLUError, SkillError, DeviceError, with message and hint.
    """

    def __init__(self, settings: Settings, bus: EventBus | None = None, *, sink=None,
                 use_wake_word: bool | None = None) -> None:
        self._settings = settings.model_copy(deep=True)
        self.bus = bus or EventBus()
        self._sink = sink
        self.use_wake_word = settings.wake.enabled if use_wake_word is None else use_wake_word
        self.machine = StateMachine(self.bus)
        self.sender_id = f"user-{uuid.uuid4().hex[:8]}"
        self.traces = TraceRecorder(self.bus, keep=self._settings.trace.keep,
                                    directory=Path(self._settings.trace.directory) if self._settings.trace.directory
                                    else data_dir() / "traces")
        self.results: list[TurnResult] = []
        self.skill_errors: list = []
        self.ready = False
        self._lock = threading.RLock()
        self._turn_thread: threading.Thread | None = None
        self._stop_audio = threading.Event()
        self._pending_replies: queue.Queue[Announcement] = queue.Queue()
        self._results_by_id: dict[str, TurnResult] = {}
        self._discard: set[str] = set()  # interactions to leave out of results
        self._lapsed: dict[str, bool] = {}  # follow-ups nobody answered: their turn worker drops the dialogue state
        self._finished = threading.Condition()
        self._preview = components.VoicePreview()
        self.asr = self.tts = self.speaker = self.wake = self.vad = None
        self.nlu = self.host = self._domains = self._shapes = None
        self.skills: list = []
        self._hotwords: tuple[str, ...] = ()
        self.dictation = DictationMode(self.machine, self.bus, asr=lambda: self.asr, settings=lambda: self._settings.dictation,
                                       hotwords=lambda: self._hotwords, before_start=self._barge_in, after_stop=self._speak_pending)
        self.bus.subscribe(self._on_playback_finished, PlaybackFinished)
        self.bus.subscribe(self._on_stop, StopRequested)
        self.bus.subscribe(self._on_announcement, Announcement)
        self.bus.subscribe(self._on_nlu_restarting, NLURestarting)

    # ------------------------------------------------------------------ reading
    @property
    def settings(self) -> Settings:
        """The settings in use (a copy is kept; change them with :meth:`apply_settings`)."""
        return self._settings

    @property
    def state(self) -> State:
        """The state machine's current state."""
        return self.machine.state

    @property
    def hotwords(self) -> tuple[str, ...]:
        """The skills' vocabulary biasing dictation (and a command's first decode with
        ``asr.first_pass_hotwords``): interleaved, empty before :meth:`start`."""
        return self._hotwords

    @property
    def command_shapes(self):
        """What each intent needs to be a complete command (semantic endpointing,
        :class:`~assistant.nlu.complete.CommandShapes`); None before :meth:`start`."""
        return self._shapes

    @property
    def awaiting_answer(self) -> bool:
        """The last reply asked a question and the next audio is heard as its answer."""
        return self.machine.pending_request is Trigger.FOLLOW_UP

    @property
    def output(self):
        """The :class:`~assistant.audio.AudioSink` of replies (None before :meth:`start`)."""
        return self._sink

    # ------------------------------------------------------------------ start-up
    def _progress(self, task: str, fraction: float, message: str) -> None:
        self.bus.publish(Progress(task=task, fraction=fraction, message=message))

    def start(self, *, nlu: bool = True) -> None:
        """Load every model (:mod:`assistant.components`) and start the Rasa sidecar, publishing
        :class:`Progress`. ``nlu=False`` skips skills and Rasa (``assistant transcribe`` / ``say``).
        Raises :class:`NLUError` (no Rasa Python) or :class:`ModelError` (a model is missing)."""
        from assistant.speaker import Speaker

        s = self._settings
        if nlu:  # fail fast, before seconds of model loading, if Rasa cannot run at all
            from assistant.nlu.sidecar import find_rasa_python

            find_rasa_python(s.nlu.python)
        self._progress("speech recognition", 0.1, f"Loading Whisper '{s.asr.model}'")
        self.asr = components.build_asr(s.asr)
        self._progress("voice", 0.3, f"Loading Piper voice '{s.tts.voice}'")
        self.tts = components.build_voice(s.tts)
        if self._sink is None:
            self._sink = components.build_output(s.audio, self.bus)
        self.speaker = Speaker(self.tts, self._sink, bus=self.bus)
        self._progress("wake word", 0.4, "Loading wake word and VAD")
        self.vad = components.build_vad()
        self.wake = components.build_wake(s.wake) if self.use_wake_word else None
        if nlu:
            self._start_nlu()
        self.ready = True
        self._progress("ready", 1.0, "Ready")

    def _start_nlu(self) -> None:
        self._progress("skills", 0.5, "Loading skills")
        stack = components.build_language(self._settings, self.bus, self._progress)
        self.host, self.skills, self.skill_errors, self.nlu = stack.host, stack.skills, list(stack.errors), stack.nlu
        self._hotwords, self._domains, self._shapes = stack.hotwords, stack.domains, stack.shapes
        self._progress("language engine", 0.8, "Starting the language engine")
        self.nlu.start()

    def reload_skills(self) -> None:
        """Load the installed skills again (after enabling, disabling, installing or
        removing one), recompose the Rasa project, retrain if its content hash changed
        (``Progress`` events show it) and restart the Rasa sidecar. Pending timers of the
        old skill host are cancelled. Blocks for the training (seconds to a minute): call
        it from a worker thread.

        Raises:
            NLUError: Rasa could not be trained or started; requests then end with an
                error notice until a reload succeeds.
        """
        if self.nlu is not None:
            self.nlu.stop()
        if self.host is not None:
            self.host.close()
        self._start_nlu()
        self._progress("ready", 1.0, "Ready")

    def close(self) -> None:
        """Stop dictation, audio, the voice, timers, the Rasa sidecar and the state machine."""
        self.dictation.stop("user")
        self._stop_audio.set()
        if self.speaker is not None:
            self.speaker.close()
        if self.host is not None:
            self.host.close()
        if self.nlu is not None:
            self.nlu.stop()
        getattr(self._sink, "close", lambda: None)()
        self.traces.close()
        self.machine.close()

    # ------------------------------------------------------------------ settings
    def apply_settings(self, settings: Settings) -> None:
        """Apply new settings live: voice, speed and volume; the wake word; the ASR model
        (loaded again when model, compute type, beam size or language changed); skill
        options. VAD and audio settings apply from the next :meth:`run`. Blocks while a
        model loads (seconds): call it from a worker thread.

        Raises:
            ModelError: a new model could not be loaded (the old one stays in use).
        """
        old, new = self._settings, settings.model_copy(deep=True)
        if self.asr is not None and components.asr_changed(old.asr, new.asr):
            self.asr = components.build_asr(new.asr)
        if self.tts is not None and new.tts.voice != old.tts.voice:
            self.tts = components.build_voice(new.tts)
            self.speaker.set_voice(self.tts)
        elif self.tts is not None:
            self.tts.set_speed(new.tts.speed)
            self.tts.set_volume(new.tts.volume)
        if self.wake is not None and new.wake != old.wake:
            self.wake = components.build_wake(new.wake)
        if self.host is not None and new.skills != old.skills:
            self.host.update_settings(new.skills)
        self.use_wake_word = new.wake.enabled
        self._settings = new

    def preview_voice(self, tts: TTSSettings, text: str = "Hello! This is how I sound.",
                      timeout: float = 60.0) -> None:
        """Speak ``text`` with the voice, speed and volume of ``tts`` through the
        assistant's own output, without changing its settings (Settings → Voice → Preview).
        Blocks until spoken or ``timeout`` seconds; call it from a worker thread.

        Raises:
            ModelError: the voice is not installed.
            RuntimeError: called before :meth:`start`.
        """
        if self._sink is None:
            raise RuntimeError("preview_voice() needs a started assistant")
        self._preview.say(tts, self._sink, text, timeout, current=self.tts if tts == self._settings.tts else None)

    # ------------------------------------------------------------------ interactions
    def _begin_interaction(self, trigger: str) -> str:
        """A new interaction id, its empty :class:`TurnResult`, and InteractionStarted."""
        interaction = _new_id()
        with self._lock:
            self._results_by_id[interaction] = TurnResult(interaction)
        self.bus.publish(InteractionStarted(interaction=interaction, trigger=trigger))
        return interaction

    def _finish_interaction(self, interaction: str, outcome: str, *, discard: bool = False) -> None:
        """InteractionFinished (closes the trace), then the result and TurnFinished; once per interaction."""
        with self._lock:
            result = self._results_by_id.pop(interaction, None)
            discard = discard or interaction in self._discard
            self._discard.discard(interaction)
        if result is None:
            return
        self.bus.publish(InteractionFinished(interaction=interaction, outcome=outcome))
        if discard:
            return
        result.trace = self.traces.get(interaction)
        with self._finished:
            self.results.append(result)
            self._finished.notify_all()
        self.bus.publish(TurnFinished(interaction=interaction, result=result))

    # ------------------------------------------------------------------ controls
    def listen(self, source: str = "hotkey") -> None:
        """Start listening as if the wake word was heard (hotkey, mic button, tray); a
        barge-in when speaking. On the next audio block; ``source`` is for the trace."""
        self.machine.request(Trigger.HOTKEY, source)

    def end_utterance(self) -> None:
        """End the utterance now (push-to-talk released), as at a VAD endpoint
        (:class:`SpeechEnded` with ``by_user``); with nothing said, the interaction ends
        quietly. Only while listening; on the next audio block (≤ ``audio.block_ms``)."""
        self.machine.request_end()

    def stop(self, reason: str = "user") -> None:
        """Stop speaking and cancel the current interaction (stop button, Escape)."""
        self.bus.publish(StopRequested(interaction=self.machine.interaction, reason=reason))

    def _barge_in(self) -> None:
        if self.speaker is not None and self.speaker.is_speaking:
            self.stop("barge-in")
            self.speaker.wait(1.0)

    def _on_stop(self, ev: StopRequested) -> None:
        self.dictation.stop("user")
        if self.speaker is not None:
            self.speaker.stop()
        self.machine.clear_follow_up()

    def _on_nlu_restarting(self, ev: NLURestarting) -> None:  # Rasa restarts: say so, not silence
        if self.speaker is not None:
            self.speaker.say(ONE_MOMENT, interaction=ev.interaction or self.machine.interaction)

    def _on_announcement(self, ev: Announcement) -> None:
        # Skills speaking outside a dialogue turn (a timer firing): the one Reply of it is
        # published here, as its own interaction when the engine is idle, else it waits.
        self._pending_replies.put(ev)
        if self.machine.state is State.IDLE:
            self._speak_pending()

    def _speak_pending(self) -> None:
        try:
            ev = self._pending_replies.get_nowait()
        except queue.Empty:
            return
        interaction = _new_id()
        t = self.machine.fire(Trigger.ANNOUNCE, interaction)
        if t is None or t.state is not State.SPEAKING or t.previous is not State.IDLE:
            self._pending_replies.queue.appendleft(ev)  # type: ignore[attr-defined]  # busy: later
            return
        with self._lock:
            self._results_by_id[interaction] = TurnResult(interaction, reply=ev.text)
        self.bus.publish(InteractionStarted(interaction=interaction, trigger=ev.source or "skill"))
        self.bus.publish(Reply(interaction=interaction, text=ev.text, source=ev.source))
        self.speaker.say(ev.text, interaction=interaction)

    def _on_playback_finished(self, ev: PlaybackFinished) -> None:
        machine = self.machine
        if ev.interaction == machine.interaction and machine.state is State.SPEAKING:
            self._finish_interaction(ev.interaction, "interrupted" if ev.interrupted else "done")
            t = machine.fire(Trigger.PLAYBACK_DONE, ev.interaction, interrupted=ev.interrupted)
            if t is not None and not self.awaiting_answer:
                self._speak_pending()
        elif ev.interaction != machine.interaction:  # a barge-in already began another one
            self._finish_interaction(ev.interaction, "interrupted")

    # ------------------------------------------------------------------ text turns
    def handle_text(self, text: str, *, wait: bool = True, timeout: float = 60.0) -> TurnResult:
        """Process a typed request: Rasa → skill → spoken reply.

        Args:
            text: the request, e.g. ``"what time is it"``.
            wait: block until the reply has been spoken.
            timeout: seconds to wait for the reply when ``wait``.
        Returns:
            The :class:`TurnResult` (``trace`` filled once the reply has been spoken).
        """
        self.dictation.stop("command")
        if self.speaker is not None and self.speaker.is_speaking:
            self.stop("new request")
        interaction = self._begin_interaction(Trigger.TEXT.value)
        self.machine.fire(Trigger.TEXT, interaction)
        self._run_turn(interaction, text=text)
        if wait:
            self.wait_idle(timeout)
        return self._result(interaction)

    def _result(self, interaction: str) -> TurnResult:
        with self._finished:
            for r in reversed(self.results):
                if r.interaction == interaction:
                    return r
        return self._results_by_id.get(interaction, TurnResult(interaction))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no turn is running, the voice is silent and the state is idle (or
        dictating). Returns False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._turn_thread is not None and self._turn_thread.is_alive():
                self._turn_thread.join(max(0.0, deadline - time.monotonic()))
                continue
            if self.speaker is not None and self.speaker.is_speaking:
                self.speaker.wait(max(0.0, deadline - time.monotonic()))
                continue
            if self.machine.state in (State.IDLE, State.DICTATING):  # dictation: the audio goes on
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ the turn
    def _run_turn(self, interaction: str, *, text: str | None = None, audio_q: queue.Queue | None = None,
                  allow_early_end=None, hold=None, quiet=None, stepped: bool = False) -> None:
        """Final transcript (or typed text) → Rasa → reply. Runs on the turn worker thread
        for audio (``allow_early_end``, ``hold``, ``quiet``: its :class:`UtteranceFeed`'s), on
        the caller's thread for text."""
        result = self._results_by_id.get(interaction) or TurnResult(interaction)
        try:
            if text is None:
                refine = DomainRefiner(self.asr, self._settings.asr, self.nlu, self._domains,
                                       self._settings.vad.early_end_confidence)
                judge = TurnEndJudge(self.nlu, self._shapes, self._settings.vad.early_end_confidence, allow_early_end, hold)
                hotwords = components.first_pass_hotwords(self._settings.asr, self._hotwords)
                heard = transcribe_stream(self.asr, self._settings.asr, hotwords, self.bus, interaction, audio_q,
                                          refine, judge, quiet, stepped)
                if heard is None:  # cancelled; a lapsed question is forgotten here, off the audio thread
                    if self._lapsed.pop(interaction, False):
                        forget_dialogue(self.nlu, self.sender_id, "the question got no answer")
                    self.machine.fire(Trigger.CANCEL, interaction)
                    return self._finish_interaction(interaction, "cancelled")
                text = finish_transcript(heard, refine, self.bus, interaction)
            result.transcript = text
            if audio_q is not None and is_start_command(text):  # a mode switch, not a request for a skill
                if self.dictation.start("voice", interaction=interaction):
                    return self._finish_interaction(interaction, "dictation")
                return self._say(interaction, result, CANNOT_DICTATE, expects_answer=False)
            if not any(ch.isalnum() for ch in text):
                # Nothing, or no letters/digits at all ("🙂", "👍", "..."): not a command.
                # Rasa would still pick its likeliest intent for it (an emoji came out as "stop").
                self._say(interaction, result, DIDNT_UNDERSTAND if audio_q is None and text.strip() else DIDNT_CATCH, expects_answer=False)
                return
            understood = understand(self.nlu, self.bus, self.sender_id, interaction, text, result)
            self._say(interaction, result, understood.reply, expects_answer=understood.expects_answer)
            if understood.dialogue_over:  # Rasa sends the whole history with every action call
                forget_dialogue(self.nlu, self.sender_id, "the dialogue is over")
        except AssistantError as exc:
            log.warning("turn failed: %s", exc)
            result.error = exc.message
            self.bus.publish(Notice(interaction=interaction, stage="pipeline", level="error",
                                    message=exc.message, hint=exc.hint))
            self._say(interaction, result, "Sorry, something went wrong. " + exc.message, expects_answer=False)
        except Exception as exc:  # a bug: keep running, tell the user, keep the traceback in the log
            log.exception("turn failed")
            result.error = f"{type(exc).__name__}: {exc}"
            self.bus.publish(Notice(interaction=interaction, stage="pipeline", level="error",
                                    message=f"Internal error: {result.error}", hint="See the log for details."))
            self._say(interaction, result, "Sorry, something went wrong.", expects_answer=False)

    def _say(self, interaction: str, result: TurnResult, reply: str, *, expects_answer: bool) -> None:
        """Hand the turn's reply to the voice (REPLY), or end the turn (NO_REPLY). A turn
        that a barge-in abandoned ends quietly, out of the results."""
        result.reply, result.expects_answer = reply, expects_answer
        if not reply:
            if self.machine.fire(Trigger.NO_REPLY, interaction) is None:
                self._finish_interaction(interaction, "abandoned", discard=True)
                return
            self._finish_interaction(interaction, "done")
            self._speak_pending()
            return
        if self.machine.fire(Trigger.REPLY, interaction, expects_answer=expects_answer) is None:
            self._finish_interaction(interaction, "abandoned", discard=True)
            return
        self.bus.publish(Reply(interaction=interaction, text=reply, expects_answer=expects_answer))
        self.speaker.say(reply, interaction=interaction)

    # ------------------------------------------------------------------ audio loop
    def run(self, source, *, push_to_talk: bool = False, sync_turns: bool = False, stepped: bool = False,
            max_interactions: int | None = None, stop_event: threading.Event | None = None) -> list[TurnResult]:
        """Run the pipeline on an audio source until it ends or ``stop_event`` is set.

        Args:
            source: an :class:`~assistant.audio.AudioSource` (16 kHz int16 blocks).
            push_to_talk: start listening at once (no wake word) — and, for a file, after every reply, so each
                utterance of the recording is a command (or the answer to a question the last reply asked). A
                question whose follow-up listen heard nothing (``vad.start_timeout_s``) lapses.
            sync_turns: wait for each turn's reply before reading on (recordings).
            stepped: wait for the turn worker after every block (same transcripts on any machine); no early end.
            max_interactions: stop after this many finished interactions.
            stop_event: set it from another thread to stop.
        Returns:
            The :class:`TurnResult` of every interaction of this run, in order.

        Raises:
            DeviceError: the microphone failed or disappeared.
        """
        from assistant.audio import dbfs

        machine = self.machine
        stop_event = stop_event or self._stop_audio
        endpointer = components.build_endpointer(self.vad, self._settings.vad)
        first_result = len(self.results)
        if push_to_talk:
            machine.request(Trigger.PUSH_TO_TALK)
        utterance: UtteranceFeed | None = None  # while listening
        listening_trigger: Trigger | None = None
        pre_roll = PreRoll(WAKE_PRE_ROLL_S)
        last_level = 0.0

        def hand_over(feed: UtteranceFeed, ev) -> None:  # the endpoint (VAD, user, or the worker's early end)
            early = feed.ended_early
            self.bus.publish(SpeechEnded(interaction=feed.interaction, audio_time=ev.audio_time, silence_ms=ev.silence_ms,
                                         timeout=ev.timeout, by_user=ev.forced and not early, early=early))
            nothing_said = ev.timeout and not feed.had_speech
            if nothing_said and listening_trigger is Trigger.FOLLOW_UP:  # a question nobody answered lapses
                self._lapsed[feed.interaction] = True  # (its turn worker tells Rasa: no HTTP on the audio thread)
            machine.fire(Trigger.CANCEL if nothing_said else Trigger.EARLY_END if early else Trigger.ENDPOINT, feed.interaction)
            feed.audio_q.put(CANCELLED if nothing_said else ENDPOINT)

        def end_of_speech(ev) -> None:  # the audio loop's side of an endpoint
            nonlocal utterance
            if utterance.ended_by_worker is None:  # else the turn worker handed it over already
                hand_over(utterance, ev)
            utterance = None
            if self.wake is not None:
                self.wake.reset()
            if sync_turns:
                self._turn_thread.join()
                self.wait_idle()
                if push_to_talk and machine.pending_request is None:
                    machine.request(Trigger.PUSH_TO_TALK)

        for block in source.blocks():
            if stop_event.is_set():
                break
            now = time.monotonic()
            if now - last_level > 0.05:
                last_level = now
                self.bus.publish(AudioLevel(dbfs=dbfs(block)))
            if machine.state is State.DICTATING:  # the mode's own loop: no wake word, no endpointer
                if utterance is not None and utterance.ended_by_worker is not None:  # its worker ended it, then dictation began
                    end_of_speech(utterance.ended_by_worker)
                elif utterance is not None:  # "start dictation" abandoned this turn
                    utterance.audio_q.put(CANCELLED)
                    utterance = None
                machine.take_request()  # commands are paused while dictating
                self.dictation.feed(block)
                continue
            request = None
            if utterance is None and machine.state is not State.LISTENING:  # a request made while listening waits
                request = machine.take_request()
                pre_roll.add(block)
                if request is None and self.wake is not None and self.use_wake_word:
                    det = self.wake.process(block)
                    if det is not None:
                        request = (Trigger.WAKE_WORD, Trigger.WAKE_WORD.value)
            if request is not None:
                listening_trigger, label = request
                if listening_trigger is not Trigger.FOLLOW_UP:
                    self._barge_in()
                interaction = self._begin_interaction(label)
                if listening_trigger is Trigger.WAKE_WORD:
                    self.bus.publish(WakeWordDetected(interaction=interaction, model=det.model,
                                                      score=float(det.score), audio_time=float(det.audio_time)))
                    # the audio just before the detection belongs to the command (WAKE_PRE_ROLL_S)
                    block = pre_roll.take()
                pre_roll.clear()
                endpointer.reset()
                early_ms = self._settings.vad.early_end_silence_ms if self._shapes is not None and not stepped else 0
                utterance = UtteranceFeed(endpointer, queue.Queue(), self.bus, interaction, self._settings.vad.speculate_silence_ms, early_ms,
                                          self._settings.vad.hold_silence_ms, on_early_end=hand_over)
                machine.fire(listening_trigger, interaction)
                self._turn_thread = threading.Thread(target=self._run_turn, name="turn", daemon=True, kwargs={
                    "interaction": interaction, "audio_q": utterance.audio_q, "allow_early_end": utterance.allow_early_end if early_ms else None,
                    "quiet": lambda feed=utterance: feed.in_trailing_silence, "stepped": stepped, "hold": utterance.hold})
                self._turn_thread.start()
            if utterance is not None:  # the block that started listening belongs to the utterance
                ev = utterance.feed(block)
                if ev is not None:
                    end_of_speech(ev)
                else:
                    if stepped:
                        wait_consumed(utterance.audio_q, self._turn_thread)
                    if machine.take_end_request():  # push-to-talk released
                        for ev in utterance.end_now():
                            end_of_speech(ev)
            if max_interactions is not None and len(self.results) - first_result >= max_interactions:
                break
        else:
            # Source ended: close an open utterance so nothing said is lost. If nothing was said yet, drop this
            # interaction silently and, for a follow-up, wait for the answer in the next source (recording).
            if utterance is not None and utterance.ended_by_worker is not None:  # handed over by its worker
                end_of_speech(utterance.ended_by_worker)
            elif utterance is not None:
                if utterance.had_speech:
                    machine.fire(Trigger.ENDPOINT, utterance.interaction)
                    utterance.audio_q.put(ENDPOINT)
                else:
                    with self._lock:
                        self._discard.add(utterance.interaction)
                    utterance.audio_q.put(CANCELLED)
                    self._turn_thread.join()
                    if listening_trigger is Trigger.FOLLOW_UP:
                        machine.request(Trigger.FOLLOW_UP)
            self.dictation.stop("end of input")  # type what was said up to the end
        self.wait_idle()
        with self._finished:
            return list(self.results[first_result:])

    def process_file(self, path: str | Path, *, push_to_talk: bool = False, realtime: bool = False) -> list[TurnResult]:
        """Run a recording (any common format and rate) through the microphone's pipeline, one turn at a time;
        ``realtime`` paces it as a microphone would (the window's "Open recording"), else it is ``stepped``
        (:meth:`run`; turns end at the VAD endpoint). Raises :class:`~assistant.errors.AudioInputError` for unreadable files."""
        from assistant.audio import FileSource

        source = FileSource.for_recording(path, block_ms=self._settings.audio.block_ms, end_silence_ms=self._settings.vad.end_silence_ms,
                                          realtime=realtime, normalize=self._settings.audio.normalize_recordings)
        try:
            return self.run(source, push_to_talk=push_to_talk, sync_turns=True, stepped=not realtime)
        finally:
            source.close()
