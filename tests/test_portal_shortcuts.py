"""The Wayland global shortcuts client (ui/portal_shortcuts.py) against a FAKE
xdg-desktop-portal (tests/fake_portal.py) on a private D-Bus session bus started with
``dbus-run-session``. The portal is faked because no KDE/GNOME compositor (nor a real
xdg-desktop-portal GlobalShortcuts backend) runs on this machine; the fake follows the
spec's exchange (CreateSession / BindShortcuts answered by Request.Response signals, then
Activated / Deactivated), so the client's D-Bus side is real.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ui.portal_shortcuts import GlobalShortcutsClient, PortalError, PortalUnavailable, Shortcut, portal_trigger, probe

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_portal.py"

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("chord, trigger", [
    ("<ctrl>+<alt>+h", "CTRL+ALT+h"),
    ("<ctrl>+<alt>+d", "CTRL+ALT+d"),
    ("<alt>+<ctrl>+H", "CTRL+ALT+h"),
    ("<cmd>+<space>", "LOGO+space"),
    ("<super>+<shift>+<enter>", "SHIFT+LOGO+Return"),
    ("<ctrl_l>+<f5>", "CTRL+F5"),
    ("<alt>+,", "ALT+comma"),
    ("<shift>+<ctrl>+1", "CTRL+SHIFT+1"),
    ("<ctrl>+<page_down>", "CTRL+Page_Down"),
    ("<media_play_pause>", "XF86AudioPlay"),
])
def test_portal_trigger_converts_pynput_chords(chord, trigger):
    assert portal_trigger(chord) == trigger


@pytest.mark.parametrize("chord", ["<ctrl>+<alt>", "<ctrl>+a+b", "<ctrl>+<65>", "<alt_gr>+e", "<ctrl>++", "ctrl+h"])
def test_portal_trigger_rejects_what_the_portal_cannot_name(chord):
    with pytest.raises(ValueError):
        portal_trigger(chord)


class FakePortal:
    """The fake portal on its own ``dbus-run-session`` bus."""

    def __init__(self, tmp: Path, *args: str) -> None:
        if not shutil.which("dbus-run-session"):
            pytest.fail("dbus-run-session is missing (Debian package dbus-daemon / dbus)", pytrace=False)
        self.log = tmp / "portal-calls.jsonl"
        addr_file = tmp / "bus-address"
        env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
        self.proc = subprocess.Popen(["dbus-run-session", "--", sys.executable, str(FAKE), str(self.log),
                                      "--address-file", str(addr_file), *args],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # stop() ends the whole group
        deadline = time.monotonic() + 20
        while not addr_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the fake portal did not start: {self.proc.stdout.read().decode(errors='replace')}",
                            pytrace=False)
            time.sleep(0.05)
        self.address = addr_file.read_text()

    def calls(self, method: str) -> list:
        """The argument lists of every ``method`` call the portal received."""
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        return [r["args"] for r in rows if r["method"] == method]

    def stop(self) -> None:
        """End dbus-run-session, the bus and the fake: the whole process group (on SIGTERM
        dbus-run-session leaves its child running)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        deadline = time.monotonic() + 5
        while True:  # the fake may outlive its session leader briefly; then it is killed
            try:
                os.killpg(self.proc.pid, 0 if time.monotonic() < deadline else signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)


@pytest.fixture
def portal(tmp_path):
    fake = FakePortal(tmp_path)
    yield fake
    fake.stop()


def _wait_for(event: threading.Event, what: str, timeout: float = 10) -> None:
    assert event.wait(timeout), f"timed out waiting for {what}"


def test_client_binds_converted_triggers_and_receives_dictate(portal):
    """BindShortcuts gets "listen" and "dictate" with the settings' chords converted; the
    fake then presses "dictate": the client reports that id, press and release."""
    assert probe(portal.address) == 1
    events: list[tuple[str, str]] = []
    bound: dict[str, str] = {}
    released, errors = threading.Event(), []
    client = GlobalShortcutsClient(
        [Shortcut.from_chord("listen", "Listen for a command", "<ctrl>+<alt>+h"),
         Shortcut.from_chord("dictate", "Start or stop dictation", "<ctrl>+<alt>+d")],
        lambda sid, ts: events.append(("activated", sid)),
        on_deactivated=lambda sid, ts: (events.append(("deactivated", sid)), released.set()),
        on_bound=bound.update, on_error=errors.append, bus=portal.address)
    client.start()
    try:
        _wait_for(released, "Activated/Deactivated from the fake portal")
    finally:
        client.stop()
    assert not errors
    assert events == [("activated", "dictate"), ("deactivated", "dictate")]
    assert bound == {"listen": "CTRL+ALT+h", "dictate": "CTRL+ALT+d"}
    (create,) = portal.calls("CreateSession")
    assert create[0]["session_handle_token"][1]
    (bind,) = portal.calls("BindShortcuts")
    session, shortcuts, parent, options = bind
    assert session.startswith("/org/freedesktop/portal/desktop/session/") and parent == ""
    assert [(sid, props["preferred_trigger"][1], props["description"][1]) for sid, props in shortcuts] == [
        ("listen", "CTRL+ALT+h", "Listen for a command"), ("dictate", "CTRL+ALT+d", "Start or stop dictation")]
    deadline = time.monotonic() + 5
    while not portal.calls("Close") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert portal.calls("Close") == [[]]  # stop() closed the portal session


def test_refused_binding_is_reported(tmp_path):
    """The desktop (or the user) refuses the binding: on_error gets a PortalError."""
    fake = FakePortal(tmp_path, "--refuse")
    errors: list[PortalError] = []
    failed = threading.Event()
    client = GlobalShortcutsClient([Shortcut("listen", "Listen", "CTRL+ALT+h")], lambda *a: None,
                                   on_error=lambda e: (errors.append(e), failed.set()), bus=fake.address)
    try:
        client.start()
        _wait_for(failed, "the refusal")
    finally:
        client.stop()
        fake.stop()
    assert "BindShortcuts" in str(errors[0]) and "refused" in str(errors[0])


def test_no_portal_is_reported_clearly(tmp_path):
    """A session bus without any portal, and no session bus at all: PortalUnavailable says which."""
    out = subprocess.run(
        ["dbus-run-session", "--", sys.executable, "-c",
         "from ui.portal_shortcuts import probe, PortalUnavailable\n"
         "try:\n    probe()\nexcept PortalUnavailable as e:\n    print('UNAVAILABLE', e)\n"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("UNAVAILABLE") and "no xdg-desktop-portal is running" in out.stdout
    with pytest.raises(PortalUnavailable, match="no D-Bus session bus"):
        GlobalShortcutsClient([Shortcut("listen", "Listen")], lambda *a: None,
                              bus=f"unix:path={tmp_path}/no-bus").start()


def test_wayland_app_hotkey_uses_the_portal(portal, qtbot, monkeypatch):
    """In a Wayland session create_hotkey() gives the portal backend; it binds both
    shortcuts and turns the fake's "dictate" press into ``dictate_activated`` on the GUI
    thread. An X11 session still gets the pynput path."""
    from ui.hotkey import PortalHotkey, create_hotkey

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", portal.address)
    hk = create_hotkey(env={"WAYLAND_DISPLAY": "wayland-1", "XDG_SESSION_TYPE": "wayland"})
    assert isinstance(hk, PortalHotkey) and hk.available and hk.version == 1
    listen: list[bool] = []
    hk.activated.connect(lambda: listen.append(True))
    try:
        with qtbot.waitSignal(hk.dictate_activated, timeout=10000):
            assert hk.register("<ctrl>+<alt>+h", dictate_chord="<ctrl>+<alt>+d")
        qtbot.waitUntil(lambda: "active" in hk.message, timeout=5000)
    finally:
        hk.unregister()
    assert not listen  # the fake pressed only "dictate"
    assert hk.bound == {"listen": "CTRL+ALT+h", "dictate": "CTRL+ALT+d"}
    assert "CTRL+ALT+d" in hk.message
    assert not isinstance(create_hotkey(env={"DISPLAY": ":99"}), PortalHotkey)
