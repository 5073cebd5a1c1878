"""assistant.wake's idle gate: skipping the embedding/classifier models on silence and steady
noise loses no detection and adds none (real models, real and synthesized speech)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import audio
from assistant.wake import FRAME_SAMPLES, WakeWordDetector
from assistant.wake_gate import SILENCE_DBFS, WakeGate, mel_level_dbfs, receptive_frames
from audio_factory import espeak_say, piper_say, read_16k

SR = 16000
REAL_CLIPS = [
    "wyoming_hey_jarvis.wav", "wyoming_alexa.wav", "alexa_test.wav", "hey_mycroft_test.wav",
    "hey_jane.wav", "negative_reference.wav", "turn_on_the_office_lights_test_clip.wav", "jfk.flac",
]


@pytest.fixture(scope="module")
def pair():
    """(ungated, gated) detectors for hey_jarvis and alexa, defaults otherwise."""
    ung = WakeWordDetector(["hey_jarvis", "alexa"], gate=False)
    gat = WakeWordDetector(["hey_jarvis", "alexa"])
    yield ung, gat
    ung.close()
    gat.close()


def trace(det: WakeWordDetector, x: np.ndarray):
    """Per-frame scores, per-frame 'models ran' flags and detections of one stream."""
    det.reset()
    scores, ran, found = [], [], []
    for i in range(0, len(x) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        d = det.process(x[i : i + FRAME_SAMPLES])
        scores.append([det.scores[m] for m in det.models])
        ran.append(det.gate is None or det.gate.open)
        if d is not None:
            found.append((d.model, d.audio_time, d.score))
    return np.array(scores), np.array(ran), found


def noise(kind: str, n: int, dbfs: float, seed: int = 0) -> np.ndarray:
    """Seeded white or pink (1/f power) noise, float64, RMS ``dbfs`` re 32768."""
    w = np.random.default_rng(seed).standard_normal(n)
    if kind == "pink":
        spec = np.fft.rfft(w)
        f = np.arange(len(spec), dtype=float)
        f[0] = 1.0
        w = np.fft.irfft(spec / np.sqrt(f), n)
    return w / np.sqrt(np.mean(w**2)) * 32768 * 10 ** (dbfs / 20)


def mix(clip: np.ndarray, lead_s: float, noise_kind: str | None, noise_dbfs: float, speech_dbfs: float = -26.0) -> np.ndarray:
    c = clip.astype(np.float64)
    c = c / np.sqrt(np.mean(c**2)) * 32768 * 10 ** (speech_dbfs / 20)
    x = np.concatenate([np.zeros(int(lead_s * SR)), c, np.zeros(2 * SR)])
    if noise_kind:
        x = x + noise(noise_kind, len(x), noise_dbfs)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def assert_same(ung, gat, x):
    a, _, fa = trace(ung, x)
    b, ran, fb = trace(gat, x)
    assert fb == fa  # same detections, same frames, bit-identical scores
    np.testing.assert_array_equal(b[ran], a[ran])  # every frame the gate ran: bit-identical
    assert np.all(b[~ran] == 0.0)
    # Without the gate the skipped frames score as silence too (≤ 0.05 seen: the onset of
    # -70 dBFS noise after digital silence, which the quiet rule does not count as sound).
    assert np.all(a[~ran] < 0.1)
    return fa, int((~ran).sum())


def test_gate_wide_open_is_bit_identical_to_no_gate(pair, data_dir):
    ung, _ = pair
    with WakeWordDetector(["hey_jarvis", "alexa"], gate_quiet_dbfs=-200, gate_steady_db=0) as always:
        for name in ["wyoming_hey_jarvis.wav", "turn_on_the_office_lights_test_clip.wav"]:
            x = np.concatenate([np.zeros(3 * SR, np.int16), audio.read_audio(data_dir / name)])
            a, _, fa = trace(ung, x)
            b, ran, fb = trace(always, x)
            assert fb == fa and np.array_equal(a, b)
            assert ran.all() and always.gate.skipped == 0


@pytest.mark.parametrize("name", REAL_CLIPS)
def test_real_clips_give_the_same_detections(pair, data_dir, name):
    ung, gat = pair
    x = audio.read_audio(data_dir / name)
    x = np.concatenate([np.zeros(6 * SR, np.int16), x, np.zeros(SR, np.int16)])  # 6 s of silence first
    found, skipped = assert_same(ung, gat, x)
    assert skipped >= 40  # most of the leading silence was skipped
    expected = {"wyoming_hey_jarvis.wav": ["hey_jarvis"], "wyoming_alexa.wav": ["alexa"], "alexa_test.wav": ["alexa"]}
    assert [m for m, _, _ in found] == expected.get(name, [])


def _voices(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wake-voices")
    return {
        "piper-1.0": read_16k(piper_say("Hey Jarvis", tmp / "p10.wav")),
        "piper-0.8": read_16k(piper_say("Hey Jarvis", tmp / "p08.wav", length_scale=0.8)),
        "piper-1.3": read_16k(piper_say("Hey Jarvis", tmp / "p13.wav", length_scale=1.3)),
        "espeak-us": read_16k(espeak_say("Hey Jarvis", tmp / "eus.wav", voice="en-us", speed=150)),
        "espeak-gb-f3": read_16k(espeak_say("Hey Jarvis", tmp / "egb.wav", voice="en-gb+f3", speed=130)),
    }


@pytest.fixture(scope="module")
def voices(tmp_path_factory, data_dir):
    v = _voices(tmp_path_factory)
    v["real"] = audio.read_audio(data_dir / "wyoming_hey_jarvis.wav")
    return v


@pytest.mark.parametrize("noise_kind,noise_dbfs", [(None, 0), ("white", -70), ("pink", -60), ("white", -45), ("pink", -40), ("pink", -32)])
def test_wake_word_after_silence_or_steady_noise_fires_at_the_same_frame(pair, voices, noise_kind, noise_dbfs):
    ung, gat = pair
    fired = 0
    for name, clip in voices.items():
        x = mix(clip, 6.0, noise_kind, noise_dbfs)
        found, skipped = assert_same(ung, gat, x)
        assert skipped >= 40, (name, skipped)  # the 6 s before the word were skipped
        fired += [m for m, _, _ in found] == ["hey_jarvis"]
    assert fired >= len(voices) - 1  # the check above is about real detections


def test_quiet_wake_words_are_not_gated(pair, voices):
    """A wake word spoken softly over a quiet room is still scored in full."""
    ung, gat = pair
    for level in (-40.0, -50.0):
        for name in ("real", "piper-1.0", "espeak-us"):
            x = mix(voices[name], 6.0, "white", -75, speech_dbfs=level)
            found, _ = assert_same(ung, gat, x)
            if level == -40.0:
                assert [m for m, _, _ in found] == ["hey_jarvis"], name


def test_gate_rules():
    n = receptive_frames(16)
    assert n == 27
    g = WakeGate(n, quiet_dbfs=-60, steady_db=4)
    assert not g.update(-70) and not g.open  # after reset the field is silence
    for _ in range(n):
        g.update(-30.0)  # steady noise at -30 dBFS ...
    assert not g.open
    assert g.update(-25.0)  # ... broken by a louder chunk: the models run
    for _ in range(n - 1):
        assert g.update(-30.0)  # ... for the whole receptive field after it
    assert not g.update(-30.0)
    g.reset()
    assert g.skipped == 0 and not g.update(-61) and g.update(-59)
    assert mel_level_dbfs(np.full((8, 32), -6.5, np.float32)) == SILENCE_DBFS
    with pytest.raises(ValueError):
        WakeGate(0)


def test_settings_defaults_match_the_detector():
    import inspect

    from assistant.settings import WakeSettings

    s = WakeSettings()
    params = inspect.signature(WakeWordDetector).parameters
    assert s.gate is params["gate"].default is True
    assert s.gate_quiet_dbfs == params["gate_quiet_dbfs"].default == -60.0
    assert s.gate_steady_db == params["gate_steady_db"].default == 4.0
    with WakeWordDetector("hey_jarvis", gate=s.gate, gate_quiet_dbfs=s.gate_quiet_dbfs, gate_steady_db=s.gate_steady_db) as det:
        assert det.gate is not None and det.gate.window_frames == 27
    with WakeWordDetector("hey_jarvis", gate=False) as det:
        assert det.gate is None
