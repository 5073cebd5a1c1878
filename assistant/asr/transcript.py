"""What recognition returns: :class:`Word` and :class:`Transcript`, and helpers on words.

Times are seconds from the beginning of the audio given (for streaming: from the first
sample added since :meth:`StreamingTranscriber.reset
<assistant.asr.streaming.StreamingTranscriber.reset>`); decoding durations are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence


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
class Segment:
    """One Whisper segment of a long recording (:meth:`WhisperASR.iter_segments
    <assistant.asr.model.WhisperASR.iter_segments>`).

    Attributes:
        start_s: start time in seconds from the beginning of the audio.
        end_s: end time, seconds (``>= start_s``).
        text: the segment's text, whitespace collapsed to single spaces.
        words: its aligned words (empty without word timestamps).
    """

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()


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


def transcript_words(t: Transcript) -> list[Word]:
    """The words of ``t``: its aligned :attr:`Transcript.words` when it has them, else
    :func:`segment_words` of its segments (NaN probabilities)."""
    return list(t.words) if t.words else segment_words(t.segments)


def join_words(words: Iterable[Word]) -> str:
    """The texts of ``words`` joined by single spaces (empty texts skipped)."""
    return " ".join(w.text for w in words if w.text)
