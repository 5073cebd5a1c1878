"""Typing dictated text into a real window on a real X server (a private Xvfb started by
this module, so changing its keyboard layout with ``setxkbmap`` touches no other test).

A real Qt ``QPlainTextEdit`` (a subprocess on ``QT_QPA_PLATFORM=xcb``: the rest of the
suite runs Qt offscreen in-process, and a QApplication cannot switch platform) and a real
``xterm`` running ``cat > file`` get the keyboard focus; :class:`XTestTypist` types into
them through XTest, and the test reads back exactly what arrived — including a non-ASCII
sentence under ``setxkbmap us`` and ``setxkbmap de`` — and checks that the spare keycodes'
mappings were written back. Nothing is mocked. Only ``wtype``'s command lines are checked
here; tests/test_wayland.py types through it into a Qt editor on a headless sway.

The X server, editor and xterm are in tests/x11_helpers.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "Ça coûte 5€ — naïve “quotes” ß ✓ Zürich"


# ======================================================================================
# the tests (pytest side)
# ======================================================================================

if __name__ != "__main__":
    import pytest
    from x11_helpers import Editor, open_xterm_cat, setxkbmap, xserver  # noqa: F401 (xserver: fixture)

    from assistant.dictation.commands import Formatter
    from assistant.dictation.typing import (
        ClipboardTypist,
        TypingError,
        XTestTypist,
        choose_typist,
        session_backend,
        wtype_commands,
    )

    @pytest.fixture(params=["us", "de"])
    def layout_editor(request, xserver):
        setxkbmap(xserver, request.param)
        ed = Editor(xserver)
        yield request.param, ed
        ed.close()
        setxkbmap(xserver, "us")

    def test_xtest_types_exact_unicode_under_any_layout_and_restores_keymap(layout_editor, xserver):
        layout, ed = layout_editor
        typist = XTestTypist(xserver)
        try:
            before = typist.keyboard_mapping()
            typist.type_text(SENTENCE)
            assert ed.text(SENTENCE) == SENTENCE, layout
            assert typist.remaps >= 5  # € — “ ” ✓ at least had no key of their own
            assert typist.keyboard_mapping() == before, "spare keycodes were not restored"
            # more distinct missing characters than spare keycodes: several batches
            many = "".join(chr(c) for c in range(0x3041, 0x3041 + 2 * len(typist.spare_keycodes) + 3))
            typist.type_text("\n" + many)
            assert ed.text(SENTENCE + "\n" + many) == SENTENCE + "\n" + many
            assert typist.keyboard_mapping() == before
        finally:
            typist.close()

    def test_formatter_operations_typed_into_editor(xserver):
        """Spoken commands → operations → XTest: commas, new line, "scratch that" (exact
        backspaces) and the non-ASCII sentence of issue 11 under the German layout."""
        setxkbmap(xserver, "de")
        ed = Editor(xserver)
        typist = XTestTypist(xserver)
        try:
            f = Formatter()
            for phrase in ["Naïve café comma Zürich new line", "this is wrong", "scratch that", "yes period"]:
                typist.apply(f.process(phrase))
                typist.apply(f.end_phrase())
            assert f.typed == "Naïve café, Zürich\nYes."
            assert ed.text(f.typed) == f.typed
        finally:
            typist.close()
            ed.close()
            setxkbmap(xserver, "us")

    def test_xtest_types_into_xterm_cat(xserver, tmp_path):
        """xterm running ``cat > file``: the terminal gets the same exact text."""
        out = tmp_path / "typed.txt"
        term, _ = open_xterm_cat(xserver, out)
        typist = XTestTypist(xserver)
        try:
            typist.type_text(SENTENCE + "\nnaïve café, Zürich\n")
            deadline = time.monotonic() + 10
            expect = SENTENCE + "\nnaïve café, Zürich\n"
            while time.monotonic() < deadline and (not out.exists() or out.read_text("utf-8") != expect):
                time.sleep(0.1)
            assert out.read_text("utf-8") == expect
        finally:
            typist.close()
            term.terminate()
            term.wait(10)

    def test_clipboard_fallback_puts_text_on_clipboard(xserver, monkeypatch):
        """The fallback copies with xclip and tells the user to paste."""
        monkeypatch.setenv("DISPLAY", xserver)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        notices = []
        clip = ClipboardTypist(notices.append)
        assert clip.command[0] in ("xclip", "xsel")
        clip.type_text(SENTENCE)
        got = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, timeout=10).stdout
        assert got.decode("utf-8") == SENTENCE
        assert "Ctrl+V" in notices[-1]
        clip.backspace(3)
        assert "3 characters" in notices[-1]

    def test_clear_errors_without_display(monkeypatch):
        monkeypatch.delenv("DISPLAY", raising=False)
        with pytest.raises(TypingError, match="DISPLAY"):
            XTestTypist()
        with pytest.raises(TypingError, match="cannot open|Cannot open"):
            XTestTypist(":987")
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        with pytest.raises(TypingError):
            ClipboardTypist()
        with pytest.raises(ValueError):
            choose_typist("telepathy")

    def test_backend_choice_from_session(xserver, monkeypatch):
        has_wtype = bool(shutil.which("wtype"))
        assert session_backend({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}) == "xtest"
        assert session_backend({}) == "clipboard"
        wl = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}
        assert session_backend(wl) == ("wtype" if has_wtype else "xtest")
        monkeypatch.setenv("DISPLAY", xserver)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
        t = choose_typist()
        assert t.name == "xtest"
        t.close()
        assert choose_typist("clipboard").name == "clipboard"

    def test_wtype_command_lines():
        assert wtype_commands("Hello\nworld\t-x- end\n") == [
            ["wtype", "-s", "20", "Hello", "-k", "Return", "world", "-k", "Tab", "--", "-x- end"],
            ["wtype", "-s", "20", "-k", "Return"],
        ]
        assert wtype_commands("") == []
