"""Where a new Whisper hypothesis continues the committed words of a streaming transcript:
helpers of :class:`~assistant.asr.streaming.StreamingTranscriber` that work on word lists
only (no audio, no model).

Words are compared normalized (:func:`~assistant.asr.metrics.normalize_text`: lower case,
no punctuation), because consecutive decodes re-spell and re-punctuate the same speech.
"""

from __future__ import annotations

import difflib
from typing import Optional, Sequence

from assistant.asr.metrics import normalize_text
from assistant.asr.transcript import Word

REPEAT_MIN_WORDS = 4
"""A new part of a hypothesis that says a group of at least this many words twice in a row
("I bought a blue bike, period. I bought a blue bike, period."; the first copy may be
committed) is checked by a decode without prompt and hotwords
(:meth:`~assistant.asr.streaming.StreamingTranscriber._decode`, :func:`repeats`)."""

def end_of_committed(committed: list[str], hyp: list[str]) -> Optional[int]:
    """Where the committed words end in a new hypothesis that re-spelled some of them.

    Aligns the normalized words (``difflib.SequenceMatcher``, Ratcliff/Obershelp) and returns
    the index in ``hyp`` just after the last committed word, or None when they do not align
    (fewer than half of the committed words found in order, or more than one committed word
    unmatched at the end). A committed word left unmatched at the end counts as re-spelled:
    one hypothesis word is skipped for it ("Kama" committed, "comma" heard again).

    Why not word times (whisper_streaming's rule): a short buffer's word times are
    interpolated inside Whisper's segments (:func:`segment_words`), so "Thank" at the start
    of a new phrase was dated before the last committed word's end and dropped — with
    decodes every 0.5 s, ``tests/test_dictation.py::test_committer_with_spoken_commands_types_a_letter``.
    """
    blocks = [b for b in difflib.SequenceMatcher(None, committed, hyp, autojunk=False).get_matching_blocks() if b.size]
    if not blocks or 2 * sum(b.size for b in blocks) < len(committed):
        return None
    last = blocks[-1]
    unmatched = len(committed) - (last.a + last.size)
    if unmatched > 1:
        return None
    return min(len(hyp), last.b + last.size + unmatched)


def after_glued(committed: list[str], hyp: list[Word]) -> Optional[list[Word]]:
    """The words of ``hyp`` after the committed words when they match letter for letter but
    Whisper put the spaces elsewhere: a hypothesis that glued the last committed word to the
    next one ("Stop" committed, "Stopdictation." heard) yields the glued word's rest
    (``Word("dictation.")``, same times); one that split or glued committed words yields
    what follows them.

    Args:
        committed: the committed words still in the buffer, normalized
            (:func:`~assistant.asr.metrics.normalize_text`).
        hyp: the new hypothesis.

    Returns:
        The words after the committed ones (possibly empty), or None when the letters do
        not match or the word running past them does so by a contraction ("that"
        committed, "That's" heard: not a glued word).
    """
    target = "".join(committed).replace(" ", "")
    got = ""
    for j, w in enumerate(hyp):
        n = normalize_text(w.text).replace(" ", "")
        if target.startswith(got + n):
            got += n
            if len(got) == len(target):
                return hyp[j + 1 :]
            continue
        need = len(target) - len(got)
        if not (n.startswith(target[len(got) :]) and need > 0):
            return None
        # the word runs past the committed letters: keep its rest, original spelling
        seen, cut = 0, len(w.text)
        for i, ch in enumerate(w.text):
            if normalize_text(ch).strip():
                seen += 1
                if seen == need:
                    cut = i + 1
                    break
        rest = w.text[cut:].lstrip("-‐ ")
        if not rest[:2].isalpha():
            return None  # a contraction ("that" committed, "That's" heard), not a glued word
        return [Word(w.start_s, w.end_s, rest, w.probability)] + hyp[j + 1 :]
    return None


def repeats(words: list[str], committed: list[str], n_min: int = REPEAT_MIN_WORDS) -> bool:
    """Whether the normalized new ``words`` say a group of ≥ ``n_min`` words twice in a row,
    counting the ``committed`` words before them: the second copy must reach into ``words``
    — Whisper's repetition loop, inside a new part ("i bought a blue bike period i bought a
    blue bike period"), repeating the committed end ("… a blue bike" committed, "period i
    bought a blue bike period" new) or echoing it ("… a blue bike period" committed, "i
    bought a blue bike period" new).

    Args:
        words: the new part's words, normalized (:func:`~assistant.asr.metrics.normalize_text`).
        committed: the committed words before them, normalized; only the last
            ``2 * len(words)`` are looked at.
        n_min: the shortest group that counts as a repetition, in words.

    Returns:
        True when some group of ``n`` ≥ ``n_min`` words is followed by itself and the
        second copy ends inside ``words``. Never raises.
    """
    ctx = committed[-2 * len(words) :] if words else []
    return first_repetition(ctx + words, n_min, min_end=len(ctx) + 1) is not None


def first_repetition(keys: Sequence[str], n_min: int, min_end: int = 0) -> Optional[tuple[int, int]]:
    """The first group of words said twice in a row in ``keys``.

    Args:
        keys: normalized words (:func:`~assistant.asr.metrics.normalize_text`).
        n_min: the shortest group, in words.
        min_end: the second copy must end at or after this index (exclusive end).

    Returns:
        ``(i, n)``: ``keys[i : i + n]`` equals ``keys[i + n : i + 2 * n]``, ``n`` ≥ ``n_min``,
        the smallest ``i`` and for it the longest ``n``; groups of empty keys (punctuation
        only) do not count. None when there is none. Never raises.
    """
    return next(((i, n) for i in range(len(keys))
                 for n in range((len(keys) - i) // 2, n_min - 1, -1)
                 if i + 2 * n >= min_end and keys[i : i + n] == keys[i + n : i + 2 * n] and any(keys[i : i + n])),
                None)
