"""The microphone capture thread of the settings dialog: the level meter and the
"record 3 s and play back" test (the engine's own microphone loop is not used, so the
settings can test a device the engine is not listening to)."""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QThread, Signal

from ui.controller import error_text


class MicMonitor(QThread):
    """Opens a microphone and reports its level (dBFS) until stopped; or records ``seconds``
    and returns the audio through ``recorded``.

    Signals:
        level(float): the level of the latest 80 ms block in dBFS (at most every 50 ms).
        failed(str, str): the device could not be opened or read: message and hint.
        recorded(object): with ``seconds``: the recording, int16 mono 16 kHz ``np.ndarray``
            (empty if nothing was read).
    """

    level = Signal(float)
    failed = Signal(str, str)
    recorded = Signal(object)

    def __init__(self, device: str | None, seconds: float = 0.0, gain_db: float = 0.0) -> None:
        super().__init__()
        self.device = device
        self.seconds = seconds
        self.gain_db = gain_db
        self._stop = threading.Event()
        self._source = None

    def run(self) -> None:  # worker thread
        """Capture until stopped (or ``seconds`` are recorded); runs on the thread."""
        from assistant.audio import MicrophoneSource, dbfs

        try:
            source = MicrophoneSource(self.device, block_ms=80, gain_db=self.gain_db)
            self._source = source
            blocks, got = [], 0
            last = 0.0
            try:
                for block in source.blocks():
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    if now - last > 0.05:
                        last = now
                        self.level.emit(float(dbfs(block)))
                    if self.seconds:
                        blocks.append(block)
                        got += len(block)
                        if got >= self.seconds * 16000:
                            break
            finally:
                source.close()
            if self.seconds:
                self.recorded.emit(np.concatenate(blocks) if blocks else np.zeros(0, np.int16))
        except Exception as exc:  # noqa: BLE001
            if not self._stop.is_set():
                self.failed.emit(*error_text(exc))

    def set_gain(self, gain_db: float) -> None:
        """Change the input gain (dB) of the running capture, so the level meter follows
        the gain slider."""
        self.gain_db = gain_db
        if self._source is not None:
            self._source.gain_db = gain_db

    def stop(self) -> None:
        """Stop capturing (closes the device; the thread then ends)."""
        self._stop.set()
        if self._source is not None:
            self._source.close()
