"""Longest event-loop stall of the desktop app while the real engine works.

A 5 ms QTimer runs on the GUI thread; a stall is the gap between two ticks beyond the
interval. Three phases, each through the app's own controller and window:

1. start-up: the window is shown, then the engine starts (Whisper, Piper, wake word, VAD,
   skills, Rasa train-or-cache + server start) on a worker thread;
2. a transcription: ``tests/data/jfk.flac`` (11 s of speech) through the file source;
3. a typed request: "what time is it" → Rasa → skill → Piper.

Usage::

    .venv/bin/python benchmarks/ui_stall_bench.py            # offscreen (no display needed)
    QT_QPA_PLATFORM=xcb .venv/bin/python benchmarks/ui_stall_bench.py   # on an X server

Speech goes to a BufferSink (the ``--output`` sink), so no sound card is needed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))
_tmp = Path(tempfile.mkdtemp(prefix="ui-bench-"))
os.environ.setdefault("ASSISTANT_CONFIG_DIR", str(_tmp / "config"))
os.environ.setdefault("ASSISTANT_DATA_DIR", str(_tmp / "data"))

T0 = time.monotonic()

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


class StallMeter:
    def __init__(self, interval_ms: int = 5) -> None:
        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self.stalls: list[tuple[float, str]] = []  # (gap, what the engine was doing)
        self.doing = ""
        self._last = time.monotonic()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        gap = now - self._last
        self.gaps.append(gap)
        if gap > 0.05:
            self.stalls.append((gap, self.doing))
        self._last = now

    def start(self) -> None:
        self.gaps, self.stalls, self._last = [], [], time.monotonic()
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        gaps = sorted(self.gaps) or [0.0]
        worst = sorted(self.stalls, reverse=True)[:3]
        return {"worst": [f"{g * 1000:.0f} ms during '{d}'" for g, d in worst], "ticks": len(self.gaps), "longest_stall_ms": max(0.0, (gaps[-1] - self.interval) * 1000),
                "p99_gap_ms": gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] * 1000}


def pump_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        QTest.qWait(5)
    return bool(pred())


def main() -> int:
    app = QApplication([sys.argv[0]])
    from assistant.audio import BufferSink
    from assistant.pipeline import Assistant
    from assistant.settings import Settings
    from ui.controller import EngineController
    from ui.main_window import MainWindow
    from ui.theme import apply_theme

    apply_theme(app)
    assistant = Assistant(Settings(), sink=BufferSink())
    controller = EngineController(assistant=assistant, listen=False)
    window = MainWindow(controller, global_hotkey=False, tray=False, quit_on_close=False)
    window.show()
    shown_ms = (time.monotonic() - T0) * 1000
    meter = StallMeter()
    rows = []
    from assistant.events import Progress, StateChanged

    def doing(ev) -> None:  # engine thread: remember the latest stage for the stall report
        meter.doing = ev.message if isinstance(ev, Progress) else f"state {ev.state.value}"

    assistant.bus.subscribe(doing, Progress, StateChanged)

    meter.start()
    t = time.monotonic()
    ready: list = []
    controller.ready.connect(lambda: ready.append(True))
    controller.start_failed.connect(lambda m, h: ready.append((m, h)))
    controller.start()
    pump_until(lambda: ready, 900)
    if ready != [True]:
        print(f"engine failed to start: {ready}", file=sys.stderr)
        return 1
    rows.append(("start-up (models + Rasa)", time.monotonic() - t, meter.stop()))

    done: list = []
    controller.request_done.connect(done.append)
    meter.start()
    t = time.monotonic()
    controller.process_file(ROOT / "tests" / "data" / "jfk.flac", realtime=False)
    pump_until(lambda: done, 600)
    rows.append(("transcription of jfk.flac (11 s) + replies", time.monotonic() - t, meter.stop()))

    done.clear()
    meter.start()
    t = time.monotonic()
    window.input.setText("what time is it")
    window.submit_text()
    pump_until(lambda: done, 120)
    rows.append(("typed request 'what time is it'", time.monotonic() - t, meter.stop()))

    print(f"window shown {shown_ms:.0f} ms after the interpreter started (before any model loads)")
    print(f"{'phase':44} {'duration':>9} {'ticks':>7} {'p99 gap':>9} {'longest stall':>14}")
    for name, dur, m in rows:
        print(f"{name:44} {dur:8.1f}s {m['ticks']:7d} {m['p99_gap_ms']:7.1f}ms {m['longest_stall_ms']:11.1f} ms")
    for name, _, m in rows:
        if m["worst"]:
            print(f"  worst stalls in {name}: {'; '.join(m['worst'])}")
    worst = max(r[2]["longest_stall_ms"] for r in rows)
    print(f"longest event-loop stall overall: {worst:.1f} ms")
    window.quitting = True
    window.close()
    assistant.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
