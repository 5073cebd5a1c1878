"""Benchmark faster-whisper ASR (Whisper base and tiny.en, int8) on real speech.

Usage (from the repo root)::

    .venv/bin/python benchmarks/asr_bench.py [--models base tiny.en] [--runs 5] [--interval 0.7]
                                             [--hotwords]

For each model, in a fresh child process (so memory figures do not mix):

* load: ``resolve_asr_model`` (for base: join check + sha256 of 145 MB once per process)
  and ``WhisperModel(folder)`` separately, seconds;
* RTF = decode time / audio time on tests/data/jfk.flac (11.0 s), median of ``--runs``
  runs after one warm-up, with and without word timestamps (their cost), and WER;
* streaming: jfk.flac + 0.7 s of silence (the VAD endpoint delay) fed in 80 ms blocks
  through :class:`StreamingTranscriber` on a *virtual clock*: audio arrives in real time,
  the worker re-decodes as soon as ``--interval`` s of new audio is there and the previous
  decode is done, and the clock advances by each decode's measured wall time. Committed-
  word latency = clock when a word is committed − the word's end time in the audio,
  median and max over words committed before the endpoint; then "final ms": endpoint →
  final transcript (waiting for the decode in flight + the final decode), and the final WER;
* RSS after imports, after load, and the peak (psutil sampled every 5 ms; getrusage
  ru_maxrss as a cross-check), MB.

``--hotwords`` adds a contextual-biasing measurement: 24 commands with unusual entity values
(drinks, names, towns, apps) spoken by the shipped Piper voice and by espeak-ng, decoded
with and without the 24 values as ``hotwords``; prints how many transcripts contain the
command's entity value (normalised) and the WER. Synthetic speech flatters ASR; the
point is the difference between the two columns.

The machine is shared: the load average is printed before and after; compare figures taken
under similar load only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))

JFK = ROOT / "tests" / "data" / "jfk.flac"
JFK_REF = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
BLOCK = 1280  # 80 ms

# (command, entity value) — values Whisper tends to spell its own way.
COMMANDS = [
    ("I'd like a grande ice moco please", "ice moco"),
    ("Can I get a light rose to go", "light rose"),
    ("One americana with oat milk", "americana"),
    ("Order a cortado for Siobhan", "cortado"),
    ("Make me a matcha latte", "matcha latte"),
    ("Add a hojicha to the order", "hojicha"),
    ("Call Siobhan on her mobile", "siobhan"),
    ("Send a message to Niamh", "niamh"),
    ("Remind Aoife about the meeting", "aoife"),
    ("Text Saoirse that I'm running late", "saoirse"),
    ("What's the weather in Llanelli", "llanelli"),
    ("How far is it to Poughkeepsie", "poughkeepsie"),
    ("Set the time zone to Reykjavik", "reykjavik"),
    ("Is it raining in Worcester", "worcester"),
    ("Open Kdenlive", "kdenlive"),
    ("Launch Inkscape", "inkscape"),
    ("Start Thunderbird", "thunderbird"),
    ("Open the Nextcloud app", "nextcloud"),
    ("Play the playlist Lo-fi Nocturnes", "lo fi nocturnes"),
    ("Turn on the Hue lights in the den", "hue"),
    ("Set a timer called focaccia for twenty minutes", "focaccia"),
    ("Add gochujang to the shopping list", "gochujang"),
    ("Put quinoa on the shopping list", "quinoa"),
    ("Add tzatziki to my list", "tzatziki"),
]


class PeakRSS:
    """Sample this process's RSS with psutil every ``period`` seconds; ``peak`` in bytes."""

    def __init__(self, period: float = 0.005) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(period,), daemon=True)
        self._t.start()

    def now(self) -> int:
        return self._proc.memory_info().rss

    def _run(self, period: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(period)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.now())
        return self.peak


def stream_latency(asr, audio, interval_s: float):
    """Virtual-clock streaming run.

    Returns:
        (committed-word latencies in s, words committed before the endpoint, the final
        Transcript, decodes run, endpoint-to-final-transcript latency in s, whether
        finish() reused the last hypothesis).
    """
    import numpy as np

    from assistant.asr import SAMPLE_RATE, StreamingTranscriber

    x = np.concatenate([audio, np.zeros(int(0.7 * SAMPLE_RATE), np.int16)])
    st = StreamingTranscriber(asr, interval_s=interval_s)
    clock, fed, lat = 0.0, 0, []
    while fed < len(x):
        while fed < len(x) and (fed + BLOCK) / SAMPLE_RATE <= clock + 1e-9:
            st.add(x[fed : fed + BLOCK])
            fed += BLOCK
        before = len(st.committed_words)
        t0 = time.perf_counter()
        r = st.maybe_partial()
        dt = time.perf_counter() - t0
        if r is None:
            clock = max(clock, (fed + BLOCK) / SAMPLE_RATE)  # wait for the next block
            continue
        clock += dt
        lat += [clock - w.end_s for w in st.committed_words[before:]]
    n_committed = len(st.committed_words)
    t_end = len(x) / SAMPLE_RATE  # the VAD endpoint: the worker may still be decoding
    t0 = time.perf_counter()
    final = st.finish()
    final_latency = max(clock, t_end) + (time.perf_counter() - t0) - t_end
    return lat, n_committed, final, st.decodes, final_latency, st.final_decode_skipped


def child(model: str, runs: int, interval_s: float) -> dict:
    """Measure one model in this (fresh) process; returns a JSON-able dict."""
    import numpy as np  # noqa: F401

    from assistant.asr import WhisperASR, wer
    from assistant.audio import read_audio
    from models.registry import resolve_asr_model

    mem = PeakRSS()
    audio = read_audio(JFK)
    rss_imports = mem.now()
    t0 = time.perf_counter()
    resolve_asr_model(model)
    resolve_s = time.perf_counter() - t0
    asr = WhisperASR(model)  # resolves again (cached verification) and loads
    load_s = asr.load_seconds
    rss_loaded = mem.now()
    asr.transcribe(audio)  # warm-up
    out: dict = {"model": model, "resolve_s": resolve_s, "load_s": load_s, "threads": asr.cpu_threads}
    times: dict = {True: [], False: []}
    texts: dict = {}
    for _ in range(runs):  # interleaved, so load changes hit both variants alike
        for wt in (True, False):
            t = asr.transcribe(audio, word_timestamps=wt)
            times[wt].append(t.decode_ms)
            texts[wt] = t.text
    for wt in (True, False):
        key = "wt" if wt else "nowt"
        out[f"decode_ms_{key}"] = statistics.median(times[wt])
        out[f"decode_ms_{key}_all"] = times[wt]
        out[f"rtf_{key}"] = statistics.median(times[wt]) / 1000 / t.audio_seconds
        out[f"wer_{key}"] = wer(JFK_REF, texts[wt])
    lat, n_committed, final, decodes, final_latency, skipped = stream_latency(asr, audio, interval_s)
    out.update(
        stream_latency_median_s=statistics.median(lat) if lat else None,
        stream_latency_max_s=max(lat) if lat else None,
        stream_words_committed_before_end=n_committed,
        stream_words_total=len(final.words),
        stream_decodes=decodes,
        stream_final_decode_ms=final.decode_ms,
        stream_final_latency_ms=final_latency * 1000,
        stream_final_decode_skipped=skipped,
        stream_final_wer=wer(JFK_REF, final.text),
        stream_final_text=final.text,
    )
    peak = mem.stop()
    out.update(
        rss_imports_mb=rss_imports / 2**20,
        rss_loaded_mb=rss_loaded / 2**20,
        rss_peak_mb=peak / 2**20,
        ru_maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return out


def hotword_bench(models: list[str]) -> None:
    """Entity-value hit rate with and without hotwords on synthetic commands."""
    sys.path.insert(0, str(ROOT / "tests"))
    from audio_factory import espeak_say, piper_say, read_16k  # type: ignore

    from assistant.asr import WhisperASR, normalize_text, wer

    values = [v for _, v in COMMANDS]
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (text, value) in enumerate(COMMANDS):
            for voice, make in (
                ("piper", lambda t, p: piper_say(t, p)),
                ("espeak-us", lambda t, p: espeak_say(t, p, voice="en-us", speed=150)),
            ):
                p = make(text, Path(tmp) / f"{i}-{voice}.wav")
                clips.append((voice, text, value, read_16k(p)))
    print(f"\nHotwords: {len(COMMANDS)} commands x 2 voices (Piper joe, espeak-ng en-us); "
          f"hotwords = the {len(values)} entity values")
    print(f"{'model':8} {'voice':10} {'hits plain':>11} {'hits hotw':>10} {'WER plain':>10} {'WER hotw':>9}")
    for model in models:
        asr = WhisperASR(model)
        for voice in ("piper", "espeak-us"):
            rows = [c for c in clips if c[0] == voice]
            hits = {False: 0, True: 0}
            wers = {False: [], True: []}
            for _, text, value, audio in rows:
                for hw in (False, True):
                    got = asr.transcribe(audio, hotwords=values if hw else None, word_timestamps=False).text
                    hits[hw] += f" {normalize_text(value)} " in f" {normalize_text(got)} "
                    wers[hw].append(wer(text, got))
            n = len(rows)
            print(f"{model:8} {voice:10} {hits[False]:>5}/{n:<5} {hits[True]:>4}/{n:<5} "
                  f"{statistics.mean(wers[False]):>10.3f} {statistics.mean(wers[True]):>9.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["base", "tiny.en"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--interval", type=float, default=0.7, help="streaming re-decode interval, s")
    ap.add_argument("--hotwords", action="store_true", help="also measure contextual biasing")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.runs, args.interval)))
        return 0

    print(f"cores: {os.cpu_count()}  load average before: {os.getloadavg()[0]:.2f}")
    results = []
    for m in args.models:
        p = subprocess.run([sys.executable, __file__, "--child", m, "--runs", str(args.runs),
                            "--interval", str(args.interval)], capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            return 1
        results.append(json.loads(p.stdout.strip().splitlines()[-1]))
    print(f"\njfk.flac (11.0 s), int8, beam 1, {results[0]['threads']} threads, median of {args.runs} runs")
    hdr = ("model", "resolve s", "load s", "RTF", "RTF -wt", "WER", "commit lat s", "max s",
           "final ms", "stream WER", "RSS load MB", "peak MB")
    print(("{:8} " + "{:>10} " * (len(hdr) - 1)).format(*hdr))
    for r in results:
        print(("{:8} " + "{:>10.2f} " * 2 + "{:>10.3f} " * 3 + "{:>10.2f} " * 2 + "{:>10.0f} {:>10.3f} {:>10.0f} {:>10.0f}").format(
            r["model"], r["resolve_s"], r["load_s"], r["rtf_wt"], r["rtf_nowt"], r["wer_wt"],
            r["stream_latency_median_s"], r["stream_latency_max_s"], r["stream_final_latency_ms"],
            r["stream_final_wer"], r["rss_loaded_mb"], r["rss_peak_mb"]))
    for r in results:
        fin = "skipped (silent tail)" if r["stream_final_decode_skipped"] else f"{r['stream_final_decode_ms']:.0f} ms"
        print(f"  {r['model']}: decode ms with word timestamps {[round(x) for x in r['decode_ms_wt_all']]}, "
              f"without {[round(x) for x in r['decode_ms_nowt_all']]}; streaming: {r['stream_decodes']} decodes, "
              f"{r['stream_words_committed_before_end']}/{r['stream_words_total']} words committed before the "
              f"endpoint, final decode {fin}; "
              f"RSS after imports {r['rss_imports_mb']:.0f} MB, ru_maxrss {r['ru_maxrss_mb']:.0f} MB")
        if r["stream_final_wer"] or r["wer_wt"]:
            print(f"    streamed: {r['stream_final_text']!r}")
    if args.hotwords:
        hotword_bench(args.models)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
