"""Speech recognition: faster-whisper (CTranslate2 Whisper) and LocalAgreement-2 streaming.

Audio convention (docs/architecture.md): 16 kHz mono, ``np.ndarray`` of shape ``(n,)``,
either ``int16`` (full scale ±32768) or ``float32``/``float64`` in [-1, 1]. Times are
seconds, durations of decoding are milliseconds.

Models are never fetched: :class:`WhisperASR` resolves ``"base"``, ``"tiny.en"`` or a user
folder through :func:`models.registry.resolve_asr_model` and passes faster-whisper a
*folder path* (``HF_HUB_OFFLINE=1`` is set as a backstop, and a folder without
``tokenizer.json`` is refused because faster-whisper would otherwise try to download one).

Choices, with the measurements behind them (2 shared cores, Whisper base / tiny.en int8):

* **One decode per call, no temperature fallback.** faster-whisper's default temperature
  ladder (0.0 … 1.0) re-decodes up to six times when a decode looks bad. On noise with
  hotwords that took 10–20 s instead of 0.5–1 s and only ever produced hallucinations
  ("I'm going to be a little bit more careful.", "The house lights are on."), so the
  default is ``temperatures=(0.0,)`` and bad decodes are dropped instead (next point).
* **Hallucination guard** (Whisper invents text on silence and noise; a top user complaint):

  1. an energy gate: if no 20 ms frame is louder than ``silence_dbfs`` (-60 dBFS RMS) the
     audio is silence and nothing is decoded (``""`` at no cost);
  2. Silero VAD (``vad_filter=True``, the model shipped inside faster-whisper, ~20 ms for
     11 s) removes non-speech before decoding; on Gaussian/pink noise at -50…-25 dBFS,
     50 Hz hum and the quiet tail of a real recording this alone turned every
     hallucination into ``""``;
  3. per-segment checks on what faster-whisper reports (thresholds as in Whisper's
     ``transcribe``): drop a segment if the zlib compression ratio of its text > 2.4
     (repetition loops: "set a timer, hey jarvis, set a timer, …" scored 10–32; also a
     segment repeated within a window whose ratio is > 2.4), or if it is
     probably non-speech *and* uncertain: ``no_speech_prob`` > 0.3 with ``avg_logprob`` <
     -1.0, or ``no_speech_prob`` > 0.5 with ``avg_logprob`` < -0.5. Measured: every
     hallucinated segment that got past VAD ("the", "yeah", "a", "head.", "good",
     "set.", "and", "Okay, good job.") had no_speech_prob 0.38–0.65 and avg_logprob
     -0.58…-2.5; every real utterance (jfk, "Hey Jane, turn the lights off.", "Alexa.",
     "Hey Jarvis.", read speech, the office-lights command) had no_speech_prob ≤ 0.29 and
     avg_logprob ≥ -0.97;
  4. with hotwords, a segment made only of ≥ 3 phrases of the hotword list (in list order
     or looping over a few of them) is dropped (base did exactly that on the quiet frames of jfk.flac:
     no_speech_prob 0.36, avg_logprob -0.52, so step 3 does not catch it).

  Dropped segments are listed in :attr:`Transcript.dropped` for traces.
* **Token budget.** A repetition loop runs to Whisper's 448-token limit; at most
  ``TOKENS_PER_S`` (12) tokens per second of audio + 24 are generated per window, which
  real speech (4–5 tokens/s) never reaches.
* **Hotwords** (faster-whisper ``hotwords``: phrases put in the decoder prompt after
  ``<|startofprev|>``) bias recognition towards the active skills' vocabulary. DESIGN.md:
  on 200 real commands of an ordering domain, base alone produced every slot value in
  76.0 % of transcripts and 99.5 % with the domain's entity values as hotwords. Measured
  here:

  - real read speech (tests/data/negative_reference.wav, "The beige hue on the waters of
    the loch …"): base hears "beige shoe … lock", tiny.en "Bay shoe … lock"; with
    hotwords ``["beige hue", "loch"]`` both write "beige hue" (tiny.en also "loch");
  - 24 commands with unusual entity values (drinks, Irish names, towns, apps; synthetic
    speech, ``benchmarks/asr_bench.py --hotwords``), entity value present in the
    transcript without → with the 24 values as hotwords: base 5/24 → 16/24 (Piper
    voice), 3/24 → 9/24 (espeak-ng); tiny.en 4/24 → 14/24, 5/24 → 11/24; mean WER base
    0.39 → 0.16 (Piper).

  Costs: the output copies the hotwords' casing and often drops punctuation ("hey
  jarvis" instead of "Hey Jarvis."); word probabilities of biased words are low (the
  alignment pass does not see the hotwords); and on silence/noise hotwords make Whisper
  hallucinate far more often (base: 5 of 9 noise clips vs 1 without, some reciting the
  hotword list; tiny.en loops "turn on the floor, …" even on digital silence) — which
  the guard above removes. With some lists base writes nothing at all for clear speech
  (jfk.flac with 112 one-word phrases, while 40–120 other phrases gave WER 0): when a
  biased decode yields nothing usable although VAD kept ≥ 0.3 s of speech, it is
  repeated once without hotwords.
* **Biasing must not invent words** (issue 9: on real voices 83 of 86 misses began with a
  vocabulary phrase nobody said, "milk, can I have a light roast…"). Three measures,
  measured with ``benchmarks/leak_bench.py`` (README: figures):

  1. *Whole phrases only.* faster-whisper keeps the first 223 tokens of ``hotwords`` and
     cuts the rest mid-phrase; the app's list (built-in skills first, ~174 tokens, then a
     third-party skill's values) ended in an unfinished list, which Whisper continued into
     the transcript, and the third-party values — the ones the user speaks — were cut.
     :meth:`WhisperASR._fit_prompt` now cuts at a phrase boundary to ≤ 223 tokens.
  2. *Every skill keeps its first phrases*: the pipeline builds the list with
     :func:`interleave_vocabularies` (skills' phrases in turn) instead of concatenating.
  3. *Bias guard* (:func:`merge_biased`, on by default): when a biased transcript begins
     with a vocabulary phrase (the shape of every leak seen), the audio is decoded again
     without hotwords and vocabulary words the plain decode does not support are dropped
     (a corrected spelling, "light roast" for "light rose", is kept). Commands rarely
     begin with an entity value, so the second decode is rare.

  ``hotwords`` and ``initial_prompt`` reach Whisper the same way (after
  ``<|startofprev|>``, hotwords first); :attr:`WhisperASR.bias_via` chooses.
* **Word timestamps** (``word_timestamps=True``: one extra cross-attention alignment pass,
  0.06 s next to a 2.5 s encoder pass for base on jfk.flac under load) are needed for
  streaming buffer trimming; with/without medians in the bench are within run-to-run
  noise.
* **Threads.** ``cpu_threads=0`` means ``min(4, os.cpu_count())``: CTranslate2's own
  default of 4 oversubscribes a 2-core machine.

Streaming follows LocalAgreement-2 from D. Macháček, R. Dabre, O. Bojar, "Turning Whisper
into Real-Time Transcription System", IJCNLP-AACL 2023 System Demonstrations
(arXiv:2307.14743; reference code github.com/ufal/whisper_streaming): re-decode the growing
buffer, commit the longest common word prefix of the last two hypotheses, pass committed
text that has scrolled out of the buffer as the prompt, trim the buffer at committed words.
At the endpoint, the last hypothesis is reused when only silence arrived after it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from assistant.errors import ModelError, SettingsError

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # backstop: never reach the Hugging Face hub

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""Sample rate every function here expects, Hz."""

_FRAME = 320  # 20 ms at 16 kHz, for the energy gate

TOKENS_PER_S = 12
"""Decoder token budget per second of audio. Read English is ~3 words ≈ 4–5 tokens per
second plus timestamp tokens; a repetition loop on noise otherwise runs to Whisper's
448-token limit and costs 2–11 s instead of ~1 s (measured, base on 2 loaded cores)."""
TOKENS_SLACK = 24
PROMPT_MAX_TOKENS = 223
"""faster-whisper keeps at most this many tokens of ``hotwords`` (the first ones) and of
``initial_prompt`` (the last ones); WhisperASR cuts the hotword list at a phrase boundary to
fit instead."""
HOTWORD_RETRY_MIN_SPEECH_S = 0.3
"""If a hotword-biased decode yields nothing usable although Silero VAD kept at least this
much speech, WhisperASR.transcribe decodes again without hotwords."""
FINAL_MARGIN_S = 0.3
"""StreamingTranscriber.finish may reuse the last hypothesis only if the last this-many
seconds of the audio that decode heard were non-speech (Silero VAD): the last word was not
cut off."""
EXACT_WORD_TIMES_AFTER_S = 8.0
"""StreamingTranscriber asks Whisper for word timestamps (an extra alignment pass) only when
its buffer is longer than this, seconds: it may then be trimmed at a word end (max_buffer_s
is 15 s). Shorter buffers use segment_words."""
SPECULATIVE_MARGIN_S = 0.1
"""A speculative decode (forced once the VAD has heard trailing silence) may stand as the
final transcript, without a second decode agreeing with it, if the last this-many seconds
it heard were non-speech. The pipeline's endpointer already heard 150 ms of silence."""

Hotwords = Union[str, Sequence[str], None]


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Word:
    """One recognised word.

    Attributes:
        start_s: start time in seconds from the beginning of the audio (for streaming:
            from the first sample added since :meth:`StreamingTranscriber.reset`).
        end_s: end time, seconds.
        text: the word as Whisper wrote it, without surrounding spaces; punctuation stays
            attached ("you,").
        probability: Whisper's word probability in [0, 1] from the alignment pass. It is
            computed without the hotword prompt, so hotword-biased words can score low.
    """

    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True)
class Transcript:
    """Result of one transcription.

    Attributes:
        text: the transcript, words joined by single spaces; ``""`` for silence/noise.
        words: the words with timestamps (empty when word timestamps were not asked for).
        language: ISO code of the language decoded (the configured one, or detected).
        audio_seconds: duration of the audio given, seconds.
        decode_ms: wall time of decoding (for streaming: of the final decode only), ms.
        dropped: texts of segments removed as hallucinations (for traces and debugging).
        segments: ``(start_s, end_s, text)`` of every kept Whisper segment, times from
            Whisper's timestamp tokens (present with or without word timestamps).
    """

    text: str
    words: list[Word]
    language: str
    audio_seconds: float
    decode_ms: float
    dropped: tuple[str, ...] = field(default=())
    segments: tuple[tuple[float, float, str], ...] = field(default=())


def segment_words(segments: Sequence[tuple[float, float, str]]) -> list[Word]:
    """Words with times interpolated inside their segment, in proportion to their length in
    characters — a cheap stand-in for Whisper's word alignment.

    The alignment pass (``word_timestamps=True``) re-runs the decoder over the hotword
    prompt: with the skills' 540-character hotword list it made a decode of a 2 s command
    take 1.7 s instead of 0.8 s (base, 2 cores). Streaming uses these approximate words for
    short buffers, where times only serve the end-of-speech margin check.

    Args:
        segments: ``(start_s, end_s, text)`` as in :attr:`Transcript.segments`.

    Returns:
        One :class:`Word` per whitespace-separated token; ``probability`` is NaN.
    """
    out: list[Word] = []
    for start, end, text in segments:
        toks = text.split()
        total = sum(len(t) for t in toks) or 1
        t = float(start)
        for tok in toks:
            d = (float(end) - float(start)) * len(tok) / total
            out.append(Word(t, t + d, tok, float("nan")))
            t += d
    return out


# --------------------------------------------------------------------------- helpers


def to_float32(audio: np.ndarray) -> np.ndarray:
    """Convert 16 kHz mono audio to the float32 waveform faster-whisper expects.

    Args:
        audio: shape ``(n,)`` (``(n, 1)`` and ``(1, n)`` are accepted), dtype ``int16``
            (scaled by 1/32768) or floating point in [-1, 1].

    Returns:
        ``np.ndarray[float32]`` of shape ``(n,)``.

    Raises:
        TypeError: another dtype (e.g. int32 or uint8: convert first).
        ValueError: more than one channel, or float samples far outside [-1, 1] (an
            int-scaled float array).
    """
    a = np.asarray(audio)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got shape {a.shape}")
    if a.dtype == np.int16:
        return a.astype(np.float32) / 32768.0
    if np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32, copy=False)
        if a.size and float(np.max(np.abs(a))) > 2.0:
            raise ValueError("float audio must be in [-1, 1]; got samples beyond ±2 (int-scaled floats?)")
        return a
    raise TypeError(f"audio must be int16 or float32 at 16 kHz, got dtype {a.dtype}")


def loudest_frame_dbfs(audio: np.ndarray) -> float:
    """RMS level of the loudest 20 ms frame of float audio, dBFS (≤ 0; -120 for empty).

    Args:
        audio: ``np.ndarray[float32]`` of shape ``(n,)`` in [-1, 1] at 16 kHz.
    """
    n = len(audio) // _FRAME * _FRAME
    if n == 0:
        if len(audio) == 0:
            return -120.0
        frames = audio.reshape(1, -1)
    else:
        frames = audio[:n].reshape(-1, _FRAME)
    rms = float(np.sqrt(np.max(np.mean(frames.astype(np.float64) ** 2, axis=1))))
    return 20.0 * np.log10(max(rms, 1e-6))


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


def _norm_word(w: str) -> str:
    return normalize_text(w)


def _join(words: Iterable[Word]) -> str:
    return " ".join(w.text for w in words if w.text)


# --------------------------------------------------------------------------- one-shot ASR


@dataclass(frozen=True)
class HallucinationGuard:
    """Thresholds that decide what is silence or a hallucination (see the module doc).

    Attributes:
        silence_dbfs: audio whose loudest 20 ms frame is below this RMS level (dBFS) is
            silence and is not decoded.
        compression_ratio: drop segments whose text's zlib compression ratio is above this
            (repetition loops). Whisper's default 2.4.
        no_speech_low, logprob_low: drop segments with ``no_speech_prob`` > ``no_speech_low``
            and ``avg_logprob`` < ``logprob_low`` (0.3 and -1.0).
        no_speech_high, logprob_high: drop segments with ``no_speech_prob`` >
            ``no_speech_high`` and ``avg_logprob`` < ``logprob_high`` (0.5 and -0.5).
    """

    silence_dbfs: float = -60.0
    compression_ratio: float = 2.4
    no_speech_low: float = 0.3
    logprob_low: float = -1.0
    no_speech_high: float = 0.5
    logprob_high: float = -0.5

    def reason(self, seg, hotwords: Optional[str] = None, repeated: bool = False) -> Optional[str]:
        """Why a faster-whisper ``Segment`` looks hallucinated, or ``None`` if it looks real.

        faster-whisper reports ``avg_logprob``, ``compression_ratio`` and
        ``no_speech_prob`` per 30 s decoding window, shared by the window's segments, so
        the compression ratio is also computed for the segment's own text: a loop is
        dropped without taking real speech of the same window with it.

        Args:
            seg: a ``faster_whisper.transcribe.Segment``.
            hotwords: the hotword string the decode was biased with, if any.
            repeated: the same text occurs in another segment of the same window.
        """
        if not seg.text.strip():
            return "empty"
        if hotwords and _echoes_hotwords(seg.text, hotwords):
            return "recites the hotword list"
        ratio = compression_ratio(seg.text)
        if ratio > self.compression_ratio:
            return f"compression ratio {ratio:.1f}"
        if repeated and seg.compression_ratio > self.compression_ratio:
            return f"repeated segment in a looping window (ratio {seg.compression_ratio:.1f})"
        if seg.no_speech_prob > self.no_speech_low and seg.avg_logprob < self.logprob_low:
            return f"no_speech {seg.no_speech_prob:.2f}, logprob {seg.avg_logprob:.2f}"
        if seg.no_speech_prob > self.no_speech_high and seg.avg_logprob < self.logprob_high:
            return f"no_speech {seg.no_speech_prob:.2f}, logprob {seg.avg_logprob:.2f}"
        return None


def compression_ratio(text: str) -> float:
    """UTF-8 length of ``text`` / its zlib-compressed length, as Whisper and faster-whisper
    compute it; > 2.4 marks repetition loops."""
    b = text.encode("utf-8")
    return len(b) / len(zlib.compress(b)) if b else 0.0


def _echoes_hotwords(text: str, hotwords: str) -> bool:
    """True if ``text`` is made only of hotword phrases, at least 3 of them.

    On quiet non-speech Whisper base sometimes just recites its prompt ("turn on the office
    lights, set a timer, hey jarvis, light rose, ice moco"), in list order or looping over
    a few entries ("set a timer, hey jarvis, set a timer, hey jarvis, …"). A sentence built
    only from three or more list entries is not something a user says, while one or two
    entries ("hey jarvis, set a timer") may be.
    """
    words = normalize_text(text).split()
    phrases = sorted({tuple(normalize_text(p).split()) for p in hotwords.split(",")} - {()}, key=len, reverse=True)
    if not words or not phrases:
        return False
    i = count = 0
    while i < len(words):
        match = next((p for p in phrases if tuple(words[i : i + len(p)]) == p), None)
        if match is None:
            return False
        i += len(match)
        count += 1
    return count >= 3


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


def starts_with_phrase(text: str, phrases: Sequence[tuple[str, ...]]) -> bool:
    """True if ``text`` (normalised) begins with one of ``phrases`` (see
    :func:`hotword_phrases`). This is the shape of the hotword leak: "milk, can I have a
    light roast" — 83 of 86 real-voice misses (issue 9)."""
    words = tuple(normalize_text(text).split())
    return any(words[: len(p)] == p for p in phrases)


BIAS_MATCH_MIN = 0.4
""":func:`merge_biased` keeps a vocabulary phrase that the biased decode wrote *instead of*
other words of the unbiased decode only if the two spellings are at least this similar
(``difflib`` character ratio of the normalised spans without spaces): "light roast" for
"light rose" (0.84), "ice moco" for "iced mocha" (0.71), but not "cheese" for "okay"."""


def merge_biased(biased: Transcript, plain: Transcript, phrases: Sequence[tuple[str, ...]], *,
                 word_timestamps: bool = True) -> Transcript:
    """Keep what contextual biasing corrected, drop what it invented.

    Whisper with a hotword prompt sometimes writes a vocabulary phrase nobody said, most
    often in front of the command ("milk, can I have…"). The decode without hotwords of the
    same audio is the evidence: the two word sequences are aligned
    (``difflib.SequenceMatcher`` on normalised words) and, per difference,

    * words only the biased decode has, if they are all hotword-phrase words: the first
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
        phrases: :func:`hotword_phrases` of the hotword list.
        word_timestamps: whether the caller asked for words (else ``words`` stays empty).

    Returns:
        A :class:`Transcript` whose ``decode_ms`` is the sum of both and whose ``dropped``
        also lists the invented words removed (``"bias: milk,"``). ``biased`` itself when
        nothing changes.
    """
    import difflib

    def tokens(t: Transcript) -> list[Word]:
        return list(t.words) if t.words else segment_words(t.segments)

    b, u = tokens(biased), tokens(plain)
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
            if all(bmask[j1:j2]):  # the invented phrase is the first; later ones may be real
                removed += [w.text for w, i in zip(b[j1:j2], bid[j1:j2]) if i == bid[j1]]
                out += [w for w, i in zip(b[j1:j2], bid[j1:j2]) if i != bid[j1]]
            else:
                out += b[j1:j2]
        elif tag == "replace":
            sb, su = "".join(bk[j1:j2]).replace(" ", ""), "".join(uk[i1:i2]).replace(" ", "")
            if all(bmask[j1:j2]) and difflib.SequenceMatcher(None, su, sb).ratio() < BIAS_MATCH_MIN:
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
    text = _join(out)
    segs = ((out[0].start_s, out[-1].end_s, text),) if out else ()
    return Transcript(text, out if word_timestamps else [], biased.language, biased.audio_seconds,
                      biased.decode_ms + plain.decode_ms,
                      biased.dropped + tuple(f"bias: {r}" for r in removed), segs)


def _auto_threads() -> int:
    # CTranslate2 uses 4 intra-op threads when given 0; on a 2-core machine that
    # oversubscribes the cores the audio thread and the other models need.
    return max(1, min(4, os.cpu_count() or 1))


class WhisperASR:
    """faster-whisper Whisper model loaded from a local CTranslate2 folder.

    Args:
        model: ``"base"`` (default; joined into the cache and checksummed once),
            ``"tiny.en"`` or the path of a CTranslate2 Whisper folder (``model.bin``,
            ``config.json``, ``tokenizer.json``, ``vocabulary.*``).
        compute_type: CTranslate2 compute type on CPU (``"int8"``, ``"int8_float32"``,
            ``"float32"``, …).
        beam_size: 1 = greedy (fastest; 0 % WER on jfk.flac with base).
        language: ISO code, or ``None`` to detect it (multilingual models only; English-only
            ``*.en`` models always decode English).
        cpu_threads: intra-op threads; 0 = ``min(4, os.cpu_count())``.
        vad_filter: run Silero VAD (shipped in faster-whisper) before decoding to skip
            non-speech (part of the hallucination guard; ~20 ms per 11 s).
        temperatures: decoding temperatures; more than one enables Whisper's fallback
            re-decoding (slow, see module doc).
        guard: hallucination thresholds.
        bias_guard: default of :meth:`transcribe`'s ``bias_guard``: never let hotwords add
            a vocabulary phrase the audio does not support (see :func:`merge_biased`).
        bias_via: how the ``hotwords`` of :meth:`transcribe` reach Whisper:
            ``"hotwords"`` (faster-whisper's ``hotwords``) or ``"prompt"`` (as
            ``initial_prompt`` text ending in a full stop). Both put the phrases after
            ``<|startofprev|>``; they differ in where the caller's prompt goes.

    Attributes:
        model_path: the folder loaded.
        load_seconds: wall time of resolving + loading the model, seconds.
        is_multilingual: whether the model knows languages other than English.

    Raises:
        ModelError: unknown model name, missing package/folder/file, checksum mismatch,
            or a folder CTranslate2 cannot load (the message names the folder and what
            was expected).
        SettingsError: ``compute_type`` not supported on this CPU.

    Thread safety: :meth:`transcribe` may be called from several threads; calls are
    serialised (one decode at a time per model).
    """

    def __init__(
        self,
        model: str = "base",
        compute_type: str = "int8",
        beam_size: int = 1,
        language: Optional[str] = "en",
        cpu_threads: int = 0,
        *,
        vad_filter: bool = True,
        temperatures: Sequence[float] = (0.0,),
        guard: HallucinationGuard = HallucinationGuard(),
        bias_guard: bool = True,
        bias_via: str = "prompt",
    ) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel

        from models.registry import resolve_asr_model

        t0 = time.perf_counter()
        self.model_name = model
        self.model_path: Path = resolve_asr_model(model)
        supported = ctranslate2.get_supported_compute_types("cpu")
        if compute_type not in supported and compute_type not in ("default", "auto"):
            raise SettingsError(
                f"ASR compute type '{compute_type}' is not supported on this CPU.",
                f"Choose one of: {', '.join(sorted(supported))}.",
            )
        if not (self.model_path / "tokenizer.json").is_file():
            # faster-whisper would fall back to downloading openai/whisper-tiny's tokenizer.
            raise ModelError(
                f"{self.model_path} is not a complete faster-whisper model: tokenizer.json is missing.",
                "A CTranslate2 Whisper folder needs model.bin, config.json, tokenizer.json and vocabulary.*; "
                "convert with ct2-transformers-converter --copy_files tokenizer.json.",
            )
        threads = cpu_threads if cpu_threads > 0 else _auto_threads()
        try:
            self._model = WhisperModel(
                str(self.model_path),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=1,
                local_files_only=True,
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError on bad files
            raise ModelError(
                f"Cannot load the Whisper model in {self.model_path}: {exc}",
                "Expected a CTranslate2-converted Whisper model (model.bin, config.json, tokenizer.json, "
                "vocabulary.*); re-copy or re-convert it, or choose 'base' / 'tiny.en'.",
            ) from exc
        self.is_multilingual: bool = bool(self._model.model.is_multilingual)
        if language and not self.is_multilingual and language != "en":
            log.warning("%s is English-only; decoding English instead of %r", self.model_path, language)
            language = "en"
        self.language = language
        self.beam_size = int(beam_size)
        self.compute_type = compute_type
        self.cpu_threads = threads
        self.vad_filter = bool(vad_filter)
        self.temperatures = tuple(float(t) for t in temperatures) or (0.0,)
        self.guard = guard
        self.bias_guard = bool(bias_guard)
        if bias_via not in ("hotwords", "prompt"):
            raise ValueError(f"bias_via must be 'hotwords' or 'prompt', not {bias_via!r}")
        self.bias_via = bias_via
        self.vad_parameters: Optional[dict] = None
        """faster-whisper ``VadOptions`` fields for ``vad_filter`` (``None`` = its defaults:
        threshold 0.5, speech_pad_ms 400, min_silence_duration_ms 2000)."""
        self._lock = threading.Lock()
        self.load_seconds = time.perf_counter() - t0

    def __repr__(self) -> str:
        return f"WhisperASR({self.model_name!r}, compute_type={self.compute_type!r}, beam_size={self.beam_size})"

    def _fit_prompt(self, seconds: float, hotwords: Optional[str], prompt: Optional[str]) -> tuple[Optional[str], int]:
        """Fit hotwords, prompt and generated tokens into Whisper's 448-token context.

        faster-whisper raises ValueError when prompt + ``max_new_tokens`` exceed it, and a
        long skill vocabulary can fill it. Each window may generate ``TOKENS_PER_S`` per
        second of audio + ``TOKENS_SLACK``; the hotwords get what is left beside the
        prompt and at least half that budget, and at most ``PROMPT_MAX_TOKENS`` (with
        ``bias_via="prompt"``: together with the prompt); trailing phrases are dropped
        first, whole phrases only. Then the budget takes the rest.

        Returns:
            (hotwords to use, ``max_new_tokens``).
        """
        enc = self._model.hf_tokenizer

        def n_tokens(text: Optional[str], cap: int = PROMPT_MAX_TOKENS) -> int:
            if not text or not text.strip():
                return 0
            return min(len(enc.encode(" " + text.strip(), add_special_tokens=False).ids), cap)

        fixed = 1 + 4 + 1  # <|startofprev|>, sot/language/task/notimestamps, margin
        p_len = n_tokens(prompt)
        want = int(TOKENS_PER_S * min(seconds, 30.0)) + TOKENS_SLACK
        floor = int(TOKENS_PER_S / 2 * min(seconds, 30.0)) + TOKENS_SLACK
        room = 448 - fixed - p_len - floor
        # faster-whisper silently cuts hotwords to their first 223 tokens (and a prompt to its
        # last 223), i.e. in the middle of a phrase: an unfinished list, which Whisper then
        # continued into the transcript ("milk, can I have…", DESIGN.md). Cut whole phrases.
        room = min(room, PROMPT_MAX_TOKENS - (p_len + 1 if self.bias_via == "prompt" else 0))
        if hotwords and n_tokens(hotwords, 10_000) > room:
            phrases = hotwords.split(", ")
            lo, hi = 0, len(phrases)  # the largest k with the first k phrases fitting
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if n_tokens(", ".join(phrases[:mid]), 10_000) <= room:
                    lo = mid
                else:
                    hi = mid - 1
            log.debug("hotwords cut to %d of %d phrases to fit Whisper's context", lo, len(phrases))
            hotwords = ", ".join(phrases[:lo]) or None
        budget = min(want, 448 - fixed - p_len - n_tokens(hotwords))
        return hotwords, max(1, budget)

    def transcribe(
        self,
        audio: np.ndarray,
        hotwords: Hotwords = None,
        initial_prompt: Optional[str] = None,
        *,
        word_timestamps: bool = True,
        bias_guard: Optional[bool] = None,
    ) -> Transcript:
        """Transcribe one utterance.

        Args:
            audio: 16 kHz mono, shape ``(n,)``, ``int16`` or ``float32`` in [-1, 1].
                Whisper sees 30 s at a time; longer audio is decoded window by window.
            hotwords: phrases to bias recognition towards (see :func:`format_hotwords`);
                a list too long for Whisper's context loses its trailing phrases.
            initial_prompt: text said just before this audio (context). Whisper tends to
                *skip* words of the prompt that are also spoken in the audio, so pass only
                text that is not in ``audio``.
            word_timestamps: compute per-word times and probabilities (needed by
                streaming; otherwise ``Transcript.words`` is empty).
            bias_guard: check a hotword-biased transcript that *begins* with a hotword
                phrase against a decode without hotwords and drop vocabulary words the
                latter does not support (:func:`merge_biased`); ``None`` = the model's
                :attr:`bias_guard` setting (on by default).

        Returns:
            :class:`Transcript`; ``text == ""`` for silence, noise and dropped
            hallucinations. ``decode_ms`` times the whole lazy segment generator (both
            decodes when a hotword-biased decode gave nothing usable although VAD heard
            speech, and was repeated without hotwords, or when the bias guard decoded
            again without them).

        Raises:
            TypeError, ValueError: audio of the wrong dtype or shape (see :func:`to_float32`).
        """
        x = to_float32(audio)
        biased = self._transcribe(x, hotwords, initial_prompt, word_timestamps)
        guard = self.bias_guard if bias_guard is None else bool(bias_guard)
        phrases = hotword_phrases(hotwords)
        if not (guard and phrases and biased.text and starts_with_phrase(biased.text, phrases)):
            return biased
        plain = self._transcribe(x, None, initial_prompt, word_timestamps)
        return merge_biased(biased, plain, phrases, word_timestamps=word_timestamps)

    def _transcribe(self, x: np.ndarray, hotwords: Hotwords, initial_prompt: Optional[str],
                    word_timestamps: bool) -> Transcript:
        """One decode (with the hallucination guard) of float32 audio; see :meth:`transcribe`."""
        seconds = len(x) / SAMPLE_RATE
        lang = self.language or ""
        if len(x) == 0 or loudest_frame_dbfs(x) < self.guard.silence_dbfs:
            return Transcript("", [], lang or "en", seconds, 0.0)
        hw, budget = self._fit_prompt(seconds, format_hotwords(hotwords), initial_prompt)
        prompt, hw_arg = initial_prompt or None, hw
        if hw and self.bias_via == "prompt":
            # the list as text said before the audio, closed by a full stop; the caller's
            # own prompt (streaming: committed text) stays last, nearest the audio
            prompt, hw_arg = hw + "." + (" " + initial_prompt if initial_prompt else ""), None
        with self._lock:
            t0 = time.perf_counter()
            segments, info = self._model.transcribe(
                x,
                language=self.language,
                beam_size=self.beam_size,
                temperature=list(self.temperatures),
                condition_on_previous_text=False,
                initial_prompt=prompt,
                hotwords=hw_arg,
                word_timestamps=word_timestamps,
                vad_filter=self.vad_filter,
                vad_parameters=dict(self.vad_parameters) if self.vad_parameters else None,
                compression_ratio_threshold=self.guard.compression_ratio,
                log_prob_threshold=self.guard.logprob_low,
                no_speech_threshold=0.6,
                max_new_tokens=budget,
            )
            segs = list(segments)  # the generator decodes lazily: iterate inside the timer
            decode_ms = (time.perf_counter() - t0) * 1000.0
        repeats = Counter((seg.seek, normalize_text(seg.text)) for seg in segs)
        kept, dropped = [], []
        for seg in segs:
            why = self.guard.reason(seg, hw, repeated=repeats[(seg.seek, normalize_text(seg.text))] > 1)
            if why is None:
                kept.append(seg)
            else:
                log.debug("dropped ASR segment %r (%s)", seg.text, why)
                dropped.append(seg.text.strip())
        if hw and not kept and float(getattr(info, "duration_after_vad", seconds)) >= HOTWORD_RETRY_MIN_SPEECH_S:
            # Measured: with some hotword lists Whisper base emits nothing (or only
            # hallucinations) for clear speech — e.g. jfk.flac with 112 single-word
            # phrases. VAD heard speech, so decode once more without the bias.
            log.debug("nothing usable with hotwords; decoding again without them")
            retry = self._transcribe(x, None, initial_prompt, word_timestamps)
            return Transcript(retry.text, retry.words, retry.language, seconds,
                              decode_ms + retry.decode_ms, tuple(dropped) + retry.dropped, retry.segments)
        words = [
            Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
            for seg in kept
            for w in (seg.words or [])
            if w.word.strip()
        ]
        text = " ".join(" ".join(seg.text.split()) for seg in kept).strip()
        segments = tuple((float(seg.start), float(seg.end), " ".join(seg.text.split())) for seg in kept)
        return Transcript(text, words, info.language or lang, seconds, decode_ms, tuple(dropped), segments)


# --------------------------------------------------------------------------- streaming


class StreamingTranscriber:
    """LocalAgreement-2 streaming transcription of one utterance at a time.

    After Macháček, Dabre & Bojar, "Turning Whisper into Real-Time Transcription System"
    (IJCNLP-AACL 2023 demo, arXiv:2307.14743; github.com/ufal/whisper_streaming):

    * :meth:`add` appends audio to the buffer;
    * :meth:`maybe_partial` re-decodes the whole buffer once at least ``interval_s`` of new
      audio arrived, and commits the longest common word prefix of this hypothesis and
      the previous one (words two consecutive decodes agree on);
    * committed text that has been trimmed out of the buffer is the decoder prompt (last
      200 characters) — never text still in the buffer, because Whisper skips words that
      are in both the prompt and the audio;
    * when the buffer exceeds ``max_buffer_s`` it is trimmed at the end of a committed word
      (preferably one ending a sentence) that leaves at least ``keep_s`` of audio as
      acoustic context, so the buffer stays well inside Whisper's 30 s window;
    * :meth:`finish` (at the VAD endpoint) decodes the rest and returns committed words +
      the final tail (or, while the buffer holds the whole utterance, the final decode of
      it, which may correct committed words: see :meth:`finish`).

    One decode costs about the same for a 1 s or an 11 s buffer (Whisper encodes a 30 s
    window), so ``interval_s`` sets the CPU load: base needs ~0.5–1 s per decode on two
    cores, so with 0.7 s the worker is busy most of the time; tiny.en about half of that.

    Args:
        asr: the model to decode with (shared; decodes are serialised by it).
        interval_s: re-decode after this much new audio, seconds.
        hotwords: phrases to bias towards (see :func:`format_hotwords`).
        max_buffer_s: trim the audio buffer when it grows beyond this, seconds.
        keep_s: audio to keep before the end of the buffer when trimming, seconds.
        prompt_chars: how much trimmed committed text to pass as the prompt.
        skip_silent_final: at :meth:`finish`, reuse the last hypothesis instead of decoding
            again when the audio since the last decode holds no speech (Silero VAD), and
            either the last two decodes agreed on every word and the last decode ended with
            ≥ ``FINAL_MARGIN_S`` of non-speech, or the last decode was forced
            (``maybe_partial(force=True)``, the pipeline's speculative final decode at
            trailing silence) and ended with ≥ ``SPECULATIVE_MARGIN_S`` of it. The endpoint comes
            after ~0.7 s of silence, which the worker has usually decoded already, so this
            removes a whole decode (0.3–2 s) from the endpoint-to-reply latency.

    Threading: :meth:`add` may be called from the audio thread while another thread (the
    caller's worker) runs :meth:`maybe_partial`; no thread is started here.
    :meth:`maybe_partial`, :meth:`finish` and :meth:`reset` are serialised.

    Attributes:
        decodes: decodes run for the current utterance.
        decode_ms_total: their summed wall time, ms.
        trims: buffer trims in the current utterance.
        final_decode_skipped: whether the last :meth:`finish` reused the last hypothesis.
    """

    def __init__(
        self,
        asr: WhisperASR,
        interval_s: float = 0.7,
        hotwords: Hotwords = None,
        *,
        max_buffer_s: float = 15.0,
        keep_s: float = 4.0,
        prompt_chars: int = 200,
        skip_silent_final: bool = True,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        if not 0 <= keep_s < max_buffer_s:
            raise ValueError("need 0 <= keep_s < max_buffer_s")
        self.asr = asr
        self.interval_s = float(interval_s)
        self.hotwords = format_hotwords(hotwords)
        self.max_buffer_s = float(max_buffer_s)
        self.keep_s = float(keep_s)
        self.prompt_chars = int(prompt_chars)
        self.skip_silent_final = bool(skip_silent_final)
        self.final_decode_skipped = False
        self._in_lock = threading.Lock()  # guards _pending and _total
        self._decode_lock = threading.RLock()
        self.reset()

    # -- state ------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all audio and words; start a new utterance at stream time 0."""
        with self._decode_lock:
            with self._in_lock:
                self._pending: list[np.ndarray] = []
                self._total = 0  # samples added since reset
                self._finished = False
            self._buf = np.zeros(0, np.float32)
            self._buf_start = 0  # stream sample index of _buf[0]
            self._decoded_upto = 0  # _total at the last decode
            self._committed: list[Word] = []
            self._n_trimmed = 0  # committed words that lie before the buffer (prompt)
            self._hyp: list[Word] = []  # uncommitted tail of the last hypothesis
            self._stable = False  # the last two hypotheses were identical
            self._speculative = False  # the last decode was forced at trailing silence
            self._last_raw: list[Word] = []  # the last decode's words, committed ones included
            self._language = self.asr.language or "en"
            self.decodes = 0
            self.decode_ms_total = 0.0
            self.trims = 0

    def add(self, block: np.ndarray) -> None:
        """Append audio.

        Args:
            block: 16 kHz mono, shape ``(n,)``, ``int16`` (as captured) or float32 in
                [-1, 1]. Any block size works; the pipeline uses 80 ms (1280 samples).

        After :meth:`finish`, the next ``add`` starts a new utterance (implicit
        :meth:`reset`).

        Raises:
            TypeError, ValueError: wrong dtype or shape (see :func:`to_float32`).
        """
        x = to_float32(block)
        if self._finished:
            self.reset()
        with self._in_lock:
            self._pending.append(x)
            self._total += len(x)

    @property
    def audio_seconds(self) -> float:
        """Audio added since the last reset, seconds."""
        return self._total / SAMPLE_RATE

    @property
    def buffer_seconds(self) -> float:
        """Audio currently kept for re-decoding (after trims), seconds."""
        return (self._total - self._buf_start) / SAMPLE_RATE

    @property
    def committed_words(self) -> list[Word]:
        """Committed words so far (times in stream seconds); a copy."""
        return list(self._committed)

    @property
    def pending_words(self) -> list[Word]:
        """Uncommitted words of the last hypothesis; a copy."""
        return list(self._hyp)

    @property
    def committed_text(self) -> str:
        """Committed words joined by spaces."""
        return _join(self._committed)

    # -- decoding -----------------------------------------------------------------------

    def _take_pending(self) -> None:
        with self._in_lock:
            blocks, self._pending = self._pending, []
            total = self._total
        if blocks:
            self._buf = np.concatenate([self._buf, *blocks])
        self._decoded_upto = total

    def _prompt(self) -> Optional[str]:
        if self._n_trimmed == 0:
            return None
        text = _join(self._committed[: self._n_trimmed])
        return text[-self.prompt_chars :].lstrip() or None

    def _decode(self) -> tuple[list[Word], float]:
        """Decode the buffer; return the hypothesis words beyond what is committed."""
        offset = self._buf_start / SAMPLE_RATE
        # Exact word times matter once the buffer may be trimmed at a word end; for short
        # buffers (commands) the segment-interpolated words are enough and save the
        # alignment pass (see segment_words).
        exact = self.buffer_seconds > EXACT_WORD_TIMES_AFTER_S
        res = self.asr.transcribe(self._buf, hotwords=self.hotwords, initial_prompt=self._prompt(), word_timestamps=exact)
        self.decodes += 1
        self.decode_ms_total += res.decode_ms
        if res.language:
            self._language = res.language
        words = res.words if exact else segment_words(res.segments)
        hyp = [Word(w.start_s + offset, w.end_s + offset, w.text, w.probability) for w in words]
        self._last_raw = hyp
        return self._new_part(hyp), res.decode_ms

    def _new_part(self, hyp: list[Word]) -> list[Word]:
        """Strip the words already committed from a hypothesis of the buffer.

        The buffer starts at a committed word's end, so a hypothesis normally begins with
        the committed words that are still in the buffer: match them by text. If Whisper
        re-worded them, fall back to whisper_streaming's rule: keep words starting after
        the last committed word's end (−0.1 s), then remove up to 5 leading words that
        repeat the committed tail.
        """
        inbuf = [_norm_word(w.text) for w in self._committed[self._n_trimmed :]]
        if not inbuf:
            return hyp
        norm = [_norm_word(w.text) for w in hyp]
        if norm[: len(inbuf)] == inbuf:
            return hyp[len(inbuf) :]
        last_end = self._committed[-1].end_s
        cand = [w for w in hyp if w.start_s > last_end - 0.1]
        tail = [_norm_word(w.text) for w in self._committed]
        for n in range(min(5, len(cand), len(tail)), 0, -1):
            if [_norm_word(w.text) for w in cand[:n]] == tail[-n:]:
                return cand[n:]
        return cand

    def _tail_is_silent(self) -> bool:
        """True if the last hypothesis can stand as the final one: the last two decodes
        agreed on every word (so the last did not drop or change one), or the last decode
        was the speculative one forced at trailing silence; and Silero VAD (the model
        shipped in faster-whisper, max probability < 0.5) hears no speech in the last
        ``FINAL_MARGIN_S`` (speculative: ``SPECULATIVE_MARGIN_S``) of the decoded audio —
        so that decode heard the end of the last word — nor in the audio added since."""
        if not (self._stable or self._speculative):
            return False
        margin = SPECULATIVE_MARGIN_S if self._speculative else FINAL_MARGIN_S
        with self._in_lock:
            pending = list(self._pending)
        heard = self._buf[-int(margin * SAMPLE_RATE) :] if len(self._buf) else np.zeros(0, np.float32)
        tail = np.concatenate([heard, *pending]).astype(np.float32, copy=False)
        if len(tail) == 0:
            return True
        from faster_whisper.vad import get_vad_model

        padded = np.pad(tail, (0, -len(tail) % 512))
        return float(np.max(get_vad_model()(padded))) < 0.5

    def _trim(self) -> None:
        """Trim the audio buffer at a committed word end if it is longer than max_buffer_s."""
        end_s = self._total / SAMPLE_RATE
        if self.buffer_seconds <= self.max_buffer_s:
            return
        limit = end_s - self.keep_s
        cands = [
            i for i in range(self._n_trimmed, len(self._committed))
            if self._committed[i].end_s <= limit and self._committed[i].end_s > self._buf_start / SAMPLE_RATE
        ]
        if not cands:
            return
        sentence_ends = [i for i in cands if self._committed[i].text.endswith((".", "?", "!", "。", "？", "！"))]
        i = (sentence_ends or cands)[-1]
        cut = int(round(self._committed[i].end_s * SAMPLE_RATE))
        drop = cut - self._buf_start
        if drop <= 0:
            return
        self._buf = self._buf[drop:]
        self._buf_start = cut
        self._n_trimmed = i + 1
        self.trims += 1

    def maybe_partial(self, force: bool = False) -> Optional[tuple[str, str]]:
        """Re-decode if at least ``interval_s`` of new audio arrived since the last decode
        (or, with ``force``, any new audio at all).

        Call it from your own worker thread (it blocks for one decode, ~0.3–1 s). The
        pipeline forces one when trailing silence begins, so that :meth:`finish` at the
        endpoint finds nothing new to decode (a speculative final decode).

        Returns:
            ``None`` when not enough new audio arrived (nothing was decoded), else
            ``(committed, pending)``: all committed text of the utterance so far (only ever
            grows: each value is a prefix of later ones) and the not yet confirmed rest of
            the latest hypothesis.
        """
        with self._decode_lock:
            with self._in_lock:
                new = self._total - self._decoded_upto
            if self._finished or new <= 0 or (not force and new < self.interval_s * SAMPLE_RATE):
                return None
            self._take_pending()
            hyp, _ = self._decode()
            k = 0
            while k < min(len(hyp), len(self._hyp)) and _norm_word(hyp[k].text) == _norm_word(self._hyp[k].text):
                k += 1
            # the whole hypothesis agreed with the previous one (nothing new, nothing lost)
            self._stable = k == len(hyp) == len(self._hyp)
            self._speculative = force
            self._committed.extend(hyp[:k])
            self._hyp = hyp[k:]
            if k:
                self._trim()
            return self.committed_text, _join(self._hyp)

    def finish(self) -> Transcript:
        """Decode the rest at the endpoint and return the utterance's final transcript.

        The final transcript is the committed words + the final decode's new words. While
        the buffer has never been trimmed (utterances up to ``max_buffer_s``, i.e. nearly
        all commands) the last decode covered the whole utterance with full context, so
        its words are used as they are: they may *correct* committed words (LocalAgreement
        commits what two consecutive decodes agree on, and they can agree on a wrong word:
        base committed "asked not" for "ask not" in 1 of 28 random decode schedules of
        jfk.flac, while its decode of the whole buffer said "ask not"). Show the final
        text in place of the partials. If that decode has lost more than one word against
        the committed words + tail, the latter are kept.

        Returns:
            :class:`Transcript` of the utterance; ``words`` carry
            stream times, ``audio_seconds`` is all audio added, ``decode_ms`` the final
            decode only (0 when the last hypothesis was reused: no audio since the last
            decode, or only non-speech, see ``skip_silent_final``). The next :meth:`add`
            starts a new utterance.
        """
        with self._decode_lock:
            with self._in_lock:
                new = self._total - self._decoded_upto
            decode_ms = 0.0
            self.final_decode_skipped = False
            if self.decodes and new > 0 and self.skip_silent_final and self._tail_is_silent():
                self._take_pending()
                tail = self._hyp
                self.final_decode_skipped = True
            elif new > 0 or (self.decodes == 0 and self._total > 0):
                self._take_pending()
                tail, decode_ms = self._decode()
            else:
                tail = self._hyp
            words = self._committed + tail
            if self.decodes and self._n_trimmed == 0 and len(self._last_raw) >= len(words) - 1:
                # The whole utterance is still in the buffer, so the last decode saw all of
                # it with full context: prefer it to the committed words, which two partial
                # decodes may have agreed on wrongly ("asked not" for "ask not", base).
                words = list(self._last_raw)
            self._committed = list(words)
            self._hyp = []
            self._finished = True
            return Transcript(_join(words), list(words), self._language, self.audio_seconds, decode_ms)


# --------------------------------------------------------------------------- files


_file_model: dict[str, WhisperASR] = {}
_file_lock = threading.Lock()


def transcribe_file(path: Union[str, Path], model: str = "base") -> Transcript:
    """Transcribe an audio file in one go (convenience for the CLI and tests).

    The last model used is kept loaded, so repeated calls with the same ``model`` do not
    reload it; create a :class:`WhisperASR` yourself for other options.

    Args:
        path: any file :func:`assistant.audio.read_audio` can decode (WAV, FLAC, OGG via
            libsndfile; MP3/M4A/Opus/WebM via FFmpeg), any rate and channel count.
        model: ``"base"``, ``"tiny.en"`` or a CTranslate2 Whisper folder.

    Returns:
        :class:`Transcript` of the whole file (``audio_seconds`` = file duration).

    Raises:
        AudioInputError: the file cannot be read.
        ModelError: the model cannot be resolved or loaded.
    """
    from assistant.audio import read_audio  # 16 kHz mono int16; raises AudioInputError

    audio = read_audio(path)
    with _file_lock:
        asr = _file_model.get(model)
        if asr is None:
            _file_model.clear()
            asr = _file_model[model] = WhisperASR(model)
    return asr.transcribe(audio)
