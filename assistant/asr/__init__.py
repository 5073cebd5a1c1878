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
     :class:`WhisperASR` now cuts the list at a phrase boundary to ≤ 223 tokens.
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
* **A shorter encoder window** (``asr.window_s``, default 15 s; 2026-12-06). Whisper
  zero-pads every window to 30 s and its encoder costs the same for a 2 s command as for
  30 s of speech (base int8, 2 threads: 408 ms for 3000 mel frames, 46 ms for 1000).
  CTranslate2 also encodes shorter inputs, so a decode of ``n`` s now encodes
  ``max(window_s, n + 3)`` s (:class:`WhisperASR`, a ``WhisperModel.encode`` override; the
  rest is faster-whisper's own code). Whisper never saw short windows in training: with
  only the 3 s pad it repeats the sentence 2–3 times (command acceptance 70 % → 32 %), at
  10 s it invents a reply on the quiet frames of jfk.flac ("Shut up. Get lost.", caught
  by the guard) and its intent accuracy at 6 dB dips. ``benchmarks/command_bench.py --n 120
  --conditions clean,6 --no-real --no-compare --set asr.window_s=W`` (acceptance / intent
  / leak / ASR latency p50):

  - 30 s: clean 62.5 % / 76.7 % / 6.7 % / 1439 ms; 6 dB 33.3 % / 49.2 % / 8.3 % / 1716 ms
  - 15 s: clean 67.5 % / 78.3 % / 4.2 % / 693 ms; 6 dB 31.7 % / 48.3 % / 9.2 % / 884 ms
  - 10 s: clean 65.8 % / 82.5 % / 4.2 % / 597 ms; 6 dB 30.8 % / 43.3 % / 8.3 % / 748 ms

  Paired per command (15 vs 30 s): clean 7 commands only the 15 s window gets right, 1
  only the 30 s one; 6 dB 2 vs 5 — within noise. Less padding also lowers Whisper's
  no-speech probability (0.49 → 0.29 on the quiet frames of jfk.flac), so a shortened
  decode drops a segment at ``no_speech_prob`` > 0.2 (not 0.3) with ``avg_logprob`` < -1.0.
* **Threads.** ``cpu_threads=0`` means ``min(4, os.cpu_count())``: CTranslate2's own
  default of 4 oversubscribes a 2-core machine.

Streaming follows LocalAgreement-2 from D. Macháček, R. Dabre, O. Bojar, "Turning Whisper
into Real-Time Transcription System", IJCNLP-AACL 2023 System Demonstrations
(arXiv:2307.14743; reference code github.com/ufal/whisper_streaming): re-decode the growing
buffer, commit the longest common word prefix of the last two hypotheses, pass committed
text that has scrolled out of the buffer as the prompt, trim the buffer at committed words.
At the endpoint, the last hypothesis is reused when only silence arrived after it.

Package layout (one module per job; submodules import each other by their real path, and
this ``__init__`` re-exports the public names, so ``from assistant.asr import WhisperASR``
keeps working):

* :mod:`assistant.asr.samples`: ``SAMPLE_RATE``, :func:`to_float32`, the energy gate
  :func:`loudest_frame_dbfs`;
* :mod:`assistant.asr.transcript`: :class:`Word`, :class:`Transcript`, word helpers;
* :mod:`assistant.asr.metrics`: :func:`normalize_text`, :func:`wer`;
* :mod:`assistant.asr.vocabulary`: hotword lists (:func:`format_hotwords`,
  :func:`interleave_vocabularies`, :func:`hotword_phrases`);
* :mod:`assistant.asr.guard`: :class:`HallucinationGuard`, the bias guard
  (:func:`merge_biased`, :func:`starts_with_phrase`) and the Silero VAD check
  :func:`hears_speech`;
* :mod:`assistant.asr.model`: :class:`WhisperASR` (loading, decoding options, one decode);
* :mod:`assistant.asr.streaming`: :class:`StreamingTranscriber` (partials and the final);
* :mod:`assistant.asr.alignment`: where a new hypothesis continues the committed words
  (:func:`end_of_committed`, :func:`after_glued`, :func:`repeats`);
* :mod:`assistant.asr.domain`: the domain pass (:func:`domain_pass`): a command decoded
  again with only the vocabulary of the skill its first transcript is for;
* :mod:`assistant.asr.cache`: :class:`ModelCache` (loaded models shared by name) and
  :func:`transcribe_file`;
* :mod:`assistant.asr.files`: whole recordings to cues and SRT / WebVTT / JSON / text
  (``assistant transcribe``; import it from there, it is not re-exported here).
"""

from __future__ import annotations

from assistant.asr.cache import FILE_MODELS, ModelCache, transcribe_file
from assistant.asr.domain import DomainPass, DomainVocabularies, best_intent, domain_pass
from assistant.asr.guard import (
    BIAS_MATCH_MIN,
    VAD_SPEECH_PROBABILITY,
    HallucinationGuard,
    compression_ratio,
    echoes_hotwords,
    hears_speech,
    merge_biased,
    starts_with_phrase,
)
from assistant.asr.metrics import normalize_text, wer
from assistant.asr.model import (
    HOTWORD_RETRY_MIN_SPEECH_S,
    PROMPT_MAX_TOKENS,
    TOKENS_PER_S,
    TOKENS_SLACK,
    WhisperASR,
    auto_threads,
)
from assistant.asr.samples import FRAME_SAMPLES, SAMPLE_RATE, loudest_frame_dbfs, to_float32
from assistant.asr.streaming import (
    EXACT_WORD_TIMES_AFTER_S,
    FINAL_MARGIN_S,
    SPECULATIVE_MARGIN_S,
    StreamingTranscriber,
)
from assistant.asr.transcript import Segment, Transcript, Word, join_words, segment_words, transcript_words
from assistant.asr.vocabulary import Hotwords, format_hotwords, hotword_phrases, interleave_vocabularies

__all__ = [
    "BIAS_MATCH_MIN",
    "DomainPass",
    "DomainVocabularies",
    "EXACT_WORD_TIMES_AFTER_S",
    "FILE_MODELS",
    "FINAL_MARGIN_S",
    "FRAME_SAMPLES",
    "HOTWORD_RETRY_MIN_SPEECH_S",
    "HallucinationGuard",
    "Hotwords",
    "ModelCache",
    "PROMPT_MAX_TOKENS",
    "SAMPLE_RATE",
    "SPECULATIVE_MARGIN_S",
    "StreamingTranscriber",
    "TOKENS_PER_S",
    "TOKENS_SLACK",
    "Segment",
    "Transcript",
    "VAD_SPEECH_PROBABILITY",
    "WhisperASR",
    "Word",
    "auto_threads",
    "best_intent",
    "compression_ratio",
    "domain_pass",
    "echoes_hotwords",
    "format_hotwords",
    "hears_speech",
    "hotword_phrases",
    "interleave_vocabularies",
    "join_words",
    "loudest_frame_dbfs",
    "merge_biased",
    "normalize_text",
    "segment_words",
    "starts_with_phrase",
    "to_float32",
    "transcribe_file",
    "transcript_words",
    "wer",
]
