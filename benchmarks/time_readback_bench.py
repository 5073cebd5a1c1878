"""How well a spoken clock answer survives the trip back through the ASR.

Usage (from the repo root)::

    .venv/bin/python benchmarks/time_readback_bench.py [--hours 0 5 9 12 15 18 21] [--trials 1]

For every hour given and every minute 0–59, the clock skill's answer is spoken by the shipped
Piper voice (with its normal sampling noise, as the app speaks) in two styles — "It's 5:18
AM." and "It's 5:18 in the morning." (what ``skills.clock.spoken_time`` says now) — and
transcribed by Whisper base (the app's ASR, beam 1, English). An answer counts as heard
right when the transcript holds the same hour and minute, written with any separator
("5:18", "5.18", "5-18", "5 18", "518"). Prints the error rate of each style and the misheard
transcripts.

This is a proxy for intelligibility to a person, not a measure of it: Whisper fails on the
Piper voice in ways a listener may not (it merges "eight" into a following "A.M."). It is
what decided the clock's wording, and it is what the end-to-end tests' "reply transcribed
back contains the current time" check depends on.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.asr import WhisperASR  # noqa: E402
from assistant.audio import resample  # noqa: E402
from assistant.tts import PiperTTS  # noqa: E402
from skills.clock import spoken_time  # noqa: E402



def heard_time(text: str, hour: int, minute: int) -> bool:
    """True if ``text`` contains ``hour`` (1–12) and ``minute`` with any separator, also
    Whisper's digit-by-digit "5-0-2" for 5:02."""
    squashed = re.sub(r"(?<=\d)[\s:.\-]+(?=\d)", "", text)  # "5-0-2" / "5.18" / "5 18" → "502" / "518"
    return re.search(rf"(?<!\d){hour}{minute:02d}(?!\d)", squashed) is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=int, nargs="+", default=[0, 5, 9, 12, 15, 18, 21], help="hours 0–23")
    ap.add_argument("--trials", type=int, default=1, help="syntheses per time (Piper noise differs each)")
    args = ap.parse_args()

    tts = PiperTTS("joe")
    asr = WhisperASR("base")
    styles = {
        "AM/PM": lambda t: f"It's {t.hour % 12 or 12}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}.",
        "in the morning": lambda t: f"It's {spoken_time(t)}.",
    }
    t0 = time.monotonic()
    for name, fmt in styles.items():
        bad: list[tuple[str, str]] = []
        n = 0
        for hour in args.hours:
            for minute in range(60):
                t = datetime(2026, 12, 2, hour, minute)
                text = fmt(t)
                for _ in range(args.trials):
                    audio = tts.synthesize(text)
                    x = resample(audio, tts.sample_rate, 16000)
                    x = np.concatenate([np.zeros(8000, np.int16), x, np.zeros(8000, np.int16)])
                    heard = asr.transcribe(x).text
                    n += 1
                    if not heard_time(heard, t.hour % 12 or 12, t.minute):
                        bad.append((text, heard))
        print(f"{name:16s} misheard {len(bad):3d} / {n} = {100.0 * len(bad) / n:4.1f} %")
        for text, heard in bad:
            print(f"    {text!r:40s} → {heard!r}")
    print(f"({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
