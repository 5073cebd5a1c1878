"""Settings page "Microphone": input and output device, input gain with a live level
meter, and a record-and-play-back test. Listing devices and the test run on workers."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QComboBox, QPushButton, QSizePolicy

from assistant.settings import Settings
from ui.a11y import StatusLabel, acc
from ui.controller import error_text
from ui.settings.common import SettingsPage, SliderRow, button_row, form_layout, labelled
from ui.settings.mic_monitor import MicMonitor
from ui.ui_settings import UISettings
from ui.widgets import LevelMeter
from ui.workers import submit


class MicrophonePage(SettingsPage):
    """The audio devices and the microphone's gain, level and test.

    Args:
        settings: the settings shown (``settings.audio`` is read once).
        pool: the thread pool that lists devices and plays the test back.
        mic_in_use: whether the engine's microphone is open now (a rescan re-initialises
            PortAudio, which is only done when it is not).
    """

    def __init__(self, settings: Settings, pool: QThreadPool, mic_in_use: Callable[[], bool]) -> None:
        super().__init__()
        self.audio = settings.audio.model_copy()
        self.pool = pool
        self.mic_in_use = mic_in_use
        self._monitor: MicMonitor | None = None
        self._tester: MicMonitor | None = None
        self._n_inputs = -1
        form = form_layout()
        self.input_device = acc(QComboBox(), "Microphone", "The microphone the assistant listens to.")
        self.output_device = acc(QComboBox(), "Speaker", "Where the assistant's voice is played.")
        for combo in (self.input_device, self.output_device):
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.refresh_button = acc(QPushButton("&Refresh devices"), "Refresh devices",
                                  "List the audio devices again, e.g. after plugging in a headset.")
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(rescan=True))
        button_row(form, "&Microphone:", self.input_device, self.refresh_button)
        labelled(form, "&Speaker:", self.output_device)
        self.mic_level = LevelMeter("Microphone level")
        form.addRow("Level:", self.mic_level)
        self.input_gain = SliderRow(
            -20, 30, 1, self.audio.input_gain_db, 1.0, lambda u: f"{u:+d} dB",
            "Amplifies the microphone before the wake word and speech recognition, in decibels. "
            "Raise it if the level meter stays low while you speak; lower it if it hits the top.")
        self.input_gain.slider.valueChanged.connect(self._gain_changed)
        self.input_gain.add_to(form, "Input &gain:")
        self.test_button = acc(QPushButton("&Test: record 3 s and play back"), "",
                               "Record three seconds from the chosen microphone and play them back.")
        self.test_button.clicked.connect(self.test_microphone)
        self.test_status = StatusLabel("", "Microphone test result.", live=True)
        self.mic_status = StatusLabel("", "Whether the chosen microphone can be opened.", live=True)
        form.addRow(self.test_button)
        form.addRow(self.test_status)
        form.addRow(self.mic_status)
        self.input_device.currentIndexChanged.connect(lambda *_: self.start_monitor())
        self.setLayout(form)

    # ------------------------------------------------------------------ SettingsPage
    def write(self, settings: Settings, ui: UISettings) -> None:  # noqa: D102
        settings.audio.input_device = self.input_device.currentData()
        settings.audio.output_device = self.output_device.currentData()
        settings.audio.input_gain_db = self.input_gain.value()

    def page_shown(self) -> None:  # noqa: D102
        self.start_monitor()

    def page_hidden(self) -> None:  # noqa: D102
        self.stop_monitor()

    def close_page(self) -> None:  # noqa: D102
        self.stop_monitor()
        if self._tester is not None:
            self._tester.stop()
            self._tester.wait(4000)

    # ------------------------------------------------------------------ devices
    def refresh_devices(self, rescan: bool = False) -> None:
        """List audio devices on a worker (``rescan`` re-initialises PortAudio first, which
        finds hot-plugged devices; only when the microphone is not in use)."""
        self.mic_status.setText("Listing audio devices…")
        self.refresh_button.setEnabled(False)
        mic_in_use = self.mic_in_use

        def work():
            from assistant.audio import list_devices, reinit_portaudio

            if rescan and not mic_in_use():
                reinit_portaudio()
            return list_devices()

        def failed(exc: BaseException) -> None:
            self._fill_devices([])
            msg, hint = error_text(exc)
            self.mic_status.setText(f"{msg} {hint}")

        submit(self.pool, "devices", work, on_done=self._fill_devices, on_error=failed)

    def _fill_devices(self, devices: list) -> None:
        try:
            self.refresh_button.setEnabled(True)
        except RuntimeError:  # dialog already gone
            return
        a = self.audio
        for combo, kind, current in ((self.input_device, "in", a.input_device),
                                     (self.output_device, "out", a.output_device)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("System default", None)
            for d in devices:
                if (d.max_input_channels if kind == "in" else d.max_output_channels) > 0:
                    combo.addItem(f"{d.name} ({d.hostapi})", d.name)
            if current is not None and combo.findData(current) < 0:
                combo.addItem(f"{current} (not connected)", current)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
        n_in = sum(1 for d in devices if d.max_input_channels > 0)
        self._n_inputs = n_in
        self.mic_status.setText(f"{n_in} microphone(s) found." if n_in else
                                "No microphone found. Plug one in and press Refresh devices; typed requests still work.")
        self.start_monitor()

    # ------------------------------------------------------------------ level meter and test
    def start_monitor(self) -> None:
        """Show the chosen microphone's level (only while this page is on screen and once
        the devices are listed)."""
        self.stop_monitor()
        if not self.isVisible() or self._n_inputs <= 0:
            return  # not shown, devices not listed yet, or no microphone at all
        mon = MicMonitor(self.input_device.currentData(), gain_db=self.input_gain.value())
        mon.level.connect(self.mic_level.set_level)
        mon.failed.connect(lambda m, h: self.mic_status.setText(f"{m} {h}"))
        self._monitor = mon
        mon.start()

    def _gain_changed(self, *_: Any) -> None:
        if self._monitor is not None:
            self._monitor.set_gain(self.input_gain.value())

    def stop_monitor(self) -> None:
        """Stop the level meter's capture (waits up to 2 s for its thread)."""
        mon, self._monitor = self._monitor, None
        if mon is not None:
            mon.stop()
            mon.wait(2000)

    def test_microphone(self) -> None:
        """Record 3 s from the chosen microphone on a worker, then play it back."""
        self.stop_monitor()
        self.test_button.setEnabled(False)
        self.test_status.setText("Recording 3 seconds… speak now.")
        tester = MicMonitor(self.input_device.currentData(), seconds=3.0, gain_db=self.input_gain.value())
        tester.level.connect(self.mic_level.set_level)
        tester.failed.connect(self._test_failed)
        tester.recorded.connect(self._play_back)
        self._tester = tester
        tester.start()

    def _test_failed(self, message: str, hint: str) -> None:
        self.test_status.setText(f"Test failed: {message} {hint}")
        self.test_button.setEnabled(True)

    def _play_back(self, audio: np.ndarray) -> None:
        from assistant.audio import dbfs

        peak = float(np.abs(audio.astype(np.int32)).max()) if audio.size else 0.0
        level = dbfs(audio) if audio.size else -100.0
        self.test_status.setText(f"Recorded {audio.size / 16000:.1f} s (level {level:.0f} dBFS, peak "
                                 f"{20 * np.log10(max(peak, 1) / 32768):.0f} dBFS). Playing it back…")
        device = self.output_device.currentData()

        def work():
            from assistant.audio import AudioPlayer

            player = AudioPlayer(device)
            try:
                player.start(16000)
                player.write(audio)
                player.drain(timeout=len(audio) / 16000 + 3)
            finally:
                player.close()

        def done(_):
            self.test_status.setText(self.test_status.text().replace("Playing it back…", "Played back."))
            self.test_button.setEnabled(True)
            self.start_monitor()

        submit(self.pool, "mic-test", work, on_done=done, on_error=lambda e: self._test_failed(str(e), ""))
