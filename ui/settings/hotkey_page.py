"""Settings page "Hotkey": the global hotkey on/off, its key combination (captured by
pressing it) and its mode (toggle or push-to-talk), with whether it works here."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel

from assistant.settings import Settings
from ui.a11y import StatusLabel, acc
from ui.hotkey_capture import HotkeyCapture
from ui.settings.common import SettingsPage, form_layout, labelled, note
from ui.ui_settings import UISettings


class HotkeyPage(SettingsPage):
    """The global hotkey settings (``settings.hotkey``).

    Args:
        settings: the settings shown.
        status: what the hotkey backend says now (None: no hotkey set up).
    """

    def __init__(self, settings: Settings, status: str | None) -> None:
        super().__init__()
        form = form_layout()
        h = settings.hotkey
        self.hotkey_enabled = acc(QCheckBox("&Enable the global hotkey"), "Enable global hotkey",
                                  "Listen for the hotkey even when another application has the focus.")
        self.hotkey_enabled.setChecked(h.enabled)
        form.addRow(self.hotkey_enabled)
        self.hotkey_capture = HotkeyCapture(h.chord)
        lbl = QLabel("&Hotkey:")  # the capture button is named by what it shows (the combination)
        lbl.setBuddy(self.hotkey_capture)
        form.addRow(lbl, self.hotkey_capture)
        self.hotkey_mode = acc(QComboBox(), "Hotkey mode", "Toggle: press to start listening, press again to stop. "
                                                           "Push-to-talk: hold while you speak.")
        self.hotkey_mode.addItem("Toggle (press to listen, press again to stop)", "toggle")
        self.hotkey_mode.addItem("Push-to-talk (hold while speaking)", "push_to_talk")
        self.hotkey_mode.setCurrentIndex(max(0, self.hotkey_mode.findData(h.mode)))
        labelled(form, "&Mode:", self.hotkey_mode)
        msg = status if status is not None else "The global hotkey is not set up."
        self.hotkey_status = StatusLabel(msg, "Whether the global hotkey works on this desktop.", live=True)
        form.addRow(self.hotkey_status)
        form.addRow(note("In the assistant's window, Ctrl+Space always starts listening and Escape stops."))
        self.setLayout(form)

    def set_status(self, message: str) -> None:
        """Show what the hotkey backend says now (e.g. after the settings were applied)."""
        self.hotkey_status.setText(message)

    def write(self, settings: Settings, ui: UISettings) -> None:  # noqa: D102
        settings.hotkey.enabled = self.hotkey_enabled.isChecked()
        settings.hotkey.chord = self.hotkey_capture.chord
        settings.hotkey.mode = self.hotkey_mode.currentData()
