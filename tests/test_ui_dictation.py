"""Dictation mode in the desktop app (issue 11): the overlay, the controller's dictation
signals, the tray action, the Dictate button, the Dictation settings page, the dictation
hotkey field and ``assistant-gui --dictate``.

Real Qt throughout. Most tests run offscreen in this process and drive the UI through the
engine's own event bus (the controller's), exactly as the engine publishes the Dictation*
events; no engine is started. The focus test needs a real X server (the offscreen platform
activates every window it shows, whatever its flags), so it runs a small app in a
subprocess on pytest-xvfb's display (``python tests/test_ui_dictation.py focus``) and checks
with ``xdotool`` which X window has the keyboard focus.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ui_helpers import ROOT, JsonLinesProcess, emit, pump_until


def mode_focus() -> int:
    """Subprocess (xcb): another window has the focus; dictation starts (events on the
    controller's bus) and the overlay appears; report who has the focus, also after asking
    the overlay to activate, and for a control tool window without the overlay's flags."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtTest import QTest
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QLabel, QLineEdit

    from assistant.events import DictationHeard, DictationStarted
    from assistant.settings import Settings
    from ui.controller import EngineController
    from ui.dictation_overlay import DictationOverlay

    app = QApplication([sys.argv[0]])

    def x_focus() -> int:
        out = subprocess.run(["xdotool", "getwindowfocus"], capture_output=True, text=True, timeout=10).stdout
        return int(out.strip() or 0)

    other = QLineEdit("another application's text box")
    other.setWindowTitle("Another application")
    other.resize(400, 60)
    other.show()
    other.activateWindow()
    active = QTest.qWaitForWindowActive(other, 5000)
    controller = EngineController(Settings(), listen=False)
    overlay = DictationOverlay()
    overlay.attach(controller)
    controller.bus.publish(DictationStarted(source="hotkey", backend="xtest"))
    controller.bus.publish(DictationHeard(committed="hello", tail="world"))
    pump_until(lambda: overlay.isVisible() and overlay.tail == "world", 10)
    QTest.qWait(500)  # time for a window manager / Qt to hand the focus over, if it would
    shown = dict(visible=overlay.isVisible(), app_active_is_other=QApplication.activeWindow() is other,
                 x_focus=x_focus(), other=int(other.winId()), overlay=int(overlay.winId()))
    overlay.activateWindow()  # even when asked, it must not take the focus
    QTest.qWait(500)
    asked = dict(app_active_is_other=QApplication.activeWindow() is other, x_focus=x_focus())
    control = QLabel("a tool window without the overlay's flags")
    control.setWindowFlags(Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
    control.show()
    control.activateWindow()
    QTest.qWait(500)
    ctrl = dict(x_focus=x_focus(), control=int(control.winId()))
    emit(event="result", active=active, shown=shown, asked=asked, control=ctrl)
    controller.shutdown(2)
    return 0


if __name__ == "__main__":
    sys.exit({"focus": mode_focus}[sys.argv[1]]())


# ======================================================================================
# the tests (run in pytest's process, offscreen)
# ======================================================================================
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from assistant.events import DictationHeard, DictationStarted, DictationStopped  # noqa: E402
from assistant.settings import Settings, load_settings  # noqa: E402

pytestmark = [pytest.mark.gui]


@pytest.fixture()
def controller(qapp, isolated_config):
    """An engine controller over its own event bus, engine not started (settings saved into a
    fresh config folder)."""
    from ui.controller import EngineController

    c = EngineController(Settings(), listen=False)
    yield c
    c.shutdown(5)


@pytest.fixture()
def window(controller, qtbot):
    """The main window (with its tray and overlay) over :func:`controller`."""
    from ui.main_window import MainWindow

    w = MainWindow(controller, global_hotkey=False, tray=True, quit_on_close=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def _started(c, backend: str = "xtest") -> None:
    c.bus.publish(DictationStarted(source="hotkey", backend=backend))


def test_overlay_follows_the_dictation_events(window, controller):
    overlay = window.dictation_overlay
    assert not overlay.isVisible()
    _started(controller, "clipboard")
    assert pump_until(overlay.isVisible, 5), "DictationStarted should show the overlay"
    assert "stop dictation" in overlay.headline.text()
    assert "clipboard" in overlay.backend_label.text()
    controller.bus.publish(DictationHeard(committed="", tail="hello wor"))
    assert pump_until(lambda: overlay.tail_label.text() == "hello wor", 5)
    assert overlay.tail_label.isVisible() and overlay.committed_label.text() == ""
    controller.bus.publish(DictationHeard(committed="hello world,", tail="how are"))
    controller.bus.publish(DictationHeard(committed="how are you", tail=""))
    assert pump_until(lambda: overlay.committed_label.text() == "hello world, how are you", 5), \
        overlay.committed_label.text()
    assert overlay.tail_label.text() == "" and not overlay.tail_label.isVisible(), "an empty tail hides the line"
    assert overlay.committed_label.accessibleName() == "hello world, how are you"
    controller.bus.publish(DictationStopped(reason="voice", typed_chars=24))
    assert pump_until(lambda: not overlay.isVisible(), 5), "DictationStopped should hide the overlay"
    # a new dictation starts with an empty overlay
    _started(controller)
    assert pump_until(overlay.isVisible, 5)
    assert overlay.committed_label.text() == "" and overlay.committed == ""


def test_overlay_keeps_only_the_last_committed_words(qapp):
    from ui.dictation_overlay import COMMITTED_CHARS, DictationOverlay, last_words

    overlay = DictationOverlay()
    overlay.on_started("hotkey", "xtest")
    for n in range(40):
        overlay.on_heard(f"word{n}", "")
    shown = overlay.committed_label.text()
    assert shown.startswith("…") and shown.endswith("word39") and len(shown) <= COMMITTED_CHARS + 1
    assert " word1 " not in shown and "word0" not in shown
    assert last_words("a b c") == "a b c"
    overlay.on_stopped("user", 0)
    overlay.close()


def test_overlay_never_takes_the_focus_by_its_flags(qapp):
    from ui.dictation_overlay import DictationOverlay

    overlay = DictationOverlay()
    flags = overlay.windowFlags()
    for flag in (Qt.WindowType.WindowDoesNotAcceptFocus, Qt.WindowType.WindowStaysOnTopHint,
                 Qt.WindowType.FramelessWindowHint, Qt.WindowType.Tool):
        assert flags & flag == flag, flag
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    assert overlay.focusPolicy() == Qt.FocusPolicy.NoFocus
    assert overlay.accessibleName() == "Dictation" and "stop dictation" in overlay.accessibleDescription()
    overlay.on_started("hotkey", "xtest")
    assert overlay.windowHandle() is not None
    assert overlay.windowHandle().flags() & Qt.WindowType.WindowDoesNotAcceptFocus
    # bottom centre of the primary screen
    area = QGuiApplication.primaryScreen().availableGeometry()
    g = overlay.frameGeometry()
    assert abs(g.center().x() - area.center().x()) <= 2, (g, area)
    assert g.bottom() <= area.bottom() and g.top() > area.center().y(), (g, area)
    overlay.on_stopped("user", 0)
    overlay.close()


def test_overlay_does_not_become_the_active_window_on_a_real_x_server(xvfb, tmp_path):
    display = str(xvfb.display if str(xvfb.display).startswith(":") else f":{xvfb.display}")
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=display, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
               ASSISTANT_CONFIG_DIR=str(tmp_path / "config"), ASSISTANT_DATA_DIR=str(tmp_path / "data"))
    env.pop("WAYLAND_DISPLAY", None)
    app = JsonLinesProcess("focus", [sys.executable, str(Path(__file__)), "focus"], env)
    try:
        res = app.wait_for(lambda m: m.get("event") == "result", 120, "focus result")
    finally:
        app.close()
    assert res["active"], "the other window should have had the focus first"
    shown = res["shown"]
    assert shown["visible"], res
    assert shown["app_active_is_other"] and shown["x_focus"] == shown["other"] != shown["overlay"], res
    assert res["asked"]["app_active_is_other"] and res["asked"]["x_focus"] == shown["other"], res
    # the control: a tool window without WindowDoesNotAcceptFocus does take the focus here
    assert res["control"]["x_focus"] == res["control"]["control"], res


def test_tray_action_and_dictate_button_follow_dictation(window, controller):
    tray = window.tray
    assert tray.dictation_action.text().replace("&", "") == "Start dictation"
    assert not window.dictate_button.isChecked() and not controller.dictating
    _started(controller)
    assert pump_until(lambda: tray.dictation_action.text().replace("&", "") == "Stop dictation", 5)
    assert window.dictate_button.isChecked() and controller.dictating and tray.dictating
    controller.bus.publish(DictationStopped(reason="silence"))
    assert pump_until(lambda: tray.dictation_action.text().replace("&", "") == "Start dictation", 5)
    assert not window.dictate_button.isChecked() and not controller.dictating
    menu = [a.text().replace("&", "") for a in tray.menu.actions() if a.text()]
    assert menu.index("Start dictation") == menu.index("Listen now") + 1, menu


def test_starting_dictation_before_the_engine_is_ready_waits_for_it(window, controller, qtbot):
    notices = []
    controller.notice.connect(lambda level, msg, hint: notices.append((msg, hint)))
    window.tray.dictation_action.trigger()  # engine not started: queued, and the user is told
    assert notices and "still starting" in notices[-1][0] and "Dictation" in notices[-1][1], notices
    # the Dictate button shows the engine's mode, not the click
    window.dictate_button.click()
    assert not window.dictate_button.isChecked()


def _dialog(controller):
    from ui.settings.dialog import SettingsDialog

    return SettingsDialog(controller)


def test_dictation_settings_page_round_trips_through_the_settings_file(controller, qtbot, isolated_config):
    from ui.settings.dictation_page import DictationPage

    dlg = _dialog(controller)
    qtbot.addWidget(dlg)
    dlg.go_page("Dictation")
    assert dlg.current_page() == "Dictation" and dlg.page("Dictation") is dlg.dictation_page
    p = dlg.dictation_page
    p.typing.setCurrentIndex(p.typing.findData("clipboard"))
    p.pause.setValue(1.2)
    p.silence.setValue(0)
    assert p.silence.text() == "Never"
    p.punctuation.setChecked(True)
    p.words.setPlainText("Kubernetes\n\n  PySide6 \nKubernetes")
    p.replacements.setPlainText("my email => me@example.org\n\nnew para =>\n")
    p.keep_history.setChecked(True)
    dlg.apply()
    assert pump_until(lambda: "Saved" in dlg.status.text(), 10), dlg.status.text()
    saved, msg = load_settings()
    assert not msg
    d = saved.dictation
    assert d.typing == "clipboard" and d.pause_s == 1.2 and d.stop_after_silence_s == 0
    assert d.auto_punctuation and d.keep_history
    assert d.words == ["Kubernetes", "PySide6"]
    assert d.replacements == {"my email": "me@example.org", "new para": ""}
    # and a page built from the reloaded settings shows the same values
    again = DictationPage(saved)
    assert again.typing.currentData() == "clipboard" and again.pause.value() == 1.2
    assert again.silence.value() == 0 and again.punctuation.isChecked() and again.keep_history.isChecked()
    assert again.words.toPlainText() == "Kubernetes\nPySide6"
    assert "my email => me@example.org" in again.replacements.toPlainText()
    assert not again.clear_button.isEnabled(), "no controller: nothing to clear"
    again.deleteLater()


def test_bad_replacement_line_is_not_saved(controller, qtbot):
    dlg = _dialog(controller)
    qtbot.addWidget(dlg)
    dlg.dictation_page.replacements.setPlainText("this line has no arrow")
    dlg.apply()
    assert dlg.status.text().startswith("Not saved") and "=>" in dlg.status.text()
    assert load_settings()[0].dictation.replacements == {}


def test_clear_history_button_asks_the_controller(controller, qtbot):
    from ui.settings.dictation_page import DictationPage

    calls = []
    page = DictationPage(Settings(), lambda done: (calls.append(done), done()))
    qtbot.addWidget(page)
    page.clear_button.click()
    assert len(calls) == 1 and page.history_status.text() == "The dictation history was cleared."


def test_dictation_hotkey_is_captured_and_saved(controller, qtbot):
    dlg = _dialog(controller)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.go_page("Hotkey")
    cap = dlg.hotkey_page.dictation_capture
    assert cap.chord == "<ctrl>+<alt>+d" and "Dictation hotkey" in cap.accessibleDescription()
    cap.click()
    assert cap.capturing
    QTest.keyClick(cap, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert not cap.capturing and cap.chord == "<ctrl>+<alt>+k" and cap.text() == "Ctrl+Alt+K"
    s, _ = dlg.collect()
    assert s.dictation.hotkey == "<ctrl>+<alt>+k"
    # the same chord as the listening hotkey cannot be saved
    cap.set_chord(dlg.hotkey_page.hotkey_capture.chord)
    dlg.apply()
    assert dlg.status.text().startswith("Not saved") and "dictation hotkey" in dlg.status.text()
    cap.set_chord("<ctrl>+<alt>+k")
    dlg.apply()
    assert pump_until(lambda: load_settings()[0].dictation.hotkey == "<ctrl>+<alt>+k", 10)


def test_every_dictation_control_has_an_accessible_name(window, controller, qtbot):
    from ui.a11y import unnamed_controls

    dlg = window.open_settings("Dictation")
    assert unnamed_controls(dlg.dictation_page) == []
    assert unnamed_controls(dlg.hotkey_page) == []
    assert unnamed_controls(window) == []
    assert window.dictate_button.accessibleName() == "Dictate"


def test_assistant_gui_dictate_reaches_the_running_app(window, monkeypatch, qtbot):
    """``assistant-gui --dictate`` (a desktop shortcut where no global hotkey works) hands
    "dictate" to the running app over its local socket and exits; the app toggles dictation."""
    import ui.app as app_mod

    name = f"assistant-test-dictate-{os.getpid()}"  # not the user's real app instance
    monkeypatch.setattr(app_mod, "SERVER_NAME", name)
    calls = []
    window.controller.toggle_dictation = lambda source="hotkey": calls.append(source)  # observe the call
    server = app_mod.serve_instance(window)
    assert server.isListening(), server.errorString()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), ASSISTANT_INSTANCE_NAME=name)
    code = "import sys; from ui.app import main; sys.exit(main(['--dictate']))"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert pump_until(lambda: proc.poll() is not None, 60), "assistant-gui --dictate did not exit"
        assert proc.returncode == 0, proc.stderr.read()
        assert pump_until(lambda: calls == ["cli"], 10), calls
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
