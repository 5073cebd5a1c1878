"""Timer skill: "set a timer for five minutes", "cancel the timer", "how much time is left".

Without a duration, the form ``set_form`` asks "For how long?" and the answer fills the
``duration`` slot (a real multi-turn form; the answer is checked by
:func:`validate_duration`). Timers are :class:`~assistant.skills.TimerHandle`\\ s on the
skill host; when one fires the host publishes "Your 5 minute timer is done." as a
``Reply(source="skill:timer")``. Durations are parsed by
:func:`assistant.skills.parse_duration` and spoken with digits ("5 minutes").
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet

from assistant.skills import ActionContext, Skill, duration_adjective, format_duration, parse_duration

skill = Skill.from_package(__name__)


def _seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    if isinstance(value, list):  # a list slot value: take the first that parses
        return next((s for s in (_seconds(v) for v in value) if s), None)
    return parse_duration(str(value)) if value is not None else None


def _title(name: str | None) -> str:
    return f"{name} timer" if name else "timer"


@skill.validate("set_form", "duration")
def validate_duration(ctx: ActionContext, value: Any) -> float | None:
    """Keep the duration as seconds; reject (the form asks again) what does not parse or
    is longer than the ``max_hours`` setting.

    The whole utterance is parsed first: entity extractors may return overlapping pieces
    ("an hour and a half" and "an hour"), and the slot keeps only one of them.
    """
    seconds = parse_duration(ctx.text) or _seconds(value)
    if seconds is None:
        ctx.say("Sorry, I didn't catch how long.")
        return None
    if seconds > ctx.settings["max_hours"] * 3600:
        ctx.say(f"Sorry, timers can be at most {ctx.settings['max_hours']} hours.")
        return None
    return seconds


@skill.action("set_timer")
def set_timer(ctx: ActionContext) -> list[dict]:
    """Start the timer the form collected and confirm: "Timer set for 5 minutes."."""
    seconds = _seconds(ctx.slot("duration"))
    name = ctx.slot("timer_name")
    reset = [SlotSet("duration", None), SlotSet("timer_name", None)]
    if seconds is None:
        ctx.say("Sorry, I didn't catch how long.")
        return reset
    done = f"Your {name} timer is done." if name else f"Your {duration_adjective(seconds)} timer is done."
    ctx.speak_later(done, seconds, label=name or "", data={"seconds": seconds, "name": name})
    ctx.say(f"{_title(name).capitalize()} set for {format_duration(seconds)}.")
    return reset


@skill.action("cancel_timer")
def cancel_timer(ctx: ActionContext) -> list[dict]:
    """Cancel the named timer, the only one, or all of them."""
    timers = ctx.timers()
    name = ctx.entity("timer_name")
    if not timers:
        ctx.say("You have no timers running.")
        return [SlotSet("timer_name", None)]
    if name:
        chosen = [t for t in timers if t.label.lower() == str(name).lower()]
        if not chosen:
            ctx.say(f"You have no {name} timer.")
            return [SlotSet("timer_name", None)]
    else:
        chosen = timers
    for t in chosen:
        t.cancel()
    if len(chosen) == 1:
        t = chosen[0]
        what = f"{t.label} timer" if t.label else f"{duration_adjective(t.data.get('seconds', t.delay_s))} timer"
        ctx.say(f"Cancelled your {what}.")
    else:
        ctx.say(f"Cancelled {len(chosen)} timers.")
    return [SlotSet("timer_name", None)]


@skill.action("timer_status")
def timer_status(ctx: ActionContext) -> None:
    """Say how long is left on each running timer."""
    timers = ctx.timers()
    if not timers:
        ctx.say("You have no timers running.")
        return
    parts = []
    for t in timers:
        what = f"{t.label} timer" if t.label else f"{duration_adjective(t.data.get('seconds', t.delay_s))} timer"
        parts.append(f"your {what} has {format_duration(t.remaining())} left")
    text = "; ".join(parts)
    ctx.say(text[0].upper() + text[1:] + ".")
