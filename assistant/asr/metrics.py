"""Transcript comparison: text normalisation and word error rate (tests, benchmarks, and the
word matching of the bias guard and of streaming)."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


def normalize_text(s: str) -> str:
    """Normalise a transcript for comparison and WER: NFKC, lower case, no punctuation.

    Dashes and slashes become spaces, other punctuation is removed, apostrophes are kept
    only inside words ("don't" stays, "'quoted'" loses its quotes), whitespace collapses.

    Example: ``"And so, my fellow Americans!"`` → ``"and so my fellow americans"``.
    """
    s = unicodedata.normalize("NFKC", s).translate(_APOSTROPHES).lower()
    s = re.sub(r"[-‐‑‒–—―/]", " ", s)
    s = re.sub(r"[^\w\s']|_", " ", s)
    s = re.sub(r"(?<!\w)'|'(?!\w)", " ", s)
    return " ".join(s.split())


def wer(ref: str, hyp: str) -> float:
    """Word error rate of ``hyp`` against ``ref`` after :func:`normalize_text`.

    Uses the ``jiwer`` library (a test/benchmark dependency, imported here lazily).

    Returns:
        (substitutions + deletions + insertions) / reference words, ≥ 0. With an empty
        reference: 0.0 if the hypothesis is empty too, else the number of inserted words.

    Raises:
        ImportError: jiwer is not installed (``pip install -e .[test]``).
    """
    r, h = normalize_text(ref), normalize_text(hyp)
    if not r:
        return float(len(h.split()))
    import jiwer  # lazy: only tests and benchmarks need it

    return float(jiwer.wer(r, h))
