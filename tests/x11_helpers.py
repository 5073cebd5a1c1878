"""X11 test helpers: a private Xvfb, a real Qt text editor and an xterm running ``cat`` as
dictation targets. Nothing is mocked: the windows are real X clients on a real X server.

Run the editor alone: ``python tests/x11_helpers.py editor`` (on ``$DISPLAY``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mode_editor() -> int:
    """Show a focused QPlainTextEdit; on each stdin line print its text as JSON
    (``"get"``) or clear it (``"clear"``)."""
    from PySide6.QtCore import QSocketNotifier
    from PySide6.QtWidgets import QApplication, QPlainTextEdit

    app = QApplication([sys.argv[0]])
    edit = QPlainTextEdit()
    edit.setWindowTitle("dictation-target")
    edit.resize(600, 300)
    edit.show()
    edit.activateWindow()
    edit.setFocus()

    def on_stdin() -> None:
        line = sys.stdin.readline().strip()
        if line == "get":
            print("@@" + json.dumps({"text": edit.toPlainText(), "focus": edit.hasFocus()}), flush=True)
        elif line == "clear":
            edit.clear()
            print("@@" + json.dumps({"cleared": True}), flush=True)
        elif line in ("quit", ""):
            app.quit()

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(on_stdin)
    print("@@" + json.dumps({"ready": int(edit.winId())}), flush=True)
    return app.exec()


@pytest.fixture(scope="module")
def xserver():
    """A private Xvfb on a free display number from :200 up; yields ``":N"`` once it
    accepts connections."""
    from Xlib import display as xdisplay

    for num in range(200 + os.getpid() % 50, 400):
        if Path(f"/tmp/.X{num}-lock").exists() or Path(f"/tmp/.X11-unix/X{num}").exists():
            continue
        proc = subprocess.Popen(["Xvfb", f":{num}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                xdisplay.Display(f":{num}").close()
                break
            except Exception:  # not listening yet
                time.sleep(0.1)
        else:
            proc.kill()
            proc.wait(10)
            continue  # lost a race for this number: try the next one
        yield f":{num}"
        proc.terminate()
        proc.wait(10)
        return
    pytest.fail("could not start Xvfb")

def setxkbmap(display: str, layout: str) -> None:
    subprocess.run(["setxkbmap", "-display", display, layout], check=True, timeout=20)

class Editor:
    """The Qt editor subprocess: :meth:`text` reads what it holds."""

    def __init__(self, display: str) -> None:
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display, "PYTHONPATH": str(ROOT),
               "PYTHONUNBUFFERED": "1"}
        env.pop("WAYLAND_DISPLAY", None)
        self.display = display
        self.proc = subprocess.Popen([sys.executable, __file__, "editor"], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.wid = self._read()["ready"]
        # no window manager runs: give the editor the X input focus explicitly
        subprocess.run(["xdotool", "windowfocus", "--sync", str(self.wid)], env=env, check=True, timeout=20)

    def _read(self) -> dict:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("the editor exited")
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise AssertionError("the editor did not answer")

    def ask(self, cmd: str) -> dict:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._read()

    def text(self, expect: str, timeout: float = 10.0) -> str:
        """The editor's text once it equals ``expect`` or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        got = self.ask("get")["text"]
        while got != expect and time.monotonic() < deadline:
            time.sleep(0.1)
            got = self.ask("get")["text"]
        return got

    def close(self) -> None:
        try:
            self.ask("quit")
        except (AssertionError, BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def open_xterm_cat(display: str, out: Path) -> tuple[subprocess.Popen, str]:
    """Start ``xterm`` running ``cat > out`` (no echo) on ``display`` and give it the input
    focus. Returns ``(process, window id)``."""
    if not shutil.which("xterm"):
        pytest.fail("xterm is not installed: run scripts/setup.sh")
    env = {**os.environ, "DISPLAY": display, "LC_ALL": "C.UTF-8"}
    term = subprocess.Popen(["xterm", "-u8", "-e", "sh", "-c", f"stty -echo; cat > {out}"], env=env)
    deadline = time.monotonic() + 30
    wid = ""
    while not wid and time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--pid", str(term.pid)], env=env,
                               capture_output=True, text=True).stdout.split()
        wid = found[0] if found else ""
        time.sleep(0.1)
    assert wid, "xterm window did not appear"
    subprocess.run(["xdotool", "windowfocus", "--sync", wid], env=env, check=True, timeout=20)
    time.sleep(0.3)
    return term, wid


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit({"editor": mode_editor}[sys.argv[1]]())
