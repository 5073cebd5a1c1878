"""Settings page "Wake word": on/off, which model (shipped or an own .tflite), threshold,
frames over the threshold and the pause after a wake."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFileDialog, QSpinBox, QWidget

from assistant.settings import Settings
from ui.a11y import acc
from ui.settings.common import ModelPicker, SettingsPage, SliderRow, form_layout, labelled, note
from ui.ui_settings import UISettings


def ask_wake_model(parent: QWidget) -> str:
    """Ask for an openWakeWord ``.tflite`` file; "" when cancelled."""
    return QFileDialog.getOpenFileName(parent, "openWakeWord model", "", "TensorFlow Lite model (*.tflite)")[0]


class WakePage(SettingsPage):
    """The wake word settings (``settings.wake``)."""

    def __init__(self, settings: Settings) -> None:
        from models.registry import WAKE_MODELS

        super().__init__()
        form = form_layout()
        w = settings.wake
        self.wake_enabled = acc(QCheckBox("&Listen for the wake word"), "Listen for the wake word",
                                "When off, the assistant is push-to-talk only: it listens after the hotkey, "
                                "the microphone button or the tray menu.")
        self.wake_enabled.setChecked(w.enabled)
        form.addRow(self.wake_enabled)
        self.picker = ModelPicker(
            form, "&Wake word:", name="Wake word model",
            description="Which phrase wakes the assistant, or your own openWakeWord .tflite model.",
            choices=[(name.replace("_", " ").title(), name) for name in WAKE_MODELS], current=w.model,
            button_text="Own &model…", button_name="Choose wake word model file",
            button_description="Use your own openWakeWord .tflite model.", ask=ask_wake_model,
            own_text=lambda p: Path(p).name)
        self.wake_model = self.picker.combo
        self.threshold = SliderRow(5, 95, 5, w.threshold, 0.01, lambda u: f"{u} %",
                                   "Score the wake word model must reach, in percent (50 % is a score of "
                                   "0.50): lower is more sensitive (more false wakes), higher is stricter.").add_to(
            form, "&Threshold:")
        self.frames = acc(QSpinBox(), "Frames over threshold",
                          "Consecutive 80 ms frames that must be over the threshold (2–3 avoids false wakes).")
        self.frames.setRange(1, 10)
        self.frames.setValue(w.trigger_frames)
        labelled(form, "&Frames over threshold:", self.frames)
        self.refractory = acc(QDoubleSpinBox(), "Pause after a wake",
                              "Seconds during which a new wake word is ignored after one was heard.")
        self.refractory.setRange(0, 30)
        self.refractory.setSuffix(" s")
        self.refractory.setValue(w.refractory_s)
        labelled(form, "&Pause after a wake:", self.refractory)
        form.addRow(note("The pre-trained wake word models are from openWakeWord, licensed CC BY-NC-SA 4.0 "
                         "(non-commercial use)."))
        self.setLayout(form)

    def write(self, settings: Settings, ui: UISettings) -> None:  # noqa: D102
        w = settings.wake
        w.enabled = self.wake_enabled.isChecked()
        w.model = self.picker.value()
        w.threshold = min(0.95, max(0.05, self.threshold.value()))
        w.trigger_frames = self.frames.value()
        w.refractory_s = self.refractory.value()
