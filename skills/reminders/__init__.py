"""Reminders: "remind me to call mum at 6 pm" → at 18:00 the assistant says "Reminder: call
your mum.". Kept in ``<data_dir>/skills/reminders/reminders.json``, so they survive a
restart: ``@skill.on_load`` schedules them again (and announces those that fell due while
the assistant was off, if the ``announce_missed`` setting is on).

Without a time ("remind me to call mum") the form ``reminder_form`` asks "When should I
remind you?"; without a task ("set a reminder") it asks "What should I remind you about?".
Times are parsed by :func:`assistant.skills.when.parse_when`.

The file is private (mode ``0600``, folder ``0700``) and written atomically
(:func:`assistant.private_files.write_private`); if it cannot be written (disk full) the
reminder is not set and the assistant says why.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
import uuid

from rasa_sdk.events import SlotSet

from assistant.private_files import PrivateWriteError, write_private
from assistant.skills import ActionContext, Skill
from assistant.skills.sdk import SkillContext
from assistant.skills.when import normalize, parse_when, spoken_when

skill = Skill.from_package(__name__)
log = logging.getLogger(__name__)

_lock = threading.Lock()
_TRIGGER = re.compile(
    r"^(?:(?:hey|ok|okay|so|um|uh|please|can you|could you|would you|will you|i need|i want|you need to|don't let me forget)\s+)*"
    r"(?:(?:please\s+)?(?:remind me|set (?:up )?(?:a |an )?reminder|create (?:a )?reminder|add (?:a )?reminder|"
    r"make (?:a )?reminder|new reminder|a reminder|reminder|don't let me forget)\b)?"
    r"(?:\s+(?:to|that|about|for|of|me to))?\s*")
_PRONOUNS = {"my": "your", "me": "you", "i": "you", "myself": "yourself", "mine": "yours", "i'm": "you're",
             "am": "are", "your": "my", "you": "me"}


def task_from(text: str) -> str:
    """What to be reminded of, from a request or an answer: ``"remind me to call mum"`` →
    ``"call mum"`` (time expressions must be removed before)."""
    t = " ".join(text.split()).strip(" .,!?")
    t = _TRIGGER.sub("", t, count=1)
    t = re.sub(r"^(?:to|that|about)\s+", "", t)
    t = re.sub(r"\s+(?:please|thanks|thank you)$", "", t)
    return t.strip(" .,!?")


def spoken_task(task: str) -> str:
    """The task as the assistant says it: "call my mum" → "call your mum"."""
    return " ".join(_PRONOUNS.get(w, w) for w in task.split())


def remind_phrase(task: str) -> str:
    """"to call your mum" or, for a thing rather than a deed, "about the dentist"."""
    first = task.split()[0].lower() if task.split() else ""
    prep = "about" if first in {"the", "a", "an", "my", "your", "our", "his", "her", "their", "this", "that"} else "to"
    return f"{prep} {spoken_task(task)}"


# ---------------------------------------------------------------------------- storage
def _file(ctx: SkillContext):
    return ctx.data_dir() / "reminders.json"


def load(ctx: SkillContext) -> list[dict]:
    """The saved reminders: ``[{"id", "task", "at" (epoch seconds), "created"}]``."""
    try:
        data = json.loads(_file(ctx).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict) and {"id", "task", "at"} <= set(r)]


def save(ctx: SkillContext, reminders: list[dict]) -> None:
    """Write the reminders atomically, mode 0600.

    Raises:
        PrivateWriteError: the file could not be written (disk full...); it is unchanged.
    """
    write_private(_file(ctx), json.dumps(sorted(reminders, key=lambda r: r["at"]), indent=1),
                  what="the reminders")


def _remove(ctx: SkillContext, ids: set[str]) -> None:
    with _lock:
        try:
            save(ctx, [r for r in load(ctx) if r["id"] not in ids])
        except PrivateWriteError as exc:  # the reminder still fires/cancels in memory
            log.warning("%s %s", exc.message, exc.hint)


def _arm(ctx: SkillContext, reminder: dict) -> None:
    def fire() -> None:
        _remove(ctx, {reminder["id"]})
        ctx.announce(f"Reminder: {spoken_task(reminder['task'])}.")

    ctx.schedule(max(0.0, reminder["at"] - time.time()), fire, label=reminder["task"], data={"id": reminder["id"]})


@skill.on_load
def restore(ctx: SkillContext) -> None:
    """Schedule the saved reminders again; announce (or drop) those that are past."""
    now = time.time()
    with _lock:
        reminders = load(ctx)
        missed = [r for r in reminders if r["at"] <= now]
        if missed:
            try:
                save(ctx, [r for r in reminders if r["at"] > now])
            except PrivateWriteError as exc:
                log.warning("%s %s", exc.message, exc.hint)
    for r in reminders:
        if r["at"] > now:
            _arm(ctx, r)
    if missed and ctx.settings["announce_missed"]:
        tasks = [spoken_task(r["task"]) for r in missed]
        ctx.speak_later("While I was off, you had " + ("a reminder" if len(tasks) == 1 else f"{len(tasks)} reminders")
                        + ": " + ", and ".join(tasks) + ".", 0.5)


# ---------------------------------------------------------------------------- the form
def _when_value(when) -> dict:
    return {"at": when.at.timestamp(), "rel": when.seconds if when.relative else None}


@skill.extract("reminder_form", "task")
def extract_task(ctx: ActionContext) -> str | None:
    """The task: the whole answer when the form asked for it, else the request without its
    trigger words and time."""
    if ctx.requested_slot == "task":
        when = parse_when(ctx.text)
        task = task_from(when.rest if when else normalize(ctx.text))
        if not task:
            ctx.say("Sorry, I didn't catch that.")
        return task or None
    if ctx.requested_slot is not None:
        return None
    when = parse_when(ctx.text)
    return task_from(when.rest if when else normalize(ctx.text)) or None


@skill.extract("reminder_form", "when")
def extract_when(ctx: ActionContext) -> dict | None:
    """The time, from the request or from the answer to "When should I remind you?"."""
    if ctx.requested_slot not in (None, "when"):
        return None
    text = ctx.text
    when = parse_when(text)
    if when is None and ctx.requested_slot == "when":
        when = parse_when(f"at {normalize(text)}")  # a bare "6 pm" / "seven thirty"
    if when is None:
        if ctx.requested_slot == "when":
            ctx.say("Sorry, I didn't understand the time.")
        return None
    return _when_value(when)


@skill.action("add_reminder")
def add_reminder(ctx: ActionContext) -> list[dict]:
    """Save and schedule the reminder the form collected; say when it will come."""
    task, when = ctx.slot("task"), ctx.slot("when")
    reset = [SlotSet("task", None), SlotSet("when", None)]
    if not task or not isinstance(when, dict):
        ctx.say("Sorry, I couldn't set that reminder.")
        return reset
    reminder = {"id": uuid.uuid4().hex[:12], "task": str(task), "at": float(when["at"]), "created": time.time()}
    with _lock:
        try:
            save(ctx, [*load(ctx), reminder])
        except PrivateWriteError as exc:
            ctx.say(f"Sorry, I couldn't save that reminder: {exc.reason}. {exc.hint}")
            return reset
    _arm(ctx, reminder)
    said = spoken_when(dt.datetime.fromtimestamp(reminder["at"]), relative_s=when.get("rel"))
    ctx.say(f"Okay, I'll remind you {remind_phrase(reminder['task'])} {said}.")
    return reset


# ---------------------------------------------------------------------------- list and cancel
def _describe(r: dict) -> str:
    return f"{spoken_task(r['task'])} {spoken_when(dt.datetime.fromtimestamp(r['at']))}"


@skill.action("list_reminders")
def list_reminders(ctx: ActionContext) -> None:
    """Say every pending reminder, soonest first."""
    reminders = [r for r in load(ctx) if r["at"] > time.time()]
    if not reminders:
        ctx.say("You have no reminders.")
        return
    head = "You have one reminder: " if len(reminders) == 1 else f"You have {len(reminders)} reminders: "
    ctx.say(head + "; ".join(_describe(r) for r in reminders) + ".")


def _cancel(ctx: ActionContext, reminders: list[dict]) -> None:
    ids = {r["id"] for r in reminders}
    for handle in ctx.timers():
        if handle.data.get("id") in ids:
            handle.cancel()
    _remove(ctx, ids)


@skill.action("cancel_reminder")
def cancel_reminder(ctx: ActionContext) -> None:
    """Cancel the reminder whose task is named, the only one, or (after "are you sure?")
    all of them."""
    reminders = [r for r in load(ctx) if r["at"] > time.time()]
    if not reminders:
        ctx.say("You have no reminders.")
        return
    words = set(re.findall(r"[a-z0-9']+", normalize(ctx.text))) - {
        "cancel", "delete", "remove", "the", "my", "reminder", "reminders", "to", "about", "all", "forget", "drop",
        "clear", "every", "a", "i", "don't", "need", "anymore", "get", "rid", "of", "turn", "off", "please"}
    named = [r for r in reminders if words & set(re.findall(r"[a-z0-9']+", r["task"].lower()))]
    if named:
        _cancel(ctx, named[:1])
        ctx.say(f"Cancelled the reminder {remind_phrase(named[0]['task'])}.")
    elif len(reminders) == 1:
        _cancel(ctx, reminders)
        ctx.say(f"Cancelled the reminder {remind_phrase(reminders[0]['task'])}.")
    else:
        ctx.confirm(f"Cancel all {len(reminders)} reminders?", then=cancel_all)


def cancel_all(ctx: ActionContext) -> None:
    """Yes to "Cancel all N reminders?"."""
    reminders = load(ctx)
    _cancel(ctx, reminders)
    ctx.say(f"Cancelled {len(reminders)} reminders." if len(reminders) != 1 else "Cancelled your reminder.")
