"""The engine's state machine (assistant/machine.py), without audio or models: every
state × trigger pair, the owner thread, stale triggers, follow-up and requests."""

from __future__ import annotations

import threading

import pytest

from assistant.events import EventBus, State, StateChanged
from assistant.machine import (
    ILLEGAL_SEEN,
    LISTEN_TRIGGERS,
    STARTS_INTERACTION,
    TRANSITIONS,
    IllegalTransition,
    StateMachine,
    Trigger,
    next_state,
)

I, L, U, S, D = State.IDLE, State.LISTENING, State.UNDERSTANDING, State.SPEAKING, State.DICTATING
ILLEGAL = None
#: The expected table, written out by hand (rows: trigger; columns: idle, listening,
#: understanding, speaking, dictating). Kept separate from TRANSITIONS so a change to one shows.
EXPECTED = {
    Trigger.WAKE_WORD: (L, L, L, L, ILLEGAL),
    Trigger.HOTKEY: (L, L, L, L, ILLEGAL),
    Trigger.PUSH_TO_TALK: (L, L, L, L, ILLEGAL),
    Trigger.FOLLOW_UP: (L, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL),
    Trigger.TEXT: (U, U, U, U, ILLEGAL),
    Trigger.ENDPOINT: (ILLEGAL, U, ILLEGAL, ILLEGAL, ILLEGAL),
    Trigger.EARLY_END: (ILLEGAL, U, ILLEGAL, ILLEGAL, ILLEGAL),
    Trigger.CANCEL: (ILLEGAL, I, I, ILLEGAL, ILLEGAL),
    Trigger.REPLY: (ILLEGAL, ILLEGAL, S, ILLEGAL, ILLEGAL),
    Trigger.ANNOUNCE: (S, L, U, S, D),
    Trigger.NO_REPLY: (ILLEGAL, ILLEGAL, I, ILLEGAL, ILLEGAL),
    Trigger.PLAYBACK_DONE: (ILLEGAL, ILLEGAL, ILLEGAL, I, ILLEGAL),
    Trigger.DICTATE: (D, D, D, D, D),
    Trigger.STOP_DICTATION: (ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, I),
}
STATES = (I, L, U, S, D)


def test_expected_table_names_every_state_and_trigger():
    assert set(EXPECTED) == set(Trigger)
    assert set(State) == set(STATES)


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.name)
@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda t: t.name)
def test_every_state_and_trigger(state, trigger):
    """Each of the 5 × 13 pairs: the pure lookup and a live machine driven into ``state``
    agree with the hand-written table; illegal pairs raise on the firing thread."""
    expected = EXPECTED[trigger][STATES.index(state)]
    if expected is ILLEGAL:
        assert (state, trigger) not in TRANSITIONS
        with pytest.raises(IllegalTransition):
            next_state(state, trigger)
    else:
        assert next_state(state, trigger) is expected

    bus = EventBus()
    seen: list[StateChanged] = []
    machine = StateMachine(bus, strict=True)
    try:
        _drive_to(machine, state)
        bus.subscribe(seen.append, StateChanged)
        new_id = "new" if trigger in STARTS_INTERACTION else ""
        if expected is ILLEGAL:
            with pytest.raises(IllegalTransition):
                machine.fire(trigger, new_id)
            assert machine.state is state and not seen
            assert ILLEGAL_SEEN[-1] == (state, trigger)
        else:
            t = machine.fire(trigger, new_id)
            assert t is not None and (t.previous, t.trigger, t.state) == (state, trigger, expected)
            assert machine.state is expected
            assert [(e.previous, e.state) for e in seen] == ([(state, expected)] if expected is not state else [])
    finally:
        machine.close()
        ILLEGAL_SEEN.clear()


def _drive_to(machine: StateMachine, state: State) -> None:
    """Reach ``state`` by legal triggers, as the pipeline would, in interaction "old"."""
    if state is L:
        machine.fire(Trigger.HOTKEY, "old")
    elif state is U:
        machine.fire(Trigger.TEXT, "old")
    elif state is S:
        machine.fire(Trigger.TEXT, "old")
        machine.fire(Trigger.REPLY, "old")
    elif state is D:
        machine.fire(Trigger.DICTATE)
    assert machine.state is state


def test_non_strict_machine_ignores_an_illegal_trigger():
    machine = StateMachine(strict=False)
    try:
        assert machine.fire(Trigger.ENDPOINT) is None and machine.state is I
        assert ILLEGAL_SEEN == [(I, Trigger.ENDPOINT)]
    finally:
        machine.close()
        ILLEGAL_SEEN.clear()


def test_stale_trigger_of_an_abandoned_interaction_is_dropped():
    """Barge-in while understanding: the old turn's reply must not move the new listening."""
    machine = StateMachine(strict=True)
    try:
        machine.fire(Trigger.WAKE_WORD, "a")
        machine.fire(Trigger.ENDPOINT, "a")
        machine.fire(Trigger.HOTKEY, "b")  # barge-in: interaction b listens
        assert machine.fire(Trigger.REPLY, "a") is None
        assert machine.state is L and machine.interaction == "b"
    finally:
        machine.close()


def test_follow_up_is_requested_after_a_question_is_spoken():
    machine = StateMachine(strict=True)
    try:
        machine.fire(Trigger.TEXT, "a")
        machine.fire(Trigger.REPLY, "a", expects_answer=True)
        assert machine.expects_answer
        machine.fire(Trigger.PLAYBACK_DONE, "a")
        assert machine.state is I and machine.interaction == ""
        assert machine.take_request() == (Trigger.FOLLOW_UP, "follow_up")
        assert machine.fire(Trigger.FOLLOW_UP, "b").state is L
        # an interrupted question asks nothing
        machine.fire(Trigger.ENDPOINT, "b")
        machine.fire(Trigger.REPLY, "b", expects_answer=True)
        machine.fire(Trigger.PLAYBACK_DONE, "b", interrupted=True)
        assert machine.pending_request is None
    finally:
        machine.close()


def test_requests_only_for_listen_triggers_and_end_only_while_listening():
    machine = StateMachine(strict=True)
    try:
        with pytest.raises(ValueError):
            machine.request(Trigger.REPLY)
        machine.request(Trigger.HOTKEY, "tray")
        assert machine.take_request() == (Trigger.HOTKEY, "tray") and machine.take_request() is None
        machine.request_end()
        assert not machine.take_end_request()  # idle: a release means nothing
        machine.fire(Trigger.PUSH_TO_TALK, "a")
        machine.request_end()
        assert machine.take_end_request() and not machine.take_end_request()
        assert all(t in LISTEN_TRIGGERS for t in (Trigger.WAKE_WORD, Trigger.FOLLOW_UP))
    finally:
        machine.close()


def test_owner_thread_applies_triggers_in_order_from_many_threads():
    """Triggers fired from several threads are applied one at a time on the owner thread,
    and StateChanged arrives there in the order the transitions happened."""
    bus = EventBus()
    events: list[tuple[str, State]] = []
    bus.subscribe(lambda e: events.append((threading.current_thread().name, e.state)), StateChanged)
    machine = StateMachine(bus, strict=False)
    try:
        def worker(n: int) -> None:
            for k in range(50):
                machine.fire(Trigger.TEXT, f"{n}-{k}")
                machine.fire(Trigger.NO_REPLY)
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {name for name, _ in events} == {"state-machine"}
        states = [s for _, s in events]
        assert all(a != b for a, b in zip(states, states[1:]))  # each event is a real change
        assert machine.state in (I, U)
    finally:
        machine.close()
        ILLEGAL_SEEN.clear()


def test_dictating_is_a_mode_that_ends_the_interaction_in_progress():
    """DICTATE from a listening turn: the interaction ends (its later triggers are stale),
    a pending listen request is dropped, StateChanged carries no interaction (nothing
    dictated is traced), and STOP_DICTATION returns to idle."""
    bus = EventBus()
    seen: list[StateChanged] = []
    bus.subscribe(seen.append, StateChanged)
    machine = StateMachine(bus, strict=True)
    try:
        machine.fire(Trigger.HOTKEY, "old")
        machine.request(Trigger.HOTKEY, "button")
        assert machine.fire(Trigger.DICTATE) is not None
        assert machine.state is D and machine.interaction == "" and machine.pending_request is None
        assert seen[-1].state is D and seen[-1].interaction == ""
        assert machine.fire(Trigger.ENDPOINT, "old") is None  # stale: the turn was abandoned
        assert machine.fire(Trigger.ANNOUNCE, "timer").state is D  # waits for idle
        assert machine.fire(Trigger.STOP_DICTATION).state is I
    finally:
        machine.close()
