"""Helpers shared by the UI tests that run the app (or an AT-SPI client) in a child
process: the child prints ``@@{json}`` lines (:func:`emit`), the test reads them with a
:class:`JsonLinesProcess`. Also :func:`pump_until`, which runs the Qt event loop until a
condition holds.

Only the standard library is imported at module level: the AT-SPI client that imports this
runs on the system Python, which has neither pytest nor PySide6.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def emit(**kw) -> None:
    """Child side: print one ``@@{json}`` message line (values JSON cannot hold become str)."""
    print("@@" + json.dumps(kw, default=str), flush=True)


def pump_until(pred, timeout: float, step_ms: int = 25) -> bool:
    """Run the Qt event loop until ``pred()`` is true or ``timeout`` seconds pass; returns
    ``pred()``'s last value as a bool. Needs a QApplication."""
    from PySide6.QtTest import QTest  # lazily: the AT-SPI client's Python has no PySide6

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        QTest.qWait(step_ms)
    return bool(pred())


class JsonLinesProcess:
    """A child process speaking ``@@{json}`` lines on stdout (read by a thread) and taking
    JSON commands, one per line, on stdin.

    Args:
        name: shown in failure messages.
        argv: the command line.
        env: its environment (it runs in the repository's root folder).
    """

    def __init__(self, name: str, argv: list[str], env: dict) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        self._n = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("@@"):
                self.messages.put(json.loads(line[2:]))

    def send(self, **cmd) -> int:
        """Send the command ``cmd`` (its ``id`` is added and returned)."""
        self._n += 1
        cmd["id"] = self._n
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._n

    def wait_for(self, pred, timeout: float, what: str = "") -> dict:
        """The first message for which ``pred(msg)`` is true. Fails the test (AssertionError)
        on a message ``{"event": "error"}``, when the child ends, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.messages.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.messages.empty():
                    break
                continue
            if msg.get("event") == "error":
                raise AssertionError(f"{self.name}: {msg}")
            if pred(msg):
                return msg
        raise AssertionError(f"{self.name}: no {what or 'expected message'} in {timeout:.0f} s; stderr:\n"
                             f"{''.join(self.stderr)[-3000:]}")

    def call(self, timeout: float = 120, **cmd) -> dict:
        """Send ``cmd`` and return the reply carrying its ``id``."""
        n = self.send(**cmd)
        return self.wait_for(lambda m: m.get("id") == n, timeout, f"reply to {cmd}")

    def close(self) -> None:
        """Close its stdin (the child quits at end of input) and wait; kill it after 20 s."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
