"""Clock skill: "what time is it", "what's the date", "what day is it".

Answers use digits ("It's 5:10 PM.", "Today is Saturday, November 22, 2026.") so Piper
reads the numbers and an ASR round trip can check them. The time is the computer's local
time; the ``hour_format`` setting chooses 12- or 24-hour answers.
"""

from __future__ import annotations

from datetime import datetime

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)


def spoken_time(now: datetime, hour_format: str = "12h") -> str:
    """``now`` as said aloud with digits: ``"5:10 PM"`` (12h) or ``"17:10"`` (24h)."""
    if hour_format == "24h":
        return f"{now.hour}:{now.minute:02d}"
    hour = now.hour % 12 or 12
    return f"{hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


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
