"""The engine's one state machine: states × triggers → next state, in one table.

Every change of :class:`~assistant.events.State` goes through :meth:`StateMachine.fire`.
Any thread may fire a trigger (the audio thread on a wake word or an endpoint, the turn
worker when a reply is ready, the speaker's thread when playback ends, the UI's thread on
the hotkey); one *owner thread* applies them in order and publishes
:class:`~assistant.events.StateChanged` on the bus, so subscribers see transitions in the
order they happened. The machine also keeps the small state that used to hide in flags:
the interaction in progress, the pending request to start listening (hotkey, push-to-talk,
follow-up) and whether the reply being spoken expects an answer.

The table (``—`` = illegal: :class:`IllegalTransition`; ``=`` = stays, no event)::

    trigger \\ state   idle           listening      understanding  speaking       dictating
    WAKE_WORD          listening      =              listening (1)  listening (2)  —
    HOTKEY             listening      =              listening (1)  listening (2)  —
    PUSH_TO_TALK       listening      =              listening (1)  listening (2)  —
    FOLLOW_UP          listening      —              —              —              —
    TEXT               understanding  understanding  understanding  understanding (2) —
    ENDPOINT           —              understanding  —              —              —
    EARLY_END          —              understanding  —              —              —
    CANCEL             —              idle           idle           —              —
    REPLY              —              —              speaking       —              —
    ANNOUNCE           speaking       = (4)          = (4)          = (4)          = (4)
    NO_REPLY           —              —              idle           —              —
    PLAYBACK_DONE      —              —              —              idle (3)       —
    DICTATE            dictating      dictating (1)  dictating (5)  dictating (2)  =
    STOP_DICTATION     —              —              —              —              idle

    (1) the unfinished turn is abandoned: its reply is dropped (a new interaction begins).
    (2) barge-in: the voice stops at once and the new interaction begins.
    (3) if the reply expected an answer and was not interrupted, a FOLLOW_UP request is
        left pending: the audio loop starts listening for the answer on its next block.
    (4) the announcement waits: it is spoken when the engine is next idle.
    (5) "start dictation" was said: the turn that understood it fires DICTATE itself;
        from any other turn, as (1).

Dictation (issue 11) is a mode, not an interaction: entering DICTATING ends the
interaction in progress (its id becomes ""; its later triggers are stale) and drops a
pending listen request. While dictating the audio loop feeds the dictation session instead
of the wake word and the endpointer, so the listen triggers never fire there; a typed
request first stops dictation (:meth:`assistant.pipeline.Assistant.handle_text`).

Triggers that begin an interaction (the listen triggers, TEXT, ANNOUNCE) carry its new id;
the others carry the id of the interaction they belong to, and a trigger whose interaction
is no longer the current one (a reply of an abandoned turn, a playback that a barge-in
already ended) is *stale*: it is dropped without a transition.

A new mode is a new :class:`State` plus its rows here, as dictation's;
``docs/architecture.md`` walks through it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum

from assistant.events import EventBus, State, StateChanged

log = logging.getLogger(__name__)


class Trigger(str, Enum):
    """What can happen to the engine. The values name the ``InteractionStarted.trigger`` of
    the triggers that begin an interaction."""

    WAKE_WORD = "wake"  # openWakeWord fired on the microphone
    HOTKEY = "hotkey"  # listen(): hotkey, mic button, tray, --listen
    PUSH_TO_TALK = "push_to_talk"  # listening starts with the source (recordings, --push-to-talk)
    FOLLOW_UP = "follow_up"  # the reply asked a question: listen for the answer
    TEXT = "text"  # a typed request
    ENDPOINT = "endpoint"  # end of speech (VAD silence, push-to-talk released, source ended)
    EARLY_END = "early_end"  # a complete command and a short silence (semantic endpointing)
    CANCEL = "cancel"  # nothing was said, or the turn was cancelled
    REPLY = "reply"  # the turn has a reply to speak
    ANNOUNCE = "announce"  # a skill speaks on its own (a timer fired)
    NO_REPLY = "no_reply"  # the turn ended without anything to say
    PLAYBACK_DONE = "playback_done"  # the voice finished (or was interrupted)
    DICTATE = "dictate"  # dictation mode on: hotkey, tray, "start dictation", `assistant dictate`
    STOP_DICTATION = "stop_dictation"  # dictation mode off: hotkey, "stop dictation", silence


#: The triggers that start listening (rows of the table that lead to LISTENING).
LISTEN_TRIGGERS = frozenset({Trigger.WAKE_WORD, Trigger.HOTKEY, Trigger.PUSH_TO_TALK, Trigger.FOLLOW_UP})
#: The triggers that begin a new interaction.
STARTS_INTERACTION = LISTEN_TRIGGERS | {Trigger.TEXT, Trigger.ANNOUNCE}

_I, _L, _U, _S, _D = State.IDLE, State.LISTENING, State.UNDERSTANDING, State.SPEAKING, State.DICTATING
#: ``(state, trigger) → next state``. A pair that is missing is illegal. A pair mapping to
#: the same state is allowed and publishes nothing.
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    **{(s, t): _L for t in (Trigger.WAKE_WORD, Trigger.HOTKEY, Trigger.PUSH_TO_TALK) for s in (_I, _U, _S)},
    **{(_L, t): _L for t in (Trigger.WAKE_WORD, Trigger.HOTKEY, Trigger.PUSH_TO_TALK)},
    (_I, Trigger.FOLLOW_UP): _L,
    **{(s, Trigger.TEXT): _U for s in (_I, _L, _U, _S)},
    (_L, Trigger.ENDPOINT): _U,
    (_L, Trigger.EARLY_END): _U,
    (_L, Trigger.CANCEL): _I,
    (_U, Trigger.CANCEL): _I,
    (_U, Trigger.REPLY): _S,
    (_I, Trigger.ANNOUNCE): _S,
    **{(s, Trigger.ANNOUNCE): s for s in (_L, _U, _S, _D)},
    (_U, Trigger.NO_REPLY): _I,
    (_S, Trigger.PLAYBACK_DONE): _I,
    **{(s, Trigger.DICTATE): _D for s in (_I, _L, _U, _S, _D)},
    (_D, Trigger.STOP_DICTATION): _I,
}


#: Every illegal (state, trigger) pair met by any machine in this process, in order: a
#: strict machine raises on the firing thread, where a worker may swallow it, so the test
#: suite also checks this list after every test (tests/conftest.py).
ILLEGAL_SEEN: list[tuple[State, "Trigger"]] = []


class IllegalTransition(RuntimeError):
    """A trigger fired in a state whose table row has no entry for it (a bug in the engine).
    Raised when the machine is strict (the test suite sets ``ASSISTANT_STRICT_STATES=1``);
    otherwise logged, and the trigger is ignored."""


@dataclass(frozen=True)
class Transition:
    """One applied transition: ``previous --trigger--> state`` for ``interaction``."""

    previous: State
    trigger: Trigger
    state: State
    interaction: str


def next_state(state: State, trigger: Trigger) -> State:
    """The table lookup, pure: the state after ``trigger`` in ``state``.

    Raises:
        IllegalTransition: the pair is not in :data:`TRANSITIONS`.
    """
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransition(f"{trigger.name} is not allowed in state {state.name}") from None


class StateMachine:
    """Holds the engine's state and applies triggers on its owner thread.

    Args:
        bus: where :class:`StateChanged` is published (on the owner thread).
        strict: raise :class:`IllegalTransition` to the firing thread; default from the
            environment variable ``ASSISTANT_STRICT_STATES`` ("1" in the test suite). When
            not strict an illegal trigger is logged and ignored: the assistant keeps running.
    """

    def __init__(self, bus: EventBus | None = None, *, strict: bool | None = None) -> None:
        self.bus = bus
        self.strict = os.environ.get("ASSISTANT_STRICT_STATES") == "1" if strict is None else strict
        self._state = State.IDLE
        self._interaction = ""
        self._request: Trigger | None = None
        self._request_source = ""
        self._end_requested = False
        self._expects_answer = False
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._owner = threading.Thread(target=self._loop, name="state-machine", daemon=True)
        self._owner.start()

    # ---------------------------------------------------------------- reading
    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def interaction(self) -> str:
        """Id of the interaction in progress ("" when idle: reaching IDLE ends it)."""
        return self._interaction

    @property
    def expects_answer(self) -> bool:
        """The reply being spoken (or just spoken) asked a question."""
        return self._expects_answer

    @property
    def pending_request(self) -> Trigger | None:
        """The listen trigger waiting for the audio loop (HOTKEY, PUSH_TO_TALK, FOLLOW_UP), if any."""
        return self._request

    # ---------------------------------------------------------------- requests (no transition yet)
    def request(self, trigger: Trigger, source: str = "") -> None:
        """Ask the audio loop to start listening on its next block (``listen()``,
        push-to-talk, follow-up). Only a listen trigger can be requested; a later request
        replaces an earlier one.

        Args:
            trigger: HOTKEY, PUSH_TO_TALK or FOLLOW_UP (WAKE_WORD is fired, not requested).
            source: who asked ("button", "tray", "shortcut"...): the ``trigger`` of the
                interaction's :class:`~assistant.events.InteractionStarted`; defaults to
                the trigger's value.
        Raises:
            ValueError: ``trigger`` does not start listening.
        """
        if trigger not in LISTEN_TRIGGERS:
            raise ValueError(f"{trigger.name} cannot be requested; only listen triggers can")
        with self._lock:
            self._request, self._request_source = trigger, source or trigger.value

    def take_request(self) -> tuple[Trigger, str] | None:
        """Return and clear the pending listen request as ``(trigger, source)`` (the audio
        loop calls it once per block)."""
        with self._lock:
            trigger, self._request = self._request, None
            return (trigger, self._request_source) if trigger is not None else None

    def request_end(self) -> None:
        """Ask the audio loop to end the utterance now (push-to-talk released); ignored
        unless listening."""
        with self._lock:
            self._end_requested = self._state is _L

    def take_end_request(self) -> bool:
        """Return and clear the end-of-utterance request."""
        with self._lock:
            requested, self._end_requested = self._end_requested, False
            return requested

    def clear_follow_up(self) -> None:
        """Forget that an answer is expected (stop, barge-in, a cancelled turn)."""
        with self._lock:
            self._expects_answer = False
            if self._request is Trigger.FOLLOW_UP:
                self._request = None

    # ---------------------------------------------------------------- transitions
    def fire(self, trigger: Trigger, interaction: str = "", *, expects_answer: bool = False,
             interrupted: bool = False) -> Transition | None:
        """Apply ``trigger`` (on the owner thread) and wait until it is applied and its
        :class:`StateChanged` published.

        Args:
            trigger: what happened.
            interaction: the new interaction's id for triggers that begin one, else the id
                of the interaction the trigger belongs to ("" = the current one).
            expects_answer: with REPLY: the reply asks a question (a form wants a slot).
            interrupted: with PLAYBACK_DONE: the voice was stopped (no follow-up then).
        Returns:
            The :class:`Transition`, or None when the trigger was stale (its interaction is
            no longer current) or illegal in a non-strict machine.
        Raises:
            IllegalTransition: strict machine, and the pair is not in the table.
        """
        job = (trigger, interaction, expects_answer, interrupted)
        if threading.current_thread() is self._owner:  # fired by a StateChanged subscriber
            return self._apply(*job)
        done: Future = Future()
        self._queue.put((job, done))
        return done.result()

    def close(self) -> None:
        """Stop the owner thread (pending triggers are applied first)."""
        self._queue.put(None)
        if threading.current_thread() is not self._owner:
            self._owner.join(5.0)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, done = item
            try:
                done.set_result(self._apply(*job))
            except BaseException as exc:  # noqa: BLE001 - handed to the firing thread
                done.set_exception(exc)

    def _apply(self, trigger: Trigger, interaction: str, expects_answer: bool,
               interrupted: bool) -> Transition | None:
        with self._lock:
            previous = self._state
            if trigger not in STARTS_INTERACTION and interaction and interaction != self._interaction:
                log.debug("stale %s for %s (current %s)", trigger.name, interaction, self._interaction or "none")
                return None
            try:
                state = next_state(previous, trigger)
            except IllegalTransition:
                ILLEGAL_SEEN.append((previous, trigger))
                if self.strict:
                    raise
                log.error("ignored: %s is not allowed in state %s", trigger.name, previous.name)
                return None
            if trigger in STARTS_INTERACTION and (state != previous or trigger is Trigger.TEXT):
                self._interaction = interaction
                self._expects_answer = False
            if trigger in LISTEN_TRIGGERS and state != previous:
                self._end_requested = False  # a release before this listening began is stale
            if trigger is Trigger.REPLY:
                self._expects_answer = expects_answer
            if trigger is Trigger.PLAYBACK_DONE:
                if self._expects_answer and not interrupted:
                    self._request, self._request_source = Trigger.FOLLOW_UP, Trigger.FOLLOW_UP.value
                self._expects_answer = False
            if state is _I and trigger is not Trigger.PLAYBACK_DONE:
                self._expects_answer = False
            if state is _D:  # a mode, not an interaction: whatever was going on is over
                self._interaction, self._expects_answer, self._request = "", False, None
            self._state = state
            current = self._interaction
            if state in (_I, _D):  # the interaction is over (a follow-up begins a new one)
                self._interaction = ""
        if state != previous and self.bus is not None:  # back to idle: outside any interaction
            self.bus.publish(StateChanged(interaction="" if state is _I else current, state=state, previous=previous))
        return Transition(previous=previous, trigger=trigger, state=state, interaction=current)
