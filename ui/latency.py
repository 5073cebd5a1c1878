"""The latency-tracing view: the last N interactions in a table, a timeline of the selected
one (one bar per stage with milliseconds), and export to Chrome trace-event JSON (opens in
Perfetto / chrome://tracing)."""

from __future__ import annotations

import datetime as _dt
import json
import time
from pathlib import Path
from typing import Any, Iterable

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assistant.events import FinalTranscript, IntentRecognized, InteractionStarted, SpeechEnded, State, StateChanged
from ui.a11y import StatusLabel, acc
from ui.theme import is_high_contrast

#: Stage order on the timeline (names of :meth:`assistant.trace.Trace.spans` plus the
#: endpoint instant).
STAGE_ORDER = ("wake", "speech", "endpoint", "asr final", "nlu", "action", "tts first audio", "playback")
STAGE_COLORS = {
    "wake": "#7c3aed", "speech": "#16a34a", "endpoint": "#0f766e", "asr final": "#0891b2", "nlu": "#d97706",
    "action": "#db2777", "tts first audio": "#2563eb", "playback": "#64748b",
}


def stage_rows(trace: Any) -> list[tuple[str, float, float]]:
    """Timeline rows ``(stage, start_ms, end_ms)`` of a trace, relative to its first event,
    in :data:`STAGE_ORDER` (instants like the wake word and the endpoint have start == end)."""
    spans = {name: (s * 1000, e * 1000) for name, s, e in trace.spans()}
    end = trace.first(SpeechEnded)
    if end is not None:
        t = (end.t - trace.t0) * 1000
        spans["endpoint"] = (t, t)
    if "nlu" not in spans:
        # typed requests have no final transcript: NLU starts when the pipeline starts
        # understanding (or at the start of the interaction)
        intent = trace.first(IntentRecognized)
        start = next((e for e in trace.events if isinstance(e, StateChanged) and e.state == State.UNDERSTANDING),
                     None) or trace.first(InteractionStarted)
        if intent is not None and start is not None and intent.t >= start.t:
            spans["nlu"] = ((start.t - trace.t0) * 1000, (intent.t - trace.t0) * 1000)
    return [(name, *spans[name]) for name in STAGE_ORDER if name in spans]


def chrome_trace(trace: Any) -> dict:
    """The engine's Chrome trace-event JSON of one trace, plus the bars the timeline adds
    (the endpoint instant, the NLU bar of typed requests)."""
    data = trace.to_chrome()
    have = {e.get("name") for e in data["traceEvents"] if e.get("ph") == "X"}
    pid = next((e.get("pid", 1) for e in data["traceEvents"]), 1)
    for name, s, e in stage_rows(trace):
        if name not in have:
            data["traceEvents"].append({"name": name, "cat": "stage", "ph": "X", "pid": pid, "tid": 1,
                                        "ts": round(s * 1000, 1), "dur": round(max(e - s, 0) * 1000, 1)})
    return data


def trace_request(trace: Any) -> str:
    """What was asked in a trace (final transcript or typed text)."""
    final = trace.first(FinalTranscript)
    if final is not None and final.text:
        return final.text
    intent = trace.first(IntentRecognized)
    return intent.text if intent is not None else ""


def trace_trigger(trace: Any) -> str:
    start = trace.first(InteractionStarted)
    return start.trigger if start is not None else ""


def trace_wallclock(trace: Any) -> _dt.datetime:
    """Approximate wall-clock time of the trace's first event."""
    return _dt.datetime.now() - _dt.timedelta(seconds=time.monotonic() - trace.t0)


def chrome_json(traces: Iterable[Any]) -> dict:
    """Chrome trace-event JSON of one or more traces: each interaction is its own process
    (``pid``) on a shared time axis, ``ts``/``dur`` in microseconds."""
    traces = list(traces)
    if not traces:
        return {"traceEvents": [], "displayTimeUnit": "ms"}
    if len(traces) == 1:
        return chrome_trace(traces[0])
    t_first = min(t.t0 for t in traces)
    events: list[dict] = []
    for pid, trace in enumerate(traces, start=1):
        offset = (trace.t0 - t_first) * 1e6
        for ev in chrome_trace(trace)["traceEvents"]:
            ev = dict(ev, pid=pid)
            if ev.get("ph") == "M" and ev.get("name") == "process_name":
                ev["args"] = {"name": f"{trace_trigger(trace) or 'interaction'} {trace.interaction}"}
            elif "ts" in ev:
                ev["ts"] = round(ev["ts"] + offset, 1)
            events.append(ev)
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"interactions": [t.interaction for t in traces]}}


class TimelineWidget(QWidget):
    """One horizontal bar per stage on a shared millisecond axis, labelled with its
    duration. Instants (wake word, endpoint) are drawn as diamonds."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, float, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        # A picture, not a control: no Tab stop. Its text alternative is the "Stages" table
        # beside it (see LatencyPage), which a screen reader walks cell by cell.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        acc(self, "Latency timeline", "No interaction selected.")

    def set_trace(self, trace: Any | None) -> None:
        """Show ``trace`` (None clears)."""
        self.rows = stage_rows(trace) if trace is not None else []
        if self.rows:
            parts = [f"{n}: {e - s:.0f} ms (from {s:.0f} to {e:.0f} ms)" if e > s else f"{n} at {s:.0f} ms"
                     for n, s, e in self.rows]
            self.setAccessibleDescription("Stages: " + "; ".join(parts))
        else:
            self.setAccessibleDescription("No interaction selected.")
        self.updateGeometry()
        self.update()

    def describe(self) -> list[str]:
        """The bars as text (what the accessible description says)."""
        return [f"{n} {e - s:.0f} ms" for n, s, e in self.rows]

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        h = self.fontMetrics().height()
        return QSize(40 * h, (len(STAGE_ORDER) + 2) * int(h * 1.6))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        h = self.fontMetrics().height()
        return QSize(20 * h, (len(STAGE_ORDER) + 1) * int(h * 1.6))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = self.fontMetrics()
        hc = is_high_contrast()
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        if self.hasFocus():
            p.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 2))
            p.drawRect(self.rect().adjusted(1, 1, -1, -1))
        if not self.rows:
            p.setPen(fg)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       "No interaction yet: ask something, then look here.")
            return
        row_h = fm.height() * 1.6
        label_w = max(fm.horizontalAdvance(n) for n in STAGE_ORDER) + fm.height()
        value_w = fm.horizontalAdvance("00000 ms") + fm.height()
        left, right = label_w + 8, self.width() - value_w - 8
        top = fm.height() * 1.8
        t_max = max(e for _, _, e in self.rows) or 1.0
        scale = (right - left) / t_max
        # axis with ticks
        p.setPen(QPen(fg, 1))
        p.drawLine(int(left), int(top - 4), int(right), int(top - 4))
        step = _nice_step(t_max / 5)
        t = 0.0
        while t <= t_max + 1e-6:
            x = left + t * scale
            p.drawLine(int(x), int(top - 8), int(x), int(top - 4))
            label = f"{t:.0f} ms"
            p.drawText(QRectF(x - 40, 0, 80, top - 8), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                       label)
            t += step
        for i, (name, s, e) in enumerate(self.rows):
            y = top + i * row_h
            p.setPen(fg)
            p.drawText(QRectF(4, y, label_w, row_h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
            color = QColor(STAGE_COLORS.get(name, "#888888"))
            if hc:
                color = QColor("#ffff00") if i % 2 == 0 else QColor("#00ffff")
            x0, x1 = left + s * scale, left + e * scale
            bar_h = row_h * 0.6
            by = y + (row_h - bar_h) / 2
            if e - s <= 0.5:
                d = bar_h
                p.setBrush(color)
                p.setPen(Qt.PenStyle.NoPen)
                p.drawPolygon([_pt(x0, by), _pt(x0 + d / 2, by + d / 2), _pt(x0, by + d), _pt(x0 - d / 2, by + d / 2)])
                text = f"@{s:.0f} ms"
            else:
                p.setBrush(color)
                p.setPen(Qt.PenStyle.NoPen)
                p.drawRoundedRect(QRectF(x0, by, max(2.0, x1 - x0), bar_h), 3, 3)
                text = f"{e - s:.0f} ms"
            p.setPen(fg)
            p.drawText(QRectF(right + 8, y, value_w, row_h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                       text)
        p.end()


def _pt(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    import math

    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


COLUMNS = ("Time", "Trigger", "Request", "Final transcript", "Intent", "First audio", "Total")
#: Columns of the timeline's text alternative (one row per stage).
STAGE_COLUMNS = ("Stage", "Start", "End", "Duration")


class LatencyPage(QWidget):
    """Settings page "Latency tracing": the last N traces of the engine's
    :class:`~assistant.trace.TraceRecorder`, a timeline and Chrome JSON export."""

    exported = Signal(str)

    def __init__(self, traces_fn, rows: int = 20, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._traces_fn = traces_fn  # () -> list[Trace], oldest first
        self.max_rows = rows
        self.traces: list[Any] = []
        intro = QLabel("Timings of the most recent interactions, measured from the engine's own events. "
                       "Select one to see its stages; export opens in Perfetto (ui.perfetto.dev) or chrome://tracing.")
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setTabKeyNavigation(False)
        acc(self.table, "Recent interactions", "One row per interaction with its latencies in milliseconds; "
                                                "select a row to show its timeline.")
        self.table.itemSelectionChanged.connect(self._selected)
        self.timeline = TimelineWidget()
        self.stages = QTableWidget(0, len(STAGE_COLUMNS))
        self.stages.setHorizontalHeaderLabels(list(STAGE_COLUMNS))
        self.stages.verticalHeader().setVisible(False)
        self.stages.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.stages.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.stages.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.stages.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stages.setTabKeyNavigation(False)
        acc(self.stages, "Stages", "The timeline as a table: each stage of the selected interaction with its start, "
                                   "end and duration in milliseconds.")
        self.refresh_button = acc(QPushButton("&Refresh"), "Refresh traces", "Reload the list of recent interactions.")
        self.export_button = acc(QPushButton("&Export selected…"), "Export selected trace",
                                 "Save the selected interaction as Chrome trace-event JSON.")
        self.export_all_button = acc(QPushButton("Export a&ll…"), "Export all traces",
                                     "Save every listed interaction as one Chrome trace-event JSON file.")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(lambda: self._export_dialog(selected_only=True))
        self.export_all_button.clicked.connect(lambda: self._export_dialog(selected_only=False))
        self.status = StatusLabel("", "Where the last export was written.", live=True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.export_all_button)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.table, 2)
        stages_row = QHBoxLayout()
        stages_row.addWidget(self.stages, 0)
        stages_row.addWidget(self.timeline, 1)
        lay.addLayout(stages_row, 3)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        self.refresh()

    def refresh(self) -> None:
        """Reload the traces (newest first) and keep the selection on the newest."""
        traces = list(self._traces_fn() or [])[-self.max_rows:]
        self.traces = list(reversed(traces))
        self.table.setRowCount(len(self.traces))
        for row, trace in enumerate(self.traces):
            lat = trace.latency_ms()
            rows = stage_rows(trace)
            total = max((e for _, _, e in rows), default=0.0)
            values = (
                trace_wallclock(trace).strftime("%H:%M:%S"),
                trace_trigger(trace),
                trace_request(trace),
                _ms(lat.get("final_transcript")),
                _ms(lat.get("intent")),
                _ms(lat.get("first_audio")),
                _ms(total),
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{COLUMNS[col]}: {value or 'none'}")
                self.table.setItem(row, col, item)
        enabled = bool(self.traces)
        self.export_button.setEnabled(enabled)
        self.export_all_button.setEnabled(enabled)
        if self.traces:
            self.table.selectRow(0)
        else:
            self._selected()

    def selected_trace(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        if rows and 0 <= rows[0].row() < len(self.traces):
            return self.traces[rows[0].row()]
        return self.traces[0] if self.traces else None

    def _selected(self) -> None:
        trace = self.selected_trace()
        self.timeline.set_trace(trace)
        rows = self.timeline.rows
        self.stages.setRowCount(len(rows))
        for r, (name, s, e) in enumerate(rows):
            for c, value in enumerate((name, f"{s:.0f} ms", f"{e:.0f} ms", f"{e - s:.0f} ms")):
                item = QTableWidgetItem(value)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.stages.setItem(r, c, item)
        # as wide as its columns (no horizontal scrolling); the timeline takes the rest
        header = self.stages.horizontalHeader()
        self.stages.setMinimumWidth(header.length() + 2 * self.stages.frameWidth()
                                    + self.stages.verticalScrollBar().sizeHint().width())

    def export(self, path: str | Path, *, selected_only: bool = True) -> Path:
        """Write Chrome trace-event JSON to ``path``; returns it."""
        path = Path(path)
        traces = [self.selected_trace()] if selected_only else list(reversed(self.traces))
        data = chrome_json([t for t in traces if t is not None])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, default=str))
        self.status.setText(f"Saved {path}")
        self.exported.emit(str(path))
        return path

    def _export_dialog(self, selected_only: bool) -> None:
        trace = self.selected_trace()
        name = f"{trace.interaction}.chrome.json" if (trace is not None and selected_only) else "traces.chrome.json"
        path, _ = QFileDialog.getSaveFileName(self, "Export Chrome trace", str(Path.home() / name),
                                              "Chrome trace JSON (*.json)")
        if path:
            self.export(path, selected_only=selected_only)


def _ms(v: float | None) -> str:
    return "" if v is None else f"{v:.0f} ms"
