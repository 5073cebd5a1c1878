"""The pipeline state machine: wake word → endpointed capture with partial transcripts →
final transcript → Rasa (NLU + dialogue + skill actions) → Piper → back to idle, or back to
listening when the dialogue expects an answer.

States (:class:`assistant.events.State`)::

    idle ──wake word / hotkey──► listening ──endpoint──► understanding ──► acting ──► speaking
     ▲                              ▲                                                  │
     └──────── reply done ──────────┴──────── reply expects an answer (follow-up) ◄────┘

Barge-in: while speaking (or thinking), the wake word, the hotkey (:meth:`Assistant.listen_now`)
or :meth:`Assistant.stop` interrupts the voice at once.

Threads: one *audio thread* reads the source and runs wake word + VAD per block (cheap:
~1 ms per 80 ms block); one *turn worker* per interaction runs the streaming ASR partials,
the final decode, Rasa and hands the reply to the :class:`~assistant.tts.Speaker`, which
owns its own thread. For recordings (:class:`~assistant.audio.FileSource` without real-time
pacing) turns are processed synchronously so a file's later turns meet the dialogue state
the earlier turns left, exactly as a person would wait for the reply.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from assistant.errors import AssistantError, NLUError
from assistant.events import (
    Announcement,
    AudioLevel,
    EventBus,
    FinalTranscript,
    IntentRecognized,
    InteractionFinished,
    InteractionStarted,
    NLURestarting,
    Notice,
    PartialTranscript,
    PlaybackFinished,
    Progress,
    Reply,
    SpeechEnded,
    SpeechStarted,
    State,
    StateChanged,
    StopRequested,
    WakeWordDetected,
)
from assistant.settings import Settings, data_dir
from assistant.trace import Trace, TraceRecorder

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
DIDNT_CATCH = "Sorry, I didn't catch that."
DIDNT_UNDERSTAND = "Sorry, I didn't understand that. Please ask in words."
ONE_MOMENT = "One moment."
#: Trailing silence (ms) after which the final decode starts speculatively, before the
#: endpoint (``vad.end_silence_ms``) fires; if speech resumes the result is just a partial.
SPECULATE_AFTER_MS = 150
SPECULATE = object()  # queue marker: decode now, the utterance may be over
#: Audio from before the wake-word detection handed to the endpointer (s). openWakeWord
#: fires ``trigger_frames`` 80 ms frames after its score rises, which is after the phrase
#: ended: a command said without a pause ("Hey Jarvis what time is it") has already begun.
#: 0.32 s (measured on Piper and espeak-ng "Hey Jarvis. What time is it?" with no pause:
#: 0.16-0.24 s still cut "what"; 0.48+ brings back the end of "Jarvis").
WAKE_PRE_ROLL_S = 0.32


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


class Assistant:
    """The engine facade used by the CLI and the Qt UI.

    Construct, call :meth:`start` (loads models, trains/starts Rasa; seconds), then feed it
    audio with :meth:`run` / :meth:`process_file`, or text with :meth:`handle_text`. All
    progress, state changes, transcripts and replies are published on :attr:`bus`.

    Args:
        settings: user settings (copied; change them through :meth:`apply_settings`).
        bus: the event bus (a new one if None).
        sink: where speech goes: an :class:`~assistant.audio.AudioPlayer` for the speakers
            (default) or a :class:`~assistant.audio.BufferSink` for ``--output``.
        use_wake_word: False for push-to-talk only.

    Raises (from :meth:`start`):
        ModelError, NLUError, SkillError, DeviceError: with message and hint.
    """

    def __init__(self, settings: Settings, bus: EventBus | None = None, *, sink=None,
                 use_wake_word: bool | None = None) -> None:
        self.settings = settings.model_copy(deep=True)
        self.bus = bus or EventBus()
        self._sink = sink
        self.use_wake_word = settings.wake.enabled if use_wake_word is None else use_wake_word
        self.state = State.IDLE
        self.sender_id = f"user-{uuid.uuid4().hex[:8]}"
        self.traces = TraceRecorder(self.bus, keep=self.settings.trace.keep,
                                    directory=Path(self.settings.trace.directory) if self.settings.trace.directory
                                    else data_dir() / "traces")
        self.results: list[TurnResult] = []
        #: called with each finished :class:`TurnResult` (on the engine thread that finished it)
        self.on_result: Callable[[TurnResult], None] | None = None
        self.skill_errors: list = []
        self.ready = False
        self._lock = threading.RLock()
        self._interaction = ""
        self._follow_up = False
        self._turn_thread: threading.Thread | None = None
        self._turn_audio: queue.Queue | None = None
        self._stop_audio = threading.Event()
        self._listen_request: str | None = None
        self._end_request = False  # set by end_utterance(), read by run()
        self._pending_replies: queue.Queue[Announcement] = queue.Queue()
        self._results_by_id: dict[str, TurnResult] = {}
        self._discard: set[str] = set()  # interactions to leave out of results
        self._finished = threading.Condition()
        self.asr = self.tts = self.speaker = self.wake = self.vad = None
        self.nlu = self.host = None
        self.skills: list = []
        self._hotwords: list[str] = []
        self.bus.subscribe(self._on_playback_finished, PlaybackFinished)
        self.bus.subscribe(self._on_stop, StopRequested)
        self.bus.subscribe(self._on_announcement, Announcement)
        self.bus.subscribe(self._on_nlu_restarting, NLURestarting)

    # ------------------------------------------------------------------ start-up
    def _progress(self, task: str, fraction: float, message: str) -> None:
        self.bus.publish(Progress(task=task, fraction=fraction, message=message))

    def start(self, *, nlu: bool = True) -> None:
        """Load every model and start the Rasa sidecar. Publishes :class:`Progress`.

        Args:
            nlu: False skips skills and Rasa (``assistant transcribe`` / ``say``).
        """
        from assistant.asr import WhisperASR
        from assistant.tts import PiperTTS, Speaker
        from assistant.vad import SileroVAD

        s = self.settings
        if nlu:  # fail fast, before seconds of model loading, if Rasa cannot run at all
            from assistant.nlu.sidecar import find_rasa_python

            find_rasa_python(s.nlu.python)
        self._progress("speech recognition", 0.1, f"Loading Whisper '{s.asr.model}'")
        self.asr = WhisperASR(s.asr.model, compute_type=s.asr.compute_type, beam_size=s.asr.beam_size,
                              language=s.asr.language)
        self._progress("voice", 0.3, f"Loading Piper voice '{s.tts.voice}'")
        self.tts = PiperTTS(s.tts.voice, speed=s.tts.speed, volume=s.tts.volume)
        if self._sink is None:
            from assistant.audio import AudioPlayer, NullSink
            from assistant.errors import DeviceError

            try:
                self._sink = AudioPlayer(s.audio.output_device)
            except DeviceError as exc:  # keep answering in text
                self._sink = NullSink()
                self.bus.publish(Notice(stage="audio", level="warning",
                                        message=f"{exc.message} Replies are shown as text only.", hint=exc.hint))
        self.speaker = Speaker(self.tts, self._sink, bus=self.bus)
        self._progress("wake word", 0.4, "Loading wake word and VAD")
        self.vad = SileroVAD()
        if self.use_wake_word:
            from assistant.wake import WakeWordDetector

            self.wake = WakeWordDetector(s.wake.model, threshold=s.wake.threshold,
                                         trigger_frames=s.wake.trigger_frames, refractory_s=s.wake.refractory_s)
        if nlu:
            self._start_nlu()
        self.ready = True
        self._progress("ready", 1.0, "Ready")

    def _start_nlu(self) -> None:
        from assistant.nlu.sidecar import RasaSidecar
        from assistant.skills import SkillHost, compose_project, load_skills

        s = self.settings
        self._progress("skills", 0.5, "Loading skills")
        self.host = SkillHost(self.bus, s.skills)
        loaded = load_skills(disabled=s.skills.disabled)
        self.skills = loaded.skills
        self.skill_errors = list(loaded.errors)
        for err in loaded.errors:
            self.bus.publish(Notice(stage="skills", level="warning", message=str(getattr(err, "message", err)),
                                    hint=getattr(err, "hint", "")))
        project = compose_project(self.skills)
        from assistant.asr import interleave_vocabularies  # every skill keeps its first phrases (issue 9)

        self._hotwords = interleave_vocabularies([sk.vocabulary() for sk in self.skills]) if s.asr.hotwords else []
        actions = self.host.actions(self.skills)
        self.nlu = RasaSidecar(project, actions, s.nlu, bus=self.bus)
        self._progress("language engine", 0.6, "Training the language engine (cached after the first time)")
        self.nlu.ensure_trained()
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
        """Stop audio, the voice, timers and the Rasa sidecar."""
        self._stop_audio.set()
        if self.speaker is not None:
            self.speaker.close()
        if self.host is not None:
            self.host.close()
        if self.nlu is not None:
            self.nlu.stop()
        if self._sink is not None and hasattr(self._sink, "close"):
            self._sink.close()
        self.traces.close()

    # ------------------------------------------------------------------ state
    def _set_state(self, state: State) -> None:
        with self._lock:
            previous, self.state = self.state, state
            interaction = self._interaction
        if previous != state:
            self.bus.publish(StateChanged(interaction=interaction, state=state, previous=previous))

    def _begin_interaction(self, trigger: str) -> str:
        with self._lock:
            self._interaction = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
            interaction = self._interaction
            self._results_by_id[interaction] = TurnResult(interaction)
        self.bus.publish(InteractionStarted(interaction=interaction, trigger=trigger))
        return interaction

    def _finish_interaction(self, interaction: str, outcome: str) -> None:
        with self._lock:
            result = self._results_by_id.pop(interaction, None)
            if interaction == self._interaction:
                self._interaction = ""
            discard = interaction in self._discard
            self._discard.discard(interaction)
        if result is None:
            return
        self.bus.publish(InteractionFinished(interaction=interaction, outcome=outcome))
        if discard:
            return
        result.trace = next((t for t in reversed(self.traces.finished) if t.interaction == interaction), None)
        with self._finished:
            self.results.append(result)
            self._finished.notify_all()
        if self.on_result is not None:
            self.on_result(result)

    @property
    def interaction(self) -> str:
        """Id of the interaction in progress ("" when idle)."""
        return self._interaction

    # ------------------------------------------------------------------ controls
    def listen_now(self, trigger: str = "hotkey") -> None:
        """Start listening as if the wake word was heard (hotkey, mic button, push-to-talk).
        Interrupts speech (barge-in). Takes effect on the next audio block."""
        self._listen_request = trigger

    def end_utterance(self) -> None:
        """End the utterance being listened to now, without waiting for the VAD's
        end-of-speech silence (push-to-talk key released). What was said goes on to the
        final transcript as at a normal endpoint (:class:`SpeechEnded` with ``by_user``);
        if nothing was said yet, the interaction ends quietly. No effect when not listening.
        Takes effect on the next audio block (≤ ``audio.block_ms``)."""
        if self.state == State.LISTENING:
            self._end_request = True

    def stop(self, reason: str = "user") -> None:
        """Stop speaking and cancel the current interaction (stop button, Escape)."""
        self.bus.publish(StopRequested(interaction=self._interaction, reason=reason))

    def _on_stop(self, ev: StopRequested) -> None:
        if self.speaker is not None:
            self.speaker.stop()
        with self._lock:
            self._follow_up = False

    def _on_nlu_restarting(self, ev: NLURestarting) -> None:
        # The Rasa sidecar died and is restarting: tell the user instead of going silent.
        if self.speaker is not None:
            self.speaker.say(ONE_MOMENT, interaction=ev.interaction or self._interaction)

    def _on_announcement(self, ev: Announcement) -> None:
        # Skills speaking outside a dialogue turn (a timer firing): the one Reply of it is
        # published here, as its own interaction when the assistant is idle, else queued.
        self._pending_replies.put(ev)
        if self.state == State.IDLE:
            self._speak_pending()

    def _speak_pending(self) -> None:
        while True:
            try:
                ev = self._pending_replies.get_nowait()
            except queue.Empty:
                return
            interaction = self._begin_interaction(ev.source or "skill")
            self._results_by_id[interaction].reply = ev.text
            self.bus.publish(Reply(interaction=interaction, text=ev.text, source=ev.source))
            self._set_state(State.SPEAKING)
            self.speaker.say(ev.text, interaction=interaction)

    def _on_playback_finished(self, ev: PlaybackFinished) -> None:
        with self._lock:
            current = ev.interaction == self._interaction and self.state == State.SPEAKING
            follow_up = self._follow_up and not ev.interrupted
        if not current:
            return
        self._finish_interaction(ev.interaction, "interrupted" if ev.interrupted else "done")
        if follow_up:
            self._listen_request = "follow_up"
            self._set_state(State.IDLE)
        else:
            self._set_state(State.IDLE)
            self._speak_pending()

    def apply_settings(self, settings: Settings) -> None:
        """Apply new settings live where possible (voice, speed, volume, wake word, VAD).
        ASR model changes take effect on the next :meth:`start`."""
        old, self.settings = self.settings, settings.model_copy(deep=True)
        if self.tts is not None and (settings.tts.voice != old.tts.voice):
            from assistant.tts import PiperTTS

            self.tts = PiperTTS(settings.tts.voice, speed=settings.tts.speed, volume=settings.tts.volume)
            self.speaker.set_voice(self.tts)
        elif self.tts is not None:
            self.tts.set_speed(settings.tts.speed)
            self.tts.set_volume(settings.tts.volume)
        if self.wake is not None and settings.wake != old.wake:
            from assistant.wake import WakeWordDetector

            self.wake = WakeWordDetector(settings.wake.model, threshold=settings.wake.threshold,
                                         trigger_frames=settings.wake.trigger_frames,
                                         refractory_s=settings.wake.refractory_s)
        self.use_wake_word = settings.wake.enabled

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
        if self.speaker is not None and self.speaker.is_speaking:
            self.stop("new request")
        interaction = self._begin_interaction("text")
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
        """Wait until no interaction is in progress and the voice is silent.
        Returns False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._turn_thread is not None and self._turn_thread.is_alive():
                self._turn_thread.join(max(0.0, deadline - time.monotonic()))
                continue
            if self.speaker is not None and self.speaker.is_speaking:
                self.speaker.wait(max(0.0, deadline - time.monotonic()))
                continue
            if not self._interaction or self.state == State.IDLE and not self._follow_up:
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ the turn
    def _run_turn(self, interaction: str, *, text: str | None = None, audio_q: queue.Queue | None = None) -> None:
        """Final transcript (or typed text) → Rasa → reply. Runs on the turn worker thread
        for audio, on the caller's thread for text."""
        result = self._results_by_id.get(interaction) or TurnResult(interaction)
        try:
            if text is None:
                assert audio_q is not None
                text = self._transcribe_stream(interaction, audio_q)
                if text is None:  # cancelled
                    self._set_state(State.IDLE)
                    self._finish_interaction(interaction, "cancelled")
                    return
            result.transcript = text
            if not any(ch.isalnum() for ch in text):
                # Nothing, or no letters/digits at all ("🙂", "👍", "..."): not a command.
                # Rasa would still pick its likeliest intent for it (an emoji came out as "stop").
                with self._lock:
                    self._follow_up = False
                self._say(interaction, result, DIDNT_UNDERSTAND if audio_q is None and text.strip() else DIDNT_CATCH,
                          expects_answer=False)
                return
            self._set_state(State.UNDERSTANDING)
            if self.nlu is None:
                raise NLUError("The language engine is not running.", "Start the assistant with skills enabled.")
            dialogue = self.nlu.message(self.sender_id, text, interaction=interaction)
            result.intent, result.confidence = dialogue.intent, dialogue.confidence
            result.entities = list(dialogue.entities)
            self.bus.publish(IntentRecognized(interaction=interaction, intent=dialogue.intent,
                                              confidence=dialogue.confidence,
                                              entities=tuple(dict(e) for e in dialogue.entities), text=text))
            reply = " ".join(r.strip() for r in dialogue.replies if r and r.strip())
            self._say(interaction, result, reply, expects_answer=dialogue.expects_answer)
            if not dialogue.expects_answer and dialogue.active_loop is None:
                # The dialogue is over: drop its history in Rasa, which otherwise sends the
                # whole conversation with every action call (turns get slowly heavier).
                try:
                    self.nlu.forget(self.sender_id)
                except AssistantError as exc:
                    log.warning("could not reset the conversation: %s", exc)
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
        result.reply, result.expects_answer = reply, expects_answer
        with self._lock:
            if interaction != self._interaction:  # interrupted meanwhile (barge-in / stop)
                return
            self._follow_up = expects_answer
        if not reply:
            self._set_state(State.IDLE)
            self._finish_interaction(interaction, "done")
            return
        self.bus.publish(Reply(interaction=interaction, text=reply, expects_answer=expects_answer))
        self._set_state(State.SPEAKING)
        self.speaker.say(reply, interaction=interaction)

    def _transcribe_stream(self, interaction: str, audio_q: queue.Queue) -> str | None:
        """Consume utterance blocks from ``audio_q`` (int16 16 kHz; ``None`` = endpoint,
        ``False`` = cancelled), publish partials, return the final transcript."""
        from assistant.asr import StreamingTranscriber

        s = self.settings.asr
        streamer = StreamingTranscriber(self.asr, interval_s=s.partial_interval_s, hotwords=self._hotwords or None)
        next_partial_at = 0.0
        while True:
            try:
                item = audio_q.get(timeout=0.05)
            except queue.Empty:
                item = ...
            if item is False:
                return None
            if item is None:
                # drain anything queued before the endpoint marker was processed
                t0 = time.monotonic()
                final = streamer.finish()
                decode_ms = getattr(final, "decode_ms", (time.monotonic() - t0) * 1000)
                self.bus.publish(FinalTranscript(interaction=interaction, text=final.text,
                                                 audio_seconds=getattr(final, "audio_seconds", 0.0),
                                                 decode_ms=decode_ms))
                return final.text
            if item is SPECULATE:
                partial = streamer.maybe_partial(force=True)
                if partial is not None and s.partials:
                    committed, pending = partial
                    self.bus.publish(PartialTranscript(interaction=interaction, committed=committed, pending=pending))
                continue
            if item is not ...:
                streamer.add(item)
                # take everything already queued before decoding again
                while True:
                    try:
                        nxt = audio_q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None or nxt is False or nxt is SPECULATE:
                        audio_q.queue.appendleft(nxt)  # type: ignore[attr-defined]
                        break
                    streamer.add(nxt)
            if s.partials and time.monotonic() >= next_partial_at:
                t0 = time.monotonic()
                partial = streamer.maybe_partial()
                if partial is not None:
                    # Leave the CPU idle for as long as the decode took (≤ 50 % duty cycle),
                    # so the speculative final decode at the first trailing silence can start
                    # at once instead of queueing behind partials.
                    next_partial_at = time.monotonic() + (time.monotonic() - t0)
                    committed, pending = partial
                    self.bus.publish(PartialTranscript(interaction=interaction, committed=committed, pending=pending))

    # ------------------------------------------------------------------ audio loop
    def run(self, source, *, push_to_talk: bool = False, sync_turns: bool = False,
            max_interactions: int | None = None, stop_event: threading.Event | None = None) -> list[TurnResult]:
        """Run the pipeline on an audio source until it ends or ``stop_event`` is set.

        Args:
            source: an :class:`~assistant.audio.AudioSource` (16 kHz int16 blocks).
            push_to_talk: start listening at once (no wake word) — and, for a file, after
                every reply, so each utterance of the recording is a command.
            sync_turns: wait for each turn's reply before reading on (recordings).
            max_interactions: stop after this many finished interactions.
            stop_event: set it from another thread to stop.
        Returns:
            The :class:`TurnResult` of every interaction of this run, in order.

        Raises:
            DeviceError: the microphone failed or disappeared.
        """
        from assistant.vad import Endpointer

        stop_event = stop_event or self._stop_audio
        vs = self.settings.vad
        endpointer = Endpointer(self.vad, threshold=vs.threshold, end_silence_ms=vs.end_silence_ms,
                                start_timeout_s=vs.start_timeout_s, max_utterance_s=vs.max_utterance_s)
        first_result = len(self.results)
        if push_to_talk:
            self._listen_request = "push_to_talk"
        audio_q: queue.Queue | None = None
        listening_interaction = listening_trigger = ""
        held: list[np.ndarray] = []
        speculating = False
        last_level = 0.0
        recent: list[np.ndarray] = []  # audio while not listening, for WAKE_PRE_ROLL_S
        recent_samples = 0

        def end_of_speech(ev) -> None:  # the endpoint (VAD or user): hand the utterance over
            nonlocal audio_q
            self.bus.publish(SpeechEnded(interaction=listening_interaction, audio_time=ev.audio_time,
                                         silence_ms=ev.silence_ms, timeout=ev.timeout, by_user=ev.forced))
            if ev.timeout and not endpointer.had_speech:
                audio_q.put(False)
                with self._lock:
                    self._follow_up = False
            else:
                audio_q.put(None)
            self._set_state(State.UNDERSTANDING)
            audio_q = None
            if self.wake is not None:
                self.wake.reset()
            if sync_turns:
                self._turn_thread.join()
                self.wait_idle()
                if push_to_talk and self._listen_request is None:
                    self._listen_request = "push_to_talk"

        for block in source.blocks():
            if stop_event.is_set():
                break
            now = time.monotonic()
            if now - last_level > 0.05:
                last_level = now
                from assistant.audio import dbfs

                self.bus.publish(AudioLevel(dbfs=dbfs(block)))
            trigger = self._listen_request
            if self.state != State.LISTENING:
                recent.append(block)
                recent_samples += len(block)
                while recent and recent_samples - len(recent[0]) >= WAKE_PRE_ROLL_S * SAMPLE_RATE:
                    recent_samples -= len(recent.pop(0))
            if trigger is None and self.state != State.LISTENING and self.wake is not None and self.use_wake_word:
                det = self.wake.process(block)
                if det is not None:
                    trigger = "wake"
                    wake_event = det
            if trigger is not None and self.state != State.LISTENING:
                self._listen_request = None
                self._end_request = False  # a release before this listening began is stale
                if self.speaker is not None and self.speaker.is_speaking and trigger != "follow_up":
                    self.stop("barge-in")
                    if self.speaker is not None:
                        self.speaker.wait(1.0)
                if self._turn_thread is not None and self._turn_thread.is_alive() and trigger != "follow_up":
                    with self._lock:
                        self._interaction = ""  # the old turn's reply will be dropped
                listening_interaction = self._begin_interaction(trigger)
                listening_trigger = trigger
                if trigger == "wake":
                    self.bus.publish(WakeWordDetected(interaction=listening_interaction, model=wake_event.model,
                                                      score=float(wake_event.score), audio_time=float(wake_event.audio_time)))
                endpointer.reset()
                held, speculating = [], False
                audio_q = queue.Queue()
                self._set_state(State.LISTENING)
                self._turn_audio = audio_q
                self._turn_thread = threading.Thread(target=self._run_turn, name="turn",
                                                     kwargs={"interaction": listening_interaction, "audio_q": audio_q},
                                                     daemon=True)
                self._turn_thread.start()
                # The block that started listening belongs to the utterance (a recording or
                # an answer that starts at once); after a wake word, so does the audio just
                # before the detection (see WAKE_PRE_ROLL_S).
                if trigger == "wake":
                    block = np.concatenate(recent)[-int(WAKE_PRE_ROLL_S * SAMPLE_RATE):]
                recent, recent_samples = [], 0
            if self.state == State.LISTENING and audio_q is not None:
                speech_before = endpointer.in_speech
                for ev in endpointer.process(block):
                    if ev.kind == "speech_start":
                        self.bus.publish(SpeechStarted(interaction=listening_interaction, audio_time=ev.audio_time))
                        audio_q.put(endpointer.utterance())
                    elif ev.kind == "speech_end":
                        end_of_speech(ev)
                        break
                else:
                    if speech_before and audio_q is not None:
                        if endpointer.silence_ms >= SPECULATE_AFTER_MS:
                            # Trailing silence: hold it back and let the worker decode what
                            # was said now, so the final transcript is ready at the endpoint.
                            held.append(block)
                            if not speculating:
                                audio_q.put(SPECULATE)
                                speculating = True
                        else:
                            for b in held:  # speech resumed: the held audio belongs to it
                                audio_q.put(b)
                            held.clear()
                            speculating = False
                            audio_q.put(block)
                if self._end_request and audio_q is not None:  # push-to-talk released
                    self._end_request = False
                    for ev in endpointer.end_now():
                        end_of_speech(ev)
            if max_interactions is not None and len(self.results) - first_result >= max_interactions:
                break
        else:
            # Source ended: close an open utterance so nothing said is lost. If nothing was
            # said yet, drop this listening interaction silently and, for a follow-up, keep
            # waiting for the answer in the next source (the next recording of a dialogue).
            if audio_q is not None:
                if endpointer.had_speech:
                    audio_q.put(None)
                    self._set_state(State.UNDERSTANDING)
                else:
                    with self._lock:
                        self._discard.add(listening_interaction)
                    audio_q.put(False)
                    self._turn_thread.join()
                    if listening_trigger == "follow_up":
                        with self._lock:
                            self._follow_up = True
                        self._listen_request = "follow_up"
        self.wait_idle()
        with self._finished:
            return list(self.results[first_result:])

    def process_file(self, path: str | Path, *, push_to_talk: bool = False) -> list[TurnResult]:
        """Run a recording (any common format and rate) through the same pipeline as the
        microphone. Raises :class:`~assistant.errors.AudioInputError` for unreadable files."""
        from assistant.audio import FileSource

        source = FileSource(path, block_ms=self.settings.audio.block_ms, realtime=False,
                            pad_silence_s=max(1.5, self.settings.vad.end_silence_ms / 1000 + 0.8))
        try:
            return self.run(source, push_to_talk=push_to_talk, sync_turns=True)
        finally:
            source.close()


def latency_line(result: TurnResult) -> str:
    """The CLI's one-line latency summary for a turn."""
    return result.trace.summary() if result.trace is not None else "no trace"


def iter_results(results: Iterable[TurnResult]) -> Iterable[str]:
    """Human-readable lines for each turn (transcript, intent, entities, reply, latency)."""
    for r in results:
        yield f"transcript: {r.transcript}"
        if r.intent:
            ents = ", ".join(f"{e.get('entity')}={e.get('value')!r}" for e in r.entities) or "none"
            yield f"intent:     {r.intent} ({r.confidence:.2f})  entities: {ents}"
        yield f"reply:      {r.reply}"
        if r.error:
            yield f"error:      {r.error}"
        yield f"latency:    {latency_line(r)}"
