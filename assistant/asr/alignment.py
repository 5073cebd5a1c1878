"""Where a new Whisper hypothesis continues the committed words of a streaming transcript:
helpers of :class:`~assistant.asr.streaming.StreamingTranscriber` that work on word lists
only (no audio, no model).

Words are compared normalized (:func:`~assistant.asr.metrics.normalize_text`: lower case,
no punctuation), because consecutive decodes re-spell and re-punctuate the same speech.
"""

from __future__ import annotations

import difflib
from typing import Optional, Sequence

from rapidfuzz.distance import Levenshtein

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


GLUED_MIN_LETTERS = 3
"""A hypothesis word that runs past the committed letters counts as the last committed
word glued to the next one (:func:`after_glued`) only if the rest has at least this many
letters and is not an inflection (:data:`INFLECTIONS`): "Stopdictation." after a committed
"Stop" is "Stop" + "dictation."; "asked" after a committed "ask" is "ask" heard again, as
"asked" — splitting it typed "ask ed not" (0.5 s decodes, jfk.flac)."""
INFLECTIONS = frozenset({"s", "es", "ed", "d", "ing", "ings", "er", "ers", "est", "ly", "y", "en", "n", "ies", "ied"})
"""Word endings that make a committed word's re-hearing, not a new word (:func:`after_glued`)."""

RESPELL_MAX_EDITS = 0.4
""":func:`end_of_respelled` accepts a cut when the letters before it differ from the
committed letters by at most this fraction of them (Levenshtein edits): "Deer Anna Kama"
against "Dear Anna, comma." is 4 edits in 12 letters."""


def letters(text: str) -> str:
    """The letters and digits of ``text``, lower case (:func:`normalize_text` without its
    spaces and apostrophes): ``"Stop-dictation."`` → ``"stopdictation"``. Never raises."""
    return "".join(ch for ch in normalize_text(text) if ch.isalnum())


def end_of_respelled(committed: list[str], hyp: list[str], max_edits: float = RESPELL_MAX_EDITS) -> Optional[int]:
    """Where the committed words end in a new hypothesis that re-spelled or re-split them
    beyond what word alignment (:func:`end_of_committed`) finds: the letters are compared,
    not the words ("deer anna kama" committed, "dear anna comma thank you" heard: only one
    word of three is the same, but 4 letters of 12 differ).

    Every word boundary of ``hyp`` is a candidate cut; the one whose letters before it are
    the fewest Levenshtein edits from the committed letters wins, ties going to the cut whose
    letter count is closest to the committed one's (so a re-spelled last word is not left
    out: "dear anna" and "dear anna comma" are both 4 edits from "deer anna kama").

    Args:
        committed: the committed words still in the buffer (any spelling; compared by
            :func:`letters`, i.e. lower case without punctuation and spaces).
        hyp: the new hypothesis's words, same form.
        max_edits: accept at most this many edits per committed letter.

    Returns:
        The index in ``hyp`` just after the last committed word (0..len(hyp)), or None when
        there are no committed letters or no cut is within ``max_edits``. Never raises.
        Cost: one RapidFuzz Levenshtein distance per word boundary within twice the
        committed letters.
    """
    target = "".join(letters(w) for w in committed)
    if not target:
        return None
    ends, text = [0], ""
    for w in hyp:
        text += letters(w)
        ends.append(len(text))
    text = text[: len(target) * 2 + 8]  # the cut lies within about the committed length
    best = min((Levenshtein.distance(target, text[:e]), abs(e - len(target)), j)
               for j, e in enumerate(ends) if e <= len(text))
    if best[0] > max_edits * len(target):
        return None
    return best[2]


def after_by_time(hyp: list[Word], end_s: float, tail: list[str], margin_s: float = 0.1) -> list[Word]:
    """whisper_streaming's rule for a hypothesis that no letter alignment places: the words
    of ``hyp`` that start after the last committed word's end (−``margin_s``), without up to
    5 leading words that repeat the committed ``tail``.

    Args:
        hyp: the new hypothesis (stream times, seconds).
        end_s: the last committed word's end, stream seconds.
        tail: the committed words, normalized (:func:`normalize_text`); the last 5 are used.
        margin_s: how far before ``end_s`` a word may start, seconds (word times of short
            buffers are interpolated).

    Returns:
        Those words (possibly empty). Never raises.
    """
    cand = [w for w in hyp if w.start_s > end_s - margin_s]
    for n in range(min(5, len(cand), len(tail)), 0, -1):
        if [normalize_text(w.text) for w in cand[:n]] == tail[-n:]:
            return cand[n:]
    return cand


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
        not match, or the word running past them does so by a contraction ("that"
        committed, "That's" heard: not a glued word) or by fewer than
        ``GLUED_MIN_LETTERS`` letters or an inflection ("ask" committed, "asked" or
        "asking" heard: the committed word heard again, which :func:`end_of_committed`
        then skips). Never raises.
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
        if len(letters(rest)) < GLUED_MIN_LETTERS or letters(rest) in INFLECTIONS:
            return None  # the committed word re-heard inflected ("ask" committed, "asked" heard)
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
