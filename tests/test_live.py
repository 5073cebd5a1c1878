"""The live path through real PortAudio: `assistant run` listens on a virtual PulseAudio
microphone, a test plays a wake phrase + command into it, and records what the app says
from the virtual speaker's monitor. Nothing is mocked: the app opens the devices exactly as
on a desktop (PortAudio → ALSA pulse plugin → PulseAudio)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from audio_factory import concat, piper_say
from test_pipeline import near_now, spoken_times, time_heard

pytestmark = [pytest.mark.live, pytest.mark.rasa]
ASSISTANT = str(Path(sys.executable).with_name("assistant"))


class LiveApp:
    """`assistant run` in a subprocess; collects its stdout lines."""

    def __init__(self, pulseaudio, *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([ASSISTANT, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, **pulseaudio.env})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in ln for ln in self.lines):
                return
            if self.proc.poll() is not None:
                time.sleep(0.2)
                break
            time.sleep(0.1)
        raise AssertionError(f"'{needle}' not printed; output:\n" + "\n".join(self.lines))

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(2)


def _speaker_text(path: Path) -> str:
    from assistant.asr import WhisperASR
    from assistant.audio import read_audio

    return WhisperASR("base").transcribe(read_audio(path)).text


def test_live_wake_and_reply(pulseaudio, tmp_path):
    """Wake phrase + 'what time is it' into the virtual mic → the time from the speaker."""
    cmd = concat([piper_say("Hey Jarvis", tmp_path / "w.wav"), piper_say("What time is it?", tmp_path / "c.wav")],
                 tmp_path / "cmd.wav", gap_s=0.35)
    app = LiveApp(pulseaudio, "--once")
    app.wait_for("Listening", timeout=300)
    time.sleep(1.0)
    out = tmp_path / "speaker.wav"
    rec = pulseaudio.record_speaker(out)
    pulseaudio.play_into_mic(cmd).wait(30)
    rc = app.finish(timeout=120)
    time.sleep(0.5)
    rec.terminate()
    rec.wait(5)
    text = "\n".join(app.lines)
    assert rc == 0, text
    assert "clock__ask_time" in text, text
    reply_line = next(line for line in app.lines if line.strip().startswith("reply:"))
    assert near_now(spoken_times(reply_line)), text  # the reply text, exactly
    heard = _speaker_text(out)
    assert time_heard(reply_line, heard), (text, heard)


def test_live_timer_alert_spoken(pulseaudio, tmp_path):
    """A 3-second timer set by voice: its alert is spoken through the speaker when it fires."""
    cmd = concat([piper_say("Hey Jarvis", tmp_path / "w.wav"),
                  piper_say("Set a timer for three seconds.", tmp_path / "c.wav")], tmp_path / "cmd.wav", gap_s=0.35)
    app = LiveApp(pulseaudio, "--max-interactions", "2")
    app.wait_for("Listening", timeout=300)
    time.sleep(1.0)
    out = tmp_path / "speaker.wav"
    rec = pulseaudio.record_speaker(out)
    pulseaudio.play_into_mic(cmd).wait(30)
    rc = app.finish(timeout=120)
    time.sleep(0.5)
    rec.terminate()
    rec.wait(5)
    text = "\n".join(app.lines)
    assert rc == 0, text
    assert "timer__" in text, text
    heard = _speaker_text(out).lower()
    assert "timer" in heard and "done" in heard, (text, heard)
