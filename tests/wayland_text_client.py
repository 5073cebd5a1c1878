"""A tiny Wayland client for tests/test_wayland.py: a Qt plain-text editor that writes its
state (text, whether it has the keyboard focus) as JSON to the file named by its first
argument every time the text or the focus changes, and every 100 ms.

Run it with ``QT_QPA_PLATFORM=wayland``; its Wayland app_id is its second argument
(``typing-target`` by default). It imports nothing from the project, so an interpreter
other than the venv's (the system Python with the venv's site-packages on PYTHONPATH) can
run it as another user.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QPlainTextEdit


def main() -> int:
    """Show the editor and report its state until SIGTERM."""
    out = sys.argv[1]
    app = QApplication(sys.argv[:1])
    app.setDesktopFileName(sys.argv[2] if len(sys.argv) > 2 else "typing-target")
    editor = QPlainTextEdit()
    editor.setWindowTitle("typing target")

    def dump(*_: object) -> None:
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"text": editor.toPlainText(), "focus": editor.hasFocus(),
                       "platform": app.platformName()}, f)
        os.replace(tmp, out)

    editor.textChanged.connect(dump)
    app.focusChanged.connect(dump)
    timer = QTimer()
    timer.timeout.connect(dump)
    timer.start(100)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    editor.show()
    editor.setFocus()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
