"""Dictation refuses to type into a password field, which it learns from AT-SPI (issue 11).

All real, nothing mocked: a private Xvfb (tests/x11_helpers.py), a private D-Bus session
(``dbus-run-session``), the AT-SPI bus (``at-spi-bus-launcher``; ``at-spi2-registryd`` is
started by D-Bus activation), and a Qt app on ``xcb`` with
``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1`` showing a ``QLineEdit`` with
``EchoMode.Password`` and a normal one. :class:`FocusProbe` runs its helper on the system
Python (``python3-pyatspi``) exactly as in the app. The session-level test types with the
real :class:`XTestTypist` and formats with the real formatter (and loads the real Whisper
model, which a :class:`DictationSession` needs); the committed text is fed as
:class:`DictationUpdate` s (no audio).

Two processes run this file: pytest, and ``python tests/test_dictation_password.py app``
(the Qt app; JSON commands on stdin, ``@@{json}`` answers) or ``... bus`` (inside
``dbus-run-session``: prints the session bus address).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from ui_helpers import ROOT, JsonLinesProcess, emit


def mode_app() -> int:
    """Two line edits (password, normal); ``{"op": "focus", "field": "pw"|"nm"}`` moves the
    focus, ``{"op": "clear"}`` empties both, ``{"op": "get"}`` returns both texts and which
    one has the focus (every command answers like ``get``)."""
    from PySide6.QtCore import QSocketNotifier
    from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

    app = QApplication([sys.argv[0]])
    app.setApplicationName("password-target")
    win = QWidget()
    win.setWindowTitle("password-target")
    lay = QVBoxLayout(win)
    fields = {"pw": QLineEdit(), "nm": QLineEdit()}
    fields["pw"].setEchoMode(QLineEdit.EchoMode.Password)
    fields["pw"].setAccessibleName("Password")
    fields["nm"].setAccessibleName("Name")
    for f in fields.values():
        lay.addWidget(f)
    win.resize(400, 120)
    win.show()
    fields["nm"].setFocus()

    def state() -> dict:
        app.processEvents()
        return {"pw": fields["pw"].text(), "nm": fields["nm"].text(),
                "focus": next((k for k, f in fields.items() if f.hasFocus()), None)}

    def on_stdin() -> None:
        import json

        line = sys.stdin.readline()
        if not line:
            app.quit()
            return
        cmd = json.loads(line)
        if cmd["op"] == "focus":
            win.activateWindow()
            fields[cmd["field"]].setFocus()
        elif cmd["op"] == "clear":
            for f in fields.values():
                f.clear()
        elif cmd["op"] == "quit":
            app.quit()
        emit(id=cmd.get("id"), **state())

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(on_stdin)
    emit(event="shown", wid=int(win.winId()))
    return app.exec()


def mode_bus() -> int:
    """Runs inside ``dbus-run-session``: report the session bus address, live until stdin ends."""
    emit(address=os.environ["DBUS_SESSION_BUS_ADDRESS"])
    sys.stdin.read()
    return 0


if __name__ != "__main__":
    import pytest
    from x11_helpers import xserver  # noqa: F401 (fixture)

    from assistant.dictation.committer import DictationUpdate
    from assistant.dictation.focus import FocusProbe
    from assistant.dictation.session import PASSWORD_MESSAGE, DictationSession
    from assistant.dictation.typing import FileTypist, XTestTypist
    from assistant.events import EventBus, Notice
    from assistant.settings import DictationSettings, Settings

    pytestmark = pytest.mark.gui

    def poll(fn, timeout: float, step: float = 0.05):
        """Call ``fn`` until it returns something truthy (returned) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            res = fn()
            if res or time.monotonic() > deadline:
                return res
            time.sleep(step)

    class Desktop:
        """The D-Bus session with its AT-SPI bus, and the Qt app on the Xvfb."""

        env: dict
        app: JsonLinesProcess

        def focus(self, field: str) -> dict:
            got = self.app.call(op="focus", field=field, timeout=30)
            assert got["focus"] == field, got
            return got

        def texts(self) -> dict:
            return self.app.call(op="get", timeout=30)

    @pytest.fixture(scope="module")
    def desktop(xserver):
        base = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "AT_SPI_BUS_ADDRESS")}
        base.update(DISPLAY=xserver)
        d = Desktop()
        procs: list = []
        bus = JsonLinesProcess("dbus-run-session", ["dbus-run-session", "--", sys.executable, __file__, "bus"], base)
        procs.append(bus)
        try:
            addr = bus.wait_for(lambda m: "address" in m, 60, "session bus address")["address"]
            d.env = env = dict(base, DBUS_SESSION_BUS_ADDRESS=addr)
            procs.append(subprocess.Popen(["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            got = poll(lambda: subprocess.run(
                ["dbus-send", "--session", "--print-reply", "--dest=org.a11y.Bus", "/org/a11y/bus",
                 "org.a11y.Bus.GetAddress"], env=env, capture_output=True, text=True).stdout.count("unix:"), 60, 0.3)
            assert got, "the AT-SPI bus did not start"
            app_env = dict(env, QT_QPA_PLATFORM="xcb", QT_ACCESSIBILITY="1", QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1",
                           PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
            d.app = JsonLinesProcess("app", [sys.executable, __file__, "app"], app_env)
            procs.append(d.app)
            wid = d.app.wait_for(lambda m: m.get("event") == "shown", 60, "window shown")["wid"]
            # no window manager: give the window the X input focus (XTest types into it)
            subprocess.run(["xdotool", "windowfocus", "--sync", str(wid)], env=env, check=True, timeout=20)
            yield d
        finally:
            for p in reversed(procs):
                if isinstance(p, JsonLinesProcess):
                    p.close()
                else:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()

    @pytest.fixture()
    def probe(desktop):
        p = FocusProbe(env=desktop.env)
        yield p
        p.close()

    def wait_password(p: FocusProbe, want: bool, timeout: float = 10.0):
        """The probe's answer once its ``password`` is ``want`` (focus events are
        asynchronous), or its last answer after ``timeout`` seconds."""
        last = []

        def check():
            last[:] = [p.query()]
            return last[0].password is want

        poll(check, timeout)
        return last[0]

    # --------------------------------------------------------------------------- probe

    def test_probe_tells_the_password_field_from_a_normal_one(desktop, probe):
        desktop.focus("pw")
        info = wait_password(probe, True)
        assert info.password is True and info.role == "password text", (info, probe.reason)
        assert probe.is_password() is True
        desktop.focus("nm")
        info2 = wait_password(probe, False)
        assert info2.password is False and info2.role == "text", (info2, probe.reason)
        assert info2.serial > info.serial  # a focus change is seen as one
        desktop.focus("pw")
        assert wait_password(probe, True).password is True
        # latency once started: well under 100 ms per question
        times = []
        for _ in range(100):
            assert probe.is_password() is True
            times.append(probe.last_query_ms)
        print(f"\nFocusProbe.query: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms (100 queries)")
        assert statistics.median(times) < 20 and max(times) < 100, times

    def test_probe_started_after_the_focus_moved_finds_it(desktop):
        """No focus event reaches a helper started later: it searches the active window."""
        for field, want in (("pw", True), ("nm", False)):
            desktop.focus(field)
            time.sleep(0.3)
            p = FocusProbe(env=desktop.env)
            try:
                t0 = time.monotonic()
                info = p.query()  # the first question waits for the helper to start
                start_ms = (time.monotonic() - t0) * 1000
                assert info.password is want, (field, info, p.reason)
            finally:
                p.close()
            print(f"\nfirst query of a new FocusProbe ({field}): {start_ms:.0f} ms (helper start included)")

    def test_probe_answers_in_time_when_the_application_hangs(desktop, probe):
        """A stopped (hung) application: "cannot tell" within the probe's timeout, and right
        answers again once it runs."""
        import signal

        desktop.focus("pw")
        assert wait_password(probe, True).password is True
        os.kill(desktop.app.proc.pid, signal.SIGSTOP)
        try:
            answers = [(probe.query(), probe.last_query_ms) for _ in range(5)]
        finally:
            os.kill(desktop.app.proc.pid, signal.SIGCONT)
        assert all(info.password is None and ms < probe.timeout_s * 1000 + 50 for info, ms in answers), answers
        assert wait_password(probe, True).password is True and probe.available

    def test_probe_cannot_tell_without_atspi(tmp_path):
        """No system Python / no session bus: "cannot tell" (None) at once, never an error."""
        p = FocusProbe(python=str(tmp_path / "no-such-python"))
        assert p.is_password() is None and not p.available and "no-such-python" in p.reason
        p.close()
        env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY",
                                                                "AT_SPI_BUS_ADDRESS", "WAYLAND_DISPLAY")}
        env["XDG_RUNTIME_DIR"] = str(tmp_path)
        p = FocusProbe(env=env)
        t0 = time.monotonic()
        assert p.is_password() is None
        assert time.monotonic() - t0 < 5.0
        assert not p.available and "AT-SPI bus" in p.reason, p.reason
        p.close()

    # --------------------------------------------------------------------------- session

    @pytest.fixture(scope="module")
    def asr():
        from assistant.components import build_asr

        return build_asr(Settings().asr)

    def test_session_types_into_a_normal_field_but_never_into_a_password_field(desktop, xserver, asr):
        bus = EventBus()
        notices: list[Notice] = []
        bus.subscribe(notices.append, Notice)
        probe = FocusProbe(env=desktop.env)
        typist = XTestTypist(xserver)
        # the control: XTest does reach the password field when nobody asks AT-SPI
        desktop.focus("pw")
        typist.type_text("control")
        assert poll(lambda: desktop.texts()["pw"] == "control", 10), desktop.texts()
        desktop.app.call(op="clear")
        session = DictationSession(asr, DictationSettings(), typist, bus, focus_probe=probe)

        def say(text: str) -> None:
            session.handle(DictationUpdate(text, (), "", True))

        def warnings() -> list[Notice]:
            return [n for n in notices if n.level == "warning"]

        try:
            desktop.focus("nm")
            assert wait_password(probe, False).password is False
            say("hello world comma")
            say(" this is typed period")
            assert poll(lambda: desktop.texts()["nm"] == "Hello world, this is typed.", 10), desktop.texts()
            assert session.typed == "Hello world, this is typed."
            assert warnings() == []

            desktop.focus("pw")
            assert wait_password(probe, True).password is True
            say(" my secret is tulip")
            say(" scratch that")  # dropped too: nothing there to scratch
            say(" and more words period")
            time.sleep(1.0)  # give stray keys time to arrive
            got = desktop.texts()
            assert got["pw"] == "" and got["nm"] == "Hello world, this is typed.", got
            assert [n.message for n in warnings()] == [PASSWORD_MESSAGE], notices  # once per focus change
            assert warnings()[0].stage == "dictation" and warnings()[0].hint

            desktop.focus("nm")
            assert wait_password(probe, False).password is False
            say(" back in the name field")
            want = "Hello world, this is typed.Back in the name field"  # the formatter started afresh
            assert poll(lambda: desktop.texts()["nm"] == want, 10), desktop.texts()
            assert session.typed == want

            desktop.focus("pw")  # a new focus change: warned again
            assert wait_password(probe, True).password is True
            say(" again")
            assert len(warnings()) == 2 and desktop.texts()["pw"] == ""
            # "stop dictation" said into the password field still stops the session
            say(" one more stop dictation")
            assert session.formatter.stop_requested and len(warnings()) == 2
        finally:
            typed = session.close(flush=False)
        assert typed == want
        assert not probe.available  # closed with the session
        assert desktop.texts()["pw"] == ""

    def test_session_makes_a_probe_only_for_backends_that_type_into_a_window(desktop, xserver, asr, tmp_path,
                                                                              monkeypatch):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
        to_file = DictationSession(asr, DictationSettings(), FileTypist(tmp_path / "out.txt"), EventBus())
        to_file.start()
        assert to_file.focus_probe is None
        to_file.close()
        xtest = DictationSession(asr, DictationSettings(), XTestTypist(xserver), EventBus())
        assert xtest.focus_probe is None  # made lazily, by start()
        xtest.start()
        try:
            assert xtest.focus_probe is not None
            desktop.focus("pw")
            assert wait_password(xtest.focus_probe, True).password is True
        finally:
            xtest.close()
        assert not xtest.focus_probe.available


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit({"app": mode_app, "bus": mode_bus}[sys.argv[1]]())
