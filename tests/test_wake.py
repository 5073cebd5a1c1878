"""assistant.wake: openWakeWord models on real recordings, user models, and live capture
through the virtual microphone."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from assistant import audio
from assistant.errors import AudioInputError, ModelError
from assistant.wake import (
    FRAME_SAMPLES,
    WakeDetection,
    WakeWordDetector,
    detect_in_file,
)
from models.registry import resolve_wake_model

SR = 16000


@pytest.fixture(scope="module")
def jarvis() -> WakeWordDetector:
    det = WakeWordDetector("hey_jarvis")
    yield det
    det.close()


def run(det: WakeWordDetector, x: np.ndarray, block: int = FRAME_SAMPLES, tail_s: float = 1.0) -> list[WakeDetection]:
    det.reset()
    x = np.concatenate([x, np.zeros(int(tail_s * SR), np.int16)])
    return det.process_all(x[i : i + block] for i in range(0, len(x), block))


def test_fires_once_on_hey_jarvis(jarvis, data_dir):
    found = run(jarvis, audio.read_audio(data_dir / "wyoming_hey_jarvis.wav"))
    assert len(found) == 1
    d = found[0]
    assert d.model == "hey_jarvis" and d.score >= 0.9
    assert 0.8 <= d.audio_time <= 2.0  # the phrase ends about 1.8 s into the clip
    assert set(jarvis.scores) == {"hey_jarvis"}


@pytest.mark.parametrize("name", ["negative_reference.wav", "turn_on_the_office_lights_test_clip.wav", "hey_jane.wav", "wyoming_alexa.wav"])
def test_does_not_fire_on_other_speech(jarvis, data_dir, name):
    x = audio.read_audio(data_dir / name)
    assert run(jarvis, x) == []
    if name.startswith("turn_on"):
        assert len(x) / SR > 34  # really the 34 s clip
        assert jarvis.audio_time > 34


@pytest.mark.parametrize("block", [1, 333, 1280, 5000, 16000])
def test_any_block_size_gives_the_same_detection(jarvis, data_dir, block):
    x = audio.read_audio(data_dir / "wyoming_hey_jarvis.wav")
    reference = run(jarvis, x)
    if block == 1:  # sample by sample: just the first 0.3 s, then whole frames
        jarvis.reset()
        for s in x[: int(0.3 * SR)]:
            assert jarvis.process(np.array([s], np.int16)) is None
        rest = np.concatenate([x[int(0.3 * SR) :], np.zeros(SR, np.int16)])
        found = jarvis.process_all(rest[i : i + 1280] for i in range(0, len(rest), 1280))
    else:
        found = run(jarvis, x, block=block)
    assert [(d.model, d.audio_time) for d in found] == [(d.model, d.audio_time) for d in reference]


def test_reset_gives_the_same_scores_as_a_fresh_detector(jarvis, data_dir):
    clip = audio.read_audio(data_dir / "wyoming_hey_jarvis.wav")
    other = audio.read_audio(data_dir / "negative_reference.wav")

    def trace(det):
        out = []
        for i in range(0, len(clip), FRAME_SAMPLES):
            det.process(clip[i : i + FRAME_SAMPLES])
            out.append(det.scores["hey_jarvis"])
        return out

    with WakeWordDetector("hey_jarvis") as fresh:
        expected = trace(fresh)
    jarvis.reset()
    jarvis.process(other)  # unrelated audio, then a reset
    jarvis.reset()
    assert jarvis.audio_time == 0.0
    assert trace(jarvis) == expected
    assert max(expected) >= 0.9


def test_trigger_frames_and_refractory_time(data_dir):
    clip = audio.read_audio(data_dir / "wyoming_hey_jarvis.wav")
    twice = np.concatenate([clip, clip])  # two wake phrases 2 s apart
    with WakeWordDetector("hey_jarvis", refractory_s=0.5) as det:
        found = run(det, twice)
        assert len(found) == 2
        assert abs((found[1].audio_time - found[0].audio_time) - 2.0) < 0.2
    with WakeWordDetector("hey_jarvis", refractory_s=5.0) as det:
        assert len(run(det, twice)) == 1
    # The clip scores >= 0.5 for about 8 consecutive frames: demanding 12 never fires.
    with WakeWordDetector("hey_jarvis", trigger_frames=12) as det:
        assert run(det, clip) == []


def test_alexa_model_and_several_models_at_once(data_dir):
    found = detect_in_file(data_dir / "wyoming_alexa.wav", model="alexa")
    assert len(found) == 1 and found[0].model == "alexa" and found[0].score >= 0.9
    assert len(detect_in_file(data_dir / "alexa_test.wav", model="alexa")) == 1
    both = np.concatenate([audio.read_audio(data_dir / "wyoming_hey_jarvis.wav"), audio.read_audio(data_dir / "wyoming_alexa.wav")])
    with WakeWordDetector(["hey_jarvis", "alexa"]) as det:
        found = run(det, both)
        assert [d.model for d in found] == ["hey_jarvis", "alexa"]
        assert found[1].audio_time > 2.0
        assert set(det.scores) == {"hey_jarvis", "alexa"}


def test_user_tflite_model_is_accepted(tmp_path, data_dir):
    mine = tmp_path / "my_jarvis.tflite"
    shutil.copy(resolve_wake_model("hey_jarvis"), mine)
    found = detect_in_file(data_dir / "wyoming_hey_jarvis.wav", model=str(mine))
    assert [d.model for d in found] == ["my_jarvis"]


def test_missing_or_corrupt_user_models_raise_model_error(tmp_path):
    random_bytes = tmp_path / "random.tflite"
    random_bytes.write_bytes(os.urandom(4096))
    fake_header = tmp_path / "fake.tflite"
    fake_header.write_bytes(b"\x1c\x00\x00\x00TFL3" + os.urandom(4096))
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(resolve_wake_model("hey_jarvis").read_bytes()[:3000])
    not_a_classifier = tmp_path / "melspectrogram.tflite"
    shutil.copy(resolve_wake_model("hey_jarvis").with_name("melspectrogram.tflite"), not_a_classifier)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx")
    cases = [tmp_path / "missing.tflite", random_bytes, fake_header, truncated, not_a_classifier, onnx, "hey_nobody"]
    for case in cases:
        with pytest.raises(ModelError) as ei:
            WakeWordDetector(str(case))
        assert ei.value.hint, case
        assert "Traceback" not in str(ei.value)
        if not isinstance(case, str):
            assert str(case) in ei.value.message


def test_detect_in_file_bad_audio(tmp_path):
    with pytest.raises(AudioInputError):
        detect_in_file(tmp_path / "missing.wav")


@pytest.mark.live
def test_fires_on_hey_jarvis_played_into_the_virtual_microphone(pulseaudio, data_dir, jarvis):
    audio.reinit_portaudio()
    jarvis.reset()
    found = []
    with audio.MicrophoneSource(block_ms=80) as mic:
        player = None
        for i, block in enumerate(mic.blocks()):
            if player is None:  # capture is running: play the phrase into the virtual mic
                player = pulseaudio.play_into_mic(data_dir / "wyoming_hey_jarvis.wav")
            d = jarvis.process(block)
            if d is not None:
                found.append(d)
            if i >= int(5.0 * SR / mic.block_samples):  # 5 s of captured audio
                break
        player.wait(20)
    assert len(found) == 1 and found[0].model == "hey_jarvis" and found[0].score >= 0.5
