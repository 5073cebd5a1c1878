"""Benchmark Piper TTS: load time, time-to-first-audio, real-time factor, memory.

Usage (from the repo root)::

    .venv/bin/python benchmarks/tts_bench.py [--voice joe] [--threads 1] [--busy 0] [--repeat 1]

Prints:
  * import / resolve (checksum) / session load / warm-up times, seconds;
  * TTFA over 24 sentences of ~20 words: time from ``PiperTTS.stream(text)`` to the first
    int16 chunk (one sentence = one ONNX run, so this is the worst case of a one-sentence
    reply), median and p95, ms;
  * RTF = synthesis time / audio duration, median over the same sentences;
  * Speaker TTFA: ``TTSFirstAudio.t - TTSStarted.t`` through :class:`assistant.speaker.Speaker`
    into a sink that discards audio, for two-sentence replies, median / p95 ms;
  * RSS before and after loading the voice, and peak RSS (psutil / getrusage), MB.

``--busy N`` starts N processes spinning on the CPU to imitate ASR/wake-word load on the
2-core machine (DESIGN.md measured 300-400 ms TTFA for 20 words under load).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENTENCES = [
    "The weather today will be mostly sunny with a light breeze from the west and a high of twenty degrees.",
    "Your timer for the pasta has finished, so please take the pot off the stove before it boils over.",
    "I have added milk, eggs, bread and two kinds of cheese to your shopping list for the weekend trip.",
    "The next train to the city centre leaves in twelve minutes from platform three, and it is running on time.",
    "You have three unread messages, one from your sister about dinner and two from the office about the meeting.",
    "It is currently a quarter past seven in the evening, and your alarm is set for six thirty tomorrow morning.",
    "The meeting with the design team has been moved from Tuesday afternoon to Thursday morning at ten o'clock.",
    "Turning off the lights in the living room and the kitchen now, and locking the front door as you asked.",
    "Mount Everest is the highest mountain on Earth, rising about eight thousand eight hundred metres above sea level.",
    "I could not find a song with that name in your library, but I found an album by the same artist.",
    "Your package was delivered this afternoon and left at the back door next to the green recycling bin.",
    "The volume is now set to forty percent, which should be quiet enough for the children to keep sleeping.",
    "Reminder: call the dentist before noon tomorrow to confirm the appointment for next Wednesday at three.",
    "Traffic on the ring road is heavy because of an accident, so the drive to work will take forty minutes.",
    "A kilometre is about zero point six two miles, so ten kilometres is a little more than six miles.",
    "The library closes at eight tonight, and the books you reserved last week are ready to be picked up.",
    "I set a reminder to water the tomatoes every second day at six in the evening until the end of August.",
    "The last time the football club won the league was nineteen years ago, after a very dramatic final match.",
    "There are two hundred and fifty grams of flour in a cup and a half, depending on how tightly it is packed.",
    "Your battery is at fifteen percent, so I recommend plugging in the laptop before the video call starts.",
    "The museum offers free entry on the first Sunday of every month, and guided tours start every hour.",
    "Sunrise tomorrow is at six forty two and sunset is at eight fifteen, giving just over thirteen hours of daylight.",
    "I paused the podcast at thirty four minutes, right where the guest starts talking about her first novel.",
    "The oven has reached two hundred degrees, so you can put the bread in now and bake it for half an hour.",
]


def _spin(stop) -> None:  # pragma: no cover - load generator
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voice", default="joe")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--busy", type=int, default=0, help="CPU-spinning background processes")
    ap.add_argument("--repeat", type=int, default=1, help="passes over the 24 sentences")
    args = ap.parse_args()

    rss0 = rss_mb()
    # assistant.tts imports assistant.audio (for the AudioSink protocol): import it first so
    # the timed import below stays piper + onnxruntime + assistant.tts, as before.
    from assistant.audio import NullSink

    t = time.perf_counter()
    import onnxruntime  # noqa: F401
    import piper  # noqa: F401
    from assistant.events import EventBus, TTSFirstAudio, TTSStarted
    from assistant.speaker import Speaker
    from assistant.tts import PiperTTS
    from models.registry import resolve_tts_voice
    t_import = time.perf_counter() - t

    t = time.perf_counter()
    resolve_tts_voice(args.voice)
    t_resolve = time.perf_counter() - t  # includes the sha256 of the shipped voice (once per process)
    t = time.perf_counter()
    tts = PiperTTS(args.voice, threads=args.threads, warmup=False)
    t_session = time.perf_counter() - t
    rss_loaded = rss_mb()
    t = time.perf_counter()
    tts.synthesize("Ready.")  # what PiperTTS(warmup=True) does
    t_warm = time.perf_counter() - t
    rss1 = rss_mb()
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        ttfa, rtf, words = [], [], []
        for _ in range(args.repeat):
            for s in SENTENCES:
                words.append(len(s.split()))
                t0 = time.perf_counter()
                it = tts.stream(s)
                first = next(it)
                t1 = time.perf_counter()
                n = first.size + sum(c.size for c in it)
                t2 = time.perf_counter()
                ttfa.append((t1 - t0) * 1000)
                rtf.append((t2 - t0) / (n / tts.sample_rate))

        bus = EventBus()
        marks: dict[str, dict[str, float]] = {}
        bus.subscribe(lambda e: marks.setdefault(e.interaction, {}).__setitem__(e.name, e.t), TTSStarted, TTSFirstAudio)
        speaker = Speaker(tts, NullSink(), bus)
        for i in range(0, len(SENTENCES) - 1, 2):
            speaker.say(f"{SENTENCES[i]} {SENTENCES[i + 1]}", interaction=str(i))
        speaker.wait(600)
        speaker.close()
        spk = [(m["TTSFirstAudio"] - m["TTSStarted"]) * 1000 for m in marks.values()]
    finally:
        stop.set()
        for p in spinners:
            p.join(5)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is KiB on Linux

    print(f"voice={args.voice} threads={args.threads} busy={args.busy} cpus={os.cpu_count()} "
          f"onnxruntime={sys.modules['onnxruntime'].__version__}")
    print(f"import piper+onnxruntime   {t_import:6.2f} s")
    print(f"resolve (sha256 of voice)  {t_resolve:6.2f} s")
    print(f"PiperTTS(warmup=False)     {t_session:6.2f} s   (config + ONNX session; checksum cached)")
    print(f"warm-up synthesis          {t_warm:6.2f} s   (first run of the session)")
    print(f"cold total                 {t_import + t_resolve + t_session + t_warm:6.2f} s   (import + resolve + load + warm-up)")
    print(f"sentences                  {len(ttfa)} x {statistics.mean(words):.1f} words (mean)")
    print(f"TTFA stream()  median {statistics.median(ttfa):6.0f} ms   p95 {pct(ttfa, 95):6.0f} ms   max {max(ttfa):6.0f} ms")
    print(f"RTF            median {statistics.median(rtf):6.3f}      p95 {pct(rtf, 95):6.3f}")
    print(f"Speaker TTFA   median {statistics.median(spk):6.0f} ms   p95 {pct(spk, 95):6.0f} ms   (n={len(spk)}, 2-sentence replies)")
    print(f"RSS  start {rss0:5.0f} MB   loaded {rss_loaded:5.0f} MB   after warm-up {rss1:5.0f} MB   "
          f"after bench {rss_mb():5.0f} MB   peak {peak:5.0f} MB")


if __name__ == "__main__":
    main()
