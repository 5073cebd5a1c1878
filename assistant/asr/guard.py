"""What keeps Whisper from inventing text: the hallucination guard (per-segment checks),
the bias guard (a hotword-biased transcript checked against a plain decode) and the Silero
VAD check of whether a stretch of audio holds speech.

The reasons and measurements behind every threshold are in the :mod:`assistant.asr`
package documentation.
"""

from __future__ import annotations

import difflib
import logging
import zlib
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from assistant.asr.alignment import first_repetition
from assistant.asr.metrics import normalize_text
from assistant.asr.transcript import Transcript, Word, join_words, transcript_words
from assistant.asr.vocabulary import hotword_phrases

log = logging.getLogger(__name__)

VAD_SPEECH_PROBABILITY = 0.5
"""Silero VAD frame probability at or above which :func:`hears_speech` calls it speech
(faster-whisper's own ``vad_filter`` threshold)."""


@dataclass(frozen=True)
class HallucinationGuard:
    """Thresholds that decide what is silence or a hallucination (see the package doc).

    Attributes:
        silence_dbfs: audio whose loudest 20 ms frame is below this RMS level (dBFS) is
            silence and is not decoded.
        compression_ratio: drop segments whose text's zlib compression ratio is above this
            (repetition loops). Whisper's default 2.4.
        no_speech_low, logprob_low: drop segments with ``no_speech_prob`` > ``no_speech_low``
            and ``avg_logprob`` < ``logprob_low`` (0.3 and -1.0).
        no_speech_high, logprob_high: drop segments with ``no_speech_prob`` >
            ``no_speech_high`` and ``avg_logprob`` < ``logprob_high`` (0.5 and -0.5).
        no_speech_low_short: ``no_speech_low`` for a decode with a shortened encoder
            window (:attr:`WhisperASR.window_s`): less silent padding after the audio
            lowers Whisper's no-speech probability. Measured (base int8, the quietest
            3.4 s of jfk.flac with hotwords, which base hears as "Turn on the lights.",
            avg_logprob -1.1 to -1.3): no_speech 0.49 with the 30 s window, 0.37 at 20 s,
            0.29 at 15 s, 0.23 at 10 s. 0.2 keeps the 30 s window's decision.
    """

    silence_dbfs: float = -60.0
    compression_ratio: float = 2.4
    no_speech_low: float = 0.3
    logprob_low: float = -1.0
    no_speech_high: float = 0.5
    logprob_high: float = -0.5
    no_speech_low_short: float = 0.2

    def reason(self, seg, hotwords: Optional[str] = None, repeated: bool = False,
               short_window: bool = False) -> Optional[str]:
        """Why a faster-whisper ``Segment`` looks hallucinated, or ``None`` if it looks real.

        faster-whisper reports ``avg_logprob``, ``compression_ratio`` and
        ``no_speech_prob`` per 30 s decoding window, shared by the window's segments, so
        the compression ratio is also computed for the segment's own text: a loop is
        dropped without taking real speech of the same window with it.

        Args:
            seg: a ``faster_whisper.transcribe.Segment``.
            hotwords: the hotword string the decode was biased with, if any.
            repeated: the same text occurs in another segment of the same window.
            short_window: the window was encoded shorter than 30 s (uses
                ``no_speech_low_short``).
        """
        if not seg.text.strip():
            return "empty"
        if hotwords and echoes_hotwords(seg.text, hotwords):
            return "recites the hotword list"
        ratio = compression_ratio(seg.text)
        if ratio > self.compression_ratio:
            return f"compression ratio {ratio:.1f}"
        if repeated and seg.compression_ratio > self.compression_ratio:
            return f"repeated segment in a looping window (ratio {seg.compression_ratio:.1f})"
        low = self.no_speech_low_short if short_window else self.no_speech_low
        if seg.no_speech_prob > low and seg.avg_logprob < self.logprob_low:
            return f"no_speech {seg.no_speech_prob:.2f}, logprob {seg.avg_logprob:.2f}"
        if seg.no_speech_prob > self.no_speech_high and seg.avg_logprob < self.logprob_high:
            return f"no_speech {seg.no_speech_prob:.2f}, logprob {seg.avg_logprob:.2f}"
        return None


def compression_ratio(text: str) -> float:
    """UTF-8 length of ``text`` / its zlib-compressed length, as Whisper and faster-whisper
    compute it; > 2.4 marks repetition loops."""
    b = text.encode("utf-8")
    return len(b) / len(zlib.compress(b)) if b else 0.0


def _phrase_ids(keys: Sequence[str], phrases: Sequence[tuple[str, ...]]) -> list[int]:
    """For each normalised word, the number of the hotword-phrase occurrence it is part of
    (greedy, longest phrase first at each position), or -1."""
    ids = [-1] * len(keys)
    i = n = 0
    while i < len(keys):
        p = next((p for p in phrases if tuple(keys[i : i + len(p)]) == p), None)
        if p is None:
            i += 1
            continue
        for j in range(i, i + len(p)):
            ids[j] = n
        i += len(p)
        n += 1
    return ids


def echoes_hotwords(text: str, hotwords: str) -> bool:
    """True if ``text`` is made only of hotword phrases, at least 3 of them.

    On quiet non-speech Whisper base sometimes just recites its prompt ("turn on the office
    lights, set a timer, hey jarvis, light rose, ice moco"), in list order or looping over
    a few entries ("set a timer, hey jarvis, set a timer, hey jarvis, …"). A sentence built
    only from three or more list entries is not something a user says, while one or two
    entries ("hey jarvis, set a timer") may be.

    Args:
        text: a segment's text.
        hotwords: the comma-separated hotword string the decode was biased with.
    """
    words = normalize_text(text).split()
    phrases = hotword_phrases(hotwords)
    if not words or not phrases:
        return False
    ids = _phrase_ids(words, phrases)
    return min(ids) >= 0 and max(ids) >= 2  # every word in a phrase; phrases 0, 1, 2, …


REPEATED_COMMAND_MIN_WORDS = 3
""":func:`drop_repeated_words` removes the second copy of a group of at least this many
words said twice in a row. Shorter groups repeat in real commands ("no, no", "very very
bright"); three or more words twice over is Whisper looping ("switch the lamp strip on,
switch the lamp strip on," for one "switch the lamp strip on", benchmarks/command_bench.py)
or a user saying the command again, and either way the command is meant once."""


def drop_repeated_words(text: str, n_min: int = REPEATED_COMMAND_MIN_WORDS) -> str:
    """A command transcript with immediate repetitions of a word group said once.

    The NLU reads a command said twice as two of each entity, which no skill accepts (two
    devices, two rooms). Words are compared normalised (case and punctuation ignored); the
    first copy's words are kept with the second copy's final punctuation. Not for dictation,
    where text said twice is meant twice (the streaming transcriber has its own loop check,
    :func:`assistant.asr.alignment.repeats`).

    Args:
        text: a final command transcript.
        n_min: the shortest group, in words, whose repetition is removed.

    Returns:
        ``text`` without the repeated copies (unchanged, same object, when there are none).
        Never raises.
    """
    tokens = text.split()
    keys = [normalize_text(t).replace(" ", "") for t in tokens]
    changed = False
    while (hit := first_repetition(keys, n_min)) is not None:
        i, n = hit
        last = tokens[i + 2 * n - 1]
        tail = last[len(last.rstrip(".,!?;:")):]
        tokens[i + n - 1] = tokens[i + n - 1].rstrip(".,!?;:") + tail
        del tokens[i + n : i + 2 * n], keys[i + n : i + 2 * n]
        changed = True
    return " ".join(tokens) if changed else text


def hears_speech(audio: np.ndarray) -> bool:
    """Whether Silero VAD (the model shipped inside faster-whisper) hears speech anywhere in
    ``audio``: some 32 ms frame scores ≥ :data:`VAD_SPEECH_PROBABILITY`.

    Args:
        audio: 16 kHz mono ``np.ndarray[float32]`` of shape ``(n,)`` in [-1, 1]; it is
            zero-padded to a multiple of 512 samples. Empty audio holds no speech.
    """
    if len(audio) == 0:
        return False
    from faster_whisper.vad import get_vad_model  # lazy: the ONNX runtime loads on first use

    padded = np.pad(audio, (0, -len(audio) % 512))
    return float(np.max(get_vad_model()(padded))) >= VAD_SPEECH_PROBABILITY


# --------------------------------------------------------------------------- bias guard


def starts_with_phrase(text: str, phrases: Sequence[tuple[str, ...]]) -> bool:
    """True if ``text`` (normalised) begins with one of ``phrases`` (see
    :func:`assistant.asr.vocabulary.hotword_phrases`). This is the shape of the hotword
    leak: "milk, can I have a light roast" — 83 of 86 real-voice misses (issue 9)."""
    words = tuple(normalize_text(text).split())
    return any(words[: len(p)] == p for p in phrases)


BIAS_MATCH_MIN = 0.4
""":func:`merge_biased` keeps a vocabulary phrase that the biased decode wrote *instead of*
other words of the unbiased decode only if the two spellings are at least this similar
(``difflib`` character ratio of the normalised spans without spaces): "light roast" for
"light rose" (0.84), "ice moco" for "iced mocha" (0.71), but not "cheese" for "okay"."""


def _loses_phrase(plain: Sequence[str], biased: Sequence[str], phrases: Sequence[tuple[str, ...]]) -> bool:
    """Whether the normalised ``plain`` words hold a whole vocabulary phrase some word of
    which the normalised ``biased`` words lack (see :func:`merge_biased`)."""
    keys = " ".join(plain).split()
    ids = _phrase_ids(keys, phrases)
    have = set(" ".join(biased).split())
    return any(i >= 0 and k not in have for k, i in zip(keys, ids))


def merge_biased(biased: Transcript, plain: Transcript, phrases: Sequence[tuple[str, ...]], *,
                 word_timestamps: bool = True, replacements: bool = True,
                 keep_plain_phrases: bool = False) -> Transcript:
    """Keep what contextual biasing corrected, drop what it invented.

    Whisper with a hotword prompt sometimes writes a vocabulary phrase nobody said, most
    often in front of the command ("milk, can I have…"). The decode without hotwords of the
    same audio is the evidence: the two word sequences are aligned
    (``difflib.SequenceMatcher`` on normalised words) and, per difference,

    * words only the biased decode has, if they are all hotword-phrase words that make up
      whole phrases (not "led" completing "led strip" where both decodes heard "strip"): the first
      phrase of them is dropped (every leak seen was one phrase: "milk, …", "large, I
      want …"), the others are kept — the plain decode may have lost real words there
      (espeak "Add black olives and …": biased "bread, black olives, and …", plain "and
      …"); words only the biased decode has that are not all vocabulary are kept;
    * where the biased decode wrote other words than the plain one, its words are kept
      unless they are all hotword-phrase words that do not sound like the plain words
      (character similarity < :data:`BIAS_MATCH_MIN`): then the plain words are used;
    * words only the plain decode has are put back when the biased transcript was made of
      vocabulary phrases only (the command was replaced by them), and otherwise left out.

    Args:
        biased: the hotword-biased transcript.
        plain: the transcript of the same audio without hotwords.
        phrases: :func:`assistant.asr.vocabulary.hotword_phrases` of the hotword list.
        word_timestamps: whether the caller asked for words (else ``words`` stays empty).
        replacements: apply the rule for words written *instead of* others (second bullet).
            The domain pass turns it off: checked against the first transcript, it undid
            more corrections ("good eye" → "good night", "top of your maker" → "coffee
            maker") than it caught inventions (benchmarks/command_bench.py, issue 9).
        keep_plain_phrases: where the biased decode wrote other words than the plain one,
            the plain words hold a whole vocabulary phrase of which some word is missing
            from the biased words, and the two spellings are not alike (character
            similarity < :data:`BIAS_MATCH_MIN`), keep the plain words: a value the
            unbiased decode heard is evidence, and biasing swapped it for unrelated words
            (the domain pass wrote "good night, room, low," for the first transcript's "But
            the heater on low!", similarity 0.24). Spellings alike are corrections and stay:
            without the similarity condition the rule undid "gas bathroom" → "guest bedroom"
            (0.61) and "cool light" → "cool white" (0.40) on benchmarks/command_bench.py
            (clean acceptance 71.7 → 70.0 %). Whatever the spelling, the plain words are
            also kept when the biased words hold no vocabulary at all: a decode biased
            *towards* the vocabulary that moves *away* from a value the unbiased one heard
            ("medium" → "median", a drinks skill's domain pass) misheard it. The domain
            pass turns it on.

    Returns:
        A :class:`Transcript` whose ``decode_ms`` is the sum of both and whose ``dropped``
        also lists the invented words removed (``"bias: milk,"``). ``biased`` itself when
        nothing changes.
    """
    b, u = transcript_words(biased), transcript_words(plain)
    bk = [normalize_text(w.text) for w in b]
    uk = [normalize_text(w.text) for w in u]
    sub = _phrase_ids(" ".join(bk).split(), phrases)
    # map the phrase numbers of normalised sub-words back to tokens ("light-roast" is two)
    bid, k = [], 0
    for key in bk:
        n = len(key.split())
        bid.append(sub[k] if n > 0 and min(sub[k : k + n]) >= 0 else -1)
        k += n
    bmask = [i >= 0 for i in bid]
    out: list[Word] = []
    removed: list[str] = []
    restore: list[tuple[int, list[Word]]] = []
    ops = difflib.SequenceMatcher(None, uk, bk, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            out += b[j1:j2]
        elif tag == "insert":
            first = [j for j, i in enumerate(bid) if i == bid[j1]]
            if all(bmask[j1:j2]) and j1 <= first[0] and first[-1] < j2:
                # a whole phrase only the biased decode has: the invented one is the first
                # (later ones may be real). A phrase partly heard by both ("led" added to
                # "strip") is a correction and stays.
                removed += [w.text for w, i in zip(b[j1:j2], bid[j1:j2]) if i == bid[j1]]
                out += [w for w, i in zip(b[j1:j2], bid[j1:j2]) if i != bid[j1]]
            else:
                out += b[j1:j2]
        elif tag == "replace":
            sb, su = "".join(bk[j1:j2]).replace(" ", ""), "".join(uk[i1:i2]).replace(" ", "")
            unlike = difflib.SequenceMatcher(None, su, sb).ratio() < BIAS_MATCH_MIN
            lost = keep_plain_phrases and _loses_phrase(uk[i1:i2], bk[j1:j2], phrases)
            if (unlike and ((replacements and all(bmask[j1:j2])) or lost)) or (lost and not any(bmask[j1:j2])):
                removed += [w.text for w in b[j1:j2]]
                out += u[i1:i2]
            else:
                out += b[j1:j2]
        else:  # delete: words only the plain decode has
            restore.append((len(out), u[i1:i2]))
    if not removed:
        return biased
    if restore and all(bmask):
        # the biased decode was vocabulary only: the command itself comes from the plain one
        for pos, ws in reversed(restore):
            out[pos:pos] = ws
    log.debug("bias guard removed %r (plain decode: %r)", removed, plain.text)
    text = join_words(out)
    segs = ((out[0].start_s, out[-1].end_s, text),) if out else ()
    return Transcript(text, out if word_timestamps else [], biased.language, biased.audio_seconds,
                      biased.decode_ms + plain.decode_ms,
                      biased.dropped + tuple(f"bias: {r}" for r in removed), segs)
