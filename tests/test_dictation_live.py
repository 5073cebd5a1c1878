"""Dictation end to end: a spoken recording goes into the virtual microphone (PulseAudio)
while ``assistant dictate`` runs, and the exact text appears in a real window on a real X
server (a Qt editor under ``setxkbmap de``, and xterm running ``cat`` under ``us``).

Nothing is mocked: the real Whisper model streams with LocalAgreement-2, the spoken
commands ("comma", "period", "new line", "scratch that", "stop dictation") are applied,
and XTest types into the focused window. The recording is Piper's voice, phrases separated
by pauses as a person dictating leaves them. The non-ASCII words reach the window through
the user vocabulary ("say naive → type naïve"), as a user who writes "Zürich" would set
it; Whisper alone may or may not write the accents.

The phrases are chosen so that any reasonable transcript (any CPU ISA, base int8) gives the
same words; the assertion is on the exact text typed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from audio_factory import concat, piper_say
from x11_helpers import Editor, open_xterm_cat, setxkbmap, xserver  # noqa: F401 (xserver: fixture)

ASSISTANT = str(Path(sys.executable).with_name("assistant"))

#: (spoken phrase, what it should leave in the window)
PHRASES = [
    "Dear diary comma today was a good day period",
    "new line",
    "I bought a red car period",
    "scratch that",
    "I bought a blue bike period",
    "naive cafe comma Zurich period",
    "stop dictation",
]
EXPECTED = "Dear diary, today was a good day.\nI bought a blue bike. Naïve café, Zürich."
SETTINGS = """
[dictation]
typing = "xtest"
replacements = { "naive" = "naïve", "cafe" = "café", "Zurich" = "Zürich" }
"""


@pytest.fixture(scope="module")
def dictation_wav(tmp_path_factory) -> Path:
    """The spoken dictation, 1.5 s pauses between phrases."""
    d = tmp_path_factory.mktemp("dictation")
    clips = [piper_say(p, d / f"p{i}.wav") for i, p in enumerate(PHRASES)]
    return concat(clips, d / "dictation.wav", gap_s=1.5, lead_s=0.5, tail_s=2.0)


class Dictate:
    """``assistant dictate`` in a subprocess on the virtual microphone and ``display``."""

    def __init__(self, pulseaudio, display: str, config: Path) -> None:
        config.mkdir(exist_ok=True)
        (config / "settings.toml").write_text(SETTINGS, encoding="utf-8")
        env = {**os.environ, **pulseaudio.env, "DISPLAY": display, "ASSISTANT_CONFIG_DIR": str(config)}
        self.lines: list[str] = []
        self.proc = subprocess.Popen([ASSISTANT, "dictate"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(needle in ln for ln in self.lines):
                return
            time.sleep(0.1)
        raise AssertionError(f"'{needle}' not printed:\n" + "\n".join(self.lines))

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("'stop dictation' did not end dictation:\n" + "\n".join(self.lines))
        finally:
            self._reader.join(2)


def _dictate_into(pulseaudio, xserver, tmp_path, wav) -> Dictate:
    app = Dictate(pulseaudio, xserver, tmp_path / "config")
    app.wait_for("Dictating with xtest", timeout=300)
    time.sleep(0.5)
    pulseaudio.play_into_mic(wav).wait(120)
    assert app.finish(timeout=90) == 0, "\n".join(app.lines)
    return app


def test_dictation_into_qt_editor_under_german_layout(pulseaudio, xserver, tmp_path, dictation_wav):
    """Spoken punctuation, a new line, "scratch that" and "naïve café, Zürich" typed into a
    Qt editor with the German keyboard layout; "stop dictation" ends the process."""
    setxkbmap(xserver, "de")
    ed = Editor(xserver)
    try:
        app = _dictate_into(pulseaudio, xserver, tmp_path, dictation_wav)
        assert ed.text(EXPECTED) == EXPECTED, "\n".join(app.lines)
    finally:
        ed.close()
        setxkbmap(xserver, "us")


def test_dictation_into_xterm_cat(pulseaudio, xserver, tmp_path, dictation_wav):
    """The same dictation into xterm running ``cat``: the terminal's program gets exactly
    the text (the new line is a Return key)."""
    out = tmp_path / "typed.txt"
    term, _ = open_xterm_cat(xserver, out)
    try:
        app = _dictate_into(pulseaudio, xserver, tmp_path, dictation_wav)
        # cat receives a line at each Return; the last line arrives at the final Return
        subprocess.run(["xdotool", "key", "Return"], env={**os.environ, "DISPLAY": xserver}, check=True, timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not out.exists() or out.read_text("utf-8") != EXPECTED + "\n"):
            time.sleep(0.1)
        assert out.read_text("utf-8") == EXPECTED + "\n", "\n".join(app.lines)
    finally:
        term.terminate()
        term.wait(10)
