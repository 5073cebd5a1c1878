"""End-to-end pipeline benchmark (a script, not a test). Prints medians and p95s.

Usage::

    .venv/bin/python benchmarks/pipeline_bench.py [--n 40] [--asr-model base] [--no-early-end] [--no-domain-pass] [--asr-window 15]
    .venv/bin/python benchmarks/pipeline_bench.py --n 30 --ab asr.partial_after_s=0   # paired: defaults vs one change

Figures printed:

* cold start to ready (models loaded, Rasa trained model cached, Rasa server healthy), s;
* over N synthetic "Hey Jarvis, <command>" recordings (Piper at three speeds + espeak-ng),
  fed through ``FileSource(realtime=True)`` so audio arrives at wall-clock speed as from a
  microphone: end of speech → final transcript / intent / first reply audio, p50 and p95 ms;
  **last word → endpoint / final transcript / intent / first reply audio** (what the user
  waits), p50 and p95 ms, and the share of turns ended early (semantic endpointing);
  ASR real-time factor of the final decode; TTS time to first audio (TTFA);
* idle CPU of the wake listener: process CPU time / wall time while 30 s of speech without
  the wake word streams in real time, % of one core;
* peak RSS of the app process and of the Rasa server (process tree), MB.

"End of speech" is the endpoint event (the VAD's end-of-speech silence has elapsed, or a
complete command's shorter silence), as in Home Assistant's assist pipeline; "first audio" is
the first synthesized chunk handed to the audio sink. "Last word" is where the command's
speech ends in the recording (the last 10 ms frame within 30 dB of the loudest; the clips are
synthesized, so the tail is digital silence), put on the wall clock of the real-time source:
``FileSource`` yields block *i* at ``started_at + i·block`` where a microphone would deliver it
one block later, so the last word is dated ``started_at − block + offset`` (the wait includes
one block of capture, as with a microphone). The machine's load average is printed before and
after: compare runs made under the same load. Two separate runs of the same code here differ by
up to ~150 ms at p50 (the shared VM's speed drifts: the ASR real-time factor printed at the end
moved 0.080 → 0.117 between two runs), so compare settings with ``--ab``: every recording is
run with both, in alternating order, and the median of the per-recording differences is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_env  # noqa: E402

bench_env.isolate("pipeline-bench")  # never the user's reminders, notes or settings
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

COMMANDS = [
    "What time is it?", "What's the date today?", "What day of the week is it?", "Tell me the time.",
    "Set a timer for five minutes.", "Set a timer for ten seconds.", "Cancel the timer.",
    "What is the time right now?", "Which day is it today?", "Start a timer for two minutes.",
    "Never mind.", "Order me a pizza.", "Set a pasta timer for eight minutes.", "What is twelve times seven?",
    "Turn the volume up.", "Remind me to call mom in ten minutes.",
]


#: Settings applied when the models load: ``--ab`` cannot switch them between two turns.
LOAD_TIME_SETTINGS = frozenset({"asr.model", "asr.window_s", "asr.cpu_threads", "asr.compute_type", "asr.language",
                                "tts.voice"})


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (0–100) of xs (linear interpolation)."""
    return float(np.percentile(np.asarray(xs, dtype=float), q)) if xs else float("nan")


class PeakRSS:
    """Samples RSS of this process and of the Rasa process tree every 50 ms."""

    def __init__(self) -> None:
        self.app = 0
        self.rasa = 0
        self.rasa_pid: int | None = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.05):
            self.app = max(self.app, me.memory_info().rss)
            if self.rasa_pid:
                try:
                    p = psutil.Process(self.rasa_pid)
                    self.rasa = max(self.rasa, sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]))
                except psutil.Error:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


def leave_idle(app, r) -> None:
    """After turn ``r``: close an open dialogue and cancel timers, then wait until idle."""
    if r.expects_answer:  # leave no dialogue open for the next command
        app.handle_text("never mind")
    if r.intent == "timer__set_timer":  # a 10 s timer ringing during a later command hides its wake word
        app.handle_text("cancel all timers")
    app.wait_idle()


def last_word_s(audio: np.ndarray) -> float:
    """Where speech ends in ``audio`` (int16 16 kHz mono), seconds: the end of the last
    10 ms frame whose RMS is within 30 dB of the loudest frame's."""
    n = 160
    frames = audio[: len(audio) // n * n].astype(np.float32).reshape(-1, n)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    loud = np.nonzero(rms >= rms.max() * 10 ** (-30 / 20))[0]
    return float((loud[-1] + 1) * n / 16000) if len(loud) else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="number of commands (≥ 20)")
    ap.add_argument("--no-early-end", action="store_true",
                    help="switch semantic endpointing off (vad.early_end_silence_ms = 0) to compare")
    ap.add_argument("--asr-model", default="base")
    ap.add_argument("--asr-window", type=float, default=None,
                    help="the commands' shortest Whisper encoder window, seconds (asr.window_s; default 15)")
    ap.add_argument("--asr-threads", type=int, default=None,
                    help="CTranslate2 intra-op threads of the Whisper decodes (asr.cpu_threads; default 0 = automatic)")
    ap.add_argument("--no-partials", action="store_true",
                    help="no partial transcripts while the user speaks (asr.partials = false) to compare")
    ap.add_argument("--no-domain-pass", action="store_true",
                    help="switch the ASR's domain pass off (asr.domain_pass = false) to compare")
    ap.add_argument("--no-realtime", action="store_true", help="feed recordings as fast as possible")
    ap.add_argument("--ab", metavar="SECTION.KEY=VALUE", default=None,
                    help="paired comparison: run every recording twice, with the settings as given (A) and with "
                         "this one setting changed (B), in alternating order; the main figures are A's, then B's "
                         "and the per-recording differences B − A are printed (robust to the machine's drift). "
                         "Only settings read per turn (asr.partials, asr.partial_after_s, asr.domain_pass, "
                         "asr.domain_beam_size, asr.domain_pass_explained, asr.first_pass_hotwords, vad.*), not those "
                         "applied when the models load (asr.model, asr.window_s, asr.cpu_threads, asr.compute_type)")
    ap.add_argument("--timeline", action="store_true",
                    help="print each interaction's events in ms relative to the endpoint")
    args = ap.parse_args()
    if args.ab and (args.ab.partition("=")[0] in LOAD_TIME_SETTINGS or "=" not in args.ab):
        ap.error(f"--ab {args.ab}: give SECTION.KEY=VALUE of a setting read per turn (not one applied when the "
                 "models load); compare two runs for those")

    from audio_factory import concat, espeak_say, piper_say

    from assistant.audio import BufferSink, FileSource
    from assistant.events import EventBus
    from assistant.pipeline import Assistant
    from assistant.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    print(f"synthesizing {args.n} commands …", flush=True)
    files = []
    for i in range(args.n):
        text = COMMANDS[i % len(COMMANDS)]
        scale = (0.9, 1.0, 1.2, None)[i % 4]
        wake = piper_say("Hey Jarvis", tmp / f"wake_{i}.wav", length_scale=scale or 1.0)
        if scale is None:
            cmd = espeak_say(text, tmp / f"cmd_{i}.wav", voice="en-us", speed=155)
        else:
            cmd = piper_say(text, tmp / f"cmd_{i}.wav", length_scale=scale)
        files.append(concat([wake, cmd], tmp / f"c{i}.wav", gap_s=0.35))

    rss = PeakRSS()
    settings = Settings()
    settings.asr.model = args.asr_model
    if args.asr_window is not None:
        settings.asr.window_s = args.asr_window
    settings.asr.domain_pass = not args.no_domain_pass
    settings.asr.partials = not args.no_partials
    if args.asr_threads is not None:
        settings.asr.cpu_threads = args.asr_threads
    if args.no_early_end:
        settings.vad.early_end_silence_ms = 0
    load0 = os.getloadavg()[0]
    settings.trace.directory = str(tmp / "traces")
    app = Assistant(settings, EventBus(), sink=BufferSink())
    t0 = time.monotonic()
    app.start()
    cold = time.monotonic() - t0
    rss.rasa_pid = app.nlu.pid
    print(f"cold start to ready: {cold:.1f} s", flush=True)

    first_audio, final, intent, rtf, ttfa, missed = [], [], [], [], [], 0
    from assistant.events import FinalTranscript, IntentRecognized, SpeechEnded, TTSFirstAudio

    waits: dict[str, list[float]] = {"endpoint": [], "final": [], "intent": [], "first_audio": []}
    early = 0
    jobs = [(i, f, "A") for i, f in enumerate(files)]
    if args.ab:  # each recording twice, A then B or B then A, so drift hits both arms alike
        key, _, value = args.ab.partition("=")
        section, _, field = key.partition(".")
        target = getattr(app.settings, section)
        a_value = getattr(target, field)
        b_value = type(a_value)(value) if not isinstance(a_value, bool) else value.lower() in ("1", "true", "on")
        jobs = [(i, f, arm) for i, f in enumerate(files) for arm in (("A", "B") if i % 2 == 0 else ("B", "A"))]
    paired: dict[tuple[int, str], dict[str, float]] = {}
    for i, f, arm in jobs:
        if args.ab:
            setattr(target, field, b_value if arm == "B" else a_value)
        src = FileSource(f, block_ms=settings.audio.block_ms, realtime=not args.no_realtime, pad_silence_s=1.5)
        results = app.run(src, sync_turns=True)
        src.close()
        heard = bool(results and results[0].trace is not None and results[0].transcript.strip())
        turn: dict[str, float] = {}  # last word → each stage, ms
        if heard and not args.no_realtime:
            tr = results[0].trace
            t_word = src.started_at - settings.audio.block_ms / 1000 + last_word_s(src.audio)
            turn = {key: (ev.t - t_word) * 1000 for key, ev_type in (
                ("endpoint", SpeechEnded), ("final", FinalTranscript), ("intent", IntentRecognized),
                ("first_audio", TTSFirstAudio)) if (ev := tr.first(ev_type)) is not None}
            paired[(i, arm)] = turn
            if arm == "B":  # only A's turns go into the main figures
                print(f"  {i:2d} B {results[0].transcript!r:43.43} last word → first audio "
                      f"{turn.get('first_audio', float('nan')):.0f} ms", flush=True)
                leave_idle(app, results[0])
                continue
            for key, ms in turn.items():
                waits[key].append(ms)
            end = tr.first(SpeechEnded)
            early += bool(end is not None and end.early)
        if not heard:  # no interaction, or one that heard nothing (the command was missed)
            missed += 1
            print(f"  {i:2d} no interaction with a transcript (wake word or command missed)", flush=True)
            if results and results[0].expects_answer:
                app.handle_text("never mind")
            app.wait_idle()
            continue
        r = results[0]
        lat = r.trace.latency_ms()
        if "first_audio" in lat:
            first_audio.append(lat["first_audio"])
        if "final_transcript" in lat:
            final.append(lat["final_transcript"])
        if "intent" in lat:
            intent.append(lat["intent"])
        if "tts_first_audio" in lat:
            ttfa.append(lat["tts_first_audio"])
        lw = f"; last word → first audio {turn['first_audio']:.0f} ms" if "first_audio" in turn else ""
        print(f"  {i:2d} {r.transcript!r:45.45} {r.intent:22s} {r.trace.summary()}{lw}", flush=True)
        if args.timeline:
            from assistant.events import SpeechEnded

            end = r.trace.first(SpeechEnded)
            for ev in r.trace.events:
                extra = getattr(ev, "decode_ms", None)
                print(f"       {(ev.t - end.t) * 1000 if end else 0:+8.0f} ms  {type(ev).__name__}"
                      + (f" decode {extra:.0f} ms" if extra is not None else ""), flush=True)
        leave_idle(app, r)

    # ASR real-time factor of the decode that becomes the final transcript: the whole
    # command once, with the first pass's hotwords (none by default) and without the word-alignment pass, as the
    # speculative final decode runs it (the final event itself reports 0 ms when it reuses
    # that decode).
    from assistant.audio import read_audio
    from assistant.components import first_pass_hotwords

    for f in files:
        audio = read_audio(f)
        res = app.asr.transcribe(audio, hotwords=list(first_pass_hotwords(settings.asr, app.hotwords)) or None,
                                 word_timestamps=False)
        rtf.append(res.decode_ms / 1000 / (len(audio) / 16000))

    # idle listening: speech without the wake word, streamed in real time. The RSS sampler
    # (psutil walks the Rasa process tree every 50 ms) is stopped so that it is not counted.
    rss.stop()
    src = FileSource(ROOT / "tests/data/turn_on_the_office_lights_test_clip.wav", realtime=True, pad_silence_s=0)
    proc = psutil.Process()
    c0, w0 = sum(proc.cpu_times()[:2]), time.monotonic()
    app.run(src)
    cpu = (sum(proc.cpu_times()[:2]) - c0) / (time.monotonic() - w0) * 100
    src.close()
    app.close()

    print()
    print(f"ASR model: {args.asr_model}; domain pass {'on' if settings.asr.domain_pass else 'off'}; "
          f"encoder window {settings.asr.window_s:g} s; partials {'on' if settings.asr.partials else 'off'}; ASR threads {app.asr.cpu_threads}; early end {settings.vad.early_end_silence_ms or 'off'}"
          f"{' ms' if settings.vad.early_end_silence_ms else ''}; commands: {len(files)} ({missed} without an interaction)")
    print(f"load average (1 min): {load0:.2f} at start, {os.getloadavg()[0]:.2f} at the end; {os.cpu_count()} cores")
    for key, label in (("endpoint", "endpoint"), ("final", "final transcript"), ("intent", "intent"),
                       ("first_audio", "first reply audio")):
        xs = waits[key]
        print(f"last word → {label + ':':<19} p50 {pct(xs, 50):.0f} ms   p95 {pct(xs, 95):.0f} ms   (n {len(xs)})")
    print(f"turns ended early (semantic endpointing): {early} of {len(waits['endpoint'])}")
    print(f"cold start to ready:                 {cold:.1f} s")
    print(f"end of speech → final transcript:    p50 {pct(final, 50):.0f} ms   p95 {pct(final, 95):.0f} ms")
    print(f"end of speech → intent:              p50 {pct(intent, 50):.0f} ms   p95 {pct(intent, 95):.0f} ms")
    print(f"end of speech → first reply audio:   p50 {pct(first_audio, 50):.0f} ms   p95 {pct(first_audio, 95):.0f} ms")
    print(f"ASR real-time factor (whole command): median {statistics.median(rtf) if rtf else float('nan'):.3f}")
    print(f"TTS time to first audio:             p50 {pct(ttfa, 50):.0f} ms   p95 {pct(ttfa, 95):.0f} ms")
    print(f"idle wake listening CPU:             {cpu:.1f} % of one core")
    print(f"peak RSS: app {rss.app / 2**20:.0f} MB, Rasa {rss.rasa / 2**20:.0f} MB")
    if args.ab:
        both = [i for i in range(len(files)) if "first_audio" in paired.get((i, "A"), {})
                and "first_audio" in paired.get((i, "B"), {})]
        print(f"\npaired comparison: A = {args.ab.partition('=')[0]} {a_value!r}, B = {b_value!r}; "
              f"{len(both)} recordings heard in both arms")
        for k, label in (("endpoint", "endpoint"), ("first_audio", "first reply audio")):
            a = [paired[(i, "A")][k] for i in both]
            b = [paired[(i, "B")][k] for i in both]
            d = [y - x for x, y in zip(a, b)]
            print(f"last word → {label + ':':<19} A p50 {pct(a, 50):.0f} / p95 {pct(a, 95):.0f} ms, "
                  f"B p50 {pct(b, 50):.0f} / p95 {pct(b, 95):.0f} ms; B − A median {pct(d, 50):+.0f} ms "
                  f"(B faster in {sum(x < 0 for x in d)} of {len(d)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
