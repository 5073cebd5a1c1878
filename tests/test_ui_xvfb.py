"""The Qt app on a real X server (Xvfb, started by pytest-xvfb): screenshots of the main
window and every settings page, the tray icon in a real tray (``trayer``), and the global
hotkey pressed with ``xdotool key`` while another application has the focus.

The rest of the suite runs Qt offscreen in this process, and a QApplication cannot switch
platform, so each check runs the app in a subprocess with ``QT_QPA_PLATFORM=xcb`` on
pytest-xvfb's display: ``python tests/test_ui_xvfb.py MODE ...`` (the ``__main__`` part at
the bottom of this file). Nothing is mocked: real X11, real tray, real pynput hotkey, and
for the screenshots the real engine with Rasa.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ui_helpers import ROOT, JsonLinesProcess, emit, pump_until

ARTIFACTS = ROOT / "artifacts"

# ======================================================================================
# the app side (runs in the subprocess, on xcb)
# ======================================================================================


def _app():
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    app.setApplicationName("offline-assistant")
    app.setQuitOnLastWindowClosed(False)
    from ui.theme import apply_theme

    apply_theme(app)
    return app


def mode_screenshots(outdir: str) -> int:
    """Start the real engine behind a real window, ask two things, then save screenshots of
    the main window (normal and high contrast) and of every settings page."""
    app = _app()
    from assistant.audio import BufferSink
    from assistant.pipeline import Assistant
    from assistant.settings import Settings
    from ui.controller import EngineController
    from ui.main_window import MainWindow
    from ui.theme import apply_theme

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    assistant = Assistant(Settings(), sink=BufferSink())
    controller = EngineController(assistant=assistant, listen=False)
    window = MainWindow(controller, global_hotkey=True, tray=True, quit_on_close=False)
    window.resize(760, 720)
    window.show()
    files = []

    def shot(widget, name: str) -> None:
        widget.repaint()
        app.processEvents()
        path = out / name
        widget.grab().save(str(path))
        files.append(str(path))

    pump_until(lambda: window.isVisible(), 10)
    pump_until(lambda: False, 1.5)
    shot(window, "ui-main-starting.png")
    ready = []
    controller.ready.connect(lambda: ready.append(1))
    controller.start_failed.connect(lambda m, h: ready.append((m, h)))
    controller.start()
    pump_until(lambda: ready, 900)
    if ready != [1]:
        emit(error=f"engine failed: {ready}")
        return 1
    for text in ("what time is it", "what's the date today"):
        n = len(assistant.results)
        window.input.setText(text)
        window.submit_text()
        pump_until(lambda: len(assistant.results) > n and controller.turns.activeThreadCount() == 0, 120)
    window.show_notice("info", "This is what a notice looks like.", "It says what to do; Dismiss hides it.")
    window.input.setText("set a timer for ten minutes")
    pump_until(lambda: False, 1.0)
    shot(window, "ui-main.png")
    dlg = window.open_settings()
    dlg.resize(900, 640)
    pump_until(lambda: dlg.skills_page.skills_list.count() > 0, 60)
    pump_until(lambda: "Listing" not in dlg.audio_page.mic_status.text(), 20)
    for page in dlg.PAGES:
        dlg.go_page(page)
        pump_until(lambda: False, 0.3)
        shot(dlg, f"ui-settings-{page.lower().replace(' ', '-')}.png")
    dlg.go_page("Latency tracing")
    rows = dlg.latency.table.rowCount()
    dlg.reject()
    ui = controller.ui_settings.model_copy()
    ui.high_contrast = True
    apply_theme(app, high_contrast=True, font_scale=1.25)
    window.apply_ui_look(ui.model_copy(update={"font_scale": 1.25}))
    window.input.setFocus()
    pump_until(lambda: False, 0.5)
    shot(window, "ui-main-high-contrast.png")
    emit(files=files, latency_rows=rows, results=[r.reply for r in assistant.results])
    window.quitting = True
    window.close()
    assistant.close()
    return 0


def mode_tray(shot_path: str) -> int:
    """Show the window with its tray icon; report whether the icon was embedded in a tray;
    then close the window: with a tray it hides (close to tray), without one the app quits."""
    app = _app()
    from PySide6.QtWidgets import QSystemTrayIcon
    from ui.controller import EngineController
    from ui.main_window import MainWindow

    controller = EngineController(listen=False)
    window = MainWindow(controller, global_hotkey=False, tray=True)
    window.show()
    pump_until(lambda: window.isVisible(), 10)
    available = QSystemTrayIcon.isSystemTrayAvailable()
    embedded = pump_until(lambda: window.tray.icon.geometry().width() > 0, 15) if available else False
    geo = window.tray.icon.geometry()
    if shot_path:
        pump_until(lambda: False, 1.0)
        subprocess.run(["import", "-window", "root", shot_path], check=False, timeout=30)
    window.close()  # close-to-tray when a tray exists, quit otherwise
    pump_until(lambda: False, 0.5)
    emit(available=available, embedded=embedded, visible=window.tray.visible,
         geometry=[geo.x(), geo.y(), geo.width(), geo.height()], tooltip=window.tray.icon.toolTip(),
         menu=[a.text() for a in window.tray.menu.actions() if a.text()],
         window_visible_after_close=window.isVisible(), quitting=window.quitting)
    if window.isVisible() or not window.quitting:
        window.quit()
    return 0


def mode_hotkey() -> int:
    """Register the real global hotkey and report every press; also report the in-window
    Ctrl+Space shortcut. Ends after 90 s or when told 'quit' on stdin."""
    app = _app()
    from PySide6.QtCore import QTimer
    from ui.controller import EngineController
    from ui.main_window import MainWindow

    controller = EngineController(listen=False)
    window = MainWindow(controller, global_hotkey=True, tray=False, quit_on_close=True)
    window.hotkey_fired.connect(lambda: emit(event="hotkey"))
    window.listen_action.triggered.connect(lambda: emit(event="shortcut"))
    window.show()
    from PySide6.QtTest import QTest

    QTest.qWaitForWindowActive(window)
    emit(event="ready", backend=window.hotkey.backend, active=window.hotkey.active, message=window.hotkey.message,
         window=int(window.winId()))

    def poll_stdin() -> None:
        import select

        if select.select([sys.stdin], [], [], 0)[0]:
            line = sys.stdin.readline()
            if not line or line.strip() == "quit":  # end of input: the test closed our stdin
                window.quit()

    t = QTimer()
    t.timeout.connect(poll_stdin)
    t.start(100)
    QTimer.singleShot(90_000, window.quit)
    return app.exec()


# ======================================================================================
# the tests (run in pytest's process)
# ======================================================================================

if __name__ != "__main__":
    import pytest

    pytestmark = [pytest.mark.gui]

    def _env(display: str, tmp: Path) -> dict:
        env = dict(os.environ)
        env.update(QT_QPA_PLATFORM="xcb", DISPLAY=display, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
                   ASSISTANT_CONFIG_DIR=str(tmp / "config"), ASSISTANT_DATA_DIR=str(tmp / "data"))
        env.pop("WAYLAND_DISPLAY", None)
        return env

    class App(JsonLinesProcess):
        """The app in a subprocess (``python tests/test_ui_xvfb.py MODE ...``)."""

        def __init__(self, args: list[str], env: dict) -> None:
            super().__init__(args[0], [sys.executable, __file__, *args], env)

    @pytest.fixture()
    def display(xvfb) -> str:
        """pytest-xvfb's display (``:N``)."""
        return f":{xvfb.display}" if not str(xvfb.display).startswith(":") else str(xvfb.display)

    def test_screenshots_of_main_window_and_every_settings_page(display, tmp_path, artifacts_dir):
        app = App(["screenshots", str(artifacts_dir)], _env(display, tmp_path))
        try:
            res = app.wait_for(lambda m: "files" in m or "error" in m, 1200)
        finally:
            app.close()
        assert "error" not in res, res
        names = {Path(f).name for f in res["files"]}
        pages = ("microphone", "voice", "wake-word", "speech-recognition", "hotkey", "dictation", "skills",
                 "latency-tracing", "appearance")
        assert {"ui-main.png", "ui-main-high-contrast.png"} <= names
        assert {f"ui-settings-{p}.png" for p in pages} <= names
        for f in res["files"]:
            assert Path(f).stat().st_size > 5000, f  # a real picture, not an empty grab
        assert res["latency_rows"] >= 2 and len(res["results"]) >= 2

    def test_tray_icon_appears_when_a_tray_exists(display, tmp_path, artifacts_dir):
        trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                                   "--height", "32", "--transparent", "false", "--tint", "0x333333"],
                                  env={**os.environ, "DISPLAY": display}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 15
            while subprocess.run(["xdotool", "search", "--class", "trayer"], env={**os.environ, "DISPLAY": display},
                                 capture_output=True).returncode != 0:
                assert time.monotonic() < deadline and trayer.poll() is None, "trayer did not start"
                time.sleep(0.2)
            app = App(["tray", str(artifacts_dir / "ui-tray-screen.png")], _env(display, tmp_path))
            try:
                res = app.wait_for(lambda m: "available" in m, 120)
            finally:
                app.close()
        finally:
            trayer.terminate()
            trayer.wait(10)
        assert res["available"] and res["embedded"] and res["visible"], res
        assert res["geometry"][2] > 0 and res["tooltip"].startswith("Assistant:")
        assert [t.replace("&", "") for t in res["menu"]] == ["Listen now", "Start dictation", "Mute microphone",
                                                             "Open assistant", "Settings…", "Quit"]
        assert not res["window_visible_after_close"] and not res["quitting"], "closing should hide to the tray"

    def test_without_a_tray_the_window_still_works_and_closing_quits(display, tmp_path):
        app = App(["tray", ""], _env(display, tmp_path))
        try:
            res = app.wait_for(lambda m: "available" in m, 120)
        finally:
            app.close()
        assert not res["available"] and not res["visible"]
        assert res["quitting"], "with no tray, closing the window must quit instead of hiding it"

    def test_global_hotkey_fires_while_another_window_has_focus(display, tmp_path):
        env = _env(display, tmp_path)
        xenv = {**os.environ, "DISPLAY": display}
        app = App(["hotkey"], env)
        other = None
        try:
            ready = app.wait_for(lambda m: m.get("event") == "ready", 60)
            assert ready["backend"] == "pynput" and ready["active"], ready
            other = subprocess.Popen(["xmessage", "-center", "Another application has the focus"], env=xenv)
            win = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--class", "Xmessage"], env=xenv,
                                 capture_output=True, text=True, timeout=20).stdout.split()[0]
            subprocess.run(["xdotool", "windowfocus", "--sync", win], env=xenv, check=True, timeout=20)
            focused = subprocess.run(["xdotool", "getwindowfocus"], env=xenv, capture_output=True, text=True,
                                     timeout=10).stdout.strip()
            assert focused == win and int(focused) != ready["window"], "xmessage should have the focus"
            subprocess.run(["xdotool", "key", "ctrl+alt+h"], env=xenv, check=True, timeout=10)
            app.wait_for(lambda m: m.get("event") == "hotkey", 20)
            # the in-window shortcut works when the app's window has the focus
            subprocess.run(["xdotool", "windowfocus", "--sync", str(ready["window"])], env=xenv, check=True,
                           timeout=20)
            time.sleep(0.3)
            subprocess.run(["xdotool", "key", "ctrl+space"], env=xenv, check=True, timeout=10)
            app.wait_for(lambda m: m.get("event") == "shortcut", 20)
        finally:
            if other is not None:
                other.terminate()
            app.close()


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    sys.exit({"screenshots": lambda: mode_screenshots(*rest), "tray": lambda: mode_tray(*rest),
              "hotkey": mode_hotkey}[mode]())
