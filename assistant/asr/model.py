"""The Whisper model: :class:`WhisperASR` loads a local CTranslate2 folder with
faster-whisper and transcribes one utterance at a time, with the hallucination and bias
guards of :mod:`assistant.asr.guard` (choices and measurements: the :mod:`assistant.asr`
package documentation).
"""

from __future__ import annotations

import hashlib

import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from assistant.asr.guard import HallucinationGuard, merge_biased, starts_with_phrase
from assistant.asr.metrics import normalize_text
from assistant.asr.samples import SAMPLE_RATE, loudest_frame_dbfs, to_float32
from assistant.asr.transcript import Segment, Transcript, Word
from assistant.asr.vocabulary import Hotwords, format_hotwords, hotword_phrases
from assistant.errors import ModelError, SettingsError
from assistant.settings import ASRSettings
from models.registry import resolve_asr_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # backstop: never reach the Hugging Face hub

log = logging.getLogger(__name__)

TOKENS_PER_S = 12
"""Decoder token budget per second of audio. Read English is ~3 words ≈ 4–5 tokens per
second plus timestamp tokens; a repetition loop on noise otherwise runs to Whisper's
448-token limit and costs 2–11 s instead of ~1 s (measured, base on 2 loaded cores)."""
TOKENS_SLACK = 24
"""Tokens a decoding window may generate beyond ``TOKENS_PER_S`` per second of audio."""
PROMPT_MAX_TOKENS = 223
"""faster-whisper keeps at most this many tokens of ``hotwords`` (the first ones) and of
``initial_prompt`` (the last ones); WhisperASR cuts the hotword list at a phrase boundary to
fit instead."""
WINDOW_PAD_S = 3.0
"""Seconds of Whisper's zero (silent) mel padding kept after the audio when the encoder
window is shortened (``window_s``): without it the decoder, seeing no silence after
the speech, repeats the sentence 2–3 times (measured, base int8: command acceptance 70 %
→ 32 % with 1 s of padding)."""
FRAMES_PER_S = 100
"""Whisper's log-mel frames per second (hop 160 samples at 16 kHz)."""
HOTWORD_RETRY_MIN_SPEECH_S = 0.3
"""If a hotword-biased decode yields nothing usable although Silero VAD kept at least this
much speech, WhisperASR.transcribe decodes again without hotwords."""


def auto_threads() -> int:
    """Intra-op threads for ``cpu_threads=0``: ``min(4, os.cpu_count())``, at least 1.

    CTranslate2 uses 4 intra-op threads when given 0; on a 2-core machine that
    oversubscribes the cores the audio thread and the other models need.
    """
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
        window_s: the shortest encoder window, seconds. Whisper encodes 30 s windows (a
            short command is zero-padded to 30 s, and the encoder costs ~0.4 s of base
            int8 on 2 threads whatever the command's length); CTranslate2 also encodes
            shorter mel inputs. A decode of ``n`` s of audio encodes ``max(window_s,
            n + WINDOW_PAD_S)`` s, at most 30. ``0`` or ``30`` keeps Whisper's 30 s.
            Whisper was trained on 30 s windows only: with only the 3 s pad it repeats
            the sentence, so the settings allow 10–30. Default 15, by measurement
            (``benchmarks/command_bench.py --n 120 --conditions clean,6 --set
            asr.window_s=10|15|30``: acceptance within noise of 30 s, ASR latency
            p50 1439 → 693 ms; README "Performance").
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
        window_s: float = 15.0,
    ) -> None:
        import ctranslate2

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
        threads = cpu_threads if cpu_threads > 0 else auto_threads()
        try:
            self._model = windowed_model_class()(
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
        self.window_s = float(window_s)
        self.vad_parameters: Optional[dict] = None
        """faster-whisper ``VadOptions`` fields for ``vad_filter`` (``None`` = its defaults:
        threshold 0.5, speech_pad_ms 400, min_silence_duration_ms 2000)."""
        self._lock = threading.Lock()
        self.load_seconds = time.perf_counter() - t0

    @classmethod
    def from_settings(cls, settings: ASRSettings, **extra) -> "WhisperASR":
        """Load the model of ``settings`` with its compute type, beam size and language.

        Args:
            settings: the ``[asr]`` section (:class:`assistant.settings.ASRSettings`).
            **extra: further keyword arguments of the constructor (``cpu_threads``,
                ``temperatures``, ``bias_via``, …).

        Raises:
            ModelError, SettingsError: as the constructor.
        """
        extra.setdefault("window_s", settings.window_s)
        extra.setdefault("cpu_threads", settings.cpu_threads)
        return cls(settings.model, compute_type=settings.compute_type, beam_size=settings.beam_size,
                   language=settings.language, **extra)

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

    def window_frames(self, seconds: float, window_s: Optional[float] = None) -> int:
        """Encoder window, in mel frames (100 per second), for a decode of ``seconds`` of
        audio: ``max(window_s, seconds + WINDOW_PAD_S)`` s, at most 3000 (Whisper's 30 s);
        3000 when shortening is off (``window_s`` 0 or ≥ 30). ``window_s``: this decode's
        floor instead of :attr:`window_s`."""
        floor = self.window_s if window_s is None else float(window_s)
        if floor <= 0 or floor >= 30.0:
            return 3000
        return int(min(3000, round(max(floor, seconds + WINDOW_PAD_S) * FRAMES_PER_S)))

    @property
    def encoder_reuses(self) -> int:
        """How many decodes reused the encoder output of the decode before them (same
        audio, another prompt: the domain pass after the speculative decode); see
        :func:`windowed_model_class`."""
        return int(self._model.encoder_reused)

    @property
    def supported_languages(self) -> list[str]:
        """ISO codes this model can decode (``["en"]`` for English-only models)."""
        return list(self._model.supported_languages)

    def _decode_options(self, word_timestamps: bool, budget: int) -> dict:
        """faster-whisper ``transcribe`` keyword arguments shared by every decode."""
        return dict(
            language=self.language,
            beam_size=self.beam_size,
            temperature=list(self.temperatures),
            condition_on_previous_text=False,
            word_timestamps=word_timestamps,
            vad_filter=self.vad_filter,
            vad_parameters=dict(self.vad_parameters) if self.vad_parameters else None,
            compression_ratio_threshold=self.guard.compression_ratio,
            log_prob_threshold=self.guard.logprob_low,
            no_speech_threshold=0.6,
            max_new_tokens=budget,
        )

    def iter_segments(self, audio: np.ndarray, *, word_timestamps: bool = True) -> Iterator[Segment]:
        """Decode a whole recording of any length, yielding its segments as they are decoded.

        For files (``assistant transcribe``): no hotwords, no prompt, Silero VAD as
        configured (``vad_filter``, on by default, so long silences are skipped instead of
        hallucinated over), the same hallucination guard as :meth:`transcribe`, applied per
        30 s decoding window. Nothing is logged about the text.

        Args:
            audio: 16 kHz mono, shape ``(n,)``, ``int16`` or ``float32`` in [-1, 1].
            word_timestamps: align words (``Segment.words`` with times and probabilities);
                otherwise ``Segment.words`` is empty.

        Yields:
            :class:`Segment` in time order; times in seconds from the start of ``audio``.
            Nothing for silence, noise or an all-hallucinated recording.

        Raises:
            TypeError, ValueError: audio of the wrong dtype or shape (see :func:`to_float32`).

        The model's lock is held while the iterator is live: exhaust or ``close()`` it
        (the other decodes of this model wait until then).
        """
        x = to_float32(audio)
        seconds = len(x) / SAMPLE_RATE
        if len(x) == 0 or loudest_frame_dbfs(x) < self.guard.silence_dbfs:
            return
        _, budget = self._fit_prompt(seconds, None, None)
        with self._lock:
            self._model.window_frames = self.window_frames(seconds)
            segments, _info = self._model.transcribe(x, **self._decode_options(word_timestamps, budget))
            window: list = []  # the segments of one 30 s window (same seek)
            for seg in segments:
                if window and seg.seek != window[0].seek:
                    yield from self._kept_segments(window)
                    window = []
                window.append(seg)
            yield from self._kept_segments(window)

    def _kept_segments(self, window: list) -> Iterator[Segment]:
        """The segments of one decoding window that pass the hallucination guard."""
        repeats = Counter(normalize_text(seg.text) for seg in window)
        for seg in window:
            why = self.guard.reason(seg, None, repeated=repeats[normalize_text(seg.text)] > 1,
                                    short_window=self._model.window_frames < 3000)
            if why is not None:
                log.debug("dropped an ASR segment of %d characters (%s)", len(seg.text), why)
                continue
            words = tuple(Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
                          for w in (seg.words or []) if w.word.strip())
            yield Segment(float(seg.start), float(seg.end), " ".join(seg.text.split()), words)

    def transcribe(
        self,
        audio: np.ndarray,
        hotwords: Hotwords = None,
        initial_prompt: Optional[str] = None,
        *,
        word_timestamps: bool = True,
        bias_guard: Optional[bool] = None,
        beam_size: Optional[int] = None,
        window_s: Optional[float] = None,
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
            beam_size: beam width of this call's decodes (``None``: :attr:`beam_size`).
            window_s: shortest encoder window of this call's decodes, seconds (``None``:
                :attr:`window_s`; 30 = Whisper's own window).

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
        biased = self._transcribe(x, hotwords, initial_prompt, word_timestamps, beam_size, window_s)
        guard = self.bias_guard if bias_guard is None else bool(bias_guard)
        phrases = hotword_phrases(hotwords)
        if not (guard and phrases and biased.text and starts_with_phrase(biased.text, phrases)):
            return biased
        plain = self._transcribe(x, None, initial_prompt, word_timestamps, beam_size, window_s)
        return merge_biased(biased, plain, phrases, word_timestamps=word_timestamps)

    def nbest(self, audio: np.ndarray, hotwords: Hotwords = None, *, n: int = 5,
              beam_size: int = 5) -> list[tuple[str, float]]:
        """The ``n`` best hypotheses of one beam search over one utterance (for N-best
        rescoring by the NLU, :func:`assistant.asr.domain.domain_pass`).

        The audio is trimmed to the span Silero VAD hears as speech (faster-whisper's VAD,
        this model's ``vad_parameters``), encoded once (one 30 s window), and decoded with
        ``beam_size`` beams, the ``hotwords`` as the decoder's previous-text prompt (as
        faster-whisper's ``hotwords``) and no timestamps; CTranslate2 returns the ``n``
        best finished beams (``num_hypotheses``).

        Args:
            audio: 16 kHz mono, shape ``(n,)``, ``int16`` or ``float32`` in [-1, 1]; at
                most 30 s (one window).
            hotwords: phrases to bias towards (cut to Whisper's prompt like :meth:`transcribe`).
            n: hypotheses wanted (≤ ``beam_size``).
            beam_size: beam width.

        Returns:
            ``[(text, avg_logprob), ...]`` best first (avg_logprob: the sequence's log
            probability per token, natural log, as faster-whisper computes it); empty for
            silence, audio over 30 s, or no speech heard by the VAD.

        Raises:
            TypeError, ValueError: audio of the wrong dtype or shape (see :func:`to_float32`).
        """
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        x = to_float32(audio)
        seconds = len(x) / SAMPLE_RATE
        if len(x) == 0 or seconds > 30.0 or loudest_frame_dbfs(x) < self.guard.silence_dbfs:
            return []
        spans = get_speech_timestamps(x, VadOptions(**dict(self.vad_parameters or {})))
        if not spans:
            return []
        x = x[spans[0]["start"]: spans[-1]["end"]]
        hw, budget = self._fit_prompt(len(x) / SAMPLE_RATE, format_hotwords(hotwords), None)
        m = self._model
        with self._lock:
            tok = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=self.language or "en")
            prompt = m.get_prompt(tok, [], without_timestamps=True, hotwords=hw)
            m.window_frames = self.window_frames(len(x) / SAMPLE_RATE)
            enc = m.encode(pad_or_trim(m.feature_extractor(x)[..., :-1]))
            res = m.model.generate(enc, [prompt], beam_size=max(int(beam_size), int(n)), num_hypotheses=int(n),
                                   return_scores=True, max_length=min(m.max_length, len(prompt) + budget),
                                   suppress_blank=True, suppress_tokens=get_suppressed_tokens(tok, [-1]))[0]
        out = []
        for ids, score in zip(res.sequences_ids, res.scores):
            text = " ".join(tok.decode(ids).split())
            if text:
                out.append((text, float(score) * len(ids) / (len(ids) + 1)))  # length_penalty 1
        return out

    def _transcribe(self, x: np.ndarray, hotwords: Hotwords, initial_prompt: Optional[str],
                    word_timestamps: bool, beam_size: Optional[int] = None,
                    window_s: Optional[float] = None) -> Transcript:
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
            opts = self._decode_options(word_timestamps, budget)
            if beam_size:
                opts["beam_size"] = int(beam_size)
            frames = self._model.window_frames = self.window_frames(seconds, window_s)
            segments, info = self._model.transcribe(x, initial_prompt=prompt, hotwords=hw_arg, **opts)
            segs = list(segments)  # the generator decodes lazily: iterate inside the timer
            decode_ms = (time.perf_counter() - t0) * 1000.0
        repeats = Counter((seg.seek, normalize_text(seg.text)) for seg in segs)
        kept, dropped = [], []
        for seg in segs:
            why = self.guard.reason(seg, hw, repeated=repeats[(seg.seek, normalize_text(seg.text))] > 1,
                                    short_window=frames < 3000)
            if why is None:
                kept.append(seg)
            else:
                log.debug("dropped an ASR segment of %d characters (%s)", len(seg.text), why)  # never the text
                dropped.append(seg.text.strip())
        if hw and not kept and float(getattr(info, "duration_after_vad", seconds)) >= HOTWORD_RETRY_MIN_SPEECH_S:
            # Measured: with some hotword lists Whisper base emits nothing (or only
            # hallucinations) for clear speech — e.g. jfk.flac with 112 single-word
            # phrases. VAD heard speech, so decode once more without the bias.
            log.debug("nothing usable with hotwords; decoding again without them")
            retry = self._transcribe(x, None, initial_prompt, word_timestamps, beam_size, window_s)
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


_WINDOWED_CLASS = None


def windowed_model_class():
    """faster-whisper's ``WhisperModel`` with a shortened encoder window (``window_s``).

    faster-whisper pads every decoding window to 3000 mel frames (30 s) before
    ``WhisperModel.encode``; this subclass's ``encode`` keeps only the first
    ``window_frames`` of them (set per decode, under :class:`WhisperASR`'s lock; the
    default 3000 changes nothing). Everything else (prompting, timestamps, word
    alignment, VAD) is faster-whisper's own code. Created on first use because importing
    faster-whisper loads CTranslate2 and ONNX Runtime.
    """
    global _WINDOWED_CLASS
    if _WINDOWED_CLASS is None:
        from faster_whisper import WhisperModel  # lazy (heavy)

        class WindowedWhisperModel(WhisperModel):
            """WhisperModel whose encoder sees ``window_frames`` mel frames (≤ 3000)."""

            window_frames: int = 3000
            _last: tuple = (None, None)  # (digest of the features encoded last, their encoding)
            encoder_reused: int = 0

            def encode(self, features: np.ndarray):
                """Encode ``features`` (float32 log-mel, ``(80|128, 3000)`` or with a batch
                axis) cut to ``window_frames`` frames; returns CTranslate2's StorageView.

                The encoding of the last features is kept and returned again for the same
                features (BLAKE2 digest of their bytes, ~1 ms for a 15 s window): a second
                decode of the same audio with another prompt — the domain pass right after
                the speculative decode — then costs only the decoder (the encoder is
                ~100 ms of a 15 s window with base on two cores). faster-whisper reuses an
                encoding within one call the same way (temperature fallback, word timing).
                """
                if 0 < self.window_frames < features.shape[-1]:
                    features = np.ascontiguousarray(features[..., : self.window_frames])
                key = (features.shape, hashlib.blake2b(np.ascontiguousarray(features).tobytes(), digest_size=16).digest())
                if self._last[0] == key:
                    self.encoder_reused += 1
                    return self._last[1]
                out = super().encode(features)
                self._last = (key, out)
                return out

        _WINDOWED_CLASS = WindowedWhisperModel
    return _WINDOWED_CLASS
