"""Dictation benchmark (issue 11): accuracy, spoken commands, keystroke delay, no retyping.

Every recording goes through the real engine as from a microphone:
``Assistant(...).dictation.start(typist=...)`` then ``Assistant.run(FileSource(...,
realtime=True))`` — blocks at wall-clock pace, the session's Committer (LocalAgreement-2)
→ Formatter (spoken commands) → a recording :class:`~assistant.dictation.typing.Typist`.
The run ends with the file; dictation is then stopped and flushed ("end of input").
``auto_punctuation`` is off (the default): only spoken punctuation is typed.

Figures:

1. **WER on jfk.flac** (``tests/data``): typed text, lower-cased, punctuation stripped
   (:func:`assistant.asr.normalize_text`), against the reference. Target 0.
2. **WER on dictation passages**: short passages of ordinary prose (no command words), one
   clip per sentence with :data:`SENTENCE_GAP_S` of silence between them (a person
   dictating), read by the Piper joe voice at two speeds and two espeak-ng voices
   (:data:`VOICES`); ``--noise`` adds each voice again with noise at 20 dB SNR.
3. **Spoken-command accuracy**: :data:`SCRIPTS` mix text and commands ("comma", "period",
   "new line", "scratch that", "question mark"); share of scripts whose typed text is
   exactly the expected one, per voice.
4. **Delay** from a word's end (audio) to its keystrokes: the session's ``delays_ms`` (per
   typed batch, audio seconds since the batch's last committed word ended, realtime
   pacing), p50 and p95 over all runs. Target p50 ≤ 1000 ms, p95 ≤ 1800 ms.
5. **No retyping**: BackSpaces in runs without "scratch that" (must be 0), and words typed
   twice: adjacent repeated n-grams (n = 1–4: "I bought a I bought a") that the reference
   does not have.

Usage::

    .venv/bin/python benchmarks/dictation_bench.py [--quick] [--noise] [--json out.json] [--show]

Default: about 6–7 minutes on 2 shared cores (the audio plays in real time); ``--quick``:
about 1.5 minutes (jfk, one passage and two scripts, two voices). Synthetic voices flatter
Whisper: compare runs with each other, not with real speech. The load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_env  # noqa: E402

bench_env.isolate("dictation-bench")  # never the user's reminders, notes or settings
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))

from assistant.dictation.typing import Typist  # noqa: E402

JFK = ROOT / "tests" / "data" / "jfk.flac"
JFK_REF = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"

#: Dictation passages: ordinary prose, no numbers, names or command words.
PASSAGES = [
    ["The garden looks lovely this time of year.", "The roses are blooming along the fence.",
     "We should invite our friends over for dinner."],
    ["Thank you for your letter about the meeting.", "I will send the report before the end of the week.",
     "Let me know if you have any questions."],
    ["Our train was late again this morning.", "Most people waited on the platform in the cold.",
     "The station should put up a small shelter."],
    ["She opened the window and looked at the quiet street.", "A dog was sleeping in the sun near the bakery.",
     "Nobody seemed to be in a hurry."],
]

#: (spoken phrases, one clip each with SCRIPT_GAP_S between them; exact text expected)
SCRIPTS = [
    (["hello world comma how are you question mark"], "Hello world, how are you?"),
    (["dear friend comma", "thank you for the flowers period", "new line", "see you soon period"],
     "Dear friend, thank you for the flowers.\nSee you soon."),
    (["I bought a red car period", "scratch that", "I bought a blue bike period"], "I bought a blue bike."),
    (["it works full stop it really works period", "is that fine question mark"],
     "It works. It really works. Is that fine?"),
]

#: voice name → ("piper", length_scale) or ("espeak", voice, words per minute)
VOICES = {
    "piper1.0": ("piper", 1.0),
    "piper1.25": ("piper", 1.25),
    "espeak-us": ("espeak", "en-us", 150),
    "espeak-rp-f3": ("espeak", "en-gb-x-rp+f3", 140),
}
QUICK_VOICES = ["piper1.0", "espeak-us"]
SENTENCE_GAP_S = 0.8
SCRIPT_GAP_S = 1.0
TAIL_S = 2.0
SNR_DB = 20.0
ASR_MODEL: str | None = None
"""``--asr-model``: asr.model for this run (None: the setting's default)."""
ASR_WINDOW_S: float | None = None
"""``--asr-window``: ``dictation.window_s`` for the run (None: the setting's default)."""
PAUSE_S: float | None = None
"""``--pause``: dictation.pause_s for this run (None: the setting's default)."""
INTERVAL_S: float | None = None
"""``--interval``: dictation.interval_s for this run (None: the setting's default)."""
DELAY_P50_TARGET_MS, DELAY_P95_TARGET_MS = 1000.0, 1800.0


class RecordingTypist(Typist):
    """A typist that keeps the text a window would hold and counts every operation.

    Attributes:
        text: the text typed so far, after BackSpaces.
        ops: ``(kind, value)`` for every call, in order: ``("type", text)``,
            ``("backspace", count)``, ``("key", name)``.
        backspaces: characters removed (BackSpace ops and BackSpace key presses).
    """

    name = "bench"

    def __init__(self) -> None:
        self.text = ""
        self.ops: list[tuple[str, object]] = []
        self.backspaces = 0

    def type_text(self, text: str) -> None:
        """Append ``text``."""
        self.ops.append(("type", text))
        self.text += text

    def backspace(self, count: int) -> None:
        """Remove the last ``count`` characters."""
        self.ops.append(("backspace", count))
        self.backspaces += count
        self.text = self.text[: max(0, len(self.text) - count)]

    def press(self, key: str) -> None:
        """Return → ``"\\n"``, Tab → ``"\\t"``, BackSpace removes one character."""
        self.ops.append(("key", key))
        if key == "BackSpace":
            self.backspace(1)
        else:
            self.text += {"Return": "\n", "Tab": "\t"}.get(key, "")


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (0–100) of ``xs`` (linear interpolation); NaN if empty."""
    return float(np.percentile(np.asarray(xs, dtype=float), q)) if xs else float("nan")


def repeated_ngrams(typed: str, reference: str, max_n: int = 4) -> int:
    """Words typed twice: adjacent repeats of an n-gram (n = 1..``max_n``, normalised
    words: "I bought a I bought a") in ``typed`` that ``reference`` does not contain."""
    from assistant.asr import normalize_text

    words, ref = normalize_text(typed).split(), f" {normalize_text(reference)} "
    count = 0
    for n in range(1, max_n + 1):
        for i in range(len(words) - 2 * n + 1):
            if words[i:i + n] == words[i + n:i + 2 * n] and f" {' '.join(words[i:i + 2 * n])} " not in ref:
                count += 1
    return count


def add_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``audio`` (int16) plus seeded white noise at ``snr_db`` below the RMS of its
    speech (samples above −40 dBFS), over the whole file, silences included; int16 out."""
    x = audio.astype(np.float32) / 32768.0
    loud = x[np.abs(x) > 0.01]
    rms = float(np.sqrt(np.mean(loud ** 2))) if loud.size else 0.05
    noise = np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    y = x + noise * rms * 10 ** (-snr_db / 20)
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)


def speak(text: str, voice: str, path: Path) -> Path:
    """Synthesise ``text`` with ``voice`` (a :data:`VOICES` key) into a 16 kHz WAV."""
    from audio_factory import espeak_say, piper_say

    spec = VOICES[voice]
    if spec[0] == "piper":
        return piper_say(text, path, length_scale=spec[1])
    return espeak_say(text, path, voice=spec[1], speed=spec[2])


def recording(phrases: list[str], voice: str, gap_s: float, noisy: bool, path: Path, seed: int) -> Path:
    """One dictation recording: each phrase spoken by ``voice``, ``gap_s`` seconds of
    silence between phrases, 0.5 s before and :data:`TAIL_S` after; noise at
    :data:`SNR_DB` if ``noisy``. Returns the WAV path."""
    from audio_factory import concat, read_16k, write_wav

    clips = [speak(p, voice, path.with_name(f"{path.stem}-{i}.wav")) for i, p in enumerate(phrases)]
    concat(clips, path, gap_s=gap_s, lead_s=0.5, tail_s=TAIL_S)
    if noisy:
        write_wav(path, add_noise(read_16k(path), SNR_DB, seed))
    return path


class Bench:
    """One started engine (Whisper, VAD; no wake word, no NLU) that dictates recordings.

    Args:
        settings: the engine settings (``dictation.auto_punctuation`` is forced off).
    """

    def __init__(self, settings) -> None:
        from assistant.audio import BufferSink
        from assistant.events import EventBus
        from assistant.pipeline import Assistant

        settings.dictation.auto_punctuation = False
        self.settings = settings
        t0 = time.monotonic()
        self.app = Assistant(settings, EventBus(), sink=BufferSink(), use_wake_word=False)
        self.app.start(nlu=False)
        self.load_s = time.monotonic() - t0

    def dictate(self, path: Path) -> dict:
        """Dictate one recording in real time; return the typed text, the committed
        transcript (``heard``, before formatting), the session's ``delays_ms``, BackSpace count, wall seconds and audio seconds."""
        from assistant.audio import FileSource

        typist = RecordingTypist()
        if not self.app.dictation.start("bench", typist=typist):
            raise RuntimeError("dictation did not start")
        sess = self.app.dictation.session
        src = FileSource.for_recording(path, block_ms=self.settings.audio.block_ms,
                                       end_silence_ms=self.settings.vad.end_silence_ms, realtime=True)
        t0 = time.monotonic()
        try:
            self.app.run(src)
        finally:
            src.close()
        self.app.dictation.stop("user")  # no-op unless the session outlived the source
        return {"typed": typist.text, "heard": sess.committer.committed_text, "delays_ms": list(sess.delays_ms), "backspaces": typist.backspaces,
                "ops": len(typist.ops), "wall_s": time.monotonic() - t0, "audio_s": src.duration}

    def close(self) -> None:
        """Close the engine."""
        self.app.close()


def run(voices: list[str], passages: list[list[str]], scripts: list, noise: bool, tmp: Path,
        show=lambda *_: None) -> dict:
    """Run all conditions; return ``rows`` (one per recording) and ``figures``.

    Args:
        voices: :data:`VOICES` keys.
        passages, scripts: subsets of :data:`PASSAGES` and :data:`SCRIPTS`.
        noise: also each voice with noise at :data:`SNR_DB` (condition ``<voice>+noise``).
        tmp: folder for the recordings.
        show: called with each finished row (progress).
    """
    from assistant.asr import wer
    from assistant.settings import Settings

    conditions = [(v, False) for v in voices] + ([(v, True) for v in voices] if noise else [])
    jobs = [("jfk", "jfk", JFK, JFK_REF, "", False)]
    seed = 0
    for voice, noisy in conditions:
        cond = voice + ("+noise" if noisy else "")
        for i, sentences in enumerate(passages):
            seed += 1
            wav = recording(sentences, voice, SENTENCE_GAP_S, noisy, tmp / f"{cond}-passage{i}.wav", seed)
            jobs.append(("passage", cond, wav, " ".join(sentences), "", False))
        for i, (phrases, expected) in enumerate(scripts):
            seed += 1
            wav = recording(phrases, voice, SCRIPT_GAP_S, noisy, tmp / f"{cond}-script{i}.wav", seed)
            scratch = any("scratch that" in p for p in phrases)
            ref = expected if not scratch else ""
            jobs.append(("script", cond, wav, ref, expected, scratch))
    settings = Settings()
    settings.dictation.interval_s = INTERVAL_S or settings.dictation.interval_s
    settings.asr.model = ASR_MODEL or settings.asr.model
    settings.dictation.window_s = ASR_WINDOW_S or settings.dictation.window_s
    settings.dictation.pause_s = PAUSE_S or settings.dictation.pause_s
    settings.trace.directory = str(tmp / "traces")
    bench = Bench(settings)
    rows = []
    try:
        for kind, cond, wav, ref, expected, scratch in jobs:
            r = bench.dictate(wav)
            row = {"kind": kind, "condition": cond, "file": wav.name, "typed": r["typed"], "heard": r["heard"],
                   "reference": ref,
                   "wer": wer(ref, r["typed"]) if kind != "script" else None,
                   "exact": (r["typed"] == expected) if kind == "script" else None,
                   "exact_nocase": (r["typed"].lower() == expected.lower()) if kind == "script" else None,
                   "scratch": scratch, "backspaces": r["backspaces"],
                   "repeats": repeated_ngrams(r["typed"], ref or expected) if not scratch else None,
                   "delays_ms": r["delays_ms"], "wall_s": r["wall_s"], "audio_s": r["audio_s"]}
            rows.append(row)
            show(row)
    finally:
        bench.close()
    return {"rows": rows, "figures": figures(rows), "load_s": bench.load_s}


def figures(rows: list[dict]) -> dict:
    """Aggregate rows: jfk WER; per condition passage WER (mean) and command exact-match
    share (also ignoring case); overall passage WER (median and mean of recordings); delay p50/p95 (ms, all
    runs pooled); BackSpaces in runs without "scratch that"; repeated n-grams."""
    passages = [r for r in rows if r["kind"] == "passage"]
    scripts = [r for r in rows if r["kind"] == "script"]
    delays = [d for r in rows for d in r["delays_ms"]]
    plain = [r for r in rows if not r["scratch"]]
    per = {}
    for cond in dict.fromkeys(r["condition"] for r in rows if r["kind"] != "jfk"):
        p = [r["wer"] for r in passages if r["condition"] == cond]
        s = [r["exact"] for r in scripts if r["condition"] == cond]
        d = [x for r in rows if r["condition"] == cond for x in r["delays_ms"]]
        s_nc = [r["exact_nocase"] for r in scripts if r["condition"] == cond]
        per[cond] = {"passage_wer": statistics.fmean(p) if p else None, "passages": len(p),
                     "commands_exact": sum(s) / len(s) if s else None, "scripts": len(s),
                     "commands_exact_nocase": sum(s_nc) / len(s_nc) if s_nc else None,
                     "delay_p50_ms": pct(d, 50), "delay_p95_ms": pct(d, 95)}
    jfk = next((r for r in rows if r["kind"] == "jfk"), None)
    return {
        "jfk_wer": jfk["wer"] if jfk else None, "jfk_typed": jfk["typed"] if jfk else None,
        "per_condition": per,
        "passage_wer_median": statistics.median(r["wer"] for r in passages) if passages else None,
        "passage_wer_mean": statistics.fmean(r["wer"] for r in passages) if passages else None,
        "commands_exact": sum(r["exact"] for r in scripts) / len(scripts) if scripts else None,
        "commands_exact_nocase": sum(r["exact_nocase"] for r in scripts) / len(scripts) if scripts else None,
        "delay_p50_ms": pct(delays, 50), "delay_p95_ms": pct(delays, 95), "delay_batches": len(delays),
        "delay_target_met": bool(delays) and pct(delays, 50) <= DELAY_P50_TARGET_MS
        and pct(delays, 95) <= DELAY_P95_TARGET_MS,
        "backspaces_without_scratch": sum(r["backspaces"] for r in plain), "runs_without_scratch": len(plain),
        "repeated_ngrams": sum(r["repeats"] or 0 for r in plain),
        "runs": len(rows), "audio_s": sum(r["audio_s"] for r in rows),
    }


def machine_info() -> dict:
    """CPU model, cores, ISA flags that matter to CTranslate2, ``CT2_FORCE_CPU_ISA``,
    ctranslate2/faster-whisper versions, and the 1-minute load average."""
    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    versions = {}
    for mod in ("ctranslate2", "faster_whisper"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informative only
            versions[mod] = "?"
    return {"cpu": model, "cores": os.cpu_count(), "isa": sorted(flags & {"avx", "avx2", "avx512f", "fma", "neon"}),
            "CT2_FORCE_CPU_ISA": os.environ.get("CT2_FORCE_CPU_ISA", "(unset)"), **versions,
            "load_1min": round(os.getloadavg()[0], 2)}


def fmt(x, spec: str = ".3f", suffix: str = "") -> str:
    """``x`` formatted, or "–" for None/NaN."""
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    return f"{x:{spec}}{suffix}"


def table(f: dict) -> str:
    """Markdown table: one row per condition, then the overall row."""
    lines = ["| condition | passage WER (mean) | commands exact (ignoring case) | delay p50 / p95 ms |",
             "|---|---:|---:|---:|"]

    def cmd(c: dict, n: str = "") -> str:
        if c["commands_exact"] is None:
            return "–"
        return (f"{fmt(100 * c['commands_exact'], '.0f', ' %')} ({fmt(100 * c['commands_exact_nocase'], '.0f', ' %')})"
                + (f" of {n}" if n else ""))

    for cond, c in f["per_condition"].items():
        lines.append(f"| {cond} | {fmt(c['passage_wer'])} ({c['passages']}) | {cmd(c, str(c['scripts']))} "
                     f"| {fmt(c['delay_p50_ms'], '.0f')} / {fmt(c['delay_p95_ms'], '.0f')} |")
    lines.append(f"| **all** | median {fmt(f['passage_wer_median'])}, mean {fmt(f['passage_wer_mean'])} "
                 f"| {cmd(f)} | {fmt(f['delay_p50_ms'], '.0f')} / {fmt(f['delay_p95_ms'], '.0f')} |")
    return "\n".join(lines)


def summary(f: dict) -> str:
    """The headline figures, one per line, with the targets."""
    met = "met" if f["delay_target_met"] else "NOT met"
    return "\n".join([
        f"jfk.flac WER {fmt(f['jfk_wer'])} (target 0): {f['jfk_typed']!r}",
        f"passages WER median {fmt(f['passage_wer_median'])}, mean {fmt(f['passage_wer_mean'])}",
        f"spoken commands exact {fmt(100 * (f['commands_exact'] or 0), '.0f')} % "
        f"(ignoring case {fmt(100 * (f['commands_exact_nocase'] or 0), '.0f')} %)",
        f"delay word end → keystroke p50 {fmt(f['delay_p50_ms'], '.0f')} ms, p95 {fmt(f['delay_p95_ms'], '.0f')} ms "
        f"over {f['delay_batches']} typed batches (target ≤ {DELAY_P50_TARGET_MS:.0f} / "
        f"≤ {DELAY_P95_TARGET_MS:.0f} ms: {met})",
        f"BackSpaces in {f['runs_without_scratch']} runs without \"scratch that\": {f['backspaces_without_scratch']} "
        f"(must be 0); repeated word groups: {f['repeated_ngrams']}",
    ])


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table and the medians; ``--json`` writes them."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=float, help="dictation.interval_s (default: the setting's default)")
    ap.add_argument("--pause", type=float, help="dictation.pause_s: a pause this long types the phrase (default: the setting's)")
    ap.add_argument("--asr-window", type=float, help="dictation.window_s: shortest Whisper encoder window of "
                    "dictation decodes, s (default: the setting's)")
    ap.add_argument("--asr-model", help="asr.model for dictation (default: the setting's default, base)")
    ap.add_argument("--quick", action="store_true", help="jfk, one passage, two scripts, two voices (~1.5 min)")
    ap.add_argument("--voices", help=f"comma-separated, of {', '.join(VOICES)}")
    ap.add_argument("--noise", action="store_true", help=f"also every voice with noise at {SNR_DB:.0f} dB SNR")
    ap.add_argument("--json", type=Path, help="write figures and rows here")
    ap.add_argument("--show", action="store_true", help="print every typed text as it is done")
    args = ap.parse_args(argv)
    global INTERVAL_S, ASR_MODEL, ASR_WINDOW_S, PAUSE_S
    PAUSE_S = args.pause
    INTERVAL_S = args.interval
    ASR_MODEL = args.asr_model
    ASR_WINDOW_S = args.asr_window
    voices = args.voices.split(",") if args.voices else (QUICK_VOICES if args.quick else list(VOICES))
    passages = PASSAGES[:1] if args.quick else PASSAGES[:3]
    scripts = [SCRIPTS[0], SCRIPTS[2]] if args.quick else SCRIPTS
    info = machine_info()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)

    def show(row: dict) -> None:
        mark = (f"WER {row['wer']:.3f}" if row["wer"] is not None else "exact" if row["exact"] else "MISMATCH")
        print(f"  {row['condition']:>18} {row['file']:<24} {mark:<10} "
              f"{row['wall_s']:5.1f} s{'  ' + repr(row['typed']) if args.show or row['exact'] is False else ''}"
              f"{'  heard ' + repr(row['heard']) if row['exact'] is False else ''}",
              file=sys.stderr, flush=True)

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dictation-bench-") as tmp:
        result = run(voices, passages, scripts, args.noise, Path(tmp), show)
    f = result["figures"]
    print(table(f))
    print()
    print(summary(f))
    print(f"\n{settings_line()}; {f['runs']} runs, {f['audio_s']:.0f} s of audio in real time; engine load {result['load_s']:.1f} s; "
          f"load {info['load_1min']} → {os.getloadavg()[0]:.2f}; {time.monotonic() - t0:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, **result}, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


def settings_line() -> str:
    """The ASR and dictation settings the bench ran with (defaults), one line."""
    from assistant.settings import Settings

    s = Settings()
    return (f"Whisper {ASR_MODEL or s.asr.model} {s.asr.compute_type}, beam {s.asr.beam_size}; dictation pause {PAUSE_S or s.dictation.pause_s} s, "
            f"re-decode every {INTERVAL_S or s.dictation.interval_s} s, "
            f"auto_punctuation off; sentence gaps {SENTENCE_GAP_S} s, command-script gaps {SCRIPT_GAP_S} s")


if __name__ == "__main__":
    sys.exit(main())
