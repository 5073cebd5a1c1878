"""The model registry: which installed pip package provides which weights, their sha256
checksums, and how a user's own model folder or file is accepted.

Nothing here downloads anything. Every shipped model comes from a package pinned in
``pyproject.toml``; user models are plain paths. A missing or corrupt model raises
:class:`assistant.errors.ModelError` naming the file and what was expected.
"""

from .registry import (
    ASR_MODELS,
    TTS_VOICES,
    VAD_MODELS,
    WAKE_MODELS,
    ModelFile,
    ShippedModel,
    resolve_asr_model,
    resolve_tts_voice,
    resolve_vad_model,
    resolve_wake_features,
    resolve_wake_model,
    verify_file,
)

__all__ = [
    "ASR_MODELS",
    "TTS_VOICES",
    "VAD_MODELS",
    "WAKE_MODELS",
    "ModelFile",
    "ShippedModel",
    "resolve_asr_model",
    "resolve_tts_voice",
    "resolve_vad_model",
    "resolve_wake_features",
    "resolve_wake_model",
    "verify_file",
]
