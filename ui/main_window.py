"""The main window: conversation, live transcript, state, level meter, talk/dictate/stop
buttons, a text box, notices and start-up progress; plus the tray icon, the global hotkeys
(listen and dictation) and the dictation overlay.

Keyboard: Ctrl+Space listen now (always works in the window), Escape stop speaking,
Ctrl+L the text box, Ctrl+, settings, Ctrl+O run a recording, Ctrl++ / Ctrl+- text size,
Ctrl+Q quit. Tab order: text box → send → talk → dictate → stop → conversation.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from assistant.events import (
    AudioLevel,
    FinalTranscript,
    InteractionFinished,
    NLUReady,
    NLURestarting,
    Notice,
    PartialTranscript,
    Progress,
    Reply,
    SpeechEnded,
    State,
    StateChanged,
)
from ui.a11y import StatusLabel, acc
from ui.controller import EngineController
from ui.dictation_overlay import DictationOverlay
from ui.hotkey_capture import chord_label
from ui.icons import app_icon, state_icon, stop_icon
from ui.theme import apply_theme
from ui.widgets import (
    ConversationView,
    LevelMeter,
    NoticeArea,
    ProgressPanel,
    StateIndicator,
    ui_state,
)

log = logging.getLogger(__name__)

LISTEN_SHORTCUT = "Ctrl+Space"


def _wallclock(t_monotonic: float) -> _dt.datetime:
    return _dt.datetime.now() - _dt.timedelta(seconds=max(0.0, time.monotonic() - t_monotonic))


class MainWindow(QMainWindow):
    """The assistant's window.

    Args:
        controller: the engine controller (its engine may still be starting).
        global_hotkey: set up the global hotkey backend (False in tests that do not need it).
        tray: create the tray icon.
        quit_on_close: quitting the window quits the application (False when embedded/tests).

    Signals:
        partial_shown(str): the live transcript line changed (for observers such as tests).
        hotkey_fired(): the global hotkey was pressed.
        dictation_hotkey_fired(): the global dictation hotkey (or the Wayland portal's
            "dictate" shortcut) was pressed.
    """

    partial_shown = Signal(str)
    hotkey_fired = Signal()
    dictation_hotkey_fired = Signal()

    def __init__(self, controller: EngineController, *, global_hotkey: bool = True, tray: bool = True,
                 quit_on_close: bool = True) -> None:
        super().__init__()
        self.controller = controller
        self.quit_on_close = quit_on_close
        self.quitting = False
        self.settings_dialog = None
        self.nlu_banner = None  # the "restarting" notice, until NLUReady
        #: the single-instance ``QLocalServer`` (set by :func:`ui.app.main`), kept with the window
        self.instance_server = None
        #: the signal wake-up socket pair and its notifier (set by :mod:`ui.app`), kept alive with the window
        self.signal_pipe: tuple | None = None
        self._tray_hint_shown = False
        self._shut = False
        self.partial_history: list[str] = []
        self.setWindowTitle("Assistant")
        self.setWindowIcon(app_icon())
        self.setObjectName("main-window")
        acc(self, "Assistant", "Offline voice assistant: conversation, live transcript and controls.")
        self._build()
        self._build_menus()
        self.tray = None
        if tray:
            from ui.tray import Tray

            self.tray = Tray(self)
            self.tray.listen.connect(lambda: self.controller.listen_now("tray"))
            self.tray.dictation.connect(lambda: self.controller.toggle_dictation("tray"))
            self.tray.mute_toggled.connect(self.set_muted)
            self.tray.open_window.connect(self.bring_to_front)
            self.tray.open_settings.connect(self.open_settings)
            self.tray.quit.connect(self.quit)
        #: the always-on-top panel shown while dictating (a top-level window that never takes the focus)
        self.dictation_overlay = DictationOverlay()
        self.dictation_overlay.attach(controller)
        self.hotkey = None
        self.dictation_hotkey = None
        self.dictation_hotkey_message: str | None = None  # what the dictation hotkey backend says
        if global_hotkey:
            self.setup_hotkey()
        c = controller
        c.event.connect(self.on_event)
        c.ready.connect(self._on_ready)
        c.start_failed.connect(self._on_start_failed)
        c.notice.connect(self.show_notice)
        c.busy.connect(self._on_busy)
        c.settings_applied.connect(self._on_settings_applied)
        c.ui_settings_applied.connect(self.apply_ui_look)
        c.mic_changed.connect(self._on_mic_changed)
        c.dictation_changed.connect(self._on_dictation_changed)
        for msg in c.startup_notices:
            self.show_notice("warning", msg, "")
        if c.is_ready:
            self._on_ready()
        self.resize(self.fontMetrics().height() * 40, self.fontMetrics().height() * 44)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        central = QWidget()
        self.setCentralWidget(central)
        fm = self.fontMetrics()
        self.state_indicator = StateIndicator()
        self.level = LevelMeter("Input level")
        self.level.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.talk_button = acc(QPushButton("&Talk"), "Talk",
                               f"Push to talk: start listening now ({LISTEN_SHORTCUT}). The assistant stops "
                               "listening when you pause.")
        self.talk_button.setIcon(state_icon("listening"))
        self.talk_button.clicked.connect(lambda: self.controller.listen_now("button"))
        self.stop_button = acc(QPushButton("&Stop"), "Stop", "Stop speaking and cancel the current request (Escape).")
        self.stop_button.setIcon(stop_icon())
        self.stop_button.clicked.connect(lambda: self.controller.stop_speaking("button"))
        top = QHBoxLayout()
        top.addWidget(self.state_indicator)
        top.addWidget(self.level, 1)
        top.addSpacing(fm.height())
        self.dictate_button = acc(QPushButton("&Dictate"), "Dictate",
                                  "Dictation mode: what you say is typed into the application that has the focus. "
                                  "Press again, or say “stop dictation”, to stop.")
        self.dictate_button.setCheckable(True)  # on while dictating
        self.dictate_button.clicked.connect(self._dictate_clicked)
        top.addWidget(self.talk_button)
        top.addWidget(self.dictate_button)
        top.addWidget(self.stop_button)

        self.notices = NoticeArea()
        self.progress = ProgressPanel()
        self.conversation = ConversationView()
        # the live transcript: its accessible name is the text (a NameChanged event per
        # partial transcript), not announced: a screen reader would fall behind the speaker
        self.partial = StatusLabel("", "Live transcript: the words recognised so far while you speak.")
        f = QFont(self.partial.font())
        f.setItalic(True)
        self.partial.setFont(f)
        self.partial.setMinimumHeight(fm.height() + 4)
        self.input = acc(QLineEdit(), "Request", "Type a request and press Enter, instead of speaking.")
        self.input.setPlaceholderText("Type a request, e.g. “what time is it”, and press Enter")
        self.input.returnPressed.connect(self.submit_text)
        self.send_button = acc(QPushButton("S&end"), "Send", "Send the typed request.")
        self.send_button.clicked.connect(self.submit_text)
        for b in (self.talk_button, self.dictate_button, self.stop_button, self.send_button):
            # QPushButton clicks on Return/Enter only when (auto)default; outside a QDialog
            # that has no other effect. Space already clicks any focused button.
            b.setAutoDefault(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        bottom.addWidget(self.send_button)

        lay = QVBoxLayout(central)
        lay.addLayout(top)
        lay.addWidget(self.notices)
        lay.addWidget(self.progress)
        lay.addWidget(self.conversation, 1)
        lay.addWidget(self.partial)
        lay.addLayout(bottom)
        self.setTabOrder(self.input, self.send_button)
        self.setTabOrder(self.send_button, self.talk_button)
        self.setTabOrder(self.talk_button, self.dictate_button)
        self.setTabOrder(self.dictate_button, self.stop_button)
        self.setTabOrder(self.stop_button, self.conversation)
        self.hotkey_status = StatusLabel("", "Whether the global hotkey works on this desktop.", wrap=False)
        self.statusBar().addWidget(self.hotkey_status, 1)
        self.statusBar().setSizeGripEnabled(True)
        self.input.setFocus()

    def _build_menus(self) -> None:
        mb = self.menuBar()
        mb.setAccessibleName("Menu bar")
        mb.setAccessibleDescription("Assistant, View and Help menus.")
        m = mb.addMenu("&Assistant")
        self.listen_action = self._action(m, "&Listen now", LISTEN_SHORTCUT, lambda: self.controller.listen_now("shortcut"))
        self.listen_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.stop_action = self._action(m, "&Stop speaking", "Escape", lambda: self.controller.stop_speaking("shortcut"))
        self.mute_action = self._action(m, "&Mute microphone", "Ctrl+M", None)
        self.mute_action.setCheckable(True)
        self.mute_action.toggled.connect(self.set_muted)
        m.addSeparator()
        self._action(m, "Run a &recording…", "Ctrl+O", self.open_recording)
        self._action(m, "&Focus the text box", "Ctrl+L", lambda: self.input.setFocus(Qt.FocusReason.ShortcutFocusReason))
        m.addSeparator()
        self._action(m, "S&ettings…", "Ctrl+,", self.open_settings)
        self._action(m, "Latency &trace…", "Ctrl+T", lambda: self.open_settings("Latency tracing"))
        m.addSeparator()
        self._action(m, "&Quit", "Ctrl+Q", self.quit)
        v = mb.addMenu("&View")
        self.contrast_action = self._action(v, "&High contrast", "Ctrl+Shift+H", None)
        self.contrast_action.setCheckable(True)
        self.contrast_action.setChecked(self.controller.ui_settings.high_contrast)
        self.contrast_action.toggled.connect(self.set_high_contrast)
        self._action(v, "&Larger text", "Ctrl++", lambda: self.scale_text(+0.125))
        self._action(v, "&Smaller text", "Ctrl+-", lambda: self.scale_text(-0.125))
        self._action(v, "&Normal text size", "Ctrl+0", lambda: self.scale_text(None))
        self._action(v, "&Clear conversation", "", self.conversation.model_.clear)
        h = mb.addMenu("&Help")
        self._action(h, "&Keyboard shortcuts", "F1", self.show_shortcuts)
        self._action(h, "&About", "", self.show_about)
        # Ctrl+= too, for keyboards where + needs Shift
        QShortcut(QKeySequence("Ctrl+="), self, activated=lambda: self.scale_text(+0.125))

    def _action(self, menu, text: str, shortcut: str, slot) -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if slot is not None:
            a.triggered.connect(slot)
        menu.addAction(a)
        self.addAction(a)  # shortcuts work even with the menu bar hidden
        return a

    # ------------------------------------------------------------------ engine events
    def on_event(self, ev: Any) -> None:
        """Show an engine event (runs on the GUI thread; connected through the bridge)."""
        if isinstance(ev, AudioLevel):
            self.level.set_level(ev.dbfs)
        elif isinstance(ev, StateChanged):
            self._set_state(ui_state(ev.state.value if isinstance(ev.state, State) else str(ev.state)))
            if ev.state == State.LISTENING:
                self._set_partial("Listening…")
        elif isinstance(ev, PartialTranscript):
            self._set_partial(ev.text + " …")
        elif isinstance(ev, FinalTranscript):
            self._set_partial("")
            if ev.text.strip():
                self.conversation.add_turn("user", ev.text.strip(), _wallclock(ev.t), ev.interaction)
        elif isinstance(ev, Reply):
            if ev.text.strip():
                self.conversation.add_turn("assistant", ev.text.strip(), _wallclock(ev.t), ev.interaction)
        elif isinstance(ev, SpeechEnded):
            if ev.timeout and self.partial.text() == "Listening…":
                self._set_partial("I didn't hear anything.")
        elif isinstance(ev, InteractionFinished):
            if self.partial.text().endswith("…"):
                self._set_partial("")
            if self.settings_dialog is not None and self.settings_dialog.isVisible() \
                    and self.settings_dialog.current_page() == "Latency tracing":
                self.settings_dialog.latency.refresh()
        elif isinstance(ev, NLURestarting):  # a Notice; kept until NLUReady says Rasa is back
            self.nlu_banner = self.notices.add(ev.level, ev.message, ev.hint)
        elif isinstance(ev, NLUReady):
            self.notices.remove(self.nlu_banner)
            self.nlu_banner = None
        elif isinstance(ev, Notice):
            self.show_notice(ev.level, ev.message, ev.hint)
        elif isinstance(ev, Progress):
            self._on_progress(ev)

    def _set_partial(self, text: str) -> None:
        self.partial.setText(text)
        if text:
            self.partial_history.append(text)
        self.partial_shown.emit(text)

    def _set_state(self, state: str) -> None:
        if self.controller.muted and state == "idle":
            state = "muted"
        self.state_indicator.set_state(state)
        if self.tray is not None:
            self.tray.set_state(state)
        title = f"Assistant — {self.state_indicator.text()}"
        self.setWindowTitle(title)
        self.setAccessibleName(title)  # screen readers name the window by this, not the title

    def _on_progress(self, ev: Progress) -> None:
        if ev.task == "ready" or ev.fraction >= 1.0:
            self.progress.set_progress(ev.message or "Ready", 1.0)
            QTimer.singleShot(800, self._hide_progress_if_ready)
        else:
            self.progress.set_progress(ev.message or ev.task, ev.fraction)
            if not self.controller.is_ready:
                self._set_state("starting")

    def _hide_progress_if_ready(self) -> None:
        if self.controller.is_ready and self.progress.bar.value() >= 100:
            self.progress.hide()

    def _on_ready(self) -> None:
        self._set_state("idle" if not self.controller.muted else "muted")
        self.progress.set_progress("Ready", 1.0)
        QTimer.singleShot(800, self._hide_progress_if_ready)

    def _on_start_failed(self, message: str, hint: str) -> None:
        self.progress.hide()
        self._set_state("error")
        self.show_notice("error", f"The assistant could not start: {message}", hint)

    def _on_busy(self, task: str, running: bool) -> None:
        if task == "retrain":
            if running:
                self.progress.set_progress("Retraining the language engine…", -1)
            else:
                self.progress.set_progress("Language engine ready", 1.0)
                QTimer.singleShot(800, self._hide_progress_if_ready)

    def show_notice(self, level: str, message: str, hint: str = "") -> None:
        """Show a message with what to do (and in the tray, for errors)."""
        self.notices.add(level, message, hint)
        if level == "error" and self.tray is not None and not self.isVisible():
            self.tray.notify("Assistant", message)

    def _on_mic_changed(self, running: bool) -> None:
        if not running and self.controller.is_ready and self.state_indicator.state == "listening":
            self._set_state("idle")
        self.level.setEnabled(running)
        if not running:
            self.level.set_level(-100)

    def _dictate_clicked(self) -> None:
        # the button shows the engine's mode, not the click: DictationStarted/Stopped set it
        self.dictate_button.setChecked(self.controller.dictation_on)
        self.controller.toggle_dictation("button")

    def _on_dictation_changed(self, on: bool) -> None:
        self.dictate_button.setChecked(on)
        if self.tray is not None:
            self.tray.set_dictating(on)

    # ------------------------------------------------------------------ actions
    def submit_text(self) -> None:
        """Send the text box's request to the engine (on the turn worker)."""
        text = self.input.text().strip()
        if not text:
            return
        self.input.clear()
        self.conversation.add_turn("user", text)
        self.controller.ask(text)

    def open_recording(self, path: str | None = None) -> None:
        """Run a recording through the pipeline as a spoken command."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Run a recording", str(Path.home()),
                                                  "Audio (*.wav *.flac *.ogg *.mp3 *.m4a *.opus *.webm);;All files (*)")
        if path:
            self.controller.process_file(path, realtime=True)

    def set_muted(self, muted: bool) -> None:
        """Mute/unmute the microphone (menu, tray)."""
        self.controller.set_muted(muted)
        for a in (self.mute_action,):
            a.blockSignals(True)
            a.setChecked(muted)
            a.blockSignals(False)
        if self.tray is not None:
            self.tray.set_muted(muted)
        self._set_state("muted" if muted else ("idle" if self.controller.is_ready else "starting"))

    def open_settings(self, page: str | None = None):
        """Open (or raise) the settings panel, optionally at ``page``."""
        from ui.settings.dialog import SettingsDialog

        if self.settings_dialog is None or not self.settings_dialog.isVisible():
            if self.settings_dialog is not None:
                self.settings_dialog.deleteLater()
            self.settings_dialog = SettingsDialog(self.controller, self.hotkey, self,
                                                  dictation_status=self.dictation_hotkey_message)
        if isinstance(page, str):
            self.settings_dialog.go_page(page)
        if not self.isVisible() or self.isMinimized():
            self.showNormal()  # opened from the tray: the dialog needs its parent on screen
        self.settings_dialog.show()
        self.settings_dialog.raise_()
        self.settings_dialog.activateWindow()
        return self.settings_dialog

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def set_high_contrast(self, on: bool) -> None:
        ui = self.controller.ui_settings.model_copy()
        ui.high_contrast = bool(on)
        self.controller.apply_ui_settings(ui)

    def scale_text(self, delta: float | None) -> None:
        ui = self.controller.ui_settings.model_copy()
        ui.font_scale = 1.0 if delta is None else min(3.0, max(0.75, round(ui.font_scale + delta, 3)))
        self.controller.apply_ui_settings(ui)

    def apply_ui_look(self, ui) -> None:
        """Show the app settings ``ui`` (:class:`~ui.ui_settings.UISettings`): theme, high
        contrast and text size on the whole app, the tray icon and notices restyled. Called
        when the controller applies new app settings."""
        app = QApplication.instance()
        apply_theme(app, high_contrast=ui.high_contrast, font_scale=ui.font_scale)
        self.contrast_action.blockSignals(True)
        self.contrast_action.setChecked(ui.high_contrast)
        self.contrast_action.blockSignals(False)
        if self.tray is not None:
            self.tray.set_state(self.tray.state)
        self.notices.restyle()
        self.conversation.scheduleDelayedItemsLayout()
        self.update()

    def _on_settings_applied(self, settings) -> None:
        if self.hotkey is not None:
            self.setup_hotkey()

    def show_shortcuts(self) -> None:
        chord = chord_label(self.controller.settings.hotkey.chord)
        dictation = chord_label(self.controller.settings.dictation.hotkey or "") or "none"
        QMessageBox.information(self, "Keyboard shortcuts", (
            f"{LISTEN_SHORTCUT}: listen now\nEscape: stop speaking\nCtrl+L: type a request\nCtrl+M: mute microphone\n"
            f"Ctrl+O: run a recording\nCtrl+,: settings\nCtrl+T: latency trace\nCtrl++ / Ctrl+-: text size\n"
            f"Ctrl+Shift+H: high contrast\nCtrl+Q: quit\n\nGlobal hotkey (any application): {chord}\n"
            f"Dictation hotkey (any application): {dictation}"))

    def show_about(self) -> None:
        from assistant import __version__

        QMessageBox.about(self, "About Assistant", (
            f"<h3>Offline Assistant {__version__}</h3><p>Everything runs on this computer; nothing is sent anywhere.</p>"
            "<p><b>Licences</b><br>Piper text-to-speech: GPL-3.0-or-later (so is this application).<br>"
            "openWakeWord pre-trained wake word models: CC BY-NC-SA 4.0 (non-commercial use only).<br>"
            "Whisper models (faster-whisper / CTranslate2): MIT.<br>Silero VAD: MIT.<br>"
            "Rasa Open Source 3.6: Apache-2.0.<br>Qt / PySide6: LGPL-3.0.</p>"))

    # ------------------------------------------------------------------ hotkey
    def setup_hotkey(self) -> None:
        """(Re)register the global hotkey from the settings."""
        from ui.hotkey import PortalHotkey, create_hotkey

        hk = self.controller.settings.hotkey
        if self.hotkey is None:
            self.hotkey = create_hotkey(self)
            self.hotkey.activated.connect(self._hotkey_pressed)
            self.hotkey.released.connect(self._hotkey_released)
            self.hotkey.dictate_activated.connect(self._dictation_hotkey_pressed)
            self.hotkey.status_changed.connect(self._hotkey_status)
        if hk.enabled:
            if isinstance(self.hotkey, PortalHotkey):  # Wayland: one portal session binds both shortcuts
                dictate = self.controller.settings.dictation.hotkey
                if not (self.hotkey.active and (self.hotkey.chord, self.hotkey.dictate_chord) == (hk.chord, dictate)):
                    self.hotkey.register(hk.chord, dictate_chord=dictate)
            elif not (self.hotkey.active and self.hotkey.chord == hk.chord):
                self.hotkey.register(hk.chord)
        else:
            self.hotkey.unregister()
            self._hotkey_status("Global hotkey switched off in Settings → Hotkey.")
        self._hotkey_status(self.hotkey.message if hk.enabled else "Global hotkey switched off in Settings → Hotkey.")
        self.setup_dictation_hotkey()

    def setup_dictation_hotkey(self) -> None:
        """(Re)register the global dictation hotkey (``settings.dictation.hotkey``; off with
        the global hotkey switch or an empty chord). Pressing it toggles dictation."""
        from ui.hotkey import PortalHotkey, create_hotkey

        if isinstance(self.hotkey, PortalHotkey):  # the portal session binds the dictation shortcut too
            return
        chord = self.controller.settings.dictation.hotkey
        if self.dictation_hotkey is None:
            self.dictation_hotkey = create_hotkey(self)
            self.dictation_hotkey.activated.connect(self._dictation_hotkey_pressed)
            self.dictation_hotkey.status_changed.connect(self._dictation_hotkey_status)
        if self.controller.settings.hotkey.enabled and chord:
            if not (self.dictation_hotkey.active and self.dictation_hotkey.chord == chord):
                self.dictation_hotkey.register(chord)
            self._dictation_hotkey_status(self.dictation_hotkey.message)
        else:
            self.dictation_hotkey.unregister()
            self._dictation_hotkey_status("Dictation hotkey switched off in Settings → Hotkey.")

    def _dictation_hotkey_status(self, message: str) -> None:
        self.dictation_hotkey_message = message.replace("Global hotkey", "Dictation hotkey", 1)
        if self.settings_dialog is not None:
            try:
                self.settings_dialog.hotkey_page.set_dictation_status(self.dictation_hotkey_message)
            except RuntimeError:
                pass

    def _dictation_hotkey_pressed(self) -> None:
        self.dictation_hotkey_fired.emit()
        self.controller.toggle_dictation("hotkey")

    def _hotkey_status(self, message: str) -> None:
        short = message.split(". ")[0].rstrip(".") + "."
        if "not available" in message:
            short = short.split(":")[0] + " (see Settings → Hotkey)."
        self.hotkey_status.setText(short)
        self.hotkey_status.setToolTip(message)
        self.hotkey_message = message
        if self.settings_dialog is not None:
            try:
                self.settings_dialog.hotkey_page.set_status(message)
            except RuntimeError:
                pass

    def _hotkey_pressed(self) -> None:
        self.hotkey_fired.emit()
        if self.controller.settings.hotkey.mode == "toggle":
            self.controller.toggle_listening("hotkey")
        else:
            self.controller.listen_now("hotkey")

    def _hotkey_released(self) -> None:
        # Push-to-talk: releasing the chord ends the utterance at once (no VAD silence wait).
        if self.controller.settings.hotkey.mode == "push_to_talk":
            self.controller.end_utterance()

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if (not self.quitting and self.tray is not None and self.tray.visible
                and self.controller.ui_settings.close_to_tray):
            event.ignore()
            self.hide()
            if not self._tray_hint_shown:
                self._tray_hint_shown = True
                self.tray.notify("Assistant is still running", "Open it or quit from the tray icon's menu.")
            return
        self.shutdown()
        event.accept()
        if not self.quitting:
            self.quitting = True
            app = QApplication.instance()
            if app is not None and self.quit_on_close:
                app.quit()

    def shutdown(self) -> None:
        """Release the hotkey and tray, disconnect from the engine and (if the controller owns
        it) close it."""
        if self._shut:
            return
        self._shut = True
        for hotkey in (self.hotkey, self.dictation_hotkey):
            if hotkey is not None:
                hotkey.unregister()
        self.dictation_overlay.close()
        if self.tray is not None:
            self.tray.hide()
        if self.settings_dialog is not None:
            self.settings_dialog.close()
        self.controller.shutdown()

    def quit(self) -> None:
        """Quit the app (menu, Ctrl+Q, tray, SIGTERM): close the window, shut the engine down
        and end the event loop (``assistant-gui`` then exits; see :func:`ui.app.main`)."""
        self.quitting = True
        self.close()
        self.shutdown()  # also when the window was hidden in the tray (no closeEvent then)
        app = QApplication.instance()
        if app is not None and self.quit_on_close:
            app.quit()
