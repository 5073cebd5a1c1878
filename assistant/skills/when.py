"""Spoken points in time → ``datetime``, for reminders and alarms.

:func:`parse_when` finds one time expression in an utterance (as said, or as Whisper writes
it) and returns the moment it means plus the rest of the utterance with the expression
removed, so "remind me to call mum at 6 pm" gives 18:00 and "remind me to call mum".
Understood:

* clock times: "at 6 pm", "6:30 p.m.", "18:00", "at six thirty", "at 7" (the next 7
  o'clock: 7 AM or 7 PM, whichever comes first), "at noon", "midnight", "9 o'clock",
  "half past six", "quarter to seven", "ten past five";
* days: "today", "tonight", "tomorrow", "this morning/afternoon/evening",
  "tomorrow morning", "on monday" (alone they mean 9 AM, or 8 PM for "tonight");
* relative: "in 10 minutes", "in an hour and a half", "in two days".

:func:`spoken_when` says a moment back with digits ("at 6 PM", "tomorrow at 9:30 AM",
"on Monday at 9 AM", "in 10 minutes"), like the clock skill, so Piper reads the numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from text_to_num import alpha2digit

from assistant.skills.duration import format_duration, parse_duration

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
#: Hour used when only a day is given ("tomorrow"), and for parts of the day.
PART_HOURS = {"morning": 9, "afternoon": 15, "evening": 19, "night": 20, "tonight": 20}

_HOMOPHONE = {"to": "2", "too": "2", "for": "4"}
_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)"
_AMOUNT = r"(?:\d+(?:\.\d+)?|an?|a couple of|a few|half an?|a half)"
_REL = re.compile(rf"\b(?:in|after)\s+(?:about\s+|around\s+)?({_AMOUNT}(?:\s+and\s+a\s+(?:half|quarter))?\s+{_UNIT}"
                  rf"(?:\s+(?:and\s+)?(?:a half|a quarter|\d+\s+{_UNIT}))?)\b")
_AMPM = r"(?P<ampm>a\s?m|p\s?m)\b"
_CLOCK = re.compile(
    r"(?:\b(?:at|by|for|around|about)\s+)?"
    r"(?:(?P<noon>noon|midday|midnight)\b"
    r"|(?P<h>\d{1,2})(?:[:.](?P<m>\d{2})|\s(?P<m2>[0-5]\d)(?=\s*(?:a\s?m|p\s?m)\b)|\s(?P<m3>[0-5]\d)\b(?!\s*" + _UNIT + r"))?"
    r"\s*(?:" + _AMPM + r"|(?P<oclock>o'?\s?clock)\b|(?P<bare>))"
    r")")
_PAST_TO = re.compile(r"(?:\b(?:at|by|around|about)\s+)?\b(?P<mins>half|quarter|\d{1,2})(?:\s+minutes?)?\s+(?P<dir>past|after|to|before)\s+"
                      r"(?P<h>\d{1,2}|noon|midnight)\b(?:\s*" + _AMPM + ")?")
_DAY = re.compile(r"\b(?:(?P<tomorrow>tomorrow|tmrw)(?:\s+(?P<tpart>morning|afternoon|evening|night))?"
                  r"|(?P<tonight>tonight)|(?P<today>today)"
                  r"|this\s+(?P<part>morning|afternoon|evening)"
                  r"|(?:on\s+|next\s+|this\s+)?(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
                  r"(?:\s+(?P<wpart>morning|afternoon|evening|night))?)\b")


@dataclass
class When:
    """A moment found in an utterance.

    Attributes:
        at: the local, naive ``datetime``.
        rest: the utterance (normalised: lower case, numbers as digits) without the time
            expression and with spaces collapsed.
        relative: True for "in 10 minutes" (say it back the same way).
        seconds: for relative expressions, the delay in seconds.
    """

    at: dt.datetime
    rest: str
    relative: bool = False
    seconds: float = 0.0


def normalize(text: str) -> str:
    """Lower case, "p.m." → "pm", number words → digits ("six thirty" → "6 30"), stray
    punctuation dropped, and "to"/"for" read as 2/4 where only a number fits ("in for
    minutes", "at to pm": variants Whisper writes)."""
    s = (text or "").lower()
    s = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", s)
    s = re.sub(r"(\d)([ap]m)\b", r"\1 \2", s)
    s = re.sub(r"\bseconds\b", "secs", s)  # alpha2digit would read "second" as the ordinal 2nd
    s = re.sub(r"\bsecond\b", "sec", s)
    s = s.replace("-", " ")
    s = alpha2digit(s, "en", threshold=0)
    s = re.sub(r"\bsecs\b", "seconds", s)
    s = re.sub(r"\bsec\b", "second", s)
    s = re.sub(r"[?!,;]", " ", s)
    s = re.sub(r"\.(?!\d)", " ", s)
    # Whisper's "in for minutes" / "at to pm": a homophone where only a number fits.
    s = re.sub(r"\b(in|after)\s+(to|too|for)\s+(?=" + _UNIT + r"\b)",
               lambda m: f"{m.group(1)} {_HOMOPHONE[m.group(2)]} ", s)
    s = re.sub(r"\b(at|by)\s+(to|too|for)\s+(?=(?:[ap]m|o'?\s?clock)\b)",
               lambda m: f"{m.group(1)} {_HOMOPHONE[m.group(2)]} ", s)
    return " ".join(s.split())


def _cut(s: str, m: re.Match) -> str:
    return " ".join((s[:m.start()] + " " + s[m.end():]).split())


def parse_when(text: str, now: dt.datetime | None = None) -> When | None:
    """Find one moment in ``text``.

    Args:
        text: e.g. ``"remind me to call mum at 6 pm"``, ``"tomorrow at 9"``, ``"in ten minutes"``.
        now: the current local time (default ``datetime.now()``).

    Returns:
        A :class:`When` in the future (a clock time already past today means tomorrow),
        or None if the text holds no time expression.
    """
    now = (now or dt.datetime.now()).replace(microsecond=0)
    s = normalize(text)
    if not s:
        return None
    rel = _REL.search(s)
    if rel:
        seconds = parse_duration(rel.group(1))
        if seconds:
            return When(at=now + dt.timedelta(seconds=seconds), rest=_cut(s, rel), relative=True, seconds=seconds)

    day_offset: int | None = None
    part: str | None = None
    d = _DAY.search(s)
    if d:
        if d.group("tomorrow"):
            day_offset, part = 1, d.group("tpart")
        elif d.group("tonight"):
            day_offset, part = 0, "tonight"
        elif d.group("today"):
            day_offset = 0
        elif d.group("part"):
            day_offset, part = 0, d.group("part")
        elif d.group("wd"):
            target = WEEKDAYS.index(d.group("wd"))
            day_offset = (target - now.weekday()) % 7 or 7
            part = d.group("wpart")
        s = _cut(s, d)

    hour = minute = None
    ampm: str | None = None
    m = _PAST_TO.search(s)
    if m:
        h = m.group("h")
        hour = 12 if h == "noon" else 0 if h == "midnight" else int(h)
        mins = {"half": 30, "quarter": 15}.get(m.group("mins")) or int(m.group("mins"))
        if m.group("dir") in ("to", "before"):
            hour, minute = (hour - 1) % 24 if h not in ("noon", "midnight") else (hour - 1) % 24, 60 - mins
            if h not in ("noon", "midnight") and hour == 0:
                hour = 12
        else:
            minute = mins
        ampm = (m.group("ampm") or "").replace(" ", "") or None
        if h in ("noon", "midnight"):
            ampm = "24h"
        s = _cut(s, m)
    else:
        for m in _CLOCK.finditer(s):
            if m.group("noon"):
                hour, minute, ampm = (0 if m.group("noon") == "midnight" else 12), 0, "24h"
            else:
                hour = int(m.group("h"))
                minute = int(m.group("m") or m.group("m2") or m.group("m3") or 0)
                ampm = (m.group("ampm") or "").replace(" ", "") or None
                lead = m.group(0).lstrip().split(" ", 1)[0] in ("at", "by", "for", "around", "about")
                explicit = ampm or m.group("oclock") or m.group("m") or m.group("m2") or m.group("m3")
                if not explicit and not lead:
                    hour = None  # a bare number ("buy 2 apples") is not a time
                    continue
                if m.group(0).lstrip().startswith("for") and not (ampm or m.group("oclock") or m.group("m")):
                    hour = None  # "for 5" is a duration or an amount, not a time
                    continue
                if hour > 23 or minute > 59 or (ampm and not 1 <= hour <= 12):
                    hour = None
                    continue
                if hour >= 13 or (m.group("m") and hour == 0):
                    ampm = "24h"
            s = _cut(s, m)
            break

    if hour is None and day_offset is None:
        return None
    if hour is None:
        hour, minute, ampm = PART_HOURS.get(part or "", 9), 0, "24h"
    minute = minute or 0
    candidates: list[dt.datetime] = []
    base_days = [day_offset] if day_offset is not None else [0, 1]
    if ampm == "24h":
        hours = [hour]
    elif ampm == "am":
        hours = [hour % 12]
    elif ampm == "pm":
        hours = [hour % 12 + 12]
    elif part in ("afternoon", "evening", "night", "tonight") and hour < 12:
        hours = [hour + 12]
    elif part == "morning":
        hours = [hour % 12]
    elif hour == 12:
        hours = [12, 0]
    else:
        hours = [hour, hour + 12] if hour < 12 else [hour]
    for days in base_days:
        base = (now + dt.timedelta(days=days)).replace(hour=0, minute=0, second=0)
        for h in hours:
            candidates.append(base.replace(hour=h % 24, minute=minute))
    future = sorted(c for c in candidates if c > now)
    if not future:
        at = min(candidates) + dt.timedelta(days=1 if day_offset in (None, 0) else 7)
    else:
        at = future[0]
    return When(at=at, rest=" ".join(s.split()))


def spoken_clock(t: dt.datetime) -> str:
    """``"6 PM"``, ``"6:30 AM"``, ``"12 PM"`` (noon)."""
    h = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{h} {suffix}" if t.minute == 0 else f"{h}:{t.minute:02d} {suffix}"


def spoken_when(at: dt.datetime, now: dt.datetime | None = None, *, relative_s: float | None = None) -> str:
    """Say a moment: ``"in 10 minutes"`` (when ``relative_s`` is given), ``"at 6 PM"``
    (today), ``"tomorrow at 9 AM"``, ``"on Monday at 9 AM"`` (this week), else
    ``"on November 30 at 9 AM"``."""
    now = now or dt.datetime.now()
    if relative_s is not None:
        return f"in {format_duration(relative_s)}"
    days = (at.date() - now.date()).days
    clock = spoken_clock(at)
    if days <= 0:
        return f"at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if days < 7:
        return f"on {at:%A} at {clock}"
    return f"on {at:%B} {at.day} at {clock}"
