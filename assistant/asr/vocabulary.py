"""Hotword lists (the skills' vocabulary that biases recognition): formatting for
faster-whisper, interleaving several skills' lists, and the phrases as word tuples."""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

from assistant.asr.metrics import normalize_text

Hotwords = Union[str, Sequence[str], None]
"""A hotword list as callers pass it: ``None``, one comma-separated string, or phrases."""


def format_hotwords(hotwords: Hotwords) -> Optional[str]:
    """Turn a list of phrases into faster-whisper's ``hotwords`` string.

    Phrases are stripped, de-duplicated case-insensitively (first spelling wins, order
    kept) and joined with ``", "``. faster-whisper keeps at most 223 prompt tokens of it,
    so put the most important phrases first.

    Args:
        hotwords: ``None``, one string (used as is), or a sequence of phrases.

    Returns:
        The string, or ``None`` when there is nothing to bias with.
    """
    if hotwords is None:
        return None
    if isinstance(hotwords, str):
        return hotwords.strip() or None
    seen: set[str] = set()
    out: list[str] = []
    for p in hotwords:
        p = " ".join(str(p).split())
        if p and p.lower() not in seen:
            seen.add(p.lower())
            out.append(p)
    return ", ".join(out) or None


def interleave_vocabularies(groups: Iterable[Sequence[str]]) -> list[str]:
    """One hotword list from several skills' vocabularies, taking their phrases in turn
    (the 1st of each skill, then the 2nd of each, …), de-duplicated case-insensitively.

    Whisper keeps ~223 prompt tokens of hotwords and :class:`WhisperASR` drops the phrases
    at the end of a longer list, so a plain concatenation (built-in skills first) loses
    most of the values of a skill installed later — the one that owns the domain the user
    is speaking in. Taken in turn, every skill keeps its first phrases.

    Args:
        groups: per skill, its phrases in its own order of importance
            (e.g. ``[s.vocabulary() for s in skills]``).

    Returns:
        The phrases, stripped, whitespace collapsed.
    """
    lists = []
    for g in groups:  # each skill's own duplicates first, so that they take no turn
        own: dict[str, str] = {}
        for p in g:
            p = " ".join(str(p).split())
            if p:
                own.setdefault(p.lower(), p)
        lists.append(list(own.values()))
    seen: set[str] = set()
    out: list[str] = []
    for i in range(max((len(g) for g in lists), default=0)):
        for g in lists:
            if i < len(g) and g[i] and g[i].lower() not in seen:
                seen.add(g[i].lower())
                out.append(g[i])
    return out


def hotword_phrases(hotwords: Hotwords) -> list[tuple[str, ...]]:
    """The normalised phrases of a hotword list, as word tuples, longest first.

    Args:
        hotwords: as for :func:`format_hotwords` (a string is split at commas).

    Returns:
        e.g. ``[("extra", "cheese"), ("milk",)]``; empty for ``None``.
    """
    hw = format_hotwords(hotwords)
    if not hw:
        return []
    found = {tuple(normalize_text(p).split()) for p in hw.split(",")} - {()}
    return sorted(found, key=len, reverse=True)
