"""Benchmark the wake-word listener's CPU with and without its idle gate.

Usage (from the repo root)::

    .venv/bin/python benchmarks/wake_cpu_bench.py [--repeat 5] [--idle-s 60] [--model hey_jarvis]

For each scenario the audio is fed to :class:`assistant.wake.WakeWordDetector` in 80 ms
blocks as fast as it goes; the figure is process CPU time (``time.process_time``: user +
system of all threads) / audio duration, in % of one core, median (and min–max) over
``--repeat`` runs, gate off and on. Scenarios:

* idle: digital silence; a quiet room (pink noise at -65 dBFS plus white at -75 dBFS); a
  steady fan (pink noise at -40 dBFS) — each ``--idle-s`` seconds, seeded;
* continuous speech without the wake word, back to back (no pauses beyond the recordings'
  own): the real recordings in ``tests/data`` (the 34.5 s office-lights review, the loch
  sentence, JFK, "Hey Jane ...") and sentences from Piper (joe, 3 speeds) and espeak-ng
  (2 voices), about 100 s in all.

The machine's load average and system-wide CPU use during the run are printed alongside
(2-core machine shared with other jobs: CPU time per audio second rises under load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SR = 16000
SENTENCES = [
    "The weather today will be mostly sunny with a light breeze from the west.",
    "Please remind me to call the plumber tomorrow morning before nine.",
    "I think the meeting was moved to Thursday afternoon, but check the calendar.",
    "Turn the kitchen lights down a little and play some quiet music.",
]


def _noise(kind: str, seconds: float, dbfs: float, seed: int) -> np.ndarray:
    n = int(seconds * SR)
    w = np.random.default_rng(seed).standard_normal(n)
    if kind == "pink":
        spec = np.fft.rfft(w)
        f = np.arange(len(spec), dtype=float)
        f[0] = 1.0
        w = np.fft.irfft(spec / np.sqrt(f), n)
    return w / np.sqrt(np.mean(w**2)) * 32768 * 10 ** (dbfs / 20)


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def scenarios(idle_s: float) -> dict[str, np.ndarray]:
    """name -> int16 16 kHz audio."""
    from assistant.audio import read_audio
    from audio_factory import espeak_say, piper_say, read_16k

    data = ROOT / "tests" / "data"
    out = {
        "silence (digital)": np.zeros(int(idle_s * SR), np.int16),
        "quiet room (-65 dBFS pink + -75 white)": _int16(_noise("pink", idle_s, -65, 1) + _noise("white", idle_s, -75, 2)),
        "steady fan (-40 dBFS pink)": _int16(_noise("pink", idle_s, -40, 3)),
    }
    parts = [read_audio(data / n) for n in ("turn_on_the_office_lights_test_clip.wav", "negative_reference.wav", "jfk.flac", "hey_jane.wav")]
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(SENTENCES):
            for ls in (0.8, 1.0, 1.25):
                parts.append(read_16k(piper_say(text, Path(tmp) / f"p{i}{ls}.wav", length_scale=ls)))
            for v in ("en-us", "en-gb+f3"):
                parts.append(read_16k(espeak_say(text, Path(tmp) / f"e{i}{v}.wav", voice=v, speed=165)))
    out["continuous speech (real + Piper + espeak)"] = np.concatenate(parts)
    return out


def cpu_percent(det, x: np.ndarray) -> float:
    """Process CPU % of one core to run ``det`` over ``x`` in 80 ms blocks."""
    det.reset()
    t0 = time.process_time()
    for i in range(0, len(x) - 1279, 1280):
        det.process(x[i : i + 1280])
    return 100.0 * (time.process_time() - t0) / (len(x) / SR)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--idle-s", type=float, default=60.0)
    ap.add_argument("--model", default="hey_jarvis")
    args = ap.parse_args()

    import psutil

    from assistant.wake import WakeWordDetector

    audio = scenarios(args.idle_s)
    dets = {"off": WakeWordDetector(args.model, gate=False), "on": WakeWordDetector(args.model)}
    load0 = os.getloadavg()
    psutil.cpu_percent(None)
    print(f"model {args.model}; repeats {args.repeat}; CPU = process CPU time / audio time, % of one core")
    print(f"{'scenario':44s} {'s':>6s}  {'gate off: median (min-max)':>28s}  {'gate on: median (min-max)':>28s}  skipped")
    for name, x in audio.items():
        res = {}
        for key, det in dets.items():
            runs = [cpu_percent(det, x) for _ in range(args.repeat)]
            res[key] = f"{statistics.median(runs):5.2f} % ({min(runs):.2f}-{max(runs):.2f})"
        g = dets["on"].gate
        frames = len(x) // 1280
        print(f"{name:44s} {len(x) / SR:6.1f}  {res['off']:>28s}  {res['on']:>28s}  {100 * g.skipped / frames:5.1f} %")
    print(f"machine: {os.cpu_count()} cores; load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"system-wide CPU during the run {psutil.cpu_percent(None):.0f} %")
    for d in dets.values():
        d.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
