"""Settings page "Appearance": high contrast, text size, tray behaviour, listening at
start and the length of the latency view (all app settings, ``ui.toml``)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QSpinBox

from assistant.settings import Settings
from ui.a11y import acc
from ui.settings.common import SettingsPage, form_layout, labelled
from ui.ui_settings import UISettings


class AppearancePage(SettingsPage):
    """The app's look and behaviour (:class:`~ui.ui_settings.UISettings`)."""

    def __init__(self, ui: UISettings) -> None:
        super().__init__()
        form = form_layout()
        self.high_contrast = acc(QCheckBox("&High contrast"), "High contrast",
                                 "White text on black with a yellow focus frame.")
        self.high_contrast.setChecked(ui.high_contrast)
        form.addRow(self.high_contrast)
        self.font_scale = acc(QDoubleSpinBox(), "Text size", "Text size relative to the desktop's font, in percent.")
        self.font_scale.setRange(75, 300)
        self.font_scale.setSingleStep(25)
        self.font_scale.setSuffix(" %")
        self.font_scale.setDecimals(0)
        self.font_scale.setValue(ui.font_scale * 100)
        labelled(form, "&Text size:", self.font_scale)
        self.close_to_tray = acc(QCheckBox("C&losing the window keeps the assistant running in the tray"),
                                 "Close to tray", "When on, closing the window hides it; quit from the tray menu.")
        self.close_to_tray.setChecked(ui.close_to_tray)
        form.addRow(self.close_to_tray)
        self.start_hidden = acc(QCheckBox("&Start in the tray"), "Start in the tray",
                                "Start without showing the window (only where a tray exists).")
        self.start_hidden.setChecked(ui.start_hidden)
        form.addRow(self.start_hidden)
        self.listen_on_start = acc(QCheckBox("O&pen the microphone at start"), "Open the microphone at start",
                                   "Listen for the wake word as soon as the assistant is ready.")
        self.listen_on_start.setChecked(ui.listen_on_start)
        form.addRow(self.listen_on_start)
        self.trace_rows = acc(QSpinBox(), "Interactions in the latency view",
                              "How many recent interactions the latency view lists.")
        self.trace_rows.setRange(1, 200)
        self.trace_rows.setValue(ui.trace_rows)
        labelled(form, "&Interactions in the latency view:", self.trace_rows)
        self.setLayout(form)

    def write(self, settings: Settings, ui: UISettings) -> None:  # noqa: D102
        ui.high_contrast = self.high_contrast.isChecked()
        ui.font_scale = round(self.font_scale.value() / 100, 2)
        ui.close_to_tray = self.close_to_tray.isChecked()
        ui.start_hidden = self.start_hidden.isChecked()
        ui.listen_on_start = self.listen_on_start.isChecked()
        ui.trace_rows = self.trace_rows.value()
