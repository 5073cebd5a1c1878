"""Wake-word detection with openWakeWord models run through TensorFlow Lite.

The models and the TFLite C library come from the ``pyopen-wakeword`` package (see
``models/registry.py``: shipped models are checksum-verified before use). openWakeWord
(https://github.com/dscripka/openWakeWord) computes a 32-band mel spectrogram every 10 ms,
an embedding of 76 mel frames (775 ms) every 80 ms, and feeds the last N embeddings
(16 for ``hey_jarvis``) to a small classifier that outputs a probability per 80 ms frame.

Decision rule on top of the per-frame scores (DESIGN.md: bare "Jarvis" and "Hey Jervis"
also score high, so one frame is not enough):

* fire only after ``trigger_frames`` *consecutive* frames score ≥ ``threshold``;
* after firing, ignore ``refractory_s`` seconds of audio (one utterance fires once);
* ignore the first 5 frames after a (re)start, as openWakeWord's own ``Model.predict``
  does (its feature buffers start as silence, not as the audio that preceded).

Idle gate (``gate=True``, the default; :mod:`assistant.wake_gate`): while the last 2.16 s
(the classifier's receptive field, 27 chunks of 80 ms) were quiet (every chunk's level in
the models' 60–3800 Hz band at or below ``gate_quiet_dbfs``, default -60 dBFS) or steady
noise (the chunk levels within ``gate_steady_db``, default 4 dB), only the cheap mel model runs; the embedding and
classifier models are skipped and the frame scores 0.0. The first chunk that breaks the rule
runs the deferred embeddings from the (always exact) mel buffer, so every score from then on
is bit-identical to the ungated detector's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from assistant.errors import ModelError
from assistant.wake_gate import (
    SILENCE_DBFS,
    WakeGate,
    drop_oldest,
    mel_level_dbfs,
    push_audio,
    receptive_frames,
    run_embeddings,
)

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: samples per openWakeWord frame (80 ms at 16 kHz).
FRAME_SAMPLES = 1280
#: openWakeWord's ``Model.predict`` zeroes the first 5 predictions after start/reset.
WARMUP_FRAMES = 5
_TFLITE_MAGIC = b"TFL3"  # FlatBuffers file identifier of TFLite models (bytes 4..8)
_EMBEDDING_FEATURES = 96  # openWakeWord embedding size; classifier input is (1, N, 96)


@dataclass(frozen=True)
class WakeDetection:
    """One wake-word detection.

    Attributes:
        model: the model's name (``"hey_jarvis"``, or the stem of a user ``.tflite``).
        score: the model's probability in [0, 1] at the triggering frame.
        audio_time: seconds of audio processed (since construction or :meth:`reset`) when
            it fired, i.e. the end of the triggering 80 ms frame.
    """

    model: str
    score: float
    audio_time: float


def _model_name(spec: str) -> str:
    from models.registry import WAKE_MODELS

    return spec if spec in WAKE_MODELS else Path(spec).expanduser().stem


def _check_tflite_file(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelError(f"Wake-word model {path} cannot be read ({exc.strerror or exc}).", "Check the file's permissions.") from exc
    if len(head) < 8 or head[4:8] != _TFLITE_MAGIC:
        raise ModelError(
            f"Wake-word model {path} is not a TensorFlow Lite model (the file lacks the 'TFL3' identifier).",
            "Export an openWakeWord model as .tflite, or choose a shipped model such as hey_jarvis.",
        )


def _tflite_library() -> Path:
    """Path of the TensorFlow Lite C library that pyopen-wakeword ships.

    The one place that uses pyopen-wakeword's private ``_find_tensorflowlite_c``: it has no
    public name for it. Written against the pinned ``pyopen-wakeword==1.1.0``; check this
    name when upgrading it.
    """
    from pyopen_wakeword.openwakeword import _find_tensorflowlite_c

    return _find_tensorflowlite_c()


def _load_classifier(spec: str):
    """Resolve (checksums for shipped models) and load one wake-word classifier."""
    from pyopen_wakeword import OpenWakeWord

    from models.registry import resolve_wake_model

    path = resolve_wake_model(spec)
    _check_tflite_file(path)
    # TfLiteModelCreateFromFile returns NULL for a corrupt file and pyopen_wakeword would
    # then crash inside the C library: probe it first.
    from pyopen_wakeword.wakeword import TfLiteWakeWord

    probe = TfLiteWakeWord(_tflite_library())
    handle = probe.lib.TfLiteModelCreateFromFile(str(path.resolve()).encode("utf-8"))
    if not handle:
        raise ModelError(
            f"Wake-word model {path} is corrupt: TensorFlow Lite cannot load it.",
            "Re-copy or re-export the model, or choose a shipped model such as hey_jarvis.",
        )
    probe.lib.TfLiteModelDelete(handle)
    try:
        model = OpenWakeWord.from_model(path)
    except (RuntimeError, OSError, ValueError) as exc:
        raise ModelError(f"Wake-word model {path} cannot be loaded ({exc}).", "Re-copy or re-export the model.") from exc
    lib = model.lib
    dims = [lib.TfLiteTensorDim(model.input_tensor, i) for i in range(lib.TfLiteTensorNumDims(model.input_tensor))]
    out_bytes = lib.TfLiteTensorByteSize(model.output_tensor)
    if len(dims) != 3 or dims[2] != _EMBEDDING_FEATURES or out_bytes != 4:
        model.close()
        raise ModelError(
            f"{path} is a TensorFlow Lite model but not an openWakeWord wake-word classifier "
            f"(input shape {dims}, expected [1, N, {_EMBEDDING_FEATURES}]; one float output).",
            "Train or export the model with openWakeWord, or choose a shipped model such as hey_jarvis.",
        )
    return model



def _one_thread(obj, pairs: Sequence[tuple[str, Optional[tuple[int, ...]]]]) -> None:
    """Re-create pyopen-wakeword's TFLite interpreters with one thread each.

    pyopen-wakeword creates its interpreters without options, so TFLite runs a thread
    pool whose workers spin between the tiny per-frame invocations: on this 2-core machine
    the wake listener took 10–12 % of a core of CPU for 6 % of wall time; with one thread it
    takes ~5.6 % (both measured over the 34.5 s office-lights clip, 80 ms frames).
    ``pairs`` lists ``(prefix, input_shape)``: attributes ``{prefix}model``,
    ``{prefix}interpreter``, ``{prefix}input_tensor``, ``{prefix}output_tensor`` of ``obj``
    (pyopen-wakeword 1.1.0 internals; the version is pinned). The old interpreter is
    deleted. Failing silently keeps the multi-threaded interpreter (slower, same output).
    """
    import ctypes as C

    lib = obj.lib
    try:
        lib.TfLiteInterpreterOptionsCreate.restype = C.c_void_p
        lib.TfLiteInterpreterOptionsSetNumThreads.argtypes = [C.c_void_p, C.c_int32]
        lib.TfLiteInterpreterOptionsDelete.argtypes = [C.c_void_p]
        lib.TfLiteInterpreterDelete.argtypes = [C.c_void_p]
        for prefix, shape in pairs:
            model = getattr(obj, f"{prefix}model")
            opts = lib.TfLiteInterpreterOptionsCreate()
            lib.TfLiteInterpreterOptionsSetNumThreads(opts, 1)
            interp = lib.TfLiteInterpreterCreate(model, opts)
            lib.TfLiteInterpreterOptionsDelete(opts)
            if not interp:
                continue
            if shape is not None:
                dims = (C.c_int32 * len(shape))(*shape)
                lib.TfLiteInterpreterResizeInputTensor(interp, C.c_int32(0), dims, C.c_int32(len(shape)))
            lib.TfLiteInterpreterAllocateTensors(interp)
            old = getattr(obj, f"{prefix}interpreter")
            setattr(obj, f"{prefix}interpreter", interp)
            setattr(obj, f"{prefix}input_tensor", lib.TfLiteInterpreterGetInputTensor(interp, C.c_int32(0)))
            setattr(obj, f"{prefix}output_tensor", lib.TfLiteInterpreterGetOutputTensor(interp, C.c_int32(0)))
            if old:
                lib.TfLiteInterpreterDelete(old)
    except AttributeError as exc:  # another pyopen-wakeword or TFLite build
        log.debug("wake word: keeping multi-threaded TFLite interpreters (%s)", exc)


class WakeWordDetector:
    """Streaming wake-word detector for 16 kHz mono int16 audio.

    Args:
        model: a shipped model name (``hey_jarvis``, ``alexa``, ``hey_mycroft``,
            ``hey_rhasspy``, ``okay_nabu``), a path to a user openWakeWord ``.tflite``
            classifier, or a sequence of those (they share one feature extractor; each
            fires independently).
        threshold: per-frame probability at or above which a frame counts, in (0, 1).
        trigger_frames: consecutive 80 ms frames at/over ``threshold`` needed to fire.
        refractory_s: seconds of audio ignored after a detection.
        gate: skip the embedding and classifier models on silence / steady noise (see the
            module docstring); False runs them on every frame.
        gate_quiet_dbfs: level (dBFS, in the 60–3800 Hz band) at or below which an 80 ms
            chunk counts as quiet.
        gate_steady_db: level span (dB) within which the receptive field counts as steady
            noise; 0 disables that rule (only quiet input is skipped).

    Attributes:
        models: names of the loaded models.
        scores: ``{model: probability}`` of the last complete frame (for a level meter).
        audio_time: seconds of audio processed since construction / :meth:`reset`.
        frame_cpu_ms: CPU (process) milliseconds spent on the last frame.
        gate: the :class:`~assistant.wake_gate.WakeGate` (``open``, ``skipped``), or None.

    Raises:
        ModelError: unknown model name, missing or corrupt file (bad checksum, not a TFLite
            model, not a wake-word classifier), or the pyopen-wakeword package is missing.
    """

    def __init__(
        self,
        model: Union[str, Sequence[str]] = "hey_jarvis",
        threshold: float = 0.5,
        trigger_frames: int = 2,
        refractory_s: float = 2.0,
        gate: bool = True,
        gate_quiet_dbfs: float = -60.0,
        gate_steady_db: float = 4.0,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), not {threshold}")
        if trigger_frames < 1:
            raise ValueError(f"trigger_frames must be >= 1, not {trigger_frames}")
        try:
            from pyopen_wakeword import OpenWakeWordFeatures
        except ImportError as exc:
            raise ModelError("The wake-word engine (pyopen-wakeword) is not installed.", "pip install pyopen-wakeword==1.1.0") from exc
        from models.registry import resolve_wake_features

        specs = [model] if isinstance(model, (str, Path)) else list(model)
        if not specs:
            raise ModelError("No wake-word model was given.", "Choose a model such as hey_jarvis.")
        self.models = [_model_name(str(s)) for s in specs]
        self._classifiers = [_load_classifier(str(s)) for s in specs]
        mel, emb = resolve_wake_features()
        try:
            self._features = OpenWakeWordFeatures(mel, emb, _tflite_library())
        except (RuntimeError, OSError, ValueError) as exc:
            raise ModelError(f"The openWakeWord feature models cannot be loaded ({exc}).", "Reinstall pyopen-wakeword==1.1.0.") from exc
        from pyopen_wakeword.openwakeword import EMB_SHAPE, MEL_SHAPE

        _one_thread(self._features, [("mel_", MEL_SHAPE), ("emb_", EMB_SHAPE)])
        for clf in self._classifiers:
            _one_thread(clf, [("", None)])
        self.threshold = float(threshold)
        self.trigger_frames = int(trigger_frames)
        self.refractory_s = float(refractory_s)
        self.frame_cpu_ms = 0.0
        self._keep = max(c.input_windows for c in self._classifiers)
        self.gate = WakeGate(receptive_frames(self._keep), gate_quiet_dbfs, gate_steady_db) if gate else None
        self._snapshot = None
        self._prime()
        self.reset()

    def _prime(self) -> None:
        """Fill the feature buffers with silence once and remember that state.

        openWakeWord's feature extractor starts from 8 s of (virtual) silence: the first
        frame after its ``reset()`` costs ~100 mel + embedding runs (0.1 s idle, over 1 s on
        a busy 2-core machine). That is paid once here; :meth:`reset` restores copies of the
        primed numpy buffers instead (the TFLite models themselves hold no state between
        invocations). Relies on the buffer attributes of pyopen-wakeword 1.1.0, the pinned
        version; without them :meth:`reset` falls back to priming again.
        """
        self._features.reset()
        for c in self._classifiers:
            c.reset()
        self._run_frame_ungated(np.zeros(FRAME_SAMPLES, np.int16))
        f = self._features
        try:
            self._snapshot = (
                (f.audio.copy(), f.new_audio_samples, f.mels.copy(), f.new_mels),
                [(c.embeddings.copy(), c.new_embeddings) for c in self._classifiers],
            )
        except AttributeError:  # a pyopen-wakeword with other internals
            self._snapshot = None

    def reset(self) -> None:
        """Forget all audio: feature buffers (back to silence), counters, refractory time,
        ``audio_time``, ``scores``. Cheap (buffer copies), so it can run after every
        utterance on the audio thread."""
        if self._snapshot is None:
            self._prime()
        else:
            (audio, n_audio, mels, n_mels), clfs = self._snapshot
            f = self._features
            f.audio, f.new_audio_samples, f.mels, f.new_mels = audio.copy(), n_audio, mels.copy(), n_mels
            for c, (emb, n_emb) in zip(self._classifiers, clfs, strict=True):
                c.embeddings, c.new_embeddings = emb.copy(), n_emb
        self._pending = np.zeros(0, np.int16)
        self._frames = 0
        self._run = [0] * len(self._classifiers)
        self._ignore_until = 0.0
        self.scores = {m: 0.0 for m in self.models}
        if self.gate is not None:
            self.gate.reset()

    @property
    def audio_time(self) -> float:
        """Seconds of audio processed since construction / :meth:`reset` (complete frames)."""
        return self._frames * FRAME_SAMPLES / SAMPLE_RATE

    def _run_frame_ungated(self, frame: np.ndarray) -> list[float]:
        best = [0.0] * len(self._classifiers)
        for emb in self._features.process_streaming(frame.tobytes()):
            for i, clf in enumerate(self._classifiers):
                for p in clf.process_streaming(emb):
                    best[i] = max(best[i], float(p))
        return best

    def _run_frame_gated(self, frame: np.ndarray) -> list[float]:
        f = self._features
        n = push_audio(f, frame)  # the mel buffer stays exact
        run = self.gate.update(mel_level_dbfs(f.mels[-n:]) if n else SILENCE_DBFS)
        drop_oldest(f, self._keep)  # deferred steps the classifier window no longer reads
        last = [0.0] * len(self._classifiers)
        if run:  # catch up: the classifier ends with exactly the ungated embeddings
            for emb in run_embeddings(f):
                for i, clf in enumerate(self._classifiers):
                    for p in clf.process_streaming(emb):
                        last[i] = float(p)
        return last

    def _run_frame(self, frame: np.ndarray) -> list[float]:
        t0 = time.process_time()
        best = self._run_frame_ungated(frame) if self.gate is None else self._run_frame_gated(frame)
        self.frame_cpu_ms = (time.process_time() - t0) * 1000.0
        return best

    def process(self, block: np.ndarray) -> Optional[WakeDetection]:
        """Feed audio; return a detection if a wake word completed in it.

        Args:
            block: int16 samples at 16 kHz, shape ``(n,)``, any ``n`` (buffered internally
                into 1280-sample frames; float input in [-1, 1) is converted).

        Returns:
            The first :class:`WakeDetection` that fired in this block, or None. (At most
            one per block: the refractory time then starts.)
        """
        x = np.asarray(block)
        if x.dtype != np.int16:
            x = np.clip(np.rint(x.astype(np.float32) * 32768.0), -32768, 32767).astype(np.int16)
        x = x.reshape(-1)
        buf = np.concatenate([self._pending, x]) if len(self._pending) else x
        n_frames = len(buf) // FRAME_SAMPLES
        detection: Optional[WakeDetection] = None
        for k in range(n_frames):
            frame = buf[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES]
            probs = self._run_frame(frame)
            self._frames += 1
            now = self.audio_time
            self.scores = dict(zip(self.models, probs, strict=True))
            if self._frames <= WARMUP_FRAMES:
                continue
            for i, p in enumerate(probs):
                self._run[i] = self._run[i] + 1 if p >= self.threshold else 0
            if detection is not None or now <= self._ignore_until:
                continue
            for i, p in enumerate(probs):
                if self._run[i] >= self.trigger_frames:
                    detection = WakeDetection(self.models[i], p, now)
                    self._ignore_until = now + self.refractory_s
                    self._run = [0] * len(self._classifiers)
                    log.info("wake word %s (score %.3f) at %.2f s", self.models[i], p, now)
                    break
        self._pending = buf[n_frames * FRAME_SAMPLES :].copy()
        return detection

    def process_all(self, blocks: Iterable[np.ndarray]) -> list[WakeDetection]:
        """Run :meth:`process` over blocks and collect every detection."""
        found = []
        for b in blocks:
            d = self.process(b)
            if d is not None:
                found.append(d)
        return found

    def close(self) -> None:
        """Release the TFLite interpreters."""
        for c in self._classifiers:
            c.close()
        self._features.close()

    def __enter__(self) -> "WakeWordDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def detect_in_file(path: Union[str, Path], block_ms: float = 80, pad_silence_s: float = 1.0, **kw) -> list[WakeDetection]:
    """Run a fresh :class:`WakeWordDetector` over a recording.

    Args:
        path: any file :func:`assistant.audio.read_audio` decodes.
        block_ms: block size fed to the detector, ms.
        pad_silence_s: silence appended so a wake word at the very end can complete.
        **kw: :class:`WakeWordDetector` arguments (``model``, ``threshold``...).

    Returns:
        All detections, in order; ``audio_time`` is relative to the start of the file.

    Raises:
        AudioInputError: the file cannot be decoded.
        ModelError: the model cannot be loaded.
    """
    from assistant.audio import FileSource

    source = FileSource(path, block_ms=block_ms, pad_silence_s=pad_silence_s)
    with WakeWordDetector(**kw) as det:
        return det.process_all(source.blocks())
