"""The installed ``assistant`` console script, run as a user would run it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from audio_factory import concat, piper_say
from test_pipeline import near_now, spoken_times, time_heard

ROOT = Path(__file__).resolve().parents[1]
ASSISTANT = str(Path(sys.executable).with_name("assistant"))
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def run(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``assistant ARGS`` and return the completed process (text mode)."""
    return subprocess.run([ASSISTANT, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def assert_clean_error(p: subprocess.CompletedProcess, *needles: str) -> None:
    """Non-zero exit, one ``error:`` line naming the problem, no traceback."""
    assert p.returncode != 0, p
    assert "Traceback" not in p.stderr, p.stderr
    assert "error:" in p.stderr, p.stderr
    for n in needles:
        assert n.lower() in p.stderr.lower(), (n, p.stderr)


def test_transcribe_jfk_wer0(data_dir):
    """`assistant transcribe jfk.flac` gives the reference text (WER 0 with base)."""
    from assistant.asr import normalize_text

    p = run("transcribe", str(data_dir / "jfk.flac"))
    assert p.returncode == 0, p.stderr
    assert normalize_text(p.stdout) == normalize_text(JFK), p.stdout


def test_say_writes_wav(tmp_path):
    import soundfile as sf

    out = tmp_path / "hello.wav"
    p = run("say", "Hello there, this is a test.", "--output", str(out))
    assert p.returncode == 0, p.stderr
    data, rate = sf.read(out)
    assert rate == 22050 and len(data) > rate * 0.8


@pytest.mark.rasa
def test_run_input_what_time(tmp_path):
    """`assistant run --input cmd.wav --output reply.wav --trace t.json` prints the intent,
    writes a reply that, transcribed back, contains the current time, and writes traces."""
    from assistant.asr import WhisperASR
    from assistant.audio import read_audio

    cmd = concat([piper_say("Hey Jarvis", tmp_path / "w.wav"), piper_say("What time is it?", tmp_path / "c.wav")],
                 tmp_path / "cmd.wav", gap_s=0.35)
    reply, trace = tmp_path / "reply.wav", tmp_path / "t.json"
    p = run("run", "--input", str(cmd), "--output", str(reply), "--trace", str(trace))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "clock__ask_time" in p.stdout
    assert "latency:" in p.stdout and "first audio" in p.stdout
    reply_line = next(line for line in p.stdout.splitlines() if line.strip().startswith("reply:"))
    assert near_now(spoken_times(reply_line)), p.stdout  # the reply text, exactly
    heard = WhisperASR("base").transcribe(read_audio(reply)).text
    assert time_heard(reply_line, heard), (p.stdout, heard)
    events = json.loads(trace.read_text())["events"]
    assert [e["type"] for e in events][0] == "InteractionStarted"
    chrome = json.loads(trace.with_name("t.chrome.json").read_text())
    assert any(e["ph"] == "X" for e in chrome["traceEvents"])


@pytest.mark.rasa
def test_run_two_turn_timer_from_recordings(tmp_path):
    """Two recordings, one conversation: 'set a timer' → 'For how long?' → 'five minutes'."""
    t1 = concat([piper_say("Hey Jarvis", tmp_path / "w.wav"), piper_say("Set a timer.", tmp_path / "s.wav")],
                tmp_path / "t1.wav", gap_s=0.35)
    t2 = concat([piper_say("Five minutes.", tmp_path / "f.wav")], tmp_path / "t2.wav")
    p = run("run", "--input", str(t1), "--input", str(t2))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "how long" in p.stdout.lower()
    assert "5 minute" in p.stdout.lower() or "five minute" in p.stdout.lower(), p.stdout


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "missing"])
def test_bad_input_files(tmp_path, kind):
    """Unreadable recordings: one clear message, non-zero exit, no traceback."""
    f = tmp_path / "bad.wav"
    if kind == "empty":
        f.write_bytes(b"")
    elif kind == "truncated":
        f.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")  # header cut inside the fmt chunk
    elif kind == "text":
        f.write_text("this is not audio\n" * 20)
    p = run("run", "--input", str(f))
    assert_clean_error(p, str(f.name))
    p = run("transcribe", str(f))
    assert_clean_error(p, str(f.name))


def test_missing_model(tmp_path):
    p = run("transcribe", "--model", str(tmp_path / "nope"), str(ROOT / "tests/data/jfk.flac"))
    assert_clean_error(p, "nope")
    p = run("say", "hi", "--voice", str(tmp_path / "voice.onnx"), "--output", str(tmp_path / "x.wav"))
    assert_clean_error(p, "voice.onnx")


def test_missing_python310(tmp_path, data_dir):
    """No Python 3.10 for Rasa: a clear message naming what is missing; settings untouched."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    settings = cfg / "settings.toml"
    settings.write_text('[nlu]\npython = "/nonexistent/python3.10"\n[tts]\nspeed = 1.2\n')
    before = settings.read_bytes()
    p = run("ask", "what time is it", env={"ASSISTANT_CONFIG_DIR": str(cfg)})
    assert_clean_error(p, "3.10")
    assert settings.read_bytes() == before


def test_no_input_device(pulseaudio):
    """Asking for a microphone that does not exist: clear message listing devices."""
    p = run("run", "--device", "no-such-microphone-xyz", env=pulseaudio.env)
    assert_clean_error(p, "no-such-microphone-xyz")


def test_corrupt_settings_file_moved_aside(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "settings.toml").write_text("[tts\nspeed = fast")
    p = run("models", env={"ASSISTANT_CONFIG_DIR": str(cfg)})
    # `models` does not read settings; `say` does
    p = run("say", "hi", "--output", str(tmp_path / "x.wav"), env={"ASSISTANT_CONFIG_DIR": str(cfg)})
    assert p.returncode == 0, p.stderr
    assert "could not be read" in p.stderr
    assert list(cfg.glob("settings.toml.corrupt-*"))


def test_devices_lists_virtual_devices(pulseaudio):
    p = run("devices", env=pulseaudio.env)
    assert p.returncode == 0, p.stderr
    assert "pulse" in p.stdout.lower() or "default" in p.stdout.lower(), p.stdout
