"""Settings page "Hotkey": the global hotkeys on/off, the listen hotkey's key combination
(captured by pressing it) and its mode (toggle or push-to-talk), the dictation hotkey's key
combination, with whether each works here."""

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
        dictation_status: what the dictation hotkey's backend says now (None: not set up).
    """

    def __init__(self, settings: Settings, status: str | None, dictation_status: str | None = None) -> None:
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
        self.dictation_capture = HotkeyCapture(settings.dictation.hotkey, purpose="Dictation hotkey")
        dlbl = QLabel("&Dictation hotkey:")
        dlbl.setBuddy(self.dictation_capture)
        form.addRow(dlbl, self.dictation_capture)
        msg = dictation_status if dictation_status is not None else "The dictation hotkey is not set up."
        self.dictation_status = StatusLabel(msg, "Whether the dictation hotkey works on this desktop.", live=True)
        form.addRow(self.dictation_status)
        form.addRow(note("The dictation hotkey starts dictation (what you say is typed into the application that "
                         "has the focus) and stops it again."))
        form.addRow(note("In the assistant's window, Ctrl+Space always starts listening and Escape stops."))
        self.setLayout(form)

    def set_status(self, message: str) -> None:
        """Show what the hotkey backend says now (e.g. after the settings were applied)."""
        self.hotkey_status.setText(message)

    def set_dictation_status(self, message: str) -> None:
        """Show what the dictation hotkey's backend says now."""
        self.dictation_status.setText(message)

    def validate(self) -> list[str]:
        """The dictation hotkey must differ from the listening hotkey."""
        if self.dictation_capture.chord and self.dictation_capture.chord == self.hotkey_capture.chord:
            return ["the dictation hotkey must differ from the listening hotkey (Settings → Hotkey)"]
        return []

    def write(self, settings: Settings, ui: UISettings) -> None:  # noqa: D102
        settings.dictation.hotkey = self.dictation_capture.chord
        settings.hotkey.enabled = self.hotkey_enabled.isChecked()
        settings.hotkey.chord = self.hotkey_capture.chord
        settings.hotkey.mode = self.hotkey_mode.currentData()
