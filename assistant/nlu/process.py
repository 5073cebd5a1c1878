"""The Rasa server process: spawn ``rasa run`` with its auth token, wait until healthy,
stop it; and the watchdog thread that notices when it dies.

The server is a child process bound to 127.0.0.1, protected by a random auth token that
reaches it through the environment (not visible in ``ps``); every route needs it (see
:data:`~assistant.nlu.children.BOOT`). Its output goes to ``server.log`` in the model's
work folder (rotated at 2 MB).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import subprocess
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Optional

import httpx

from assistant.errors import NLUError
from assistant.nlu.children import Children, boot_script, free_port, log_excerpt, popen, tail, terminate
from assistant.nlu.interpreter import child_env
from assistant.settings import NLUSettings

log = logging.getLogger(__name__)

#: ``progress(task, fraction in [0, 1] or -1, message)``: how start-up reports progress.
ProgressFn = Callable[[str, float, str], None]


class _PortBusy(Exception):
    pass


class RasaServer:
    """One ``rasa run`` child process (replaced on each :meth:`spawn`).

    Args:
        settings: ``settings.nlu`` (host and port; port 0 picks a free one).
        children: the owner's child processes (the server is tracked there, so the
            owner's finalizer can kill it).
        progress: receives ``("nlu-start", fraction, message)`` while starting.

    Attributes:
        token: the auth token every request to the server must carry (``?token=``);
            48 hex digits, fixed for this object's life.
        url: base URL (``http://host:port``) of the last spawned server; "" before.
        healthy: the last spawned server passed its health check and has not been seen
            dead since (the owner clears it when the watchdog sees an exit).
        start_seconds: duration of the last start until healthy, seconds.
    """

    def __init__(self, settings: NLUSettings, children: Children, progress: ProgressFn) -> None:
        self.settings = settings
        # hex: never starts with "-" (argparse would take it for an option)
        self.token = secrets.token_hex(24)
        self.url = ""
        self.healthy = False
        self.start_seconds = 0.0
        self._children = children
        self._progress = progress
        self._proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        """Process id of the server, None when there is none or it has exited."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def is_alive(self) -> bool:
        """True if the server process exists and has not exited."""
        return self.pid is not None

    def exit_status(self) -> Optional[tuple[int, int]]:
        """``(pid, exit code)`` of a server that has exited; None while it runs or if there
        is none."""
        proc = self._proc
        rc = proc.poll() if proc is not None else None
        return None if proc is None or rc is None else (proc.pid, rc)

    def spawn(self, python: Path, model: Path, workdir: Path, rundir: Path, boot: dict[str, str],
              timeout: float) -> None:
        """Start ``rasa run`` with ``model`` and wait until ``/status`` shows it loaded.

        Retries twice on another port when the picked one turned out busy (port 0 only).
        ``rundir`` must hold ``endpoints.yml`` and ``credentials.yml``.

        Args:
            python: Rasa's Python.
            model: the trained ``model.tar.gz``.
            workdir: the model's folder (``server.log`` goes there).
            rundir: the owner's private run folder (boot script, endpoints, credentials).
            boot: the boot script's environment entries (``children.boot_env``).
            timeout: seconds to wait until healthy.

        Raises:
            NLUError: the server exited during start-up, was not ready within ``timeout``
                (with the log excerpt), or the configured port is in use.
        """
        host = self.settings.host
        log_path = workdir / "server.log"
        with contextlib.suppress(OSError):
            if log_path.stat().st_size > 2_000_000:
                os.replace(log_path, log_path.with_suffix(".log.1"))
        self._progress("nlu-start", 0.0, "Starting the language engine…")
        t0 = time.monotonic()
        for attempt in range(3):
            port = self.settings.port or free_port(host)
            cmd = [str(python), str(boot_script(rundir)), "run", "--enable-api", "-i", host, "-p", str(port),
                   "--model", str(model), "--endpoints", str(rundir / "endpoints.yml"),
                   "--credentials", str(rundir / "credentials.yml")]
            env = child_env(ASSISTANT_PARENT_PID=str(os.getpid()), ASSISTANT_RASA_TOKEN=self.token,
                            **boot)
            with log_path.open("ab") as logf:
                logf.write(f"\n===== rasa run on {host}:{port} at {time.ctime()} =====\n".encode())
                logf.flush()
                offset = logf.tell()
                proc = popen(cmd, cwd=rundir, env=env, stdout=logf, stderr=subprocess.STDOUT)
            self._children.add(proc)
            self._proc, self.healthy = proc, False
            self.url = f"http://{host}:{port}"
            try:
                self._wait_healthy(proc, log_path, offset, t0 + timeout, timeout)
            except _PortBusy:
                self._children.discard(proc)
                if self.settings.port or attempt == 2:
                    raise NLUError(f"The language engine could not listen on {host}:{port}: the port is in use.",
                                   "Set nlu.port to 0 (pick a free port) or to a free port.") from None
                continue
            break
        self.healthy = True
        self.start_seconds = time.monotonic() - t0
        log.info("Rasa ready at %s (pid %d) in %.1f s", self.url, proc.pid, self.start_seconds)
        self._progress("nlu-start", 1.0, f"Language engine ready in {self.start_seconds:.0f} s.")

    def _wait_healthy(self, proc: subprocess.Popen, log_path: Path, offset: int, deadline: float,
                      timeout: float) -> None:
        last_note = time.monotonic()
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                rc = proc.poll()
                if rc is not None:
                    text = tail(log_path, 200_000, start=offset)
                    if re.search(r"address already in use|Errno 98|Errno 48", text, re.I):
                        raise _PortBusy()
                    self._children.discard(proc)
                    raise NLUError(f"The language engine (Rasa) exited during start-up (exit code {rc}): "
                                   f"{log_excerpt(text) or 'Rasa printed nothing.'}",
                                   f"Rasa's full output is in {log_path}.")
                try:
                    r = client.get(f"{self.url}/status", params={"token": self.token})
                    if r.status_code == 200 and (r.json() or {}).get("model_file"):
                        return
                except (httpx.TransportError, ValueError):
                    pass
                now = time.monotonic()
                if now > deadline:
                    terminate(proc, 2.0)
                    self._children.discard(proc)
                    raise NLUError(f"The language engine (Rasa) was not ready within {timeout:.0f} s: "
                                   f"{log_excerpt(tail(log_path, start=offset)) or 'no output'}",
                                   f"Rasa's full output is in {log_path}; a slow or busy machine may need "
                                   "a longer start-up timeout.")
                if now - last_note > 3.0:
                    last_note = now
                    self._progress("nlu-start", -1.0, "Loading the language model…")
                time.sleep(0.2)

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop the server (SIGTERM to its process group, SIGKILL after ``grace_s``
        seconds) and forget it. Idempotent."""
        self.healthy = False
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, grace_s)
            self._children.discard(proc)


class Watchdog:
    """Calls ``owner.check_process()`` every ``interval`` seconds on a daemon thread,
    without keeping ``owner`` alive (the thread ends when the owner is collected).

    Args:
        owner: any object with a public ``check_process()`` method.
        interval: seconds between ticks.
        name: the thread's name.
    """

    def __init__(self, owner: Any, interval: float = 0.5, name: str = "rasa-watchdog") -> None:
        self._ref = weakref.ref(owner)
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Start ticking (no effect while the thread runs)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the thread to end after the current tick (returns at once)."""
        self._stop.set()

    def join(self, timeout: float = 2.0) -> None:
        """Wait at most ``timeout`` seconds for the thread to end (no effect when called
        from the watchdog thread itself, e.g. by a tick that stops the owner)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            owner = self._ref()
            if owner is None:
                return
            try:
                owner.check_process()
            except Exception:  # never let the watchdog die silently
                log.exception("Rasa watchdog failed")
            del owner
