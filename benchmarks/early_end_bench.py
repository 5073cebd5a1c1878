"""Semantic endpointing benchmark (issue 13): how often an early end would help, and how
often it would cut a speaker off.

Corpus: the command benchmark's commands (``benchmarks/command_bench.py``: the third-party-style
smart-home skill, espeak-ng voices and variants, Piper at several speeds and noise scales,
pitch/tempo changes, reverberation; clean and with noise at the given SNRs) plus commands of the
built-in skills (clock, timer, reminders, calculator, volume) said by the same voices. With
``--hesitate`` every command is said a second time with a pause of 0.40–0.65 s (longer than
the early end's 300 ms, shorter than the 700 ms endpoint) at a random word boundary: people
pause mid-command, and that is where an early end can cut them off.

Method — offline, so the figures do not depend on how busy this machine is: the app's own VAD
endpointer (Silero, ``vad`` settings) runs over each clip block by block; every time the
trailing silence inside the utterance reaches ``vad.early_end_silence_ms`` the utterance so far
is decoded as the app's speculative decode does it (``StreamingTranscriber``, one forced decode,
with the skills' hotwords only if ``asr.first_pass_hotwords``), parsed by the running Rasa server (``/model/parse``) and judged
(:meth:`assistant.nlu.complete.CommandShapes.judge`). This is what the app does when the
decision comes in time (a worst case for cut-offs: on a slow machine the normal endpoint wins
more often).

Printed per condition:

* **early**: judged complete after the command's last word (and not cut off before) — the
  turn ends after 300 ms of silence instead of 700 ms (share of commands);
* **cut-off**: judged complete at a moment with command speech still to come (the clean
  speech's last word, from its level, is later) — the rest would arrive after the cut
  (share of commands; issue 13's target ≤ 1 %);
* the same cut-off share for the hesitation variants (``--hesitate``), and examples.

Usage::

    .venv/bin/python benchmarks/early_end_bench.py [--n 60] [--conditions clean,12] [--hesitate] [--set SECTION.KEY=VALUE]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_env  # noqa: E402

bench_env.isolate("early-end-bench")  # never the user's reminders, notes or settings
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))

import numpy as np  # noqa: E402

import command_bench as cb  # noqa: E402

#: Built-in skills' commands (text, the intent the whole command has).
BUILTIN = [
    ("what time is it", "clock__ask_time"), ("what's the date today", "clock__ask_date"),
    ("set a timer for five minutes", "timer__set_timer"), ("set a pasta timer for eight minutes", "timer__set_timer"),
    ("start a timer for two and a half minutes", "timer__set_timer"), ("cancel the timer", "timer__cancel_timer"),
    ("remind me to call mom in ten minutes", "reminders__set_reminder"),
    ("what is twelve times seven", "calculator__calculate"), ("turn the volume up", "volume__volume_up"),
    ("set the volume to fifty percent", "volume__set_volume"),
]
BLOCK_MS = 80
LEAD_S = 0.5  # command_bench.mix puts 0.5 s of silence or noise before the speech


def hesitant(text: str, voice: tuple, rng: random.Random) -> tuple[np.ndarray, str] | None:
    """``text`` said by ``voice`` with a 0.40–0.65 s pause at a random word boundary
    (float32 16 kHz mono), and the text with "…" at the pause; None for one-word commands."""
    words = text.split()
    if len(words) < 2:
        return None
    k = rng.randint(1, len(words) - 1)
    a, b = cb.synth(" ".join(words[:k]), voice), cb.synth(" ".join(words[k:]), voice)
    gap = np.zeros(int(rng.uniform(0.40, 0.65) * cb.RATE), np.float32)
    return np.concatenate([a, gap, b]), " ".join(words[:k]) + " … " + " ".join(words[k:])


def speech_end_s(speech: np.ndarray) -> float:
    """Where speech ends in a clean clip (16 kHz mono), seconds — pipeline_bench's rule:
    the end of the last 10 ms frame within 30 dB of the loudest."""
    from pipeline_bench import last_word_s

    return last_word_s(speech)


def judge_clip(app, audio: np.ndarray, early_ms: float) -> list[tuple[float, str, object]]:
    """Run the endpointer over ``audio`` (float32 or int16, 16 kHz mono); at each pause that
    reaches ``early_ms`` decode, parse and judge the utterance so far.

    Returns:
        ``[(position s where the early end would fire, transcript so far, Verdict), ...]`` in
        order, up to the endpointer's own end of the utterance.
    """
    from assistant import components
    from assistant.asr import StreamingTranscriber

    if audio.dtype != np.int16:
        audio = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    audio = np.concatenate([audio, np.zeros(int(1.5 * cb.RATE), np.int16)])
    ep = components.build_endpointer(app.vad, app.settings.vad)
    n = cb.RATE * BLOCK_MS // 1000
    out, flagged = [], False
    for i in range(0, len(audio) - n + 1, n):
        events = ep.process(audio[i:i + n])
        if any(ev.kind == "speech_end" for ev in events):
            break
        if ep.in_speech and ep.silence_ms >= early_ms and not flagged:
            flagged = True
            streamer = StreamingTranscriber(app.asr, hotwords=list(components.first_pass_hotwords(
                app.settings.asr, app.hotwords)) or None)  # as the app's turn
            streamer.add(ep.utterance())
            partial = streamer.maybe_partial(force=True)
            text = " ".join(t for t in (partial or ()) if t)
            parse = app.nlu.parse_full(text) if text.strip() else {}
            out.append(((i + n) / cb.RATE, text, app.command_shapes.judge(text, parse, app.settings.vad.early_end_confidence)))
        elif ep.in_speech and ep.silence_ms < early_ms:
            flagged = False
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60, help="smart-home commands per condition (default 60)")
    ap.add_argument("--conditions", default="clean,12", help="clean and/or SNRs in dB, comma-separated")
    ap.add_argument("--hesitate", action="store_true", help="also every command with a pause at a random word boundary")
    ap.add_argument("--show", type=int, default=10, help="print this many cut-offs")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="change one setting from its default (JSON value), e.g. vad.early_end_silence_ms=250; repeatable")
    args = ap.parse_args(argv)

    from assistant.audio import BufferSink
    from assistant.events import EventBus
    from assistant.pipeline import Assistant

    tmp = Path(tempfile.mkdtemp(prefix="early-end-bench-"))
    cb.install_skill(tmp / "site")
    conds = [c.strip() for c in args.conditions.split(",") if c.strip()]
    cmds = [{"text": c["text"], "intent": c["intent"]} for c in cb.commands()[:args.n]]
    cmds += [{"text": t, "intent": i} for t, i in BUILTIN]
    voices = cb.voice_list()
    beds = cb.noises()
    settings = cb.bench_settings(args.set)
    settings.trace.directory = str(tmp / "traces")
    app = Assistant(settings, EventBus(), sink=BufferSink())
    app.start()
    early_ms = settings.vad.early_end_silence_ms
    print(f"{len(cmds)} commands per condition ({args.n} smart-home, {len(BUILTIN)} built-in), conditions {conds}; "
          f"early end after {early_ms} ms of silence at confidence ≥ {settings.vad.early_end_confidence}; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    t0 = time.monotonic()
    cut_examples = []
    for cond in conds:
        snr = None if cond == "clean" else float(cond)
        tally = {"n": 0, "early": 0, "cut": 0, "hn": 0, "hcut": 0, "pauses": 0}
        for i, cmd in enumerate(cmds):
            voice = voices[i % len(voices)]
            kind = sorted(beds)[i % len(beds)] if snr is not None else "none"
            speech = cb.augment(cb.synth(cmd["text"], voice), random.Random(i))[0]
            variants = [("natural", speech, cmd["text"], random.Random(i * 7 + 1))]
            if args.hesitate:
                h = hesitant(cmd["text"], voice, random.Random(1000 + i))
                if h is not None:
                    variants.append(("hesitant", h[0], h[1], random.Random(i * 7 + 2)))
            for name, clean, said, rng in variants:
                end = LEAD_S + speech_end_s(clean)  # the command's last word in the mixed clip
                verdicts = judge_clip(app, cb.mix(clean, beds.get(kind), snr, rng), early_ms)
                # a cut-off: the turn would end while command speech is still to come
                cut = [(t, v) for pos, t, v in verdicts if v.complete and pos < end]
                inside = [pos for pos, _t, _v in verdicts if pos < end]
                if name == "natural":
                    tally["n"] += 1
                    tally["pauses"] += len(inside)
                    tally["early"] += not cut and any(v.complete and pos >= end for pos, _t, v in verdicts)
                    tally["cut"] += bool(cut)
                else:
                    tally["hn"] += 1
                    tally["hcut"] += bool(cut)
                if cut:
                    cut_examples.append((cond, name, voice[0], said, cut[0][0], cut[0][1].intent))
        n, hn = max(1, tally["n"]), max(1, tally["hn"])
        line = (f"{cond:>6}: {tally['n']} commands: early end {tally['early'] / n:6.1%}   cut-off {tally['cut'] / n:5.1%} "
                f"({tally['cut']}; {tally['pauses']} pauses ≥ {early_ms} ms inside commands)")
        if args.hesitate:
            line += f"   with a hesitation: cut-off {tally['hcut'] / hn:5.1%} ({tally['hcut']} of {tally['hn']})"
        print(line, flush=True)
    for cond, name, engine, said, heard, intent in cut_examples[:args.show]:
        print(f"  cut [{cond} {name} {engine}] said {said!r}: ended at {heard!r} ({intent})")
    print(f"{time.monotonic() - t0:.0f} s; load {os.getloadavg()[0]:.2f}")
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
