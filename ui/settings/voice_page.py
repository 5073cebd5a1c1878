"""Settings page "Voice": the Piper voice (shipped, or found in the user's voice
folders), speed, volume, and a preview spoken with the values on the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtWidgets import QComboBox, QFileDialog, QPushButton

from assistant.settings import Settings, TTSSettings
from ui.a11y import StatusLabel, acc
from ui.settings.common import SettingsPage, SliderRow, button_row, form_layout, note
from ui.ui_settings import UISettings


class VoicePage(SettingsPage):
    """The voice, its speed and volume.

    Args:
        settings: the settings shown (``settings.tts`` is copied).
        preview: speaks a sample with the given :class:`~assistant.settings.TTSSettings`
            (the Preview button; must not block).
    """

    def __init__(self, settings: Settings, preview: Callable[[TTSSettings], Any]) -> None:
        super().__init__()
        self.tts = settings.tts.model_copy(deep=True)
        self.preview = preview
        form = form_layout()
        self.voice = acc(QComboBox(), "Voice", "The Piper voice: the shipped one or voices found in your voice folders.")
        self.add_voice_dir = acc(QPushButton("Add voice &folder…"), "Add voice folder",
                                 "Choose a folder holding Piper .onnx voices with their .onnx.json files.")
        self.add_voice_dir.clicked.connect(self._choose_voice_dir)
        button_row(form, "&Voice:", self.voice, self.add_voice_dir)
        self.speed = SliderRow(50, 200, 5, self.tts.speed, 0.01, lambda u: f"{u} %",
                               "How fast the assistant speaks, in percent of the voice's normal speed.").add_to(
            form, "Sp&eed:")
        self.volume = SliderRow(0, 200, 5, self.tts.volume, 0.01, lambda u: f"{u} %",
                                "Loudness of the voice; 100 % is normal.").add_to(form, "Vol&ume:")
        self.preview_button = acc(QPushButton("&Preview"), "",
                                  "Speak a sample sentence with the chosen voice, speed and volume.")
        self.preview_button.clicked.connect(self.preview_voice)
        form.addRow(self.preview_button)
        self.voice_dirs_label = StatusLabel("", "Folders searched for Piper voices.")
        form.addRow(self.voice_dirs_label)
        form.addRow(note("Voices are Piper .onnx models with their .onnx.json beside them. The shipped voice is "
                         "en_US joe (medium); Piper is GPL-3.0-or-later."))
        self._fill_voices()
        self.setLayout(form)

    def write(self, settings: Settings, ui: UISettings) -> None:  # noqa: D102
        tts = self.edited()
        settings.tts.voice = tts.voice or settings.tts.voice
        settings.tts.voice_dirs = tts.voice_dirs
        settings.tts.speed = tts.speed
        settings.tts.volume = tts.volume

    def edited(self) -> TTSSettings:
        """The voice settings as edited on the page (a copy; nothing saved)."""
        tts = self.tts.model_copy(deep=True)
        tts.voice = self.voice.currentData() or tts.voice
        tts.speed = self.speed.value()
        tts.volume = self.volume.value()
        return tts

    def preview_voice(self) -> None:
        """Speak a sample with the voice/speed/volume chosen on the page (not yet saved)."""
        self.preview(self.edited())

    def _fill_voices(self, select: str | None = None) -> None:
        from models.registry import list_tts_voices

        select = select or self.tts.voice
        self.voice.clear()
        voices = list_tts_voices(self.tts.voice_dirs)
        for label, value in voices.items():
            self.voice.addItem(label, value)
        if select not in voices.values():
            self.voice.addItem(Path(select).stem if "/" in select else select, select)
        self.voice.setCurrentIndex(max(0, self.voice.findData(select)))
        self.voice_dirs_label.setText("Voice folders: " + (", ".join(self.tts.voice_dirs) or "none added"))

    def add_voice_folder(self, folder: str | Path) -> None:
        """Search ``folder`` for Piper voices (what "Add voice folder…" does)."""
        folder = str(folder)
        if folder not in self.tts.voice_dirs:
            self.tts.voice_dirs = [*self.tts.voice_dirs, folder]
        self._fill_voices(self.voice.currentData())

    def _choose_voice_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with Piper voices")
        if folder:
            self.add_voice_folder(folder)
