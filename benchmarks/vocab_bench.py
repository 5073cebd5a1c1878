"""Contextual vocabulary: command accuracy on spoken commands that contain skill vocabulary
(application names, timer names), with the skills' vocabulary passed to Whisper as
``hotwords`` (``settings.asr.hotwords = true``, the default) and without.

Set-up, all offline:

* a temporary ``XDG_DATA_HOME`` holds ``.desktop`` entries for real desktop applications
  whose names Whisper rarely spells right on its own (Inkscape, Kdenlive, Okular, …); the
  apps skill adds them to its lookup table, so they are in the skills' vocabulary;
* timer names come from the timer skill's lookup table (quinoa, gnocchi, focaccia, …);
* every command is synthesized with Piper (joe) and two espeak-ng voices (en-us, en-gb);
* each recording is decoded by the app's ASR (Whisper base, int8, beam 1) with and without
  ``vocabulary(skills)`` as hotwords, and each of those followed by the domain pass (decoded
  again, beam 5, with only the vocabulary of the skill the first transcript is for;
  :mod:`assistant.asr.domain`; the app's default is the unbiased first decode + the domain
  pass); each transcript goes through the app's Rasa model.

A command counts as **correct** when the skill would do the right thing: the intent is
right and, for ``open X``, the requested name (the ``app`` entity, else the words after
"open") resolves to X with the apps skill's own matcher; for ``set a X timer for N
minutes``, the ``timer_name`` entity is X and the duration parses to N minutes. Also
reported: how often the vocabulary word appears in the transcript.

Usage::

    .venv/bin/python benchmarks/vocab_bench.py [--json out.json] [--voices piper,espeak-us,espeak-gb]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_env  # noqa: E402

bench_env.isolate("vocab-bench")  # never the user's reminders, notes or settings
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

#: Desktop applications with names a general ASR tends to miss: (Name, desktop id).
APPS = ["Inkscape", "Kdenlive", "Okular", "Audacity", "Thunderbird", "Rhythmbox", "Shotwell", "Geany", "Remmina",
        "Krita", "Darktable", "Evince", "Nautilus", "Handbrake", "Zathura"]
#: Timer names (all in the timer skill's lookup table) and minutes.
TIMERS = [("quinoa", 15), ("gnocchi", 3), ("focaccia", 25), ("brioche", 30), ("sourdough", 40), ("paella", 20),
          ("kombucha", 10), ("couscous", 5), ("tagine", 45), ("polenta", 12), ("risotto", 18), ("lasagna", 35)]
VOICES = {"piper": ("piper", 1.0), "espeak-us": ("espeak", "en-us"), "espeak-gb": ("espeak", "en-gb")}


def commands() -> list[dict]:
    """The spoken commands with what they must do."""
    out = [{"text": f"Open {a}.", "intent": "apps__open_app", "app": a, "word": a.lower()} for a in APPS]
    out += [{"text": f"Set a {n} timer for {m} minutes.", "intent": "timer__set_timer", "timer": n, "seconds": m * 60,
             "word": n} for n, m in TIMERS]
    return out


def make_desktop_dir(root: Path) -> None:
    """``.desktop`` entries for :data:`APPS` (Exec is ``true``: nothing is launched)."""
    apps = root / "applications"
    apps.mkdir(parents=True, exist_ok=True)
    for a in APPS:
        (apps / f"bench.{a.lower()}.desktop").write_text(
            f"[Desktop Entry]\nType=Application\nName={a}\nExec=true\n", encoding="utf-8")


def judge(cmd: dict, intent: str, entities: list[dict], transcript: str) -> bool:
    """True if the skill would carry out ``cmd`` from this NLU result."""
    from assistant.skills import parse_duration
    from skills.apps import app_name_in
    from skills.apps.desktop import find_apps, match

    if intent != cmd["intent"]:
        return False
    if "app" in cmd:
        names = [e["value"] for e in entities if e["entity"] == "apps__app"]
        name = str(names[0]) if names else app_name_in(transcript)
        found = match(name, find_apps())
        return found is not None and found.name == cmd["app"]
    names = [str(e["value"]).lower() for e in entities if e["entity"] == "timer__timer_name"]
    return cmd["timer"] in names and parse_duration(transcript) == cmd["seconds"]


MODES = ("off", "on", "domain", "plain_domain")
"""First pass without hotwords; with the whole vocabulary; with it + the domain pass; without
it + the domain pass (the app's default since 2026-12-07: ``asr.first_pass_hotwords`` off)."""


def run(voices: list[str]) -> dict:
    """Synthesize, decode with and without hotwords, parse, judge. Returns the figures."""
    from audio_factory import espeak_say, piper_say, read_16k

    from assistant.asr import DomainVocabularies, WhisperASR, domain_pass, interleave_vocabularies
    from assistant.events import EventBus
    from assistant.components import build_sidecar
    from assistant.settings import NLUSettings, Settings, SkillsSettings
    from assistant.skills import SkillHost, load_skills

    tmp = Path(tempfile.mkdtemp(prefix="vocab-bench-"))
    make_desktop_dir(tmp / "share")
    os.environ["XDG_DATA_HOME"] = str(tmp / "share")
    skills = load_skills().skills
    hotwords = interleave_vocabularies([sk.vocabulary() for sk in skills])  # as the app builds it
    domains = DomainVocabularies.from_skills(skills)
    missing = [c["word"] for c in commands() if c["word"] not in {h.lower() for h in hotwords}]
    assert not missing, f"not in the skills' vocabulary: {missing}"
    host = SkillHost(EventBus(), SkillsSettings())
    sidecar = build_sidecar(skills, host, NLUSettings())
    sidecar.start(timeout=300)
    s = Settings().asr
    asr = WhisperASR(s.model, compute_type=s.compute_type, beam_size=s.beam_size, language=s.language)
    rows = []
    try:
        for voice in voices:
            kind, arg = VOICES[voice]
            for i, cmd in enumerate(commands()):
                wav = tmp / f"{voice}-{i}.wav"
                if kind == "piper":
                    piper_say(cmd["text"], wav, length_scale=arg)
                else:
                    espeak_say(cmd["text"], wav, voice=arg, speed=150)
                audio = read_16k(wav)
                first = {"off": asr.transcribe(audio).text, "on": asr.transcribe(audio, hotwords=hotwords).text}
                for mode in MODES:
                    text = first["on" if mode in ("on", "domain") else "off"]
                    if mode in ("domain", "plain_domain"):  # + the domain pass (assistant/asr/domain.py)
                        text = domain_pass(asr, audio, text, sidecar.parse_full, domains, beam_size=s.domain_beam_size).text
                    intent, _conf, ents = sidecar.parse(text)
                    rows.append({"voice": voice, "mode": mode, "command": cmd["text"], "transcript": text,
                                 "intent": intent, "word_heard": cmd["word"] in text.lower(),
                                 "correct": judge(cmd, intent, ents, text)})
    finally:
        sidecar.stop()
        host.close()

    def figures(sel: list[dict]) -> dict:
        n = len(sel)
        return {"n": n, "command_accuracy": round(sum(r["correct"] for r in sel) / n, 4) if n else None,
                "word_in_transcript": round(sum(r["word_heard"] for r in sel) / n, 4) if n else None}

    summary = {}
    for mode in MODES:
        summary[mode] = {"all": figures([r for r in rows if r["mode"] == mode])}
        for voice in voices:
            summary[mode][voice] = figures([r for r in rows if r["mode"] == mode and r["voice"] == voice])
        for kind, prefix in (("apps", "Open "), ("timers", "Set a ")):
            summary[mode][kind] = figures([r for r in rows if r["mode"] == mode and r["command"].startswith(prefix)])
    return {"summary": summary, "rows": rows, "n_hotwords": len(hotwords), "asr_model": s.model}


def table(result: dict) -> str:
    """Markdown table: command accuracy (word in transcript) for each of :data:`MODES`."""
    lines = ["| recordings | n | hotwords off | hotwords on | on + domain pass | off + domain pass |",
             "|---|---:|---:|---:|---:|---:|"]
    off = result["summary"]["off"]
    for key in [k for k in off if k != "all"] + ["all"]:
        cells = [result["summary"][m][key] for m in MODES]
        lines.append(f"| {key} | {cells[0]['n']} | " + " | ".join(
            f"{100 * c['command_accuracy']:.1f} % ({100 * c['word_in_transcript']:.0f} %)" for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voices", default=",".join(VOICES), help=f"comma-separated, from {', '.join(VOICES)}")
    ap.add_argument("--json", type=Path, help="write every transcript and the figures here")
    ap.add_argument("--errors", action="store_true", help="print the commands that went wrong")
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    t0 = time.monotonic()
    result = run([v.strip() for v in args.voices.split(",") if v.strip()])
    print(table(result))
    print(f"\ncommand accuracy (and share of transcripts containing the app/timer name); "
          f"{result['n_hotwords']} hotwords, Whisper {result['asr_model']}; {time.monotonic() - t0:.0f} s")
    if args.errors:
        for r in result["rows"]:
            if not r["correct"]:
                print(f"  [{r['voice']}, hotwords {r['mode']}] {r['command']!r} → {r['transcript']!r} ({r['intent']})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
