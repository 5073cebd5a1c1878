"""Hotword leak probe: does contextual biasing put vocabulary phrases nobody said into the
transcript, and does it still bring the ones that were said?

Set-up, all offline:

* vocabulary = the installed skills' :func:`assistant.skills.vocabulary` (built-ins first, as
  the app builds it) followed by the values of a *third-party-style* ordering skill that is
  not installed (pizza ordering: sizes, crusts, toppings, sauces, drinks sides — 60
  phrases), as when a user installs a skill with many short entity values;
* commands: ``N_WITH`` orders that contain some of those values and ``N_WITHOUT``
  commands that contain none;
* voices: the shipped Piper joe voice at three speeds and several espeak-ng voices and
  variants (``VOICES``); each recording gets one of the leading conditions in turn:
  0 / 0.5 / 1.0 s of digital silence, or 0.5 / 1.0 s of leading *noise* with noise under
  the whole command (white + pink, 20 dB SNR, seeded);
* every recording is decoded once per configuration (``CONFIGS``) with
  :meth:`assistant.asr.WhisperASR.transcribe` (no word timestamps, like the streaming
  pipeline on short buffers).

Figures per configuration:

* **leak rate** — share of transcripts that contain a vocabulary phrase (whole words,
  normalised) that the command did not contain;
* **slot words** — share of commands with vocabulary values whose values *all* appear in the
  transcript (digits spelt out, spaces ignored: "4 cheese", "meatlovers" count);
* **WER** (mean, normalised text) and **decode ms** (median and p90 per recording).

Usage::

    .venv/bin/python benchmarks/leak_bench.py [--configs none,hotwords,...] [--model base]
        [--voices piper1.0,espeak-us,...] [--json out.json] [--errors]

Synthetic voices flatter Whisper; compare configurations with each other, not with real
speech. The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Entity values of a third-party-style pizza ordering skill (not installed).
DOMAIN = [
    "small", "medium", "large", "extra large", "personal",
    "thin crust", "thick crust", "deep dish", "stuffed crust", "gluten free", "hand tossed",
    "pepperoni", "mushrooms", "onions", "sausage", "bacon", "extra cheese", "black olives",
    "green peppers", "pineapple", "spinach", "jalapenos", "anchovies", "ham", "chicken",
    "sun dried tomatoes", "artichoke", "garlic", "basil", "feta", "mozzarella", "parmesan",
    "tomato sauce", "pesto", "barbecue sauce", "alfredo", "ranch", "buffalo",
    "margherita", "hawaiian", "meat lovers", "veggie supreme", "four cheese", "calzone",
    "garlic bread", "breadsticks", "wings", "salad", "cola", "lemonade", "iced tea", "water",
    "well done", "light sauce", "no cheese", "half and half", "delivery", "pickup", "cheese", "olives",
]

#: (command, vocabulary values said). Values are those of DOMAIN/the skills it contains.
COMMANDS_WITH = [
    ("Can I have a large pepperoni pizza with thin crust", ["large", "pepperoni", "thin crust"]),
    ("I'd like a medium hawaiian with extra cheese", ["medium", "hawaiian", "extra cheese"]),
    ("I want a small margherita please", ["small", "margherita"]),
    ("Could I get a deep dish with sausage and mushrooms", ["deep dish", "sausage", "mushrooms"]),
    ("Add black olives and green peppers", ["black olives", "green peppers"]),
    ("Make it an extra large meat lovers for delivery", ["extra large", "meat lovers", "delivery"]),
    ("I'll take garlic bread and a lemonade", ["garlic bread", "lemonade"]),
    ("A veggie supreme with pesto instead of tomato sauce", ["veggie supreme", "pesto", "tomato sauce"]),
    ("Can I get wings with ranch", ["wings", "ranch"]),
    ("One stuffed crust with pineapple and ham", ["stuffed crust", "pineapple", "ham"]),
    ("I would like a four cheese pizza, well done", ["four cheese", "well done"]),
    ("Give me a calzone with spinach and feta for pickup", ["calzone", "spinach", "feta", "pickup"]),
]
COMMANDS_WITHOUT = [
    ("What time is it", []),
    ("Turn the volume up a little", []),
    ("How long until my order arrives", []),
    ("What's the weather like tomorrow", []),
    ("Cancel that", []),
    ("Tell me a joke", []),
]
COMMANDS = COMMANDS_WITH + COMMANDS_WITHOUT

#: voice name → ("piper", length_scale) or ("espeak", voice, words per minute)
VOICES = {
    "piper1.0": ("piper", 1.0),
    "piper0.8": ("piper", 0.8),
    "piper1.25": ("piper", 1.25),
    "espeak-us": ("espeak", "en-us", 160),
    "espeak-gb": ("espeak", "en-gb", 150),
    "espeak-us-f3": ("espeak", "en-us+f3", 170),
    "espeak-scot-m3": ("espeak", "en-gb-scotland+m3", 150),
    "espeak-rp-f2": ("espeak", "en-gb-x-rp+f2", 140),
}
#: leading conditions, in turn: (seconds, noisy)
LEADS = [(0.0, False), (0.5, False), (1.0, False), (0.5, True), (1.0, True)]
SNR_DB = 20.0


def vocabulary(order: str = "flat") -> list[str]:
    """The installed skills' vocabulary and then :data:`DOMAIN` (the third-party skill,
    loaded after the built-ins): ``"flat"`` concatenates them (as the app did before issue
    9), ``"interleaved"`` takes the skills' phrases in turn
    (:func:`assistant.asr.interleave_vocabularies`)."""
    from assistant.asr import interleave_vocabularies
    from assistant.skills import load_skills

    groups = [s.vocabulary() for s in load_skills().skills] + [DOMAIN]
    if order == "interleaved":
        return interleave_vocabularies(groups)
    seen, out = set(), []
    for p in (p for g in groups for p in g):
        if p.lower() not in seen:
            seen.add(p.lower())
            out.append(p)
    return out


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White + pink noise (Voss-McCartney-ish via FFT 1/f shaping), unit RMS, float32."""
    white = rng.standard_normal(n)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    pink = np.fft.irfft(spec / np.sqrt(f), n)
    x = white / white.std() + pink / (pink.std() + 1e-12)
    return (x / x.std()).astype(np.float32)


def make_recording(speech: np.ndarray, lead_s: float, noisy: bool, seed: int) -> np.ndarray:
    """``lead_s`` of silence (or noise) + speech + 0.3 s; noise under everything at
    :data:`SNR_DB` (relative to the speech's RMS) when ``noisy``. int16 in, float32 out."""
    x = speech.astype(np.float32) / 32768.0
    x = np.concatenate([np.zeros(int(lead_s * 16000), np.float32), x, np.zeros(4800, np.float32)])
    if noisy:
        rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) / 32768.0
        x = x + _noise(len(x), np.random.default_rng(seed)) * rms * 10 ** (-SNR_DB / 20)
    return np.clip(x, -1, 1).astype(np.float32)


def recordings(voices: list[str], tmp: Path) -> list[dict]:
    """Synthesize every command with every voice; one leading condition each, in turn."""
    from audio_factory import espeak_say, piper_say, read_16k

    out = []
    k = 0
    for voice in voices:
        spec = VOICES[voice]
        for i, (text, said) in enumerate(COMMANDS):
            wav = tmp / f"{voice}-{i}.wav"
            if spec[0] == "piper":
                piper_say(text, wav, length_scale=spec[1])
            else:
                espeak_say(text, wav, voice=spec[1], speed=spec[2])
            lead, noisy = LEADS[k % len(LEADS)]
            k += 1
            out.append({"voice": voice, "text": text, "said": said, "lead_s": lead, "noisy": noisy,
                        "audio": make_recording(read_16k(wav), lead, noisy, seed=k)})
    return out


def phrases_in(text: str, vocab: list[str]) -> set[str]:
    """Normalised vocabulary phrases that occur in ``text`` as whole words."""
    from assistant.asr import normalize_text

    t = f" {normalize_text(text)} "
    return {p for p in (normalize_text(v) for v in vocab) if p and f" {p} " in t}


_NUM = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight",
        "9": "nine", "10": "ten", "12": "twelve"}


def loose(text: str) -> str:
    """Normalised text with digits spelt out and no spaces, for the slot-word check ("4
    cheese" is "four cheese", "meatlovers" is "meat lovers")."""
    from assistant.asr import normalize_text

    return "".join(_NUM.get(w, w) for w in normalize_text(text).split())


def leaked(transcript: str, reference: str, vocab: list[str]) -> set[str]:
    """Vocabulary phrases in ``transcript`` that are not in ``reference`` (and are not part
    of a longer phrase that is, e.g. "cheese" inside "extra cheese")."""
    said = phrases_in(reference, vocab)
    heard = phrases_in(transcript, vocab)
    return {p for p in heard - said if not any(f" {p} " in f" {s} " for s in said)}


def configs(vocab: list[str], inter: list[str]) -> dict:
    """name → keyword arguments for :meth:`WhisperASR.transcribe`, plus ``_via`` (the
    model's ``bias_via``) and ``_vad`` (its ``vad_parameters``)."""
    domain = [d for d in vocab if d in DOMAIN]
    return {
        "none": {},
        "hotwords": {"hotwords": vocab, "bias_guard": False},
        "hotwords-inter": {"hotwords": inter, "bias_guard": False},
        "prompt-inter": {"hotwords": inter, "bias_guard": False, "_via": "prompt"},
        "hotwords-domain": {"hotwords": domain, "bias_guard": False},
        "hotwords-inter+guard": {"hotwords": inter, "bias_guard": True},
        "prompt-inter+guard": {"hotwords": inter, "bias_guard": True, "_via": "prompt"},
        "hotwords-inter-pad100": {"hotwords": inter, "bias_guard": False, "_vad": {"speech_pad_ms": 100}},
        "hotwords+guard": {"hotwords": vocab, "bias_guard": True},
        "default": {"hotwords": inter},
    }


def run(voices: list[str], names: list[str], model: str, beam: int, temps: tuple) -> dict:
    """Decode every recording with every configuration; return rows and figures."""
    from assistant.asr import WhisperASR, wer

    vocab, inter = vocabulary("flat"), vocabulary("interleaved")
    tmp = Path(tempfile.mkdtemp(prefix="leak-bench-"))
    recs = recordings(voices, tmp)
    asr = WhisperASR(model, beam_size=beam, temperatures=temps)
    asr.transcribe(recs[0]["audio"])  # warm-up
    all_cfg = configs(vocab, inter)
    via = asr.bias_via
    rows = []
    for name in names:
        kw = dict(all_cfg[name])
        asr.vad_parameters = kw.pop("_vad", None)  # (c): less padding around VAD speech
        asr.bias_via = kw.pop("_via", via)
        for r in recs:
            t = asr.transcribe(r["audio"], word_timestamps=False, **kw)
            leak = leaked(t.text, r["text"], vocab)
            present = all(loose(p) in loose(t.text) for p in r["said"]) if r["said"] else None
            rows.append({"config": name, "voice": r["voice"], "lead_s": r["lead_s"], "noisy": r["noisy"],
                         "command": r["text"], "transcript": t.text, "leaked": sorted(leak),
                         "slot_words": present, "wer": wer(r["text"], t.text), "decode_ms": t.decode_ms})
        f = figures([r for r in rows if r["config"] == name])
        print(f"  {name}: leak {100 * f['leak_rate']:.1f} %, slot words {100 * f['slot_words']:.1f} %, "
              f"WER {f['wer']:.3f}, decode ms p50 {f['decode_ms_p50']:.0f}", file=sys.stderr, flush=True)
    return {"rows": rows, "figures": {n: figures([r for r in rows if r["config"] == n]) for n in names},
            "n_vocab": len(vocab), "model": model, "beam": beam, "temperatures": list(temps)}


def figures(rows: list[dict]) -> dict:
    """leak rate, slot-word presence, WER, decode time of some rows."""
    slot = [r["slot_words"] for r in rows if r["slot_words"] is not None]
    ms = sorted(r["decode_ms"] for r in rows)
    lead = [r for r in rows if r["lead_s"] > 0]
    return {
        "n": len(rows),
        "leak_rate": sum(bool(r["leaked"]) for r in rows) / len(rows),
        "leak_rate_with_lead": sum(bool(r["leaked"]) for r in lead) / max(1, len(lead)),
        "slot_words": sum(slot) / max(1, len(slot)),
        "wer": statistics.fmean(r["wer"] for r in rows),
        "decode_ms_p50": statistics.median(ms),
        "decode_ms_p90": ms[int(0.9 * (len(ms) - 1))],
    }


def table(result: dict) -> str:
    """Markdown table of the figures, one row per configuration."""
    lines = ["| config | n | leak rate | leak (lead ≥ 0.5 s) | slot words | WER | decode ms p50 / p90 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, f in result["figures"].items():
        lines.append(f"| {name} | {f['n']} | {100 * f['leak_rate']:.1f} % | {100 * f['leak_rate_with_lead']:.1f} % "
                     f"| {100 * f['slot_words']:.1f} % | {f['wer']:.3f} | {f['decode_ms_p50']:.0f} / "
                     f"{f['decode_ms_p90']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="none,hotwords,prompt,hotwords+guard")
    ap.add_argument("--voices", default=",".join(VOICES))
    ap.add_argument("--model", default="base")
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--fallback", action="store_true", help="temperature fallback 0.0, 0.2, … 1.0")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--errors", action="store_true", help="print transcripts with a leak or a missing slot word")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    temps = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if args.fallback else (0.0,)
    result = run([v for v in args.voices.split(",") if v], [c for c in args.configs.split(",") if c],
                 args.model, args.beam, temps)
    print(table(result))
    print(f"\nWhisper {args.model}, beam {args.beam}, temperatures {temps}; {result['n_vocab']} vocabulary phrases; "
          f"load {load0:.1f} → {os.getloadavg()[0]:.1f}; {time.monotonic() - t0:.0f} s")
    if args.errors:
        for r in result["rows"]:
            if r["leaked"] or r["slot_words"] is False:
                print(f"  [{r['config']}, {r['voice']}, lead {r['lead_s']} {'noise' if r['noisy'] else ''}] "
                      f"{r['command']!r} → {r['transcript']!r} leaked={r['leaked']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
