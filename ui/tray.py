"""The tray icon: shows the state, offers listen now / start or stop dictation / mute / open /
settings / quit.

Where the desktop has no tray (``QSystemTrayIcon.isSystemTrayAvailable()`` is False) the app
keeps working with its window, and closing the window quits instead of hiding it. The tray
may appear later (a panel restarts): availability is re-checked every few seconds.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.icons import state_icon
from ui.theme import is_high_contrast
from ui.widgets import STATE_LABELS


class Tray(QObject):
    """Tray icon and menu. Signals are connected by the main window."""

    listen = Signal()
    dictation = Signal()  # start or stop dictation (the main window toggles it)
    mute_toggled = Signal(bool)
    open_window = Signal()
    open_settings = Signal()
    quit = Signal()
    availability_changed = Signal(bool)

    START_DICTATION = "Start &dictation"
    STOP_DICTATION = "Stop &dictation"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "starting"
        self.dictating = False
        self.icon = QSystemTrayIcon(state_icon("starting"), self)
        self.menu = QMenu()
        self.menu.setAccessibleName("Assistant tray menu")
        self.listen_action = QAction("&Listen now", self.menu)
        self.dictation_action = QAction(self.START_DICTATION, self.menu)
        self.mute_action = QAction("&Mute microphone", self.menu)
        self.mute_action.setCheckable(True)
        self.open_action = QAction("&Open assistant", self.menu)
        self.settings_action = QAction("&Settings…", self.menu)
        self.quit_action = QAction("&Quit", self.menu)
        for a in (self.listen_action, self.dictation_action, self.mute_action, self.open_action, self.settings_action):
            self.menu.addAction(a)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.listen_action.triggered.connect(self.listen)
        self.dictation_action.triggered.connect(self.dictation)
        self.mute_action.toggled.connect(self.mute_toggled)
        self.open_action.triggered.connect(self.open_window)
        self.settings_action.triggered.connect(self.open_settings)
        self.quit_action.triggered.connect(self.quit)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.set_state("starting")
        self.icon.show()  # Qt embeds it as soon as a tray exists
        self._timer = QTimer(self)
        self._timer.setInterval(3000)
        self._timer.timeout.connect(self._check)
        self._timer.start()

    @property
    def visible(self) -> bool:
        """The icon is shown in an existing tray."""
        return self.available and self.icon.isVisible()

    def _check(self) -> None:
        now = QSystemTrayIcon.isSystemTrayAvailable()
        if now != self.available:
            self.available = now
            if now:
                self.icon.show()
            self.availability_changed.emit(now)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_window.emit()
        elif reason == QSystemTrayIcon.ActivationReason.MiddleClick:
            self.listen.emit()

    def set_state(self, state: str) -> None:
        """Show ``state`` (see :data:`ui.widgets.STATE_LABELS`)."""
        self.state = state
        self.icon.setIcon(state_icon(state, is_high_contrast()))
        self.icon.setToolTip(f"Assistant: {STATE_LABELS.get(state, state)}")

    def set_dictating(self, on: bool) -> None:
        """Show whether dictation mode is on: the menu offers to stop it, or to start it."""
        self.dictating = bool(on)
        self.dictation_action.setText(self.STOP_DICTATION if on else self.START_DICTATION)

    def set_muted(self, muted: bool) -> None:
        """Show the microphone as muted or not (without emitting :attr:`mute_toggled`)."""
        self.mute_action.blockSignals(True)
        self.mute_action.setChecked(muted)
        self.mute_action.blockSignals(False)

    def notify(self, title: str, message: str) -> None:
        """A balloon message, where the tray supports them."""
        if self.visible and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, message, state_icon(self.state), 4000)

    def hide(self) -> None:
        self._timer.stop()
        self.icon.hide()
