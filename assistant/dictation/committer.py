"""Dictation streaming with a stable prefix: LocalAgreement-2 over a growing buffer, flushed
at every pause.

After D. Macháček, R. Dabre, O. Bojar, "Turning Whisper into Real-Time Transcription
System" (IJCNLP-AACL 2023 demo, arXiv:2307.14743; github.com/ufal/whisper_streaming). The
LocalAgreement-2 loop itself — re-decode the growing buffer, commit the longest common word
prefix of two consecutive hypotheses, trim the buffer at a committed sentence end, pass
trimmed text as the prompt — is :class:`assistant.asr.StreamingTranscriber`; this module
adds what dictation needs on top of it:

* **committed text is never retracted.** ``StreamingTranscriber.finish`` may replace
  committed words by a better final decode (right for commands, wrong once the words have
  been typed), so the stream is never *finished* here: at a pause the rest is decoded
  (one forced decode) and its unconfirmed tail committed as it is
  (:meth:`StreamingTranscriber.commit_pending`, as whisper_streaming's ``finish``), and
  streaming goes on with the same buffer, which keeps the acoustic context (a short phrase
  decoded alone came out as "ASK!" / "Knock!" for jfk's "ask not");
* **pause detection**: Silero VAD (:func:`assistant.asr.hears_speech`) over the last
  ``pause_s`` of audio. Nothing is decoded while no speech was heard since the last flush;
  after ``restart_after_s`` of silence the buffer is dropped (all but its last
  ``PRE_SPEECH_KEEP_S``), so a long silence never grows it;
* **context across restarts**: after a buffer drop, the text committed so far (last
  ``context_chars``) is the prompt (``StreamingTranscriber.context``), so Whisper goes on
  with the text instead of starting afresh;
* **Whisper's punctuation at pauses**: a decode that ends in silence usually ends with
  ". " or "!" that nobody said ("Americans!"); the command layer drops Whisper's
  punctuation by default (:class:`assistant.dictation.commands.Formatter`,
  ``auto_punctuation=False``) so that spoken punctuation rules;
* **spacing across chunks**: each update's ``committed`` starts with one space when it
  follows committed text, so concatenating the updates gives the whole text.

Units: audio is 16 kHz mono (``int16`` blocks as captured, or float32 in [-1, 1]); times
are seconds since the :class:`Committer` was created or :meth:`Committer.reset`
("dictation time"); decode durations are milliseconds.

Threading: :meth:`Committer.add` is for the audio thread (cheap, never decodes);
:meth:`Committer.step` / :meth:`Committer.flush` for one worker thread (each may block
for one Whisper decode, 0.3–1 s with base on two cores).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

from assistant.asr.guard import hears_speech
from assistant.asr.model import WhisperASR
from assistant.asr.samples import SAMPLE_RATE, to_float32
from assistant.asr.streaming import StreamingTranscriber
from assistant.asr.transcript import Word, join_words
from assistant.asr.vocabulary import Hotwords

FLUSH_WINDOW_S = 30.0
"""Shortest encoder window of the decode at a pause (:meth:`Committer.flush`), seconds,
whatever ``window_s``: that decode's tail is committed without a second decode agreeing
with it, and on the same 1.76–2.5 s of Piper's "Dear Anna, comma." the 15 s window gave
"Kama" in 7 of 12 kernel × length cases, the 30 s window in none (``tests/test_dictation.py``
at 0.5 s / 15 s typed "Deer Anna Kama"). Costs ~70–90 ms more per phrase than 15 s."""

PRE_SPEECH_KEEP_S = 0.3
"""When only silence has been buffered for a phrase, all but this many seconds of it
(the onset of the next word) are dropped instead of decoded."""


@dataclass(frozen=True)
class DictationUpdate:
    """What one :meth:`Committer.step` or :meth:`Committer.flush` produced.

    Attributes:
        committed: newly committed text (never retracted later), with one leading space
            when it follows earlier committed text; ``""`` if nothing new was committed.
            Concatenating every update's ``committed`` gives :attr:`Committer.committed_text`.
        words: the newly committed words, times in dictation seconds.
        tail: the unstable rest of the latest hypothesis (for an overlay; never type it);
            ``""`` after a flush.
        phrase_end: this update ended a phrase (a pause was heard, or :meth:`Committer.flush`
            was called): the command layer may treat it as an utterance boundary
            (:meth:`assistant.dictation.commands.Formatter.end_phrase`).
    """

    committed: str
    words: tuple[Word, ...]
    tail: str
    phrase_end: bool


class Committer:
    """Streaming dictation: int16 16 kHz blocks in, committed text + unstable tail out.

    Args:
        asr: the loaded Whisper model (shared with the command pipeline; decodes are
            serialised by it).
        interval_s: re-decode after this much new audio, seconds (CPU load: one decode of
            a dictation buffer costs ~0.15–0.4 s with base on two cores with the 15 s window,
            ~0.5–1 s with 30 s). Default 0.5 s with the 15 s window (since 2026-12-07; before,
            1.0 s with 30 s): word end → keystroke p50 982 / p95 1663 ms against 1703 / 2630
            ms, passage WER mean 0.092 vs 0.080, commands 50 % both, jfk WER 0 both
            (``dictation_bench.py``, AMD EPYC, 2 cores, load 0.5–1.5). Faults of 0.5 s / 15 s
            decodes fixed on the way, in :class:`StreamingTranscriber`: "thank" dropped when
            Whisper re-spelled a committed word (``end_of_committed``, then
            ``end_of_respelled``: placed by its letters); a prompt echoed over silence after a
            buffer trim (``_drop_echo``); a buffer never trimmed when nothing new was
            committed (every later phrase lost; now trimmed once stalled,
            ``STALLED_DECODES``); a repetition loop two decodes agreed on ("I bought a blue
            bike." typed twice, ``_decode`` re-decodes without context); a word glued to a
            committed one ("Stopdictation.", ``after_glued``; "asked" after "ask" is none); a
            decode that does not place the committed words keeps the tail; and here, the
            pause's decode, whose tail is committed unconfirmed, runs in the 30 s window
            (``flush_window_s``: at 15 s it typed "Deer Anna Kama" for "Dear Anna comma").
            ``dictation_load_bench.py --interval 0.5 --asr-window 15 --seeds 3``: 20 of 20
            schedules type the exact text, with native and GENERIC kernels;
            ``tests/test_dictation.py`` passes at both settings with GENERIC, AVX2 and AVX-512.
        window_s: shortest Whisper encoder window of the decodes, seconds (setting
            ``dictation.window_s``, 15); a decode's window is also at least twice its buffer
            (:meth:`StreamingTranscriber.window_for_buffer`).
        flush_window_s: shortest encoder window of the decode at a pause, seconds
            (default ``FLUSH_WINDOW_S``, 30 s, whatever ``window_s``; ``None``: ``window_s``).
        pause_s: a pause this long (no speech per Silero VAD), seconds, ends a phrase:
            the rest is committed (:meth:`flush`).
        max_buffer_s, keep_s: buffer trimming of :class:`StreamingTranscriber`, seconds:
            beyond ``max_buffer_s`` the buffer is cut at a committed word end, preferably a
            sentence end, keeping at least ``keep_s`` of audio.
        hotwords: phrases to bias recognition towards (skills' and user vocabulary); the
            bias guard of :class:`WhisperASR` keeps them from being invented.
        restart_after_s: after this much silence (seconds, ≥ ``pause_s``) the audio buffer
            is dropped; the committed text then reaches Whisper as the prompt.
        context_chars: how much committed text is passed as the prompt after a restart.

    Attributes:
        phrases: flushes (pauses after speech) since the last reset.
        restarts: buffer drops after long silences since the last reset.

    Raises:
        ValueError: non-positive ``interval_s``/``pause_s``, ``pause_s > restart_after_s`` or
            ``keep_s >= max_buffer_s``.
    """

    def __init__(
        self,
        asr: WhisperASR,
        *,
        interval_s: float = 0.5,
        pause_s: float = 0.6,
        max_buffer_s: float = 12.0,
        keep_s: float = 3.0,
        hotwords: Hotwords = None,
        restart_after_s: float = 2.5,
        context_chars: int = 200,
        window_s: float = 15.0,
        flush_window_s: Optional[float] = FLUSH_WINDOW_S,
    ) -> None:
        if not 0 < pause_s <= restart_after_s:
            raise ValueError("need 0 < pause_s <= restart_after_s")
        self.pause_s = float(pause_s)
        self.restart_after_s = float(restart_after_s)
        self.context_chars = int(context_chars)
        self.flush_window_s = flush_window_s
        self.transcriber = StreamingTranscriber(asr, interval_s, hotwords, max_buffer_s=max_buffer_s,
                                                keep_s=keep_s, skip_silent_final=False, window_s=window_s)
        self._lock = threading.Lock()  # guards _queue, _total
        self._step_lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget all audio and committed text; dictation time starts again at 0."""
        with self._step_lock:
            with self._lock:
                self._queue: deque[np.ndarray] = deque()  # added, not yet given to the transcriber
                self._total = 0  # samples added since reset
            self._recent: deque[np.ndarray] = deque()  # the last >= pause_s of processed audio
            self._recent_n = 0  # samples in _recent
            self.transcriber.reset()
            self.transcriber.context = ""
            self._phrase_offset = 0  # dictation sample index of the current phrase's start
            self._phrase_n = 0  # samples given to the transcriber in the current phrase
            self._emitted = 0  # transcriber.committed_words already reported in this phrase
            self._text = ""
            self._unflushed = False  # speech heard since the last flush
            self._silence_s = 0.0  # length of the current silence, seconds (0: speech)
            self._restart_due_s = self.restart_after_s  # silence length of the next buffer drop
            self._checked_at = 0  # _phrase_n at the last pause check
            self.phrases = 0
            self.restarts = 0

    @property
    def committed_text(self) -> str:
        """Everything committed since the last reset (single spaces between words)."""
        return self._text

    @property
    def audio_seconds(self) -> float:
        """Dictation time: audio added since the last reset, seconds."""
        return self._total / SAMPLE_RATE

    def add(self, block: np.ndarray) -> None:
        """Append one block of audio (audio thread: only queues it, never waits for a decode).

        Args:
            block: 16 kHz mono, shape ``(n,)``, ``int16`` or float32 in [-1, 1]; any size
                (the engine uses 80 ms = 1280 samples).

        Raises:
            TypeError, ValueError: wrong dtype or shape (see :func:`assistant.asr.to_float32`).
        """
        x = to_float32(block)
        with self._lock:
            self._queue.append(x)
            self._total += len(x)

    def _next_block(self) -> Optional[np.ndarray]:
        """The oldest queued block, or None (worker thread only)."""
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _feed(self, x: np.ndarray) -> None:
        """Give one block to the transcriber and to the pause window (worker thread only)."""
        self.transcriber.add(x)
        self._phrase_n += len(x)
        self._recent.append(x)
        self._recent_n += len(x)
        keep = int(self.pause_s * SAMPLE_RATE)
        while self._recent and self._recent_n - len(self._recent[0]) >= keep:
            self._recent_n -= len(self._recent.popleft())

    def _drain(self) -> None:
        """Give every queued block to the transcriber (worker thread only)."""
        while (x := self._next_block()) is not None:
            self._feed(x)

    def _check(self) -> None:
        """Update the pause state from the last ``pause_s`` seconds (Silero VAD, run at
        most every 0.15 s of new audio)."""
        n = self._phrase_n
        if n - self._checked_at < int(0.15 * SAMPLE_RATE):
            return
        recent = np.concatenate(list(self._recent)) if self._recent else np.zeros(0, np.float32)
        new_s = (n - self._checked_at) / SAMPLE_RATE
        self._checked_at = n
        if hears_speech(recent):
            self._unflushed = True
            self._silence_s = 0.0
            self._restart_due_s = self.restart_after_s
        else:
            self._silence_s = self._silence_s + new_s if self._silence_s else len(recent) / SAMPLE_RATE

    @property
    def silence_seconds(self) -> float:
        """How long the audio processed so far has been silent (Silero VAD), seconds; 0
        while speech goes on. Audio still queued behind a slow decode does not count, so
        a long decode never passes for a long silence."""
        return self._silence_s

    @property
    def paused(self) -> bool:
        """Whether the last ``pause_s`` seconds held no speech (as of the last check)."""
        return self._silence_s >= self.pause_s

    def step(self) -> Optional[DictationUpdate]:
        """Do what is due (worker thread; may block for one decode): at a pause after
        speech, :meth:`flush`; after a long silence, drop the buffer; while speech goes on,
        re-decode once ``interval_s`` of new audio arrived.

        Returns:
            ``None`` when nothing was decoded, else a :class:`DictationUpdate` (its
            ``committed`` may be ``""`` when the last two decodes did not yet agree on a new
            word).
        """
        with self._step_lock:
            # block by block, in order: a pause is found where it is in the audio even when
            # a slow decode let seconds of audio queue up behind it (then the phrase is
            # flushed at the pause and the audio after it waits for the next step)
            while (x := self._next_block()) is not None:
                self._feed(x)
                self._check()
                if self.paused and self._unflushed:
                    return self._flush_now()
                if self.paused and self._silence_s >= self._restart_due_s:
                    self._restart()
            if self.paused or not self._unflushed:
                return None  # silence, or no speech heard yet: nothing worth a decode
            part = self.transcriber.maybe_partial()
            if part is None:
                return None
            return self._update(self._new_words(), part[1], False)

    def _new_words(self) -> list[Word]:
        new = self.transcriber.committed_words[self._emitted :]
        self._emitted += len(new)
        return new

    def _update(self, words: list[Word], tail: str, end: bool) -> DictationUpdate:
        off = self._phrase_offset / SAMPLE_RATE
        text = join_words(words)
        out = (" " if self._text and text else "") + text
        self._text += out
        moved = tuple(Word(w.start_s + off, w.end_s + off, w.text, w.probability) for w in words)
        return DictationUpdate(out, moved, tail, end)

    def _restart(self) -> None:
        """Drop the buffer after a long silence, keeping its last PRE_SPEECH_KEEP_S (the
        onset of the next word); the committed text becomes the next decodes' prompt."""
        recent = np.concatenate(list(self._recent)) if self._recent else np.zeros(0, np.float32)
        keep = recent[-int(PRE_SPEECH_KEEP_S * SAMPLE_RATE) :]
        self._phrase_offset += self._phrase_n - len(keep)
        self.transcriber.reset()
        self.transcriber.context = self._text[-self.context_chars :]
        self.transcriber.add(keep)
        self._phrase_n = len(keep)
        self._checked_at = 0
        self._restart_due_s += self.restart_after_s - self.pause_s  # the next one after as long again
        self._emitted = 0
        self.restarts += 1

    def flush(self) -> DictationUpdate:
        """End the phrase: decode what has not been decoded yet and commit every remaining
        word of the last hypothesis (worker thread; blocks for at most one decode).

        Returns:
            A :class:`DictationUpdate` with ``phrase_end=True`` and an empty ``tail``.
        """
        with self._step_lock:
            self._drain()
            return self._flush_now()

    def _flush_now(self) -> DictationUpdate:
        """:meth:`flush` of the audio processed so far (the queue stays queued)."""
        # None (no decode) if nothing new; in the flush window, as its tail is committed unconfirmed
        self.transcriber.maybe_partial(force=True, window_s=self.flush_window_s)
        self.transcriber.commit_pending()
        self._unflushed = False
        self.phrases += 1
        return self._update(self._new_words(), "", True)
