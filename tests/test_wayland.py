"""Typing into a real Wayland window: a headless sway (wlroots) compositor, a Qt editor on
it, and :class:`assistant.dictation.typing.WtypeTypist` typing non-ASCII text, a newline and
a backspace into it; the editor reports its text, which must be exact.

sway and wtype come from scripts/setup.sh (Debian packages ``sway`` and ``wtype``); when they
are missing these tests FAIL, they do not skip. sway will not run as root, so when the tests
run as root the compositor, the editor and wtype all run as ``nobody`` (a fresh
``XDG_RUNTIME_DIR``, mode 0700, owned by it). The venv's interpreter may live where that
user cannot reach it (pyenv under /root), so the editor may run on the system Python of the
same version with the venv's site-packages on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from assistant.dictation.typing import TypingError, WtypeTypist

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "tests" / "wayland_text_client.py"
APP_ID = "typing-target"
SWAY_CONFIG = "output HEADLESS-1 resolution 800x600\ndefault_border none\nfocus_on_window_activation focus\n"

pytestmark = pytest.mark.timeout(120)


def _require_tools() -> None:
    missing = [t for t in ("sway", "wtype", "swaymsg") if not shutil.which(t)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run scripts/setup.sh (Debian packages sway, wtype); "
                    "the Wayland typing test needs a real compositor", pytrace=False)


def _as_user(user: str | None) -> dict:
    """subprocess keyword arguments that run a child as ``user`` (no supplementary groups)."""
    if user is None:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _client_python(user: str | None, env: dict) -> tuple[str, dict]:
    """An interpreter ``user`` can run that imports PySide6, and the environment for it."""
    candidates = [(sys.executable, {})]
    paths = os.pathsep.join(site.getsitepackages())
    for name in (f"python{sys.version_info[0]}.{sys.version_info[1]}", "python3"):
        for exe in {shutil.which(name), f"/usr/bin/{name}"}:
            if exe and os.path.exists(exe):
                candidates.append((exe, {"PYTHONPATH": paths, "PYTHONNOUSERSITE": "1"}))
    tried = []
    for exe, extra in candidates:
        try:
            out = subprocess.run([exe, "-c", "import sys, PySide6.QtWidgets; print(sys.version_info[:2])"],
                                 env={**env, **extra}, capture_output=True, text=True, timeout=60, cwd="/",
                                 **_as_user(user))
        except OSError as exc:
            tried.append(f"{exe}: {exc}")
            continue
        if out.returncode == 0 and out.stdout.strip() == str(tuple(sys.version_info[:2])):
            return exe, extra
        tried.append(f"{exe}: {(out.stderr.strip().splitlines() or [out.stdout.strip()])[-1]}")
    pytest.fail(f"no Python that user {user or 'self'} can run imports PySide6: " + "; ".join(tried), pytrace=False)


def _wait(what: str, check, timeout: float, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}", pytrace=False)


class Session:
    """A running headless sway with the editor in focus."""

    def __init__(self, runtime: Path, env: dict, user: str | None) -> None:
        self.runtime, self.env, self.user = runtime, env, user
        self.state_file = runtime / "editor.json"
        self.procs: list[subprocess.Popen] = []

    def state(self) -> dict:
        """The editor's last report (``{}`` before the first)."""
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def swaymsg(self, *args: str) -> str:
        """Run ``swaymsg`` against this sway; returns its output."""
        out = subprocess.run(["swaymsg", *args], env=self.env, capture_output=True, text=True, timeout=10,
                             **_as_user(self.user))
        assert out.returncode == 0, out.stderr
        return out.stdout

    def focused_app_id(self) -> str | None:
        """The app_id of the window sway gives the keyboard focus to."""
        def walk(node: dict):
            if node.get("focused"):
                return node.get("app_id")
            for child in node.get("nodes", []) + node.get("floating_nodes", []):
                found = walk(child)
                if found:
                    return found
            return None
        return walk(json.loads(self.swaymsg("-t", "get_tree", "-r")))


@pytest.fixture(scope="module")
def sway():
    """Start sway (headless) and the editor as an unprivileged user; yield a :class:`Session`."""
    _require_tools()
    user = "nobody" if os.geteuid() == 0 else None
    runtime = Path(tempfile.mkdtemp(prefix="wayland-test-", dir="/tmp"))
    runtime.chmod(0o700)
    if user:
        pw = pwd.getpwnam(user)
        os.chown(runtime, pw.pw_uid, pw.pw_gid)
    (runtime / "sway.cfg").write_text(SWAY_CONFIG)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(runtime), "XDG_RUNTIME_DIR": str(runtime),
           "LANG": "C.UTF-8", "WLR_BACKENDS": "headless", "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman"}
    session = Session(runtime, env, user)
    sway_log = runtime / "sway.log"
    try:
        with open(sway_log, "wb") as log:
            session.procs.append(subprocess.Popen(["sway", "-c", str(runtime / "sway.cfg")], env=env, stdout=log,
                                                  stderr=subprocess.STDOUT, cwd="/", **_as_user(user)))

        def ready():
            if session.procs[0].poll() is not None:
                pytest.fail(f"sway exited ({session.procs[0].returncode}):\n{sway_log.read_text(errors='replace')}",
                            pytrace=False)
            sock = [p for p in runtime.glob("wayland-*") if not p.name.endswith(".lock")]
            ipc = list(runtime.glob("sway-ipc.*.sock"))
            return (sock[0].name, ipc[0]) if sock and ipc else None

        display, ipc = _wait("sway's Wayland socket", ready, 20, sway_log)
        env.update(WAYLAND_DISPLAY=display, SWAYSOCK=str(ipc))
        exe, extra = _client_python(user, env)
        client_log = runtime / "editor.log"
        with open(client_log, "wb") as log:
            session.procs.append(subprocess.Popen(
                [exe, str(CLIENT), str(session.state_file), APP_ID], env={**env, **extra, "QT_QPA_PLATFORM": "wayland"},
                stdout=log, stderr=subprocess.STDOUT, cwd="/", **_as_user(user)))
        state = _wait("the editor window", session.state, 30, client_log)
        assert state["platform"] == "wayland", state
        session.swaymsg(f"[app_id={APP_ID}] focus")
        _wait(f"sway to focus {APP_ID}", lambda: session.focused_app_id() == APP_ID, 10, sway_log)
        yield session
    finally:
        for proc in reversed(session.procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(runtime, ignore_errors=True)


def _typed(session: Session, expected: str) -> str:
    deadline = time.monotonic() + 10
    text = None
    while time.monotonic() < deadline:
        text = session.state().get("text")
        if text == expected:
            break
        time.sleep(0.05)
    return text


def test_wtype_types_exact_unicode_text_into_a_wayland_window(sway):
    """Non-ASCII text, a newline (Return), a line starting with "-" (wtype's ``--``), a
    BackSpace and a pressed key: the editor on sway holds exactly the expected text."""
    typist = WtypeTypist(env=sway.env, user=sway.user)
    typist.type_text("naïve café, Zürich\n- ½ € “ok” ✓ 日本x")
    typist.backspace(1)
    typist.press("Return")
    typist.type_text("Straße")
    expected = "naïve café, Zürich\n- ½ € “ok” ✓ 日本\nStraße"
    assert _typed(sway, expected) == expected
    assert sway.focused_app_id() == APP_ID


def test_wtype_failure_is_a_typing_error(sway):
    """wtype cannot reach a compositor: TypingError (the caller falls back), not silence."""
    typist = WtypeTypist(env={**sway.env, "WAYLAND_DISPLAY": "wayland-nope"}, user=sway.user)
    with pytest.raises(TypingError, match="wtype failed"):
        typist.type_text("lost")


def test_wtype_needs_a_wayland_display():
    """No WAYLAND_DISPLAY in the given environment: refused at construction."""
    _require_tools()
    with pytest.raises(TypingError, match="WAYLAND_DISPLAY"):
        WtypeTypist(env={"PATH": os.environ.get("PATH", "")})
