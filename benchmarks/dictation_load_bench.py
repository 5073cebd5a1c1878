"""Dictation behind a slow decode: does the typed text depend on how far the worker lags?

On a loaded machine the dictation worker (:meth:`assistant.dictation.session.DictationSession.step`)
falls behind the microphone: while one Whisper decode runs, seconds of audio queue up. The text
typed must not depend on that. This benchmark emulates it offline, so the figures do not
depend on how busy this machine is: the dictation of ``tests/test_dictation_live.py`` (Piper,
1.5 s pauses between phrases, spoken punctuation, "new line", "scratch that" after a sentence,
user replacements for "naïve café, Zürich", "stop dictation") goes through a real
``DictationSession`` (Whisper base int8, the default dictation settings, a file typist), and the
session steps after every *k* blocks of 80 ms (k = 1 is a worker that keeps up; k = 25 is one
2 s behind), steadily and with random lags of 1..2k blocks.

Printed: for each schedule whether the exact text was typed (and what was typed when not),
then how many schedules typed it. Before the committer fed queued audio block by block (stop
23, issue 11), 12 of 14 schedules typed the exact text; after, 14 of 14.

Usage::

    .venv/bin/python benchmarks/dictation_load_bench.py [--lags 1,3,6,10,15,20,25]
        [--interval S] [--asr-window S] [--seeds N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))

BLOCK = 1280  # 80 ms at 16 kHz, the engine's block
PHRASES = ["Dear diary comma today was a good day period", "new line", "I bought a red car period",
           "scratch that", "I bought a blue bike period", "naive cafe comma Zurich period", "stop dictation"]
EXPECTED = "Dear diary, today was a good day.\nI bought a blue bike. Naïve café, Zürich."
REPLACEMENTS = {"naive": "naïve", "cafe": "café", "Zurich": "Zürich"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lags", default="1,3,6,10,15,20,25", help="blocks of 80 ms per step, comma-separated")
    ap.add_argument("--interval", type=float, help="dictation.interval_s (default: the setting's default)")
    ap.add_argument("--asr-window", type=float, help="dictation.window_s (default: the setting's default)")
    ap.add_argument("--seeds", type=int, default=1, help="jittered schedules per lag (default 1; at most 9)")
    args = ap.parse_args(argv)
    lags = [int(x) for x in args.lags.split(",") if x.strip()]
    if not 1 <= args.seeds <= 9:
        ap.error("--seeds must be 1..9")
    if not lags or min(lags) < 1:
        ap.error("--lags must be positive integers")

    import numpy as np
    from audio_factory import concat, piper_say, read_16k

    from assistant.asr import WhisperASR
    from assistant.dictation.session import DictationSession
    from assistant.dictation.typing import FileTypist
    from assistant.events import EventBus
    from assistant.settings import DictationSettings

    tmp = Path(tempfile.mkdtemp(prefix="dictation-load-"))
    clips = [piper_say(p, tmp / f"p{i}.wav") for i, p in enumerate(PHRASES)]
    audio = read_16k(concat(clips, tmp / "dictation.wav", gap_s=1.5, lead_s=0.5, tail_s=2.0))
    asr = WhisperASR("base")
    changed = {k: v for k, v in (("interval_s", args.interval), ("window_s", args.asr_window)) if v is not None}
    settings = DictationSettings(replacements=REPLACEMENTS, **changed)
    print(f"dictation.interval_s {settings.interval_s} s, dictation.window_s {settings.window_s} s", flush=True)
    good = total = 0
    for k in lags:
        for jitter in [0, *range(1, args.seeds + 1)]:
            rng = np.random.default_rng(k * 10 + jitter)
            out = tmp / f"typed-{k}-{jitter}.txt"
            session = DictationSession(asr, settings, FileTypist(out),
                                       EventBus(), probe_focus=False)
            i = 0
            while i < len(audio) and not session.formatter.stop_requested:
                for _ in range(int(rng.integers(1, 2 * k + 1)) if jitter else k):
                    session.add(audio[i:i + BLOCK])
                    i += BLOCK
                session.step()
            typed = session.close(flush=not session.formatter.stop_requested)
            ok = typed == EXPECTED
            good += ok
            total += 1
            print(f"lag {k:>2} blocks ({k * 80:>4} ms){f' jittered #{jitter}' if jitter else '           '}  "
                  f"{'exact' if ok else 'WRONG ' + repr(typed)}", flush=True)
    print(f"\n{good} of {total} schedules typed the exact text")
    return 0 if good == total else 1


if __name__ == "__main__":
    sys.exit(main())
