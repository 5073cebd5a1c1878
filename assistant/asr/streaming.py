"""Streaming transcription of one utterance at a time: LocalAgreement-2 partials while the
user speaks, one final transcript at the endpoint.

After D. Macháček, R. Dabre, O. Bojar, "Turning Whisper into Real-Time Transcription System",
IJCNLP-AACL 2023 System Demonstrations (arXiv:2307.14743; reference code
github.com/ufal/whisper_streaming): re-decode the growing buffer, commit the longest common
word prefix of the last two hypotheses, pass committed text that has scrolled out of the
buffer as the prompt, trim the buffer at committed words. At the endpoint, the last
hypothesis is reused when only silence arrived after it.
"""

from __future__ import annotations

import threading
from typing import Optional

import numpy as np

from assistant.asr.alignment import after_by_time, after_glued, end_of_committed, end_of_respelled, repeats
from assistant.asr.guard import hears_speech
from assistant.asr.metrics import normalize_text
from assistant.asr.model import WhisperASR
from assistant.asr.samples import SAMPLE_RATE, to_float32
from assistant.asr.transcript import Transcript, Word, join_words, segment_words
from assistant.asr.vocabulary import Hotwords, format_hotwords

FINAL_MARGIN_S = 0.3
"""StreamingTranscriber.finish may reuse the last hypothesis only if the last this-many
seconds of the audio that decode heard were non-speech (Silero VAD): the last word was not
cut off."""
EXACT_WORD_TIMES_AFTER_S = 8.0
"""StreamingTranscriber asks Whisper for word timestamps (an extra alignment pass) only when
its buffer is longer than this, seconds: it may then be trimmed at a word end (max_buffer_s
is 15 s). Shorter buffers use segment_words."""
HEARD_END_MARGIN_S = 0.25
"""A partial decode counts as having heard the end of speech (:meth:`StreamingTranscriber.heard_the_end`)
only if its last this-many seconds were non-speech: as much silence as the speculative decode
has at 150 ms of VAD silence (Silero's probability falls ~100 ms after the last word). A
shorter tail lets a soft word ending fall outside the decode ("Americans" → "America."
with the speculative decode at 64 ms of VAD silence, tests/test_ui.py)."""
ECHO_MIN_WORDS = 4
"""A hypothesis that begins by repeating at least this many committed words, with no speech
in the audio after them, repeated its prompt (:meth:`StreamingTranscriber._drop_echo`)."""
STALLED_DECODES = 3
"""After this many decodes in a row that committed nothing, a buffer longer than
``max_buffer_s + keep_s`` is trimmed before the next decode (see
:meth:`StreamingTranscriber.maybe_partial`)."""
WINDOW_PER_BUFFER = 2.0
"""A decode's encoder window is at least this many times the buffer's length (see
:meth:`StreamingTranscriber.window_for_buffer`): commands (≤ 7.5 s) keep the short window,
long dictation buffers get a longer one."""
SPECULATIVE_MARGIN_S = 0.1
"""A speculative decode (forced once the VAD has heard trailing silence) may stand as the
final transcript, without a second decode agreeing with it, if the last this-many seconds
it heard were non-speech (also a partial decode that :meth:`StreamingTranscriber.heard_the_end`).
The pipeline's endpointer has heard 150 ms of silence by then, ~250 ms after the last word."""


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

    A decode encodes at least ``window_s`` (the model's ``asr.window_s``, 15 s) whatever the
    buffer's length, so ``interval_s`` sets the CPU load: base needs ~0.15–0.4 s per decode
    of a command on two cores (~0.5–1 s with Whisper's 30 s window).

    Args:
        asr: the model to decode with (shared; decodes are serialised by it).
        interval_s: re-decode after this much new audio, seconds.
        hotwords: phrases to bias towards (see :func:`format_hotwords`).
        max_buffer_s: trim the audio buffer when it grows beyond this, seconds.
        keep_s: audio to keep before the end of the buffer when trimming, seconds.
        prompt_chars: how much trimmed committed text to pass as the prompt.
        window_s: shortest encoder window of the decodes, seconds (``None``: the model's
            :attr:`WhisperASR.window_s`; dictation passes its own, 30 s by default).
        lead_in_s: seconds of digital silence the buffer starts with, before the first
            sample added (word times stay in stream time, the lead-in at negative times).
            A recording that starts with the first word — a trimmed clip, or a VAD that
            detected a quiet speaker's start late, which leaves its pre-roll short —
            otherwise gives Whisper speech from its very first frame, and base then drops
            or mishears the first words or writes nothing (``no_speech_prob`` rises); the
            pipeline's commands use ``asr.lead_in_ms`` (see README, "Real voices").
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
        plain_redecodes: decodes repeated without prompt and hotwords because the first
            repeated itself (:meth:`_decode`), in the current utterance.
        final_decode_skipped: whether the last :meth:`finish` reused the last hypothesis.
        last_window_s: the encoder window of the last decode, seconds (0 before any).
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
        window_s: Optional[float] = None,
        lead_in_s: float = 0.0,
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
        self.window_s = window_s
        """Shortest encoder window of this stream's decodes, seconds (``None``: the model's
        :attr:`WhisperASR.window_s`)."""
        if lead_in_s < 0:
            raise ValueError("lead_in_s must be >= 0")
        self.lead_in = int(round(lead_in_s * SAMPLE_RATE))  # samples of silence before the stream
        self.final_decode_skipped = False
        self.context = ""
        """Text said before this utterance (dictation: the text committed so far), passed to
        Whisper as the start of the prompt; kept across :meth:`reset`. Empty by default."""
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
            self._buf = np.zeros(self.lead_in, np.float32)
            self._buf_start = -self.lead_in  # stream sample index of _buf[0] (< 0: the lead-in)
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
            self.plain_redecodes = 0
            self.last_window_s = 0.0
            self._decodes_since_commit = 0  # decodes in a row that committed nothing

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
        return join_words(self._committed)

    # -- decoding -----------------------------------------------------------------------

    def _take_pending(self) -> None:
        with self._in_lock:
            blocks, self._pending = self._pending, []
            total = self._total
        if blocks:
            self._buf = np.concatenate([self._buf, *blocks])
        self._decoded_upto = total

    def _prompt(self) -> Optional[str]:
        text = " ".join(t for t in (self.context.strip(), join_words(self._committed[: self._n_trimmed])) if t)
        return text[-self.prompt_chars :].lstrip() or None

    def window_for_buffer(self, window_s: Optional[float] = None) -> float:
        """The encoder window of the next decode, seconds: ``window_s`` (default: this
        stream's :attr:`window_s`, or the model's), but at least ``WINDOW_PER_BUFFER`` × the
        buffer, so that a long buffer keeps at least as much zero padding as speech (Whisper
        trained on 30 s windows; with a 12 s dictation buffer in a 15 s window it once typed a
        sentence three times); at most 30 s. Never raises."""
        base = window_s if window_s is not None else self.window_s
        if base is None:
            base = float(getattr(self.asr, "window_s", 30.0) or 30.0)
        return min(30.0, max(base, WINDOW_PER_BUFFER * self.buffer_seconds))

    def _decode(self, window_s: Optional[float] = None) -> tuple[Optional[list[Word]], float]:
        """Decode the buffer (shortest encoder window ``window_s``, default :attr:`window_s`);
        return the hypothesis words beyond what is committed — None when the hypothesis does
        not place the committed words (:meth:`_after_committed`) — and the decode time in ms.

        A new part that repeats itself or the committed text over speech
        (:func:`repeats`: a group of ≥ ``REPEAT_MIN_WORDS`` words twice in a row) is checked
        by decoding the buffer again without the prompt and hotwords, and that decode's new
        part is taken when it does not repeat: Whisper's repetition loops come from its
        context (with the user vocabulary as hotwords, dictation typed "I bought a blue
        bike. I bought a blue bike." and lost the next sentence, ``dictation_load_bench.py``
        with a 0.5 s period); a sentence really said twice is decoded twice without context
        too and stays. Counted in :attr:`plain_redecodes`. The same idea as the bias guard
        (:func:`~assistant.asr.guard.merge_biased`): the unbiased decode has the last word.
        """
        hyp, ms = self._decode_once(self.hotwords, self._prompt(), window_s)
        new = self._new_part(hyp)
        committed = [normalize_text(w.text) for w in self._committed]
        if (self.hotwords or self._prompt()) and repeats([normalize_text(w.text) for w in new or []], committed):
            plain, plain_ms = self._decode_once(None, None, window_s)
            ms += plain_ms
            plain_new = self._new_part(plain)
            self.plain_redecodes += 1
            if plain_new is not None and not repeats([normalize_text(w.text) for w in plain_new], committed):
                hyp, new = plain, plain_new
        self._last_raw = hyp
        return new, ms

    def _decode_once(self, hotwords: Hotwords, prompt: Optional[str],
                     window_s: Optional[float] = None) -> tuple[list[Word], float]:
        """One decode of the buffer (shortest encoder window ``window_s``, see
        :meth:`window_for_buffer`): all its words (stream times, seconds) and the decode
        time, ms."""
        offset = self._buf_start / SAMPLE_RATE
        # Exact word times matter once the buffer may be trimmed at a word end; for short
        # buffers (commands) the segment-interpolated words are enough and save the
        # alignment pass (see segment_words).
        exact = self.buffer_seconds > EXACT_WORD_TIMES_AFTER_S
        self.last_window_s = self.window_for_buffer(window_s)
        res = self.asr.transcribe(self._buf, hotwords=hotwords, initial_prompt=prompt, word_timestamps=exact,
                                  window_s=self.last_window_s)
        self.decodes += 1
        self.decode_ms_total += res.decode_ms
        if res.language:
            self._language = res.language
        words = res.words if exact else segment_words(res.segments)
        return [Word(max(0.0, w.start_s + offset), max(0.0, w.end_s + offset), w.text, w.probability)
                for w in words], res.decode_ms

    def _new_part(self, hyp: list[Word]) -> Optional[list[Word]]:
        """The words of a hypothesis beyond what is committed (:meth:`_after_committed`;
        None when it does not place them), without a leading echo of the committed text
        that the audio does not say again (:meth:`_drop_echo`)."""
        new = self._after_committed(hyp)
        return None if new is None else self._drop_echo(new)

    def _drop_echo(self, new: list[Word]) -> list[Word]:
        """Drop a leading run of ``new`` that repeats the last ``k`` ≥ ``ECHO_MIN_WORDS``
        committed words when Silero VAD hears no speech in the buffer after the last
        committed word (+0.3 s for interpolated word times): Whisper then repeated its
        prompt — after a buffer trim with a 15 s window it typed "What your country can do
        for you. Ask what you can do for your country." a second time (jfk.flac,
        ``tests/test_dictation.py``). A repeat the speaker really said has speech there and
        stays (a sentence said twice; the same phrase after a long silence)."""
        if len(new) < ECHO_MIN_WORDS or len(self._committed) < ECHO_MIN_WORDS:
            return new
        tail = [normalize_text(w.text) for w in self._committed]
        norm = [normalize_text(w.text) for w in new]
        k = next((k for k in range(min(len(norm), len(tail)), ECHO_MIN_WORDS - 1, -1) if norm[:k] == tail[-k:]), 0)
        if not k:
            return new
        start = int(round((self._committed[-1].end_s + 0.3) * SAMPLE_RATE)) - self._buf_start
        after = self._buf[max(0, start):]
        if len(after) and hears_speech(after):
            return new
        return new[k:]

    def _after_committed(self, hyp: list[Word]) -> Optional[list[Word]]:
        """Strip the words already committed from a hypothesis of the buffer; None when the
        hypothesis does not place them (the caller then keeps the previous tail).

        The buffer starts at a committed word's end, so a hypothesis normally begins with
        the committed words that are still in the buffer: match them by text, exactly or,
        when Whisper re-spelled one or two of them ("Deer Anna" → "Dear Anna"), by aligning
        the word sequences (:func:`end_of_committed`); when it glued or split words
        ("Stopdictation."), letter by letter (:func:`after_glued`); when it re-spelled more
        of them ("Deer Anna Kama" → "Dear Anna, comma."), by the fewest letter edits
        (:func:`end_of_respelled`) — interpolated word times dropped "thank" after such a
        re-spelling. If none of these places them, fall back to whisper_streaming's rule
        (:func:`after_by_time`): keep words starting after the last committed word's end
        (−0.1 s), without up to 5 leading words that repeat the committed tail. A non-empty
        hypothesis with nothing after that end skipped the committed words (or was dated
        wrongly): None, so that its decode does not wipe the tail — at a pause that tail is
        committed (:meth:`commit_pending`); so is an empty hypothesis while committed words
        are in the buffer.
        """
        inbuf = [normalize_text(w.text) for w in self._committed[self._n_trimmed :]]
        if not inbuf:
            return hyp
        norm = [normalize_text(w.text) for w in hyp]
        if norm[: len(inbuf)] == inbuf:
            return hyp[len(inbuf) :]
        glued = after_glued(inbuf, hyp)
        if glued is not None:
            return glued
        cut = end_of_committed(inbuf, norm)
        if cut is None:
            cut = end_of_respelled(inbuf, norm)
        if cut is not None:
            return hyp[cut:]
        after = after_by_time(hyp, self._committed[-1].end_s, [normalize_text(w.text) for w in self._committed])
        return after if after else None

    def _silent_after(self, margin_s: float) -> bool:
        """Silero VAD (the model shipped in faster-whisper, max probability < 0.5) hears no
        speech in the last ``margin_s`` seconds of the audio the last decode heard, nor in
        the audio added since."""
        with self._in_lock:
            pending = list(self._pending)
        heard = self._buf[-int(margin_s * SAMPLE_RATE) :] if len(self._buf) else np.zeros(0, np.float32)
        tail = np.concatenate([heard, *pending]).astype(np.float32, copy=False)
        return not hears_speech(tail)

    def _tail_is_silent(self) -> bool:
        """True if the last hypothesis can stand as the final one: the last two decodes
        agreed on every word (so the last did not drop or change one), or the last decode
        heard the end of speech (the speculative one forced at trailing silence, or one
        :meth:`heard_the_end` accepted); and no speech in the last ``FINAL_MARGIN_S``
        (speculative: ``SPECULATIVE_MARGIN_S``) of the decoded audio — so that decode heard
        the end of the last word — nor in the audio added since."""
        if not (self._stable or self._speculative):
            return False
        return self._silent_after(SPECULATIVE_MARGIN_S if self._speculative else FINAL_MARGIN_S)

    def heard_the_end(self, margin_s: float = HEARD_END_MARGIN_S) -> bool:
        """Whether the last decode heard the end of what was said: no speech (Silero VAD)
        in its last ``margin_s`` seconds (default ``HEARD_END_MARGIN_S``, 0.25 s) nor in
        the audio added since. If so, its hypothesis may stand as the final transcript, as a
        speculative decode's does (:meth:`finish` reuses it while no speech follows). False
        before any decode and after :meth:`finish`. Costs one Silero pass over the tail
        (< 1 ms per 32 ms)."""
        with self._decode_lock:
            if not self.decodes or self._finished or not len(self._buf):
                return False
            if self._silent_after(margin_s):
                self._speculative = True
                return True
            return False

    def _trim(self, over_s: Optional[float] = None) -> None:
        """Trim the audio buffer at a committed word end if it is longer than ``over_s``
        seconds (default ``max_buffer_s``)."""
        end_s = self._total / SAMPLE_RATE
        if self.buffer_seconds <= (self.max_buffer_s if over_s is None else over_s):
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

    def maybe_partial(self, force: bool = False, window_s: Optional[float] = None) -> Optional[tuple[str, str]]:
        """Re-decode if at least ``interval_s`` of new audio arrived since the last decode
        (or, with ``force``, any new audio at all), with the shortest encoder window
        ``window_s`` (default :attr:`window_s`; see :meth:`window_for_buffer`).

        A decode whose hypothesis does not place the committed words
        (:meth:`_after_committed`) keeps the previous tail and commits nothing.

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
            # a stalled buffer is trimmed before decoding too: when Whisper stops short of the
            # buffer's end (it does on 12–20 s buffers: "… I bought a red car period,
            # scratch"), nothing new agrees, nothing is committed, no trim follows a commit,
            # and the buffer grew to 22 s with every later phrase lost until the end
            # (dictation_load_bench, 0.5 s period, 12 of 20 schedules). Only when stalled:
            # trimming before every decode moves the prompt, so decodes stop agreeing (a 34 s
            # recording's buffer grew to 21 s; jfk.flac lost words with AVX2/GENERIC kernels).
            if self._decodes_since_commit >= STALLED_DECODES:
                self._trim(over_s=self.max_buffer_s + self.keep_s)
            hyp, _ = self._decode(window_s)
            if hyp is None:  # the committed words not placed: keep the tail we had
                self._stable = False
                self._speculative = force
                self._decodes_since_commit += 1
                return self.committed_text, join_words(self._hyp)
            k = 0
            while k < min(len(hyp), len(self._hyp)) and normalize_text(hyp[k].text) == normalize_text(self._hyp[k].text):
                k += 1
            # the whole hypothesis agreed with the previous one (nothing new, nothing lost)
            self._stable = k == len(hyp) == len(self._hyp)
            self._speculative = force
            self._committed.extend(hyp[:k])
            self._hyp = hyp[k:]
            self._decodes_since_commit = 0 if k else self._decodes_since_commit + 1
            if k:
                self._trim()
            return self.committed_text, join_words(self._hyp)

    def commit_pending(self) -> list[Word]:
        """Commit the unconfirmed rest of the last hypothesis as it is, and return it.

        For dictation, which never retracts a committed word: at a pause the tail is
        committed (as whisper_streaming's ``finish``) instead of waiting for a second
        decode to agree, and streaming goes on with the same buffer (later decodes strip
        these words like any committed ones).
        """
        with self._decode_lock:
            words, self._hyp = self._hyp, []
            self._committed.extend(words)
            self._stable = False
            if words:
                self._decodes_since_commit = 0
                self._trim()
            return words

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
                if tail is None:
                    tail = self._hyp
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
            return Transcript(join_words(words), list(words), self._language, self.audio_seconds, decode_ms)
