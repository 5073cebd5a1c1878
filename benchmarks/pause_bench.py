"""Mid-phrase pause benchmark: does a command said with a long pause inside it stay one turn?

People stop to think in the middle of a request ("can I get a large latte with … oat milk",
"set a timer for … five minutes") for longer than the 700 ms endpoint. Without help the
rest of the command becomes a second turn, and the first half is answered on its own. The
app waits up to ``vad.hold_silence_ms`` (1.5 s) when the transcript at the first trailing
silence stops mid-phrase (:func:`assistant.nlu.complete.ends_mid_phrase`).

Corpus: the command benchmark's smart-home commands (``benchmarks/command_bench.py``: its
voices — espeak-ng variants, Piper at several speeds and noise scales, pitch/tempo changes,
reverberation) plus the built-in commands of ``early_end_bench.py``. Each command is said

* **as is** (the cost: how often a complete command is held, i.e. waits up to 0.8 s longer),
* **paused after a function word**: cut after its last word that is in
  :data:`~assistant.nlu.complete.MID_PHRASE` ("for", "the", "to", "with" …), with a pause of
  0.9–1.3 s (longer than the endpoint, shorter than the hold) — where people hesitate,
  before the content word; commands without such a word are left out of this row;
* **paused elsewhere**: the same pause at a random other word boundary (after a content
  word — the hold is not meant to help there; shown for completeness).

Each clip goes through ``Assistant.process_file(path, push_to_talk=True)`` (stepped: the same
result on any machine). Printed per variant: **one turn** (the share not split), **accepted**
(one turn, intent right and, for the smart-home commands, every slot value right), and
**held** (turns in which the hold fired, from the turn's debug log).

Usage::

    .venv/bin/python benchmarks/pause_bench.py [--n 60] [--set vad.hold_silence_ms=0]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_env  # noqa: E402

bench_env.isolate("pause-bench")  # never the user's reminders, notes or settings
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

import command_bench as cb  # noqa: E402
from early_end_bench import BUILTIN  # noqa: E402

PAUSE_S = (0.9, 1.3)


class HoldCounter(logging.Handler):
    """Counts the turn worker's "mid-phrase pause" debug lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        self.count += record.getMessage().startswith("mid-phrase pause")


def split_points(text: str, rng: random.Random) -> dict[str, int | None]:
    """Word indices ``k`` to pause before (the pause follows ``words[k - 1]``): after the
    last function word of :data:`MID_PHRASE`, and at a random other boundary; None where
    the command has no such place."""
    from assistant.nlu.complete import MID_PHRASE

    words = text.split()
    after_function = [k for k in range(1, len(words)) if words[k - 1].lower() in MID_PHRASE]
    others = [k for k in range(1, len(words)) if k not in after_function]
    return {"after a function word": after_function[-1] if after_function else None,
            "elsewhere": rng.choice(others) if others else None}


def trimmed(audio: np.ndarray) -> np.ndarray:
    """``audio`` (float32, 16 kHz) without its leading and trailing silence: what is more than
    40 dB under its loudest 10 ms frame (the synthesizers add 0.1–0.3 s at each end)."""
    n = cb.RATE // 100
    frames = audio[: len(audio) // n * n].reshape(-1, n)
    level = 20 * np.log10(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) + 1e-9)
    loud = np.flatnonzero(level > level.max() - 40)
    return audio[loud[0] * n:(loud[-1] + 1) * n] if len(loud) else audio


def paused(text: str, k: int, voice: tuple, rng: random.Random) -> np.ndarray:
    """``text`` said by ``voice`` with a pause of :data:`PAUSE_S` (digital silence between
    the halves, their own silences trimmed) before word ``k`` (float32, 16 kHz)."""
    words = text.split()
    a, b = trimmed(cb.synth(" ".join(words[:k]), voice)), trimmed(cb.synth(" ".join(words[k:]), voice))
    return np.concatenate([a, np.zeros(int(rng.uniform(*PAUSE_S) * cb.RATE), np.float32), b])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60, help="smart-home commands (default 60) besides the built-in ones")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="change one setting from its default (JSON value); repeatable")
    ap.add_argument("--show", type=int, default=8, help="print this many split or failed commands per variant")
    args = ap.parse_args(argv)

    from assistant.audio import BufferSink
    from assistant.events import EventBus
    from assistant.pipeline import Assistant

    tmp = Path(tempfile.mkdtemp(prefix="pause-bench-"))
    cb.install_skill(tmp / "site")
    cmds = [dict(c) for c in cb.commands()[:args.n]] + [{"text": t, "intent": i} for t, i in BUILTIN]
    voices = cb.voice_list()
    settings = cb.bench_settings(args.set)
    settings.trace.directory = str(tmp / "traces")
    app = Assistant(settings, EventBus(), sink=BufferSink())
    app.start()
    counter = HoldCounter()
    turn_log = logging.getLogger("assistant.turn")
    turn_log.addHandler(counter)
    turn_log.setLevel(logging.DEBUG)
    print(f"{len(cmds)} commands ({args.n} smart-home, {len(BUILTIN)} built-in); endpoint "
          f"{settings.vad.end_silence_ms} ms, hold {settings.vad.hold_silence_ms} ms; pause {PAUSE_S[0]}–{PAUSE_S[1]} s; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    t0 = time.monotonic()
    names = ("as is", "after a function word", "elsewhere")
    tally = {v: {"n": 0, "one": 0, "ok": 0, "held": 0} for v in names}
    shown: dict[str, list[str]] = {v: [] for v in names}
    try:
        for i, cmd in enumerate(cmds):
            voice = voices[i % len(voices)]
            rng = random.Random(i)
            variants = {"as is": cb.synth(cmd["text"], voice)}
            for name, k in split_points(cmd["text"], rng).items():
                if k is not None:
                    variants[name] = paused(cmd["text"], k, voice, random.Random(1000 + i))
            for name, audio in variants.items():
                path = tmp / f"{i}-{name[:5]}.wav"
                sf.write(str(path), np.clip(cb.mix(audio, None, None, random.Random(i)), -1, 1), cb.RATE, subtype="PCM_16")
                before = counter.count
                results = app.process_file(path, push_to_talk=True)
                for r in results:
                    if r.expects_answer:
                        app.handle_text("never mind")
                if cmd["intent"].startswith(("timer__", "reminders__")):
                    app.handle_text("cancel all timers")
                app.nlu.forget(app.sender_id)
                t = tally[name]
                t["n"] += 1
                t["held"] += counter.count > before
                one = len(results) == 1
                t["one"] += one
                ok = one and results[0].intent == cmd["intent"] and (
                    "entities" not in cmd or cb.pairs(results[0].entities) == cb.expected_pairs(cmd))
                t["ok"] += ok
                if not ok and len(shown[name]) < args.show:
                    shown[name].append(f"  [{name}] said {cmd['text']!r}: " + " | ".join(
                        f"{r.transcript!r} → {r.intent}" for r in results))
            if (i + 1) % 20 == 0:
                print(f"  {i + 1}/{len(cmds)}", flush=True)
    finally:
        turn_log.removeHandler(counter)
        app.close()
    print("\nvariant                  n   one turn  accepted  held")
    for name in names:
        t = tally[name]
        n = max(1, t["n"])
        print(f"{name:<22} {t['n']:>4}   {t['one'] / n:7.1%}  {t['ok'] / n:7.1%}  {t['held'] / n:5.1%}")
    for name in names:
        for line in shown[name]:
            print(line)
    print(f"{time.monotonic() - t0:.0f} s; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
