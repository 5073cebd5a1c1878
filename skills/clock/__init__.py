"""Clock skill: "what time is it", "what's the date", "what day is it".

Answers use digits ("It's 5:10 in the afternoon.", "Today is Saturday, November 22, 2026.")
so Piper reads the numbers and an ASR round trip can check them. The time is the computer's
local time; the ``hour_format`` setting chooses 12- or 24-hour answers.

The 12-hour answer names the part of the day instead of saying "A.M." / "P.M.": spoken by
the shipped voice, "five twenty-eight A.M." fuses into "five twenty A.M." and "eighteen A.M."
into "a.k.a." (``benchmarks/time_readback_bench.py`` measures how often Whisper hears the
time wrong in each style).
"""

from __future__ import annotations

from datetime import datetime

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)


def day_period(hour: int) -> str:
    """The part of the day of ``hour`` (0–23) as said after a 12-hour time: 5–11 "in the
    morning", 12–17 "in the afternoon", 18–21 "in the evening", 22–4 "at night"."""
    if 5 <= hour < 12:
        return "in the morning"
    if 12 <= hour < 18:
        return "in the afternoon"
    if 18 <= hour < 22:
        return "in the evening"
    return "at night"


def spoken_time(now: datetime, hour_format: str = "12h") -> str:
    """``now`` as said aloud with digits: ``"5:10 in the afternoon"`` and, on the hour,
    ``"5 o'clock in the afternoon"`` (12h), or ``"17:10"`` (24h).

    On the hour the shipped voice reads "10:00" digit by digit ("ten zero zero"), which
    nobody says and Whisper writes back as "10-0-0" or "12000"; "o'clock" is how people
    say it and comes back intact (measured on Piper joe → Whisper base, 2026-12-07)."""
    if hour_format == "24h":
        return f"{now.hour}:{now.minute:02d}"
    hour = now.hour % 12 or 12
    if now.minute == 0:
        return f"{hour} o'clock {day_period(now.hour)}"
    return f"{hour}:{now.minute:02d} {day_period(now.hour)}"


def spoken_date(now: datetime) -> str:
    """``now`` as ``"Saturday, November 22, 2026"``."""
    return f"{now:%A}, {now:%B} {now.day}, {now.year}"


@skill.action("tell_time")
def tell_time(ctx: ActionContext) -> None:
    """Say the local time."""
    ctx.say(f"It's {spoken_time(datetime.now(), ctx.settings['hour_format'])}.")


@skill.action("tell_date")
def tell_date(ctx: ActionContext) -> None:
    """Say today's date with the day of the week."""
    ctx.say(f"Today is {spoken_date(datetime.now())}.")


@skill.action("tell_day")
def tell_day(ctx: ActionContext) -> None:
    """Say the day of the week."""
    ctx.say(f"It's {datetime.now():%A}.")
