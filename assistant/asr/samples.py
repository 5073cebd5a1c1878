"""Audio samples as the ASR stages take them: 16 kHz mono, ``int16`` or float in [-1, 1].

:func:`to_float32` is the one conversion every entry point (:meth:`WhisperASR.transcribe
<assistant.asr.model.WhisperASR.transcribe>`, :meth:`StreamingTranscriber.add
<assistant.asr.streaming.StreamingTranscriber.add>`) applies; :func:`loudest_frame_dbfs` is the
energy gate of the hallucination guard.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
"""Sample rate every function of :mod:`assistant.asr` expects, Hz."""

FRAME_SAMPLES = 320
"""20 ms at 16 kHz: the frame of :func:`loudest_frame_dbfs` (the energy gate)."""


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
    n = len(audio) // FRAME_SAMPLES * FRAME_SAMPLES
    if n == 0:
        if len(audio) == 0:
            return -120.0
        frames = audio.reshape(1, -1)
    else:
        frames = audio[:n].reshape(-1, FRAME_SAMPLES)
    rms = float(np.sqrt(np.max(np.mean(frames.astype(np.float64) ** 2, axis=1))))
    return 20.0 * np.log10(max(rms, 1e-6))
