"""Timers and alarms: "set a pasta timer for eight minutes", "what timers do I have",
"cancel the tea timer", "set an alarm for 7 am", "cancel my alarm".

Timers: without a duration, the form ``set_form`` asks "For how long?" and the answer fills
the ``duration`` slot (a real multi-turn Rasa form; the answer is checked by
:func:`validate_duration`). Several timers may run at once; a name ("pasta", "tea") tells
them apart and a new timer with the name of a running one replaces it. Timers are
:class:`~assistant.skills.TimerHandle`\\ s on the skill host; when one fires the host
publishes "Your pasta timer is done." as a ``Reply(source="skill:timer")``.

"Cancel the timer" with several running asks which one (``ctx.ask(..., then=...)``).

Alarms ("wake me up at 6:30", "set an alarm for 7 am") fire at a clock time; without a
time the skill asks "For what time?". Alarms are kept in ``<data_dir>/skills/timer/alarms.json``
and scheduled again when the assistant starts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from typing import Any

from rasa_sdk.events import SlotSet

from assistant.private_files import write_private  # atomic, mode 0600 (private data)
from assistant.skills import ActionContext, Skill, duration_adjective, format_duration, parse_duration
from assistant.skills.sdk import SkillContext
from assistant.skills.when import parse_when, spoken_clock, spoken_when

skill = Skill.from_package(__name__)

ALARM = "alarm"


def _seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    if isinstance(value, list):  # a list slot value: take the first that parses
        return next((s for s in (_seconds(v) for v in value) if s), None)
    return parse_duration(str(value)) if value is not None else None


def _what(t) -> str:
    """"pasta timer", "5 minute timer" or "7 AM alarm" for a handle."""
    if t.data.get("kind") == ALARM:
        return f"{spoken_clock(dt.datetime.fromtimestamp(t.data['at']))} alarm"
    if t.label:
        return f"{t.label} timer"
    return f"{duration_adjective(t.data.get('seconds', t.delay_s))} timer"


def _timers(ctx: SkillContext) -> list:
    return [t for t in ctx.timers() if t.data.get("kind") != ALARM]


def _alarms(ctx: SkillContext) -> list:
    return [t for t in ctx.timers() if t.data.get("kind") == ALARM]


# ---------------------------------------------------------------------------- timers
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
    """Start the timer the form collected and confirm: "Pasta timer set for 8 minutes."."""
    seconds = _seconds(ctx.slot("duration"))
    name = ctx.slot("timer_name")
    name = str(name).strip().lower() if name else None
    reset = [SlotSet("duration", None), SlotSet("timer_name", None)]
    if seconds is None:
        ctx.say("Sorry, I didn't catch how long.")
        return reset
    replaced = ""
    if name:
        for t in _timers(ctx):
            if t.label == name and t.cancel():
                replaced = f" I replaced your old {name} timer."
    done = f"Your {name} timer is done." if name else f"Your {duration_adjective(seconds)} timer is done."
    ctx.speak_later(done, seconds, label=name or "", data={"seconds": seconds, "name": name})
    title = f"{name} timer" if name else "timer"
    ctx.say(f"{title.capitalize()} set for {format_duration(seconds)}.{replaced}")
    return reset


def _cancel(ctx: ActionContext, chosen: list) -> None:
    for t in chosen:
        t.cancel()
        if t.data.get("kind") == ALARM:
            _forget_alarm(ctx, t.data.get("id"))
    if len(chosen) == 1:
        ctx.say(f"Cancelled your {_what(chosen[0])}.")
    else:
        ctx.say(f"Cancelled {len(chosen)} {'alarms' if all(t.data.get('kind') == ALARM for t in chosen) else 'timers'}.")


def _named(handles: list, text: str) -> list:
    return [t for t in handles if t.label and re.search(rf"\b{re.escape(t.label)}\b", text.lower())]


@skill.action("cancel_timer")
def cancel_timer(ctx: ActionContext) -> list[dict]:
    """Cancel the named timer, the only one, every one ("all"), or ask which one. Said
    while "For how long?" waits for an answer, it drops that question."""
    text = ctx.text.lower()
    if (ctx.tracker.active_loop or {}).get("name") == skill.global_name("form", "set_form"):
        ctx.end_dialogue()
        ctx.say("Okay, no new timer.")
        return [SlotSet("timer_name", None), SlotSet("duration", None)]
    wants_alarm = bool(re.search(r"\balarms?\b", text))
    pool = _alarms(ctx) if wants_alarm else _timers(ctx)
    name = ctx.entity("timer_name")
    reset = [SlotSet("timer_name", None)]
    if not pool:
        ctx.say("You have no alarms set." if wants_alarm else "You have no timers running.")
        return reset
    if name:
        chosen = [t for t in pool if t.label == str(name).lower()]
        if not chosen:
            ctx.say(f"You have no {name} timer.")
            return reset
    elif len(pool) == 1 or re.search(r"\b(all|every|both)\b", text):
        chosen = pool
    else:
        chosen = _named(pool, text)
        if not chosen:
            names = [_what(t) for t in pool]
            ctx.ask(f"You have {len(pool)} {'alarms' if wants_alarm else 'timers'}: {_and(names)}. Which one?",
                    then=cancel_which, data={"alarm": wants_alarm})
            return reset
    _cancel(ctx, chosen)
    return reset


def cancel_which(ctx: ActionContext, answer: str) -> None:
    """The answer to "Which one?": a name, a duration, "the first one", or "all"."""
    pool = _alarms(ctx) if ctx.data.get("alarm") else _timers(ctx)
    text = answer.lower()
    if not pool:
        ctx.say("Those timers have already finished.")
        return
    if re.search(r"\b(all|every|both)\b", text):
        _cancel(ctx, pool)
        return
    chosen = _named(pool, text)
    if not chosen:
        seconds = parse_duration(text)
        chosen = [t for t in pool if seconds and abs(t.data.get("seconds", t.delay_s) - seconds) < 1]
    if not chosen:
        ordinals = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "last": -1}
        hit = next((i for w, i in ordinals.items() if re.search(rf"\b{w}\b", text)), None)
        if hit is not None and (hit < len(pool)):
            chosen = [pool[hit]]
    if not chosen:
        ctx.say("Sorry, I don't know which one you mean, so I left them running.")
        return
    _cancel(ctx, chosen[:1])


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@skill.action("timer_status")
def timer_status(ctx: ActionContext) -> None:
    """List every running timer with the time left, and the alarms."""
    timers, alarms = _timers(ctx), _alarms(ctx)
    if not timers and not alarms:
        ctx.say("You have no timers running.")
        return
    parts = [f"your {_what(t)} has {format_duration(t.remaining())} left" for t in timers]
    parts += [f"your alarm is set for {_alarm_when(t.data['at'])}" for t in alarms]
    text = "; ".join(parts)
    ctx.say(text[0].upper() + text[1:] + ".")


# ---------------------------------------------------------------------------- alarms
def _alarm_when(epoch: float) -> str:
    """"7 AM" (today), "tomorrow at 7 AM", "Monday at 7 AM"."""
    said = spoken_when(dt.datetime.fromtimestamp(epoch))
    return said[3:] if said.startswith("at ") else said[3:] if said.startswith("on ") else said


def _alarm_file(ctx: SkillContext):
    return ctx.data_dir() / "alarms.json"


def _load_alarms(ctx: SkillContext) -> list[dict]:
    try:
        data = json.loads(_alarm_file(ctx).read_text(encoding="utf-8"))
        return [a for a in data if isinstance(a, dict) and "at" in a and "id" in a]
    except (OSError, ValueError):
        return []


def _save_alarms(ctx: SkillContext, alarms: list[dict]) -> None:
    write_private(_alarm_file(ctx), json.dumps(alarms, indent=1), what="the alarms")


def _forget_alarm(ctx: SkillContext, alarm_id: str | None) -> None:
    if alarm_id:
        _save_alarms(ctx, [a for a in _load_alarms(ctx) if a["id"] != alarm_id])


def _arm(ctx: SkillContext, alarm: dict) -> None:
    at = dt.datetime.fromtimestamp(alarm["at"])

    def ring() -> None:
        _forget_alarm(ctx, alarm["id"])
        ctx.announce(f"Alarm: it's {spoken_clock(at)}.")

    ctx.schedule(max(0.0, alarm["at"] - time.time()), ring, label=ALARM,
                 data={"kind": ALARM, "at": alarm["at"], "id": alarm["id"]})


def _set_alarm_at(ctx: ActionContext, when) -> None:
    alarm = {"id": uuid.uuid4().hex[:12], "at": when.at.timestamp()}
    _save_alarms(ctx, [*_load_alarms(ctx), alarm])
    _arm(ctx, alarm)
    ctx.say(f"Alarm set for {_alarm_when(alarm['at'])}.")


@skill.action("set_alarm")
def set_alarm(ctx: ActionContext) -> None:
    """"Set an alarm for 7 am" / "wake me up at 6:30"; asks the time when it is missing."""
    when = parse_when(ctx.text)
    if when is None:
        ctx.ask("For what time?", then=alarm_time)
        return
    _set_alarm_at(ctx, when)


def alarm_time(ctx: ActionContext, answer: str) -> None:
    """The answer to "For what time?"."""
    when = parse_when(answer if re.search(r"\b(at|in|tomorrow|tonight|noon|midnight)\b", answer.lower())
                      else f"at {answer}")
    if when is None:
        ctx.say("Sorry, I didn't understand the time, so I set no alarm.")
        return
    _set_alarm_at(ctx, when)


@skill.on_load
def restore_alarms(ctx: SkillContext) -> None:
    """Schedule the saved alarms again; drop the ones that passed while the app was off."""
    now = time.time()
    alarms = _load_alarms(ctx)
    keep = [a for a in alarms if a["at"] > now]
    if len(keep) != len(alarms):
        _save_alarms(ctx, keep)
    for alarm in keep:
        _arm(ctx, alarm)
