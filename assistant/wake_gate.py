"""Idle gate for the wake-word listener: skip openWakeWord's embedding and classifier models
while the input is silence or steady noise, without changing any score that matters.

How openWakeWord streams (``pyopen-wakeword`` 1.1.0, ``openwakeword.py``; the pinned
version): every 80 ms chunk of int16 16 kHz audio is appended to a 10 s float buffer; the
mel model runs on a 1760-sample window and appends 8 mel frames (32 bands) to a mel buffer;
then the embedding model runs on 76 mel frames (775 ms) while ``new_mels >= 76``, each run
consuming 8 mel frames (``new_mels -= 8``); each 96-value embedding is appended to each
classifier's buffer, and the classifier scores its last ``input_windows`` embeddings (16
for ``hey_jarvis``). The mel model is cheap (~0.3 % of a core); the embedding model is
~90 % of the listener's CPU.

The gate (:class:`WakeGate`) keeps running the mel model on every chunk, so the mel buffer
is always exactly what it would be without the gate. While it is *closed* it only *defers*
the embedding steps: ``new_mels`` keeps growing by 8 per chunk, and the oldest deferred
steps beyond the classifier's window are dropped the way openWakeWord's loop would consume
them (``new_mels -= 8`` each). When it *opens*, the deferred steps (at most the last
``input_windows``) are run from the unchanged mel buffer and pushed through the classifiers,
so the classifier sees exactly the embeddings it would have seen without the gate: the
score of the first open chunk and every later one is bit-identical.

The gate judges each chunk by the level of its 8 new mel frames (:func:`mel_level_dbfs`:
the power summed over the 32 bands, i.e. the level in the models' 60–3800 Hz band,
calibrated so that a 1 kHz sine reads its RMS level in dBFS), which is what the models see;
hum and rumble below 60 Hz do not count. It is closed for a chunk only when every mel run
of the classifier's whole receptive field (``receptive_frames(input_windows)`` runs ending
at this one; 27 runs = 2.16 s for a 16-embedding model) is *quiet* (level ≤ ``quiet_dbfs``)
or the field is *steady* (the levels span ≤ ``steady_db``). So a chunk whose score could be
changed by any sound louder than, or different from, steady noise is always scored in full;
the skipped chunks are those whose whole model input is silence or the same steady noise
(they score 0.0).
"""

from __future__ import annotations

import collections
import math
from typing import Iterator

import numpy as np

#: samples per openWakeWord chunk (80 ms at 16 kHz).
CHUNK_SAMPLES = 1280
#: level given to digital silence (the RMS of an all-zero chunk), dBFS.
SILENCE_DBFS = -100.0
_MEL_SAMPLES = 1760  # pyopen_wakeword.openwakeword.MEL_SAMPLES
_NUM_MELS = 32  # ... NUM_MELS
_EMB_FEATURES = 76  # ... EMB_FEATURES (mel frames per embedding)
_EMB_STEP = 8  # ... EMB_STEP (mel frames consumed per embedding)
_WW_FEATURES = 96  # ... WW_FEATURES


#: mel-domain power (dB, from openWakeWord's mel model on int16-scaled audio) of a 1 kHz
#: sine at 0 dBFS RMS; 250–500 Hz read +0.2 dB, 2 kHz -3 dB, 3 kHz -4.7 dB (measured).
_MEL_DB_AT_0_DBFS = 117.68


def receptive_frames(input_windows: int) -> int:
    """Number of mel runs (one per 80 ms chunk) that can influence a classifier score,
    with 2 runs' margin.

    A score at chunk ``t`` reads embeddings ``t - input_windows + 1 .. t``; an embedding
    reads the 76 mel frames ending 4 frames before the newest, i.e. frames of the last 10
    mel runs (8 frames each).

    Args:
        input_windows: embeddings per classifier input (16 for ``hey_jarvis``).

    Returns:
        mel runs, e.g. 27 (2.16 s of chunks) for 16.
    """
    return (input_windows - 1) + math.ceil((_EMB_FEATURES + 4) / _EMB_STEP) + 2


def mel_level_dbfs(mels: np.ndarray) -> float:
    """Level of mel frames in dBFS, floored at :data:`SILENCE_DBFS`.

    Args:
        mels: float32 frames as openWakeWord stores them (``mel_dB / 10 + 2``), shape
            ``(n, 32)``, ``n >= 1``.

    Returns:
        10·log10 of the band power summed over the 32 bands and averaged over the frames,
        calibrated so that a 1 kHz sine reads its RMS level (dB re 32768). Digital silence
        reads :data:`SILENCE_DBFS`.
    """
    m = (np.asarray(mels, dtype=np.float64) - 2.0) * 10.0
    power = float(np.mean(np.sum(np.power(10.0, m / 10.0), axis=-1)))
    return max(SILENCE_DBFS, 10.0 * math.log10(max(power, 1e-30)) - _MEL_DB_AT_0_DBFS)


class WakeGate:
    """Decides, per 80 ms chunk, whether the embedding and classifier models must run.

    Args:
        window_frames: mel runs of the receptive field (see :func:`receptive_frames`).
        quiet_dbfs: a chunk whose mel level (:func:`mel_level_dbfs`) is at or below this
            many dBFS counts as quiet.
        steady_db: the field counts as steady noise when its chunk levels span at most
            this many dB (``0`` disables the steady-noise rule).

    Attributes:
        open: the last decision (True: run the models).
        skipped: chunks skipped since construction / :meth:`reset`.
    """

    def __init__(self, window_frames: int, quiet_dbfs: float = -60.0, steady_db: float = 4.0) -> None:
        if window_frames < 1:
            raise ValueError(f"window_frames must be >= 1, not {window_frames}")
        if steady_db < 0:
            raise ValueError(f"steady_db must be >= 0, not {steady_db}")
        self.window_frames = int(window_frames)
        self.quiet_dbfs = float(quiet_dbfs)
        self.steady_db = float(steady_db)
        self.reset()

    def reset(self) -> None:
        """Back to the state after digital silence (openWakeWord's buffers start as silence)."""
        self._levels: collections.deque[float] = collections.deque([SILENCE_DBFS] * self.window_frames, maxlen=self.window_frames)
        self.open = False
        self.skipped = 0

    def update(self, level: float) -> bool:
        """Add one chunk's level (dBFS, from :func:`mel_level_dbfs`) and return True if the
        models must run for it."""
        self._levels.append(float(level))
        hi, lo = max(self._levels), min(self._levels)
        idle = hi <= self.quiet_dbfs or (self.steady_db > 0 and hi - lo <= self.steady_db)
        self.open = not idle
        if idle:
            self.skipped += 1
        return self.open


def _invoke(lib, interp, in_tensor, out_tensor, x: np.ndarray) -> np.ndarray:
    import ctypes as C

    lib.TfLiteTensorCopyFromBuffer(in_tensor, x.ctypes.data_as(C.c_void_p), C.c_size_t(x.nbytes))
    lib.TfLiteInterpreterInvoke(interp)
    n = lib.TfLiteTensorByteSize(out_tensor)
    out = np.empty(n // 4, dtype=np.float32)
    lib.TfLiteTensorCopyToBuffer(out_tensor, out.ctypes.data_as(C.c_void_p), C.c_size_t(n))
    return out


def push_audio(features, chunk: np.ndarray) -> int:
    """Append one chunk to an ``OpenWakeWordFeatures``' audio buffer and run its mel model,
    exactly as the first half of its ``process_streaming`` does; no embedding is computed
    (``features.new_mels`` grows by 8 per mel run).

    Args:
        features: a ``pyopen_wakeword.OpenWakeWordFeatures`` (1.1.0 attributes ``audio``,
            ``new_audio_samples``, ``mels``, ``new_mels`` and the mel interpreter).
        chunk: int16 samples, shape ``(n,)``.

    Returns:
        mel frames appended (the newest are ``features.mels[-n:]``); 8 per 1280 samples
        once the buffers are primed.
    """
    added = 0
    f = features
    x = np.asarray(chunk, dtype=np.int16).astype(np.float32)
    f.audio[: -len(x)] = f.audio[len(x) :]
    f.audio[-len(x) :] = x
    f.new_audio_samples = min(len(f.audio), f.new_audio_samples + len(x))
    while f.new_audio_samples >= _MEL_SAMPLES:
        t = np.zeros(shape=(1, _MEL_SAMPLES), dtype=np.float32)
        t[0, :] = f.audio[-f.new_audio_samples : len(f.audio) - f.new_audio_samples + _MEL_SAMPLES]
        f.new_audio_samples = max(0, f.new_audio_samples - CHUNK_SAMPLES)
        mels = _invoke(f.lib, f.mel_interpreter, f.mel_input_tensor, f.mel_output_tensor, np.ascontiguousarray(t))
        mels = ((mels / 10) + 2).reshape((-1, _NUM_MELS))
        n = mels.shape[0]
        f.mels[:-n] = f.mels[n:]
        f.mels[-n:] = mels
        f.new_mels = min(len(f.mels), f.new_mels + n)
        added += n
    return min(added, len(f.mels))


def pending_embeddings(features) -> int:
    """Embedding steps openWakeWord's loop would run now (``new_mels >= 76`` repeatedly)."""
    n = features.new_mels
    return 0 if n < _EMB_FEATURES else (n - _EMB_FEATURES) // _EMB_STEP + 1


def drop_oldest(features, keep: int) -> int:
    """Consume all but the newest ``keep`` pending embedding steps without running them
    (each one ``new_mels -= 8``, as the loop would). Returns how many were dropped."""
    drop = max(0, pending_embeddings(features) - keep)
    features.new_mels -= _EMB_STEP * drop
    return drop


def run_embeddings(features) -> Iterator[np.ndarray]:
    """Run the pending embedding steps, oldest first, exactly as the second half of
    ``process_streaming`` does; yields float32 arrays of shape ``(1, 1, 1, 96)``."""
    f = features
    while f.new_mels >= _EMB_FEATURES:
        t = np.ascontiguousarray(np.zeros(shape=(1, _EMB_FEATURES, _NUM_MELS, 1), dtype=np.float32))
        t[0, :, :, 0] = f.mels[-f.new_mels : len(f.mels) - f.new_mels + _EMB_FEATURES, :]
        f.new_mels = max(0, f.new_mels - _EMB_STEP)
        emb = _invoke(f.lib, f.emb_interpreter, f.emb_input_tensor, f.emb_output_tensor, t)
        yield emb.reshape((1, 1, -1, _WW_FEATURES))
