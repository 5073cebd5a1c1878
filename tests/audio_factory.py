"""Make spoken test commands: Piper (the shipped joe voice), espeak-ng, and concatenation.

Everything written here is a 16 kHz mono int16 WAV (the engine's audio format), so a file
can go straight into ``FileSource`` or the virtual microphone. Typical use::

    from audio_factory import concat, piper_say   # tests/ is on sys.path under pytest
    wake = piper_say("Hey Jarvis", tmp_path / "wake.wav")
    cmd = piper_say("What time is it?", tmp_path / "cmd.wav", length_scale=1.1)
    concat([wake, cmd], tmp_path / "hey_jarvis_time.wav", gap_s=0.4)

Piper output is cached under ``<repo>/.cache/test-audio/`` keyed by text, parameters and the
voice's checksum, so reruns cost nothing. Piper's own sampling noise is unseeded, so
``piper_say`` synthesizes with it set to 0: a clean checkout hears exactly the same
recordings as the last one (before this, a phrase that decoded right on one run could be
misheard on the next, which made end-to-end tests flaky). Remember (DESIGN.md) that the wake-word models were trained on
Piper-like speech: Piper positives flatter them; use espeak-ng voices and real recordings
(``tests/data``) as well.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "test-audio"
RATE = 16000

_voice = None
_voice_lock = threading.Lock()


def _joe():
    """The shipped joe voice, loaded once per process (speed/volume are set per call)."""
    global _voice
    with _voice_lock:
        if _voice is None:
            from assistant.tts import PiperTTS

            # Noise 0: Piper's sampling noise is unseeded, and a test recording must be
            # the same on every clean checkout (see PiperTTS's noise_scale).
            _voice = PiperTTS("joe", warmup=False, noise_scale=0.0, noise_w_scale=0.0)
        return _voice


def to_16k(audio: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Convert mono or ``(n, channels)`` audio of any dtype at ``rate`` Hz to mono int16 at
    ``target`` Hz (default 16 kHz), shape ``(n,)``. Float input is taken as [-1, 1]; int16
    as PCM. Resampling: soxr HQ."""
    x = np.asarray(audio)
    if x.dtype == np.int16 and x.ndim == 1 and rate == target:
        return x.copy()
    if x.dtype == np.int16:
        x = x.astype(np.float32) / 32768.0
    else:
        x = x.astype(np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != target:
        x = soxr.resample(x, rate, target, quality="HQ")
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def read_16k(path: Union[str, Path]) -> np.ndarray:
    """Read any soundfile-readable file as 16 kHz mono int16, shape ``(n,)``."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return to_16k(data, rate)


def write_wav(path: Union[str, Path], audio: np.ndarray, rate: int = RATE) -> Path:
    """Write mono int16 ``audio`` (shape ``(n,)``) as a PCM_16 WAV; creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio, dtype=np.int16), rate, subtype="PCM_16")
    return path


def piper_say(text: str, path: Union[str, Path], length_scale: float = 1.0, sample_rate: int = RATE) -> Path:
    """Speak ``text`` with the shipped Piper joe voice into a mono int16 WAV at ``path``.

    Args:
        text: what to say (one or more sentences).
        path: output ``.wav`` (parent folders are created).
        length_scale: Piper's phoneme length scale: > 1 slower, < 1 faster.
        sample_rate: output rate in Hz (resampled from the voice's 22,050 Hz with soxr).

    Returns:
        ``path``. Deterministic: synthesized without Piper's sampling noise
        (``noise_scale = noise_w_scale = 0``), so every checkout gets the same samples.
        Cached in ``.cache/test-audio/`` by (text, length_scale, sample_rate, voice checksum).

    Raises:
        ModelError: the joe voice is not installed or fails its checksum.
    """
    from models.registry import TTS_VOICES

    voice_sha = TTS_VOICES["joe"].files[0].sha256[:16]
    key = hashlib.sha256(f"piper|noise0|{voice_sha}|{length_scale!r}|{sample_rate}|{text}".encode()).hexdigest()[:24]
    cached = CACHE / f"piper-{key}.wav"
    if not cached.is_file():
        tts = _joe()
        with _voice_lock:  # speed is per-voice state: serialise callers
            tts.set_speed(1.0 / length_scale)
            audio = tts.synthesize(text)
        audio = to_16k(audio, tts.sample_rate, target=sample_rate)
        tmp = cached.with_suffix(f".tmp{threading.get_ident()}.wav")
        write_wav(tmp, audio, sample_rate)
        tmp.replace(cached)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, path)
    return path


def espeak_say(text: str, path: Union[str, Path], voice: str = "en-us", speed: int = 160) -> Path:
    """Speak ``text`` with the ``espeak-ng`` command (system package ``espeak-ng``) into a
    16 kHz mono int16 WAV at ``path``.

    Args:
        voice: espeak-ng voice, e.g. ``"en-us"``, ``"en-gb"``, ``"en-us+f3"`` (variants).
        speed: words per minute (espeak-ng ``-s``; 80–450).

    Returns:
        ``path``.

    Raises:
        FileNotFoundError: ``espeak-ng`` is not installed.
        subprocess.CalledProcessError: espeak-ng failed (e.g. unknown voice).
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run([exe, "-v", voice, "-s", str(int(speed)), "-w", str(raw), text],
                       check=True, capture_output=True, timeout=60)
        audio = read_16k(raw)
    return write_wav(path, audio)


def concat(
    paths_or_arrays: Sequence[Union[str, Path, np.ndarray]],
    out: Union[str, Path],
    gap_s: float = 0.3,
    lead_s: float = 0.5,
    tail_s: float = 1.5,
) -> Path:
    """Join clips into one 16 kHz mono int16 WAV with digital silence around and between them.

    Args:
        paths_or_arrays: audio files (any rate/channels; resampled) or arrays that are
            already 16 kHz mono (int16 PCM, or float in [-1, 1]).
        out: output ``.wav``.
        gap_s: seconds of silence between clips.
        lead_s: seconds of silence before the first clip.
        tail_s: seconds after the last (lets VAD endpointing see the end of speech).

    Returns:
        ``out``.
    """
    pieces = [np.zeros(int(round(lead_s * RATE)), dtype=np.int16)]
    gap = np.zeros(int(round(gap_s * RATE)), dtype=np.int16)
    for i, item in enumerate(paths_or_arrays):
        if i:
            pieces.append(gap)
        pieces.append(to_16k(item, RATE) if isinstance(item, np.ndarray) else read_16k(item))
    pieces.append(np.zeros(int(round(tail_s * RATE)), dtype=np.int16))
    return write_wav(out, np.concatenate(pieces))
