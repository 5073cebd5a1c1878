"""Spoken durations ↔ seconds, for timers, reminders and any skill that hears "for how long".

:func:`parse_duration` turns what a user says (or what Whisper writes) into seconds:
"five minutes", "10 seconds", "an hour and a half", "two and a half minutes",
"half an hour", "a quarter of an hour", "1 hour 30 minutes", "90 secs", "1.5 hours",
"a 5-minute". Number words are converted by the ``text2num`` package (``alpha2digit``,
English); the small grammar around them ("and a half", "a quarter of", articles) is here.

:func:`format_duration` and :func:`duration_adjective` go the other way, with digits
("5 minutes", "1 hour and 30 minutes", "a 5 minute timer") so that Piper speaks the
numbers and an ASR round trip can check them.
"""

from __future__ import annotations

import re

from text_to_num import alpha2digit

#: Unit words (lower case) → seconds.
UNITS: dict[str, float] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("day", "days"), 86400.0),
}
_FRACTIONS = {"half": 0.5, "halves": 0.5, "quarter": 0.25, "quarters": 0.25}
_ARTICLES = {"a", "an"}
#: Words Whisper writes for a number right before a unit ("for minutes" for "four
#: minutes", "to hours" for "two hours"); read as that number only before a unit word.
HOMOPHONES = {"to": 2.0, "too": 2.0, "for": 4.0, "fore": 4.0, "won": 1.0, "ate": 8.0}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+")


def parse_duration(text: str) -> float | None:
    """Seconds in a spoken or written duration.

    Several parts add up ("1 hour 30 minutes", "an hour and 30 minutes"); "and a half" /
    "and a quarter" adds to the number before it ("two and a half minutes") or, after a
    unit, half of that unit ("an hour and a half"); "half" / "a quarter of" / "three
    quarters of" scale the unit that follows. Words that are not part of a duration
    ("set a timer for …") are skipped, so a whole utterance can be passed.

    Args:
        text: e.g. ``"five minutes"``, ``"10 seconds"``, ``"an hour and a half"``.

    Returns:
        The duration in seconds (float, > 0), or ``None`` if no number + unit was found
        (a bare number like ``"five"`` has no unit and gives ``None``) or it is zero.
    """
    if not text or not text.strip():
        return None
    s = text.lower()
    # "second" would become the ordinal "2nd" in alpha2digit: protect it as "sec(s)".
    s = re.sub(r"\bseconds\b", "secs", s)
    s = re.sub(r"\bsecond\b", "sec", s)
    s = s.replace("-", " ")
    s = alpha2digit(s, "en", threshold=0)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s).replace(",", " ")
    s = re.sub(r"(\d)([a-z])", r"\1 \2", s)  # "5min", "90secs"

    total = 0.0
    found = False
    pending: float | None = None  # a quantity waiting for its unit
    from_article = False  # pending came from "a"/"an" (may be replaced by "half"/"quarter")
    after_and = False
    last_unit: float | None = None
    tokens = _TOKEN.findall(s)
    for i, tok in enumerate(tokens):
        if tok in HOMOPHONES and pending is None and i + 1 < len(tokens) and tokens[i + 1] in UNITS:
            tok = str(HOMOPHONES[tok])  # "set a timer for minutes" → 4 minutes
        if tok[0].isdigit():
            pending, from_article, after_and = float(tok), False, False
        elif tok == "and":
            after_and = True
        elif tok in _ARTICLES:
            if pending is None and not after_and:
                pending, from_article = 1.0, True
        elif tok in _FRACTIONS:
            frac = _FRACTIONS[tok]
            if after_and:
                if pending is not None:  # "two and a half (minutes)"
                    pending += frac
                elif last_unit is not None:  # "an hour and a half"
                    total += frac * last_unit
                    found = True
            elif pending is not None and not from_article and tok.endswith("s"):
                pending *= frac  # "three quarters (of an hour)"
            else:  # "half (an hour)", "a quarter (of an hour)", "a half hour"
                pending = frac
            from_article, after_and = False, False
        elif tok == "couple":
            pending, from_article = 2.0, False
        elif tok in UNITS:
            if pending is not None:
                total += pending * UNITS[tok]
                found = True
                last_unit = UNITS[tok]
            pending, from_article, after_and = None, False, False
        elif tok == "of":
            continue
        else:
            if from_article:  # "set a timer": the article belonged to another word
                pending, from_article = None, False
            after_and = False
    if not found or total <= 0:
        return None
    return total


def _parts(seconds: float) -> list[tuple[int, str]]:
    s = max(1, int(round(seconds)))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    return [(n, unit) for n, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")) if n]


def format_duration(seconds: float) -> str:
    """Speakable duration with digits: ``300`` → ``"5 minutes"``, ``90`` → ``"1 minute and
    30 seconds"``, ``5400`` → ``"1 hour and 30 minutes"``, ``3725`` → ``"1 hour, 2 minutes
    and 5 seconds"``.

    Args:
        seconds: duration in seconds; rounded to whole seconds, at least 1.

    Returns:
        The phrase (no trailing punctuation).
    """
    words = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in _parts(seconds)]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def duration_adjective(seconds: float) -> str:
    """The duration as a compound adjective: ``300`` → ``"5 minute"`` (as in "your 5 minute
    timer"), ``90`` → ``"1 minute 30 second"``.

    Args:
        seconds: duration in seconds; rounded to whole seconds, at least 1.
    """
    return " ".join(f"{n} {unit}" for n, unit in _parts(seconds))
