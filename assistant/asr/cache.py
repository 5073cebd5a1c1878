"""Loaded Whisper models shared between callers, and one-shot file transcription.

Loading Whisper takes 0.2–2 s, so :func:`transcribe_file` keeps the model it used last in
:data:`FILE_MODELS`, a :class:`ModelCache` of capacity 1: repeated calls with the same model
name share one :class:`~assistant.asr.model.WhisperASR`; a call with another name replaces it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Union

from assistant.asr.model import WhisperASR
from assistant.asr.transcript import Transcript
from assistant.audio import read_audio


class ModelCache:
    """Loaded :class:`WhisperASR` models by name, at most ``capacity`` of them (the least
    recently used one is dropped first).

    Args:
        capacity: how many models to keep loaded (≥ 1).
        loader: builds a model from its name; :class:`WhisperASR` with default options.

    Thread safety: :meth:`get` may be called from several threads; loading is serialised,
    so two callers asking for the same name get the same instance.

    Raises:
        ValueError: ``capacity`` < 1.
    """

    def __init__(self, capacity: int = 1, loader: Callable[[str], WhisperASR] = WhisperASR) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = int(capacity)
        self.loader = loader
        self._models: OrderedDict[str, WhisperASR] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: str) -> WhisperASR:
        """The loaded model named ``model``, loading it (and dropping the least recently used
        one beyond ``capacity``) when it is not loaded.

        Args:
            model: ``"base"``, ``"tiny.en"`` or a CTranslate2 Whisper folder.

        Raises:
            ModelError, SettingsError: as :class:`WhisperASR`.
        """
        with self._lock:
            asr = self._models.get(model)
            if asr is None:
                while len(self._models) >= self.capacity:
                    self._models.popitem(last=False)
                asr = self._models[model] = self.loader(model)
            self._models.move_to_end(model)
            return asr

    def clear(self) -> None:
        """Drop every loaded model (they are freed once no caller holds them)."""
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        return len(self._models)


FILE_MODELS = ModelCache(capacity=1)
"""The models :func:`transcribe_file` uses by default: the last one used stays loaded."""


def transcribe_file(path: Union[str, Path], model: str = "base", *, cache: ModelCache = FILE_MODELS) -> Transcript:
    """Transcribe an audio file in one go (convenience for the CLI and tests).

    The last model used is kept loaded (in ``cache``), so repeated calls with the same
    ``model`` do not reload it; create a :class:`WhisperASR` yourself for other options.

    Args:
        path: any file :func:`assistant.audio.read_audio` can decode (WAV, FLAC, OGG via
            libsndfile; MP3/M4A/Opus/WebM via FFmpeg), any rate and channel count.
        model: ``"base"``, ``"tiny.en"`` or a CTranslate2 Whisper folder.
        cache: where the loaded model is kept; :data:`FILE_MODELS` by default.

    Returns:
        :class:`Transcript` of the whole file (``audio_seconds`` = file duration).

    Raises:
        AudioInputError: the file cannot be read.
        ModelError: the model cannot be resolved or loaded.
    """
    audio = read_audio(path)  # 16 kHz mono int16; raises AudioInputError
    return cache.get(model).transcribe(audio)
