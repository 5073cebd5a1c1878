"""Benchmark the Rasa sidecar: the "logreg" pipeline against "diet".

Usage (from the repo root; each pipeline trains from scratch into a temporary folder, so
this takes a few minutes on 2 cores)::

    .venv/bin/python benchmarks/nlu_bench.py [--pipelines logreg diet] [--turns 30] [--starts 2]
                                             [--threshold 0.45] [--json artifacts/nlu_bench.json]

Project: the installed skills composed by ``assistant.skills.compose_project()`` (or only
``--skills ID ...``) plus the core ``out_of_scope``, with the skills' real ``rasa_sdk``
actions from ``SkillHost``. Held-out paraphrases below (5-6 per intent of the built-in
skills, checked not to occur in the training data) measure intent accuracy.

Prints per pipeline:
  * train: wall time of ``rasa train`` (fresh Rasa cache), seconds; model size, KB;
  * ready: ``rasa run`` spawn → ``/status`` answers with the model, seconds (``--starts``
    samples: the first start and ``restart()``s);
  * RSS of the Rasa process and its children after the measurements, MB (psutil);
  * parse p50/p95: ``/model/parse`` round trip, ms;
  * turn p50/p95: ``/webhooks/rest/webhook`` + tracker read for "what time is it", which
    runs one custom action (``action_clock__tell_time``) in this process, ms;
  * intent accuracy on the held-out paraphrases at the configured FallbackClassifier
    threshold (``nlu_fallback`` counts as right for out-of-scope requests, since the user
    hears the same "Sorry"), the fallback rate on in-scope phrases, entity recall, and the
    same accuracy re-scored offline for other thresholds from the intent ranking.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from assistant.events import EventBus  # noqa: E402
from assistant.nlu import RasaSidecar  # noqa: E402
from assistant.settings import NLUSettings, Settings  # noqa: E402

# (text, intent, {entity: value}) — none of these texts is a training example.
HELD_OUT: list[tuple[str, str, dict]] = [
    ("tell me what time it is", "clock__ask_time", {}),
    ("what hour is it", "clock__ask_time", {}),
    ("do you have the time", "clock__ask_time", {}),
    ("what's the time at the moment", "clock__ask_time", {}),
    ("could you check the time for me", "clock__ask_time", {}),
    ("what does the clock say", "clock__ask_time", {}),
    ("tell me today's date", "clock__ask_date", {}),
    ("can you tell me the date", "clock__ask_date", {}),
    ("what date is today", "clock__ask_date", {}),
    ("do you know the date", "clock__ask_date", {}),
    ("what's the current date", "clock__ask_date", {}),
    ("which day is it", "clock__ask_day", {}),
    ("what day of the week is today", "clock__ask_day", {}),
    ("is today tuesday", "clock__ask_day", {}),
    ("tell me the day of the week", "clock__ask_day", {}),
    ("do you know what day it is", "clock__ask_day", {}),
    ("stop now", "control__stop", {}),
    ("please be quiet", "control__stop", {}),
    ("okay that's enough", "control__stop", {}),
    ("cancel please", "control__stop", {}),
    ("shush", "control__stop", {}),
    ("stop speaking", "control__stop", {}),
    ("set a timer for twelve minutes", "timer__set_timer", {"timer__duration": "twelve minutes"}),
    ("start a timer for 3 minutes", "timer__set_timer", {"timer__duration": "3 minutes"}),
    ("can you start a timer for forty seconds", "timer__set_timer", {"timer__duration": "forty seconds"}),
    ("i need a timer for two hours", "timer__set_timer", {"timer__duration": "two hours"}),
    ("set a rice timer for twenty minutes", "timer__set_timer",
     {"timer__duration": "twenty minutes", "timer__timer_name": "rice"}),
    ("begin a countdown of five minutes", "timer__set_timer", {"timer__duration": "five minutes"}),
    ("stop my timer", "timer__cancel_timer", {}),
    ("get rid of the timer", "timer__cancel_timer", {}),
    ("kill the timer", "timer__cancel_timer", {}),
    ("please cancel the timer i set", "timer__cancel_timer", {}),
    ("delete all timers", "timer__cancel_timer", {}),
    ("cancel the rice timer", "timer__cancel_timer", {"timer__timer_name": "rice"}),
    ("how much longer on the timer", "timer__timer_status", {}),
    ("how many minutes are left", "timer__timer_status", {}),
    ("is my timer still running", "timer__timer_status", {}),
    ("when will the timer go off", "timer__timer_status", {}),
    ("time remaining on my timer", "timer__timer_status", {}),
    ("set an alarm for 6 am", "timer__set_alarm", {}),
    ("wake me at 7:30", "timer__set_alarm", {}),
    ("i need to wake up at 5", "timer__set_alarm", {}),
    ("alarm for tomorrow at 8", "timer__set_alarm", {}),
    ("please set an alarm for 9 o'clock", "timer__set_alarm", {}),
    ("launch firefox please", "apps__open_app", {"apps__app": "firefox"}),
    ("could you open the terminal for me", "apps__open_app", {"apps__app": "terminal"}),
    ("start up thunderbird", "apps__open_app", {"apps__app": "thunderbird"}),
    ("please launch vlc", "apps__open_app", {"apps__app": "vlc"}),
    ("open blender for me", "apps__open_app", {"apps__app": "blender"}),
    ("what is 6 times 9", "calculator__calculate", {}),
    ("how much is 50 plus 25", "calculator__calculate", {}),
    ("calculate 81 minus 18", "calculator__calculate", {}),
    ("what's 144 divided by 12", "calculator__calculate", {}),
    ("what is ten percent of 300", "calculator__calculate", {}),
    ("convert 3 miles to kilometers", "calculator__convert", {}),
    ("how many inches are in a foot", "calculator__convert", {}),
    ("what is 50 fahrenheit in celsius", "calculator__convert", {}),
    ("how many pounds is 5 kilograms", "calculator__convert", {}),
    ("convert 2 liters to cups", "calculator__convert", {}),
    ("what are you capable of", "help__what_can_you_do", {}),
    ("what things can you help with", "help__what_can_you_do", {}),
    ("i need some help", "help__what_can_you_do", {}),
    ("show me what you can do", "help__what_can_you_do", {}),
    ("what can you help me with", "help__what_can_you_do", {}),
    ("play the music again", "media__play", {}),
    ("resume the song", "media__play", {}),
    ("continue the music", "media__play", {}),
    ("start playing", "media__play", {}),
    ("unpause the song", "media__play", {}),
    ("pause the track", "media__pause", {}),
    ("pause the music please", "media__pause", {}),
    ("hold the song", "media__pause", {}),
    ("stop the track", "media__pause", {}),
    ("put the song on pause", "media__pause", {}),
    ("skip to the next song", "media__next_track", {}),
    ("next one", "media__next_track", {}),
    ("play the next track", "media__next_track", {}),
    ("skip this track", "media__next_track", {}),
    ("go to the next song", "media__next_track", {}),
    ("go back a song", "media__previous_track", {}),
    ("play the last track again", "media__previous_track", {}),
    ("previous song please", "media__previous_track", {}),
    ("back one song", "media__previous_track", {}),
    ("go to the previous track", "media__previous_track", {}),
    ("turn the song up", "media__player_volume", {}),
    ("make the music louder", "media__player_volume", {}),
    ("lower the song volume", "media__player_volume", {}),
    ("the music is way too loud", "media__player_volume", {}),
    ("set the music to 50 percent", "media__player_volume", {}),
    ("note down that the car needs oil", "notes__take_note", {}),
    ("please make a note", "notes__take_note", {}),
    ("write a note", "notes__take_note", {}),
    ("take down a note", "notes__take_note", {}),
    ("add a note about the party", "notes__take_note", {}),
    ("read out my notes", "notes__read_notes", {}),
    ("what notes do i have", "notes__read_notes", {}),
    ("tell me what i wrote down", "notes__read_notes", {}),
    ("read my last note", "notes__read_notes", {}),
    ("show me my notes", "notes__read_notes", {}),
    ("delete my notes please", "notes__delete_notes", {}),
    ("erase my notes", "notes__delete_notes", {}),
    ("clear all notes", "notes__delete_notes", {}),
    ("remove all my notes", "notes__delete_notes", {}),
    ("wipe all my notes", "notes__delete_notes", {}),
    ("remind me to call dad tomorrow", "reminders__set_reminder", {}),
    ("set a reminder to buy bread", "reminders__set_reminder", {}),
    ("remind me in an hour to stretch", "reminders__set_reminder", {}),
    ("please remind me to lock the door at 10 pm", "reminders__set_reminder", {}),
    ("add a reminder for the meeting", "reminders__set_reminder", {}),
    ("what reminders do i have", "reminders__list_reminders", {}),
    ("show my reminders", "reminders__list_reminders", {}),
    ("list all reminders", "reminders__list_reminders", {}),
    ("are there any reminders", "reminders__list_reminders", {}),
    ("read me my reminders", "reminders__list_reminders", {}),
    ("cancel the reminder", "reminders__cancel_reminder", {}),
    ("delete my reminders", "reminders__cancel_reminder", {}),
    ("remove the reminder about the meeting", "reminders__cancel_reminder", {}),
    ("clear my reminders", "reminders__cancel_reminder", {}),
    ("cancel every reminder", "reminders__cancel_reminder", {}),
    ("turn up the volume", "volume__change_volume", {}),
    ("make it quieter", "volume__change_volume", {}),
    ("volume to 40 percent", "volume__change_volume", {}),
    ("lower the sound", "volume__change_volume", {}),
    ("it's too loud in here", "volume__change_volume", {}),
    ("mute the volume", "volume__mute", {}),
    ("mute please", "volume__mute", {}),
    ("turn the sound back on please", "volume__mute", {}),
    ("unmute the audio", "volume__mute", {}),
    ("switch the sound off", "volume__mute", {}),
    ("what's the weather in paris", "out_of_scope", {}),
    ("what's the capital of peru", "out_of_scope", {}),
    ("book me a flight to rome", "out_of_scope", {}),
    ("turn off the bedroom lights", "out_of_scope", {}),
    ("who wrote hamlet", "out_of_scope", {}),
    ("order some groceries", "out_of_scope", {}),
]
CUSTOM_ACTION_TURN = "what time is it"  # → action_clock__tell_time (a custom action)
UTTER_TURN = "tell me a joke"  # → out_of_scope → utter_default (no custom action)
THRESHOLDS = [0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7]


def pct(values: list[float], q: float) -> float:
    """q-th percentile (0-100) by nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def load_project(only: list[str] | None):
    """The skills' composed project (all installed skills, or only the ids in ``only``)
    and their actions."""
    from assistant.skills import SkillHost, compose_project, load_skills

    loaded = load_skills()
    if loaded.errors:
        print("skill load errors:", loaded.errors, file=sys.stderr)
    skills = [s for s in loaded.skills if not only or s.id in only]
    project = compose_project(skills)
    actions = SkillHost(EventBus(), Settings().skills).actions(skills)
    return project, actions, [s.id for s in skills]


def training_texts(project) -> set[str]:
    import re

    texts = set()
    for item in project.nlu:
        if "intent" in item:
            for line in item["examples"].splitlines():
                line = line.strip()[2:].strip() if line.strip().startswith("- ") else line.strip()
                texts.add(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line).lower())
    return texts


def rescore(ranking: list[dict], threshold: float, ambiguity: float = 0.1) -> str:
    """The intent FallbackClassifier would give at ``threshold`` (from the raw ranking)."""
    ranks = [r for r in ranking if r.get("name") != "nlu_fallback"]
    if not ranks:
        return "nlu_fallback"
    top = ranks[0]["confidence"]
    second = ranks[1]["confidence"] if len(ranks) > 1 else 0.0
    if top < threshold or top - second < ambiguity:
        return "nlu_fallback"
    return ranks[0]["name"]


def correct(predicted: str, expected: str) -> bool:
    return predicted == expected or (expected == "out_of_scope" and predicted == "nlu_fallback")


def bench(pipeline: str, project, actions, held_out, args) -> dict:
    settings = NLUSettings(pipeline=pipeline, fallback_threshold=args.threshold)
    root = Path(tempfile.mkdtemp(prefix=f"nlu-bench-{pipeline}-"))
    sc = RasaSidecar(project, actions, settings, workdir=root)
    out: dict = {"pipeline": pipeline}
    try:
        sc.ensure_trained()
        out["train_s"] = sc.train_seconds
        out["model_kb"] = sc.model_path.stat().st_size / 1024
        starts = []
        sc.start(timeout=600)
        starts.append(sc.start_seconds)
        for _ in range(args.starts - 1):
            sc.restart(timeout=600)
            starts.append(sc.start_seconds)
        out["ready_s"] = starts

        for text, _, _ in held_out[:5]:  # warm-up
            sc.parse(text)
        sc.message("warmup", CUSTOM_ACTION_TURN)

        parse_ms, results = [], []
        for rep in range(3):
            for text, intent, ents in held_out:
                t0 = time.perf_counter()
                data = sc.parse_full(text)
                parse_ms.append((time.perf_counter() - t0) * 1000)
                if rep == 0:
                    results.append((text, intent, ents, data))
        out["parse_p50_ms"], out["parse_p95_ms"] = pct(parse_ms, 50), pct(parse_ms, 95)

        turn_ms, utter_ms = [], []
        for i in range(args.turns):
            r = sc.message("bench", CUSTOM_ACTION_TURN)
            turn_ms.append(r.elapsed_ms)
            assert r.replies, f"no reply to {CUSTOM_ACTION_TURN!r}: {r}"
            r = sc.message("bench", UTTER_TURN)
            utter_ms.append(r.elapsed_ms)
        out["turn_custom_p50_ms"], out["turn_custom_p95_ms"] = pct(turn_ms, 50), pct(turn_ms, 95)
        out["turn_utter_p50_ms"] = pct(utter_ms, 50)
        out["sample_reply"] = r.replies

        proc = psutil.Process(sc.pid)
        out["rss_mb"] = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20

        ok = in_scope = fallbacks = 0
        ent_total = ent_found = 0
        misses = []
        for text, intent, ents, data in results:
            pred = (data.get("intent") or {}).get("name", "")
            if correct(pred, intent):
                ok += 1
            else:
                conf = (data.get("intent") or {}).get("confidence", 0)
                misses.append(f"{text!r}: {pred} ({conf:.2f}), want {intent}")
            if intent != "out_of_scope":
                in_scope += 1
                fallbacks += pred == "nlu_fallback"
            for ent, value in ents.items():
                ent_total += 1
                ent_found += any(e.get("entity") == ent and str(e.get("value")).lower() == value
                                 for e in data.get("entities") or [])
        out["accuracy"] = ok / len(results)
        out["fallback_rate_in_scope"] = fallbacks / max(1, in_scope)
        out["entity_recall"] = ent_found / max(1, ent_total)
        out["misses"] = misses
        out["accuracy_by_threshold"] = {
            t: sum(correct(rescore(d.get("intent_ranking") or [], t), i) for _, i, _, d in results) / len(results)
            for t in THRESHOLDS}
        out["top_confidence_median"] = statistics.median(
            max((r["confidence"] for r in d.get("intent_ranking") or [] if r["name"] != "nlu_fallback"), default=0)
            for *_, d in results)
    finally:
        sc.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipelines", nargs="+", default=["logreg", "diet"], choices=["logreg", "diet"])
    ap.add_argument("--turns", type=int, default=30, help="webhook turns per kind")
    ap.add_argument("--starts", type=int, default=2, help="server starts to time (1 start + N-1 restarts)")
    ap.add_argument("--threshold", type=float, default=NLUSettings().fallback_threshold)
    ap.add_argument("--skills", nargs="*", help="skill ids to compose (default: all installed)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    project, actions, skill_ids = load_project(args.skills)
    seen = training_texts(project)
    intents = set(project.intents())
    held_out = []
    for text, intent, ents in HELD_OUT:
        if text.lower() in seen:
            print(f"note: held-out {text!r} is a training example now; skipped", file=sys.stderr)
        elif intent not in intents:
            pass  # skill not installed / not selected
        else:
            held_out.append((text, intent, ents))
    per_intent = {i: sum(1 for _, j, _ in held_out if j == i) for i in sorted(intents)}
    n_train = sum(item["examples"].count("\n") for item in project.nlu if "intent" in item)
    print(f"project: skills {', '.join(skill_ids)}; {len(intents)} intents, {n_train} training examples, "
          f"{len(actions)} custom actions; held-out {len(held_out)} paraphrases")
    thin = {i: n for i, n in per_intent.items() if n < 5}
    if thin:
        print(f"note: fewer than 5 held-out paraphrases for {thin}", file=sys.stderr)
    print(f"machine: {psutil.cpu_count()} CPUs, load {psutil.getloadavg()[0]:.1f}; "
          f"FallbackClassifier threshold {args.threshold}")

    rows = []
    for pipeline in args.pipelines:
        print(f"\n== {pipeline}: training…", flush=True)
        row = bench(pipeline, project, actions, held_out, args)
        rows.append(row)
        print(f"train {row['train_s']:.1f} s | model {row['model_kb']:.0f} KB | ready "
              f"{', '.join(f'{s:.1f}' for s in row['ready_s'])} s | RSS {row['rss_mb']:.0f} MB")
        print(f"parse p50 {row['parse_p50_ms']:.1f} ms, p95 {row['parse_p95_ms']:.1f} ms | "
              f"turn with custom action p50 {row['turn_custom_p50_ms']:.1f} ms, p95 {row['turn_custom_p95_ms']:.1f} ms"
              f" | turn with utter_default p50 {row['turn_utter_p50_ms']:.1f} ms")
        print(f"intent accuracy {row['accuracy']:.1%} (fallback on in-scope {row['fallback_rate_in_scope']:.1%}), "
              f"entity recall {row['entity_recall']:.1%}, median top confidence {row['top_confidence_median']:.2f}")
        print("accuracy by threshold: " + ", ".join(f"{t}: {a:.1%}" for t, a in row["accuracy_by_threshold"].items()))
        for m in row["misses"]:
            print("  miss:", m)

    print("\n| pipeline | train s | model KB | ready s | RSS MB | parse p50/p95 ms | turn+action p50 ms | accuracy |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pipeline']} | {r['train_s']:.1f} | {r['model_kb']:.0f} | "
              f"{'/'.join(f'{s:.1f}' for s in r['ready_s'])} | {r['rss_mb']:.0f} | "
              f"{r['parse_p50_ms']:.1f}/{r['parse_p95_ms']:.1f} | {r['turn_custom_p50_ms']:.1f} | {r['accuracy']:.1%} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2, default=str))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
