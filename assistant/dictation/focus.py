"""Is the focused field a password field? Asked through AT-SPI, the accessibility bus
screen readers use (issue 11: dictation must not type into password fields).

pyatspi (PyGObject) is not importable from the app's venv, so :class:`FocusProbe` runs
:mod:`assistant.dictation.atspi_probe` on the *system* Python (``/usr/bin/python3`` with
``python3-pyatspi``, installed by ``scripts/setup.sh``) as a long-lived helper process and
asks it over a pipe, one JSON line per question. The helper follows AT-SPI focus events,
so a question costs two D-Bus calls to the focused application: about 1–3 ms, bounded by
:attr:`FocusProbe.timeout_s`.

What AT-SPI reports as a password field: role ``PASSWORD_TEXT`` ("password text"). Qt
exposes its ``QLineEdit`` with ``EchoMode.Password`` (and ``PasswordEchoOnEdit``) that way
(tests/test_dictation_password.py checks it on Qt 6), as do GTK entries with visibility
off and browsers' ``<input type=password>``.

It cannot tell (``None``; dictation then types as before) when: the system Python or
pyatspi is missing, there is no AT-SPI bus, the focused window belongs to an application
without accessibility (xterm; Qt applications when accessibility is off — Qt turns it on
when a screen reader runs or with ``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1``), the helper did
not answer in time, or it died.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

log = logging.getLogger(__name__)

#: The Python that has python3-pyatspi (Debian/Ubuntu's system Python).
SYSTEM_PYTHON = "/usr/bin/python3"
#: The helper script (runs on :data:`SYSTEM_PYTHON`; imports nothing from ``assistant``).
HELPER = Path(__file__).with_name("atspi_probe.py")


@dataclass(frozen=True)
class FocusInfo:
    """The answer to one :meth:`FocusProbe.query`.

    Attributes:
        password: True: the focused object is a password field; False: it is not; None:
            cannot tell (see the module doc).
        role: its AT-SPI role name ("text", "password text", "terminal", …); "" when
            unknown.
        serial: grows by one at every focus change the helper saw (the same object
            focused again counts as a change); -1 when unknown. Lets a caller act once
            per focus change.
    """

    password: Optional[bool]
    role: str = ""
    serial: int = -1


UNKNOWN = FocusInfo(None)


class FocusProbe:
    """Asks AT-SPI whether the keyboard focus is on a password field.

    The helper process is started by the constructor, which does not wait for it (it
    needs about 0.3 s to connect); the first :meth:`query` waits for it up to
    ``startup_timeout_s``.

    Args:
        python: the Python with pyatspi (default :data:`SYSTEM_PYTHON`).
        env: the helper's environment (default: this process's); it needs the desktop
            session's ``DBUS_SESSION_BUS_ADDRESS`` (and ``DISPLAY`` on X11). ``PYTHONPATH``
            and ``PYTHONHOME`` are removed (they point into the venv).
        timeout_s: longest wait for one answer, seconds; a late answer is dropped and the
            query returns "cannot tell".
        startup_timeout_s: longest wait for the helper to be ready, seconds, counted from
            the constructor.

    Attributes:
        available: False once the helper failed (missing, no AT-SPI bus, died); every
            query then answers "cannot tell" at once.
        reason: why it is not available ("" while it is).
        last_query_ms: how long the last :meth:`query` took, milliseconds.

    Thread safety: one query at a time (a lock); :meth:`close` from any thread.
    """

    def __init__(self, *, python: str = SYSTEM_PYTHON, env: Optional[Mapping[str, str]] = None,
                 timeout_s: float = 0.1, startup_timeout_s: float = 5.0) -> None:
        self.timeout_s = float(timeout_s)
        self.available = True
        self.reason = ""
        self.last_query_ms = 0.0
        self._lock = threading.Lock()
        self._replies: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._next_id = 0
        self._deadline = time.monotonic() + float(startup_timeout_s)
        child_env = {k: v for k, v in (os.environ if env is None else env).items()
                     if k not in ("PYTHONPATH", "PYTHONHOME")}
        self._proc: Optional[subprocess.Popen] = None
        try:
            self._proc = subprocess.Popen([python, "-I", str(HELPER)], env=child_env, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        except OSError as exc:
            self._fail(f"cannot run {python}: {exc.strerror or exc}")
            return
        self._stderr: list[str] = []
        threading.Thread(target=self._read, name="atspi-probe", daemon=True).start()
        threading.Thread(target=self._read_stderr, name="atspi-probe-err", daemon=True).start()

    def _fail(self, reason: str) -> None:
        if self.available:
            log.info("cannot tell password fields apart (AT-SPI): %s", reason)
        self.available = False
        self.reason = self.reason or reason
        self._ready.set()

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("ready"):
                self._ready.set()
            elif "error" in msg and msg.get("id") is None:
                self._fail(msg["error"])
            else:
                self._replies.put(msg)
        try:
            code = proc.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        last = "".join(self._stderr).strip().splitlines()[-1:]
        self._fail(f"the AT-SPI helper ended (exit status {code})" + (f": {last[0]}" if last else ""))

    def _read_stderr(self) -> None:
        proc = self._proc
        if proc is not None and proc.stderr is not None:
            for line in proc.stderr:
                self._stderr = (self._stderr + [line])[-20:]

    def query(self) -> FocusInfo:
        """What has the focus now: see :class:`FocusInfo`. Never raises; waits at most
        :attr:`timeout_s` (plus, on the first call, what is left of ``startup_timeout_s``).
        """
        t0 = time.monotonic()
        try:
            with self._lock:
                return self._ask()
        finally:
            self.last_query_ms = (time.monotonic() - t0) * 1000.0

    def is_password(self) -> Optional[bool]:
        """True: the focused field is a password field; False: it is not; None: cannot
        tell. See :meth:`query`."""
        return self.query().password

    def _ask(self) -> FocusInfo:
        if not self._ready.is_set():
            self._ready.wait(max(0.0, self._deadline - time.monotonic()))
            if not self._ready.is_set():
                return UNKNOWN  # still starting: next time
        if not self.available or self._proc is None:
            return UNKNOWN
        self._next_id += 1
        rid = str(self._next_id)
        try:
            self._proc.stdin.write(f"focus? {rid}\n")
            self._proc.stdin.flush()
        except (OSError, ValueError) as exc:
            self._fail(f"the AT-SPI helper is gone: {exc}")
            return UNKNOWN
        end = time.monotonic() + self.timeout_s
        while True:
            try:
                msg = self._replies.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                log.debug("AT-SPI focus query %s: no answer in %.0f ms", rid, self.timeout_s * 1000)
                return UNKNOWN
            if msg.get("id") != rid:
                continue  # the late answer to an earlier question
            if "error" in msg:
                log.debug("AT-SPI focus query failed: %s", msg["error"])
                return UNKNOWN
            return FocusInfo(msg.get("password"), msg.get("role") or "", int(msg.get("serial", -1)))

    def close(self) -> None:
        """Stop the helper (closes its input; killed after 2 s). Queries then answer
        "cannot tell". Safe to call twice."""
        proc, self._proc = self._proc, None
        self.available = False
        self.reason = self.reason or "closed"
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> int:
    """``python -m assistant.dictation.focus``: print what has the focus every second
    (a manual check on a desktop)."""
    probe = FocusProbe()
    try:
        while True:
            info = probe.query()
            print(f"{info}  {probe.last_query_ms:.1f} ms" + (f"  ({probe.reason})" if probe.reason else ""), flush=True)
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    finally:
        probe.close()


if __name__ == "__main__":
    sys.exit(main())
