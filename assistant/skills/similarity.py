"""How alike a heard phrase and a declared value are: :func:`normalize` (number words as
digits), :func:`spoken`, :func:`phonetic_key` (Metaphone) and :func:`similarity` (RapidFuzz
ratio over spelling and sound). Used by :mod:`assistant.skills.resolve`.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jellyfish
from rapidfuzz import fuzz

_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "half quarter first second third fourth fifth sixth seventh eighth ninth tenth single double triple "
    "quadruple".split())

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")



_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_UNIT_NAMES = {v: k for k, v in _UNITS.items()}
_TEN_NAMES = {v: k for k, v in _TENS.items()}
_SPLIT_DIGITS = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")
#: Unit abbreviations Whisper writes after a number ("8 oz.", "5 mins"), spelled out.
_ABBREVIATIONS = {"oz": "ounce", "ozs": "ounces", "lb": "pound", "lbs": "pounds", "ml": "milliliter",
                  "min": "minute", "mins": "minutes", "hr": "hour", "hrs": "hours", "sec": "second", "secs": "seconds"}


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower-case, punctuation dropped (apostrophes inside words kept), spaces collapsed,
    cardinal number words written as digits and a unit abbreviation after a number spelled
    out ("eight ounce", "8oz" and "8 oz." → "8 ounce"; "twenty four" → "24"), so the ASR's
    digits match values declared in words."""
    words = _WORD.findall(_SPLIT_DIGITS.sub(" ", str(text).lower().replace("-", " ")))
    out, i = [], 0
    while i < len(words):
        w = words[i]
        if w in _TENS:
            value = _TENS[w]
            if i + 1 < len(words) and 1 <= _UNITS.get(words[i + 1], 0) <= 9:
                value += _UNITS[words[i + 1]]
                i += 1
            out.append(str(value))
        elif w in _UNITS:
            out.append(str(_UNITS[w]))
        elif w in _ABBREVIATIONS and out and out[-1].isdigit():
            out.append(_ABBREVIATIONS[w])
        else:
            out.append(w)
        i += 1
    return " ".join(out)


@lru_cache(maxsize=65536)
def spoken(text: str) -> str:
    """:func:`normalize` with numbers below 100 written as words again ("8 ounce" →
    "eight ounce"): the form compared by spelling and sound."""
    out = []
    for w in normalize(text).split():
        n = int(w) if w.isdigit() and len(w) <= 2 else None
        if n is None:
            out.append(w)
        elif n < 20:
            out.append(_UNIT_NAMES[n])
        else:
            out.append(_TEN_NAMES[n - n % 10] + (f" {_UNIT_NAMES[n % 10]}" if n % 10 else ""))
    return " ".join(out)


@lru_cache(maxsize=65536)
def phonetic_key(text: str) -> str:
    """Metaphone keys of the words of ``text`` (numbers spoken as words) joined by spaces.

    Source: Lawrence Philips' Metaphone (1990) as implemented by ``jellyfish.metaphone``.
    """
    return " ".join(w if w.isdigit() else (jellyfish.metaphone(w) or w) for w in spoken(text).split())


def _numbers(text: str) -> tuple[str, ...]:
    return tuple(w for w in normalize(text).split() if w.isdigit() or w in _NUMBER_WORDS)


def similarity(heard: str, declared: str) -> float:
    """How well ``heard`` matches a declared value, in [0, 1] (see the module docstring).

    Args:
        heard: the words of the span.
        declared: one declared variant.

    Returns:
        1.0 for an exact match after :func:`normalize` ("8 ounce" = "eight ounce"); 0.0 when ``heard`` holds number words
        ("8", "twelve", "double") that ``declared`` does not hold in the same order;
        else ``max(fuzzy, (fuzzy + phonetic) / 2)`` with RapidFuzz ``fuzz.ratio / 100``.
    """
    h, d = normalize(heard), normalize(declared)
    if not h or not d:
        return 0.0
    if h == d:
        return 1.0
    nh, nd = _numbers(h), _numbers(d)
    if nh and nh != nd:  # a number was heard: only the same number matches
        return 0.0
    h, d = spoken(h), spoken(d)
    fz = fuzz.ratio(h, d) / 100.0
    ph = fuzz.ratio(phonetic_key(h), phonetic_key(d)) / 100.0
    return min(0.99, max(fz, (fz + ph) / 2.0))
