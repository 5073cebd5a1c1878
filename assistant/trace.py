"""Per-interaction latency traces.

A trace is simply the ordered list of bus events of one interaction (DESIGN.md: "latency
tracing is free"). :class:`TraceRecorder` subscribes to the bus, groups events by
``Event.interaction`` and, when an :class:`~assistant.events.InteractionFinished` arrives,
keeps the trace in memory (last ``keep``) and optionally writes it to a folder.

Two export formats:

* our JSON: ``{"interaction", "events": [event.to_dict()...], "latency_ms": {...}}`` with
  times in seconds relative to the first event;
* Chrome trace-event JSON (``{"traceEvents": [...]}``, Trace Event Format, Google 2016,
  ``ph="X"`` complete events with ``ts``/``dur`` in **microseconds**) which opens in
  Perfetto / chrome://tracing: one bar per stage.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path


from assistant.events import (
    ActionFinished,
    ActionStarted,
    AudioLevel,
    Event,
    EventBus,
    FinalTranscript,
    IntentRecognized,
    InteractionFinished,
    InteractionStarted,
    PlaybackFinished,
    SpeechEnded,
    SpeechStarted,
    TTSFirstAudio,
    TTSStarted,
    TraceWritten,
    TurnFinished,
    WakeWordDetected,
)
from assistant.private_files import write_private

log = logging.getLogger(__name__)

#: Stages drawn as bars: (name, start event type, end event type).
STAGES: tuple[tuple[str, type, type], ...] = (
    ("speech", SpeechStarted, SpeechEnded),
    ("asr final", SpeechEnded, FinalTranscript),
    ("nlu", FinalTranscript, IntentRecognized),
    ("action", ActionStarted, ActionFinished),
    ("tts first audio", TTSStarted, TTSFirstAudio),
    ("playback", TTSFirstAudio, PlaybackFinished),
)


@dataclass
class Trace:
    """Events of one interaction, in publication order.

    Attributes:
        interaction: the interaction id.
        events: the events (monotonic ``t`` in seconds).
    """

    interaction: str
    events: list[Event] = field(default_factory=list)

    def first(self, kind: type) -> Event | None:
        """The first event of type ``kind``, or None."""
        return next((e for e in self.events if isinstance(e, kind)), None)

    def last(self, kind: type) -> Event | None:
        """The last event of type ``kind``, or None."""
        return next((e for e in reversed(self.events) if isinstance(e, kind)), None)

    @property
    def t0(self) -> float:
        """Monotonic time of the first event, seconds."""
        return self.events[0].t if self.events else 0.0

    def latency_ms(self) -> dict[str, float]:
        """Key latencies in milliseconds, measured from the endpoint (end of speech) or,
        for typed requests, from the start of the interaction:

        ``final_transcript``, ``intent``, ``first_audio`` (end-of-speech → first reply audio,
        the headline figure), ``asr_decode`` (final decode time) and ``tts_first_audio``
        (TTFA: synthesis start → first audio). Missing stages are left out.
        """
        out: dict[str, float] = {}
        end = self.first(SpeechEnded) or self.first(InteractionStarted)
        if end is None:
            return out
        final = self.first(FinalTranscript)
        intent = self.first(IntentRecognized)
        audio = self.first(TTSFirstAudio)
        tts = self.first(TTSStarted)
        if final is not None:
            out["final_transcript"] = (final.t - end.t) * 1000
            out["asr_decode"] = final.decode_ms  # type: ignore[attr-defined]
        if intent is not None:
            out["intent"] = (intent.t - end.t) * 1000
        if audio is not None:
            out["first_audio"] = (audio.t - end.t) * 1000
        if tts is not None and audio is not None:
            out["tts_first_audio"] = (audio.t - tts.t) * 1000
        return out

    def summary(self) -> str:
        """One line: ``end of speech → final 312 ms → intent 340 ms → first audio 520 ms``."""
        lat = self.latency_ms()
        parts = ["end of speech"]
        for key, label in (("final_transcript", "final"), ("intent", "intent"), ("first_audio", "first audio")):
            if key in lat:
                parts.append(f"{label} {lat[key]:.0f} ms")
        return " → ".join(parts)

    def spans(self) -> list[tuple[str, float, float]]:
        """Stage bars as ``(stage, start_s, end_s)`` relative to :attr:`t0`, seconds."""
        spans: list[tuple[str, float, float]] = []
        wake = self.first(WakeWordDetected)
        if wake is not None:
            spans.append(("wake", wake.t - self.t0, wake.t - self.t0))
        for name, start_kind, end_kind in STAGES:
            start, end = self.first(start_kind), self.last(end_kind)
            if start is not None and end is not None and end.t >= start.t:
                spans.append((name, start.t - self.t0, end.t - self.t0))
        return spans

    def to_json(self) -> dict:
        """Our JSON form: events with ``t`` relative to the first event (seconds)."""
        events = []
        for e in self.events:
            d = e.to_dict()
            d["t"] = round(e.t - self.t0, 6)
            events.append(d)
        return {"interaction": self.interaction, "events": events,
                "latency_ms": {k: round(v, 1) for k, v in self.latency_ms().items()}}

    def to_chrome(self) -> dict:
        """Chrome trace-event JSON: one ``X`` event per stage and one instant (``i``) event
        per engine event; ``ts``/``dur`` in microseconds."""
        pid, tid = 1, 1
        trace_events: list[dict] = [
            {"name": "process_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": "assistant"}},
        ]
        for name, start, end in self.spans():
            trace_events.append({"name": name, "cat": "stage", "ph": "X", "pid": pid, "tid": tid,
                                 "ts": round(start * 1e6, 1), "dur": round(max(end - start, 0) * 1e6, 1)})
        for e in self.events:
            args = {k: v for k, v in e.to_dict().items() if k not in ("t", "type", "interaction")}
            trace_events.append({"name": e.name, "cat": "event", "ph": "i", "s": "t", "pid": pid, "tid": 2,
                                 "ts": round((e.t - self.t0) * 1e6, 1), "args": json.loads(json.dumps(args, default=str))})
        return {"traceEvents": trace_events, "displayTimeUnit": "ms",
                "otherData": {"interaction": self.interaction}}

    def write(self, path: Path, chrome: bool | None = None) -> Path:
        """Write this trace to ``path``. Chrome format if ``chrome`` is True, or if None and
        the name ends in ``.chrome.json``; otherwise our JSON.

        Traces hold transcripts, so the file is private: written atomically with mode 0600
        (:func:`assistant.private_files.write_private`; missing folders are created 0700).

        Raises:
            PrivateWriteError: it could not be written (disk full...).
        """
        path = Path(path)
        if chrome is None:
            chrome = path.name.endswith(".chrome.json")
        return write_private(path, json.dumps(self.to_chrome() if chrome else self.to_json(), indent=1, default=str),
                             what="the trace")


class TraceRecorder:
    """Collects traces from the bus.

    Args:
        bus: the engine's event bus.
        keep: how many finished traces to keep in memory.
        directory: if given, every finished trace is written there as
            ``<interaction>.json`` and ``<interaction>.chrome.json`` (oldest beyond ``keep``
            are deleted).

    When an interaction's :class:`InteractionFinished` arrives its trace is closed, written,
    and announced on the bus as :class:`~assistant.events.TraceWritten` (the one way the UI
    and the CLI learn about finished traces).
    """

    def __init__(self, bus: EventBus, keep: int = 50, directory: Path | None = None) -> None:
        self._lock = threading.Lock()
        self.bus = bus
        self._open: OrderedDict[str, Trace] = OrderedDict()
        self.finished: deque[Trace] = deque(maxlen=keep)
        self.directory = Path(directory) if directory else None
        self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if not event.interaction or isinstance(event, (AudioLevel, TraceWritten, TurnFinished)):
            return
        with self._lock:
            trace = self._open.get(event.interaction)
            if trace is None:
                trace = self._open[event.interaction] = Trace(event.interaction)
                while len(self._open) > 20:  # never grow without bound on abandoned ones
                    self._open.popitem(last=False)
            trace.events.append(event)
            done = isinstance(event, InteractionFinished)
            if done:
                self._open.pop(event.interaction, None)
                self.finished.append(trace)
        if done:
            if self.directory is not None:
                try:
                    self._write(trace)
                except OSError as exc:  # disk full: keep the trace in memory, the turn goes on
                    log.warning("trace %s not written: %s", trace.interaction, exc)
            self.bus.publish(TraceWritten(interaction=trace.interaction, trace=trace))

    def _write(self, trace: Trace) -> None:
        assert self.directory is not None
        trace.write(self.directory / f"{trace.interaction}.json", chrome=False)
        trace.write(self.directory / f"{trace.interaction}.chrome.json", chrome=True)
        files = sorted(self.directory.glob("*.chrome.json"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - (self.finished.maxlen or 50))]:
            old.unlink(missing_ok=True)
            old.with_name(old.name.replace(".chrome.json", ".json")).unlink(missing_ok=True)

    def get(self, interaction: str) -> Trace | None:
        """The finished trace of ``interaction`` (None if unknown or evicted)."""
        with self._lock:
            return next((t for t in reversed(self.finished) if t.interaction == interaction), None)

    def last(self) -> Trace | None:
        """The most recent finished trace."""
        with self._lock:
            return self.finished[-1] if self.finished else None

    def close(self) -> None:
        """Stop recording."""
        self._unsubscribe()
