"""Soak benchmark (a script, not a test): the engine on a loop of recordings for a long time,
with the Rasa server killed at a fixed interval. Fails on growth or on any failed turn.

Usage::

    .venv/bin/python benchmarks/soak.py [--minutes 60] [--kill-every 10] [--warmup 6]
                                        [--sample-every 30] [--max-growth 5] [--fast]

What it does:

* synthesizes a few "Hey Jarvis, <command>" recordings (Piper at two speeds + espeak-ng, as
  ``benchmarks/pipeline_bench.py`` does) and feeds them, in a loop, to the real engine
  (:class:`assistant.pipeline.Assistant`: openWakeWord → Silero VAD → faster-whisper → Rasa →
  skills → Piper into a :class:`~assistant.audio.BufferSink`) through
  ``FileSource(realtime=True)`` so audio arrives at wall-clock speed as from a microphone;
* the first pass over the recordings fixes each recording's expected intent (a recording
  without a turn or intent there is left out, and said so);
* every ``--kill-every`` minutes (from a timer thread, so it may land mid-turn) it SIGKILLs
  the Rasa server, found in this process's tree with psutil (a child whose command line
  runs ``rasa_boot.py run``), not through private attributes. A turn during the restart may
  be answered "One moment." first; it must then still get its intent and reply;
* every ``--sample-every`` seconds it prints RSS (app, Rasa tree, total, MB), open file
  descriptors (app, Rasa tree), threads, Rasa processes, turns and failures.

Exit status: 0 if every turn succeeded and neither the app's RSS, the total RSS (app + Rasa)
nor the app's or the total open file descriptors grew by more than ``--max-growth`` percent
(default 5); 1 otherwise (the reasons are printed). Growth compares the *floor* (minimum) of
the first fifth of the steady samples after the warm-up with the floor of the last fifth (at
least three samples each): RSS swings by ~10 % within a turn (ASR and TTS buffers), while a
leak raises the floor. A turn fails
if it produced no interaction, an error, an empty reply, or an intent other than the one
its recording had on the first pass. A sample is *steady* unless it falls between a Rasa
kill and 15 s after the first turn that succeeded after it (Rasa restarting and loading its
model is not growth or shrinkage).

Config and data folders are temporary (``ASSISTANT_CONFIG_DIR`` / ``ASSISTANT_DATA_DIR``),
so the user's notes, timers and settings are not touched; the trained Rasa model cache
(``.cache``) is shared.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_env  # noqa: E402

_HOME = bench_env.isolate("soak")

import psutil  # noqa: E402

#: Commands looped over; a timer that is set is cancelled two turns later, so none fires.
COMMANDS = [
    "What time is it?", "What's the date today?", "Set a timer for five minutes.",
    "What day of the week is it?", "Cancel the timer.", "Tell me the time.", "Order me a pizza.",
]


def rasa_servers() -> list[psutil.Process]:
    """The Rasa server processes in this process's tree: children whose command line runs
    ``rasa_boot.py run`` (training runs, ``rasa_boot.py train``, are not included)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if any(c.endswith("rasa_boot.py") for c in cmd) and "run" in cmd:
            # the top of a server's own tree only
            try:
                parent_cmd = p.parent().cmdline() if p.parent() else []
            except psutil.Error:
                parent_cmd = []
            if not (any(c.endswith("rasa_boot.py") for c in parent_cmd) and "run" in parent_cmd):
                out.append(p)
    return out


@dataclass
class Sample:
    """One measurement. Times in seconds since the start, sizes in bytes."""

    t: float
    turns: int
    failures: int
    app_rss: int
    rasa_rss: int
    app_fds: int
    rasa_fds: int
    threads: int
    rasa_procs: int

    @property
    def total_rss(self) -> int:
        """App + Rasa RSS, bytes."""
        return self.app_rss + self.rasa_rss

    @property
    def total_fds(self) -> int:
        """App + Rasa open file descriptors."""
        return self.app_fds + self.rasa_fds


def measure(t: float, turns: int, failures: int) -> Sample:
    """RSS and open fds of this process and of every Rasa server tree in it."""
    me = psutil.Process()
    rasa_rss = rasa_fds = 0
    servers = rasa_servers()
    for server in servers:
        for p in [server, *server.children(recursive=True)]:
            try:
                rasa_rss += p.memory_info().rss
                rasa_fds += p.num_fds()
            except psutil.Error:
                pass
    return Sample(t, turns, failures, me.memory_info().rss, rasa_rss, me.num_fds(), rasa_fds, me.num_threads(),
                  len(servers))


def fmt(s: Sample) -> str:
    """One line of the time series."""
    mb = 2 ** 20
    return (f"{s.t / 60:7.1f} min  turns {s.turns:4d}  failures {s.failures:2d}  "
            f"RSS app {s.app_rss / mb:6.0f} MB  Rasa {s.rasa_rss / mb:6.0f} MB  total {s.total_rss / mb:6.0f} MB  "
            f"fds app {s.app_fds:4d}  Rasa {s.rasa_fds:4d}  threads {s.threads:3d}  Rasa procs {s.rasa_procs}")


@dataclass
class Tally:
    """Turn outcomes."""

    turns: int = 0
    failures: list[str] = field(default_factory=list)
    one_moment: int = 0
    kills: int = 0


def growth(before: float, after: float) -> float:
    """Relative growth in percent (0 if ``before`` is 0)."""
    return (after - before) / before * 100 if before else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60, help="how long to run (README: 60)")
    ap.add_argument("--kill-every", type=float, default=10, help="kill the Rasa server every N minutes (0: never)")
    ap.add_argument("--warmup", type=float, default=None,
                    help="minutes before the growth baseline is taken (default: 10%% of --minutes, at least 1)")
    ap.add_argument("--sample-every", type=float, default=30, help="seconds between samples")
    ap.add_argument("--max-growth", type=float, default=5.0, help="allowed growth after warm-up, percent")
    ap.add_argument("--asr-model", default="base")
    ap.add_argument("--fast", action="store_true", help="feed recordings as fast as possible, not in real time")
    args = ap.parse_args()
    warmup_s = 60 * (args.warmup if args.warmup is not None else max(1.0, args.minutes * 0.1))

    from audio_factory import concat, espeak_say, piper_say

    from assistant.audio import BufferSink, FileSource
    from assistant.events import EventBus, TTSStarted
    from assistant.pipeline import Assistant
    from assistant.settings import Settings

    tmp = _HOME / "recordings"
    print(f"soak: {args.minutes:g} min, Rasa killed every {args.kill_every:g} min, warm-up {warmup_s / 60:g} min, "
          f"samples every {args.sample_every:g} s, max growth {args.max_growth:g} %; folders in {_HOME}", flush=True)
    files: list[Path] = []
    for i, text in enumerate(COMMANDS):
        scale = (0.9, 1.1, None)[i % 3]
        wake = piper_say("Hey Jarvis", tmp / f"wake_{i}.wav", length_scale=scale or 1.0)
        cmd = (espeak_say(text, tmp / f"cmd_{i}.wav", voice="en-us", speed=155) if scale is None
               else piper_say(text, tmp / f"cmd_{i}.wav", length_scale=scale))
        files.append(concat([wake, cmd], tmp / f"c{i}.wav", gap_s=0.35))

    settings = Settings()
    settings.asr.model = args.asr_model
    settings.trace.directory = str(_HOME / "traces")
    bus = EventBus()
    app = Assistant(settings, bus, sink=BufferSink())
    t0 = time.monotonic()
    app.start()
    print(f"cold start to ready: {time.monotonic() - t0:.1f} s", flush=True)
    spoken: list[str] = []
    bus.subscribe(lambda e: spoken.append(e.text), TTSStarted)

    def turn(f: Path):
        src = FileSource(f, block_ms=settings.audio.block_ms, realtime=not args.fast, pad_silence_s=1.5)
        try:
            results = app.run(src, sync_turns=True)
        finally:
            src.close()
        if results and results[0].expects_answer:  # leave no dialogue open
            app.handle_text("never mind")
        app.wait_idle(120)
        return results[0] if results else None

    # first pass: each recording's expected intent
    expected: dict[Path, str] = {}
    for f, text in zip(files, COMMANDS):
        r = turn(f)
        if r is None or not r.intent or r.error or not r.reply:
            print(f"  left out {text!r}: no usable turn on the first pass ({r})", flush=True)
            continue
        expected[f] = r.intent
        print(f"  {text!r:36} → {r.intent}", flush=True)
    if not expected:
        print("FAIL: no recording gave a turn", flush=True)
        return 1

    tally = Tally()
    samples: list[Sample] = []
    kill_times: list[float] = []  # seconds since start
    success_times: list[float] = []  # end of each successful turn, seconds since start
    start = time.monotonic()
    end = start + args.minutes * 60
    next_kill = start + args.kill_every * 60 if args.kill_every > 0 else float("inf")
    next_sample = start
    stop_sampling = threading.Event()

    def kill_rasa() -> None:
        servers = rasa_servers()
        for p in servers:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        tally.kills += 1
        kill_times.append(time.monotonic() - start)
        print(f"{kill_times[-1] / 60:7.1f} min  killed Rasa (pid "
              f"{', '.join(str(p.pid) for p in servers) or 'none found'})", flush=True)

    def sampler() -> None:
        nonlocal next_sample, next_kill
        while not stop_sampling.is_set():
            now = time.monotonic()
            if now >= next_kill and now < end - 5:
                kill_rasa()
                next_kill += args.kill_every * 60
            if now >= next_sample:
                s = measure(now - start, tally.turns, len(tally.failures))
                samples.append(s)
                print(fmt(s), flush=True)
                next_sample += args.sample_every
            stop_sampling.wait(0.2)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    order = [f for f in files if f in expected]
    i = 0
    while time.monotonic() < end:
        f = order[i % len(order)]
        i += 1
        spoken.clear()
        try:
            r = turn(f)
        except Exception as exc:  # a crash of the engine is a failed turn, not the end of the soak
            r, why = None, f"{type(exc).__name__}: {exc}"
        else:
            why = ""
        tally.turns += 1
        said = " | ".join(spoken)
        if any("one moment" in s.lower() for s in spoken):
            tally.one_moment += 1
        if r is None:
            why = why or "no interaction"
        elif r.error:
            why = f"error: {r.error}"
        elif not r.reply:
            why = "empty reply"
        elif r.intent != expected[f]:
            why = f"intent {r.intent!r}, expected {expected[f]!r}"
        if not why:
            success_times.append(time.monotonic() - start)
        if why:
            tally.failures.append(f"turn {tally.turns} ({f.name}): {why}; said: {said!r}")
            print(f"  FAILED {tally.failures[-1]}", flush=True)
    stop_sampling.set()
    th.join()
    samples.append(measure(time.monotonic() - start, tally.turns, len(tally.failures)))
    print(fmt(samples[-1]), flush=True)
    app.close()
    time.sleep(1)
    leftover = rasa_servers()

    def steady(s: Sample) -> bool:
        kills = [k for k in kill_times if k <= s.t]
        if s.rasa_procs != 1:
            return False
        if not kills:
            return True
        return any(kills[-1] < ok and ok + 15 <= s.t for ok in success_times)

    after = [s for s in samples if s.t >= warmup_s and steady(s)]
    problems = list(tally.failures)
    mb = 2 ** 20
    print()
    print(f"turns {tally.turns}, failures {len(tally.failures)}, Rasa kills {tally.kills}, "
          f"turns answered 'One moment.' first {tally.one_moment}")
    if len(after) < 4:
        problems.append(f"only {len(after)} steady samples after the warm-up: run longer or sample more often")
    else:
        k = max(3, len(after) // 5)
        base, last = after[:k], after[-k:]
        for name, get, unit in (("app RSS", lambda s: s.app_rss / mb, "MB"),
                                ("total RSS (app + Rasa)", lambda s: s.total_rss / mb, "MB"),
                                ("app open fds", lambda s: s.app_fds, ""),
                                ("total open fds (app + Rasa)", lambda s: s.total_fds, "")):
            b, e = min(map(get, base)), min(map(get, last))
            g = growth(b, e)
            print(f"{name:28} floor after warm-up {b:8.1f} {unit:2} → at the end {e:8.1f} {unit:2} ({g:+.1f} %)")
            if g > args.max_growth:
                problems.append(f"{name} grew {g:.1f} % (> {args.max_growth:g} %)")
    first = samples[0]
    print(f"RSS at start: app {first.app_rss / mb:.0f} MB, Rasa {first.rasa_rss / mb:.0f} MB; "
          f"at end: app {samples[-1].app_rss / mb:.0f} MB, Rasa {samples[-1].rasa_rss / mb:.0f} MB; "
          f"fds at start {first.app_fds} + {first.rasa_fds}, at end {samples[-1].app_fds} + {samples[-1].rasa_fds}")
    if leftover:
        problems.append(f"Rasa server still running after close: pids {[p.pid for p in leftover]}")
    print(f"samples: {len(samples)} ({len(after)} steady after the warm-up)")
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems), flush=True)
        return 1
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
