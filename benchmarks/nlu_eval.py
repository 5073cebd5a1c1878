"""Text-level NLU evaluation of the installed skills on held-out paraphrases.

Trains (or reuses from the cache) the Rasa model of every installed skill exactly as the app
does (``load_skills`` → ``compose_project`` → ``RasaSidecar``), then parses each sentence
of ``tests/data/nlu_heldout.yml`` — paraphrases written for this evaluation and never used
in training (checked: the run stops if one of them is also a training example) — and
reports, per skill:

* **intent accuracy**: share of the skill's held-out sentences whose top intent (after the
  FallbackClassifier, so ``nlu_fallback`` counts as wrong) is the expected one — except for
  ``out_of_scope`` sentences, where ``nlu_fallback`` is right too (both say "Sorry, I can't
  do that yet.");
* **entity precision / recall / F1**: gold entities are the ``[words](entity)``
  annotations; predicted ones are the entities *of that skill's namespace* found in its
  sentences, compared by entity name and covered words (case-insensitive). Overlapping
  predictions of the same entity (the CRF and a lookup/regex may cut "an hour and a half"
  differently) count once, as the longest span: skills read an entity's first value or
  the whole transcript. Entities of other skills that also fire (a timer duration inside
  a reminder) are not counted: an action only reads its own skill's entities.

Usage::

    .venv/bin/python benchmarks/nlu_eval.py                 # table on stdout
    .venv/bin/python benchmarks/nlu_eval.py --json out.json --errors

Targets (issue 4): intent accuracy ≥ 95 %, entity F1 ≥ 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
INTENT_TARGET = 0.95
ENTITY_TARGET = 0.90
_ANN = re.compile(r"\[([^\]]+)\]\(([a-z0-9_]+)\)")


def plain(sentence: str) -> str:
    """The sentence without annotation markup."""
    return _ANN.sub(r"\1", sentence)


def gold_entities(sentence: str) -> list[tuple[str, str]]:
    """``[(local entity, words)]`` annotated in ``sentence``."""
    return [(e, t.lower()) for t, e in _ANN.findall(sentence)]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


@dataclass
class SkillScore:
    """Counts for one skill (or ``core``)."""

    n: int = 0
    correct: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def has_entities(self) -> bool:
        return bool(self.tp + self.fp + self.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_heldout(path: Path = HELDOUT) -> dict[str, list[str]]:
    """``{namespaced intent: [annotated sentences]}`` from the held-out file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a mapping intent → sentences")
    return {str(k): [str(s) for s in v] for k, v in data.items()}


def training_sentences(project) -> set[str]:
    """Every training example of the composed project, normalised, without markup."""
    from assistant.nlu.project import example_lines, strip_annotations

    return {_norm(strip_annotations(line)) for item in project.nlu if "intent" in item
            for line in example_lines(item["examples"])}


def _merge(spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Keep the longest of overlapping spans of the same entity."""
    out: list[tuple[str, int, int]] = []
    for ent, s, e in sorted(spans, key=lambda x: (x[0], -(x[2] - x[1]), x[1])):
        if any(o[0] == ent and s < o[2] and o[1] < e for o in out):
            continue
        out.append((ent, s, e))
    return out


def evaluate(heldout: Path = HELDOUT, *, sidecar=None, skills=None, carrier_phrases: bool = True) -> dict:
    """Run the evaluation.

    Args:
        heldout: the held-out YAML file.
        sidecar: a started :class:`~assistant.nlu.sidecar.RasaSidecar` to reuse; if None,
            one is trained/started for the installed skills and stopped at the end.
        skills: the loaded skills (default ``load_skills().skills``).
        carrier_phrases: ``nlu.carrier_phrases`` of the sidecar this starts (the held-out
            check covers the examples they add).

    Returns:
        ``{"skills": {id: {n, intent_accuracy, entity_precision, entity_recall, entity_f1
        (None without entities), errors}}, "overall": {...}, "train_seconds",
        "n_intents", "n_training_examples"}``.

    Raises:
        SystemExit: a held-out sentence is also a training example, or an intent of the
            held-out file does not exist.
    """
    from assistant.events import EventBus
    from assistant.components import build_sidecar
    from assistant.settings import NLUSettings, SkillsSettings
    from assistant.nlu.carriers import with_carrier_phrases
    from assistant.skills import SkillHost, compose_project, load_skills

    skills = skills if skills is not None else load_skills().skills
    project = compose_project(skills)
    held = load_heldout(heldout)
    known = set(project.intents())
    missing = sorted(set(held) - known)
    if missing:
        raise SystemExit(f"held-out intents not in the model: {', '.join(missing)}")
    train = training_sentences(project)
    leaked = [s for sents in held.values() for s in sents if _norm(plain(s)) in train]
    if leaked:
        raise SystemExit("held-out sentences that are also training examples: " + "; ".join(leaked))
    # a sentence the carrier phrases (nlu.carrier_phrases) write into the training data is
    # not held out: it is left out of the evaluation, with carriers on and off alike
    added = training_sentences(with_carrier_phrases(project)) - train
    dropped = [s for sents in held.values() for s in sents if _norm(plain(s)) in added]
    held = {k: [s for s in v if _norm(plain(s)) not in added] for k, v in held.items()}

    own = sidecar is None
    host = None
    if own:
        bus = EventBus()
        host = SkillHost(bus, SkillsSettings())
        sidecar = build_sidecar(skills, host, NLUSettings(carrier_phrases=carrier_phrases), bus)
        sidecar.start(timeout=300)
    scores: dict[str, SkillScore] = defaultdict(SkillScore)
    total = SkillScore()
    t0 = time.monotonic()
    try:
        for intent, sentences in held.items():
            skill_id = intent.split("__", 1)[0] if "__" in intent else "core"
            prefix = f"{skill_id}__"
            sc = scores[skill_id]
            for sentence in sentences:
                text = plain(sentence)
                got, conf, ents = sidecar.parse(text)
                sc.n += 1
                total.n += 1
                # out_of_scope and nlu_fallback both end in "Sorry, I can't do that yet."
                if got == intent or (intent == "out_of_scope" and got == "nlu_fallback"):
                    sc.correct += 1
                    total.correct += 1
                else:
                    sc.errors.append(f"{text!r}: {intent} → {got} ({conf:.2f})")
                gold = [(f"{prefix}{e}", _norm(w)) for e, w in gold_entities(sentence)]
                spans = _merge([(e["entity"], e["start"], e["end"]) for e in ents
                                if str(e.get("entity", "")).startswith(prefix) and e.get("start") is not None])
                pred = [(ent, _norm(text[s:e])) for ent, s, e in spans]
                remaining = list(gold)
                for p in pred:
                    if p in remaining:
                        remaining.remove(p)
                        sc.tp += 1
                        total.tp += 1
                    else:
                        sc.fp += 1
                        total.fp += 1
                        sc.errors.append(f"{text!r}: extra entity {p[0]}={p[1]!r}")
                for g in remaining:
                    sc.fn += 1
                    total.fn += 1
                    sc.errors.append(f"{text!r}: missed entity {g[0]}={g[1]!r}")
    finally:
        parse_s = time.monotonic() - t0
        if own:
            sidecar.stop()
            host.close()

    def row(s: SkillScore) -> dict:
        return {"n": s.n, "intent_accuracy": round(s.accuracy, 4),
                "entity_precision": round(s.precision, 4) if s.has_entities else None,
                "entity_recall": round(s.recall, 4) if s.has_entities else None,
                "entity_f1": round(s.f1, 4) if s.has_entities else None,
                "errors": list(s.errors)}

    return {
        "skills": {k: row(v) for k, v in sorted(scores.items())},
        "overall": row(total),
        "n_intents": len(held),
        "n_training_examples": len(train) + (len(added) if carrier_phrases else 0),
        "held_out_dropped": dropped,
        "train_seconds": round(getattr(sidecar, "train_seconds", 0.0), 1),
        "parse_seconds": round(parse_s, 2),
        "pipeline": getattr(getattr(sidecar, "settings", None), "pipeline", "?"),
    }


def table(result: dict) -> str:
    """The result as a Markdown table."""
    lines = ["| skill | held-out sentences | intent accuracy | entity P / R / F1 |", "|---|---:|---:|---|"]
    for name, r in [*result["skills"].items(), ("**all**", result["overall"])]:
        ent = "–" if r["entity_f1"] is None else \
            f"{r['entity_precision']:.2f} / {r['entity_recall']:.2f} / {r['entity_f1']:.2f}"
        lines.append(f"| {name} | {r['n']} | {100 * r['intent_accuracy']:.1f} % | {ent} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: print the table; exit 1 if a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heldout", type=Path, default=HELDOUT)
    ap.add_argument("--json", type=Path, help="also write the full result here")
    ap.add_argument("--errors", action="store_true", help="list every wrong intent and entity")
    ap.add_argument("--no-carrier-phrases", action="store_true", help="train without nlu.carrier_phrases")
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = evaluate(args.heldout, carrier_phrases=not args.no_carrier_phrases)
    print(table(result))
    print(f"\n{result['n_intents']} intents, {result['overall']['n']} held-out sentences, "
          f"{result['n_training_examples']} training examples, pipeline {result['pipeline']}, "
          f"training {result['train_seconds']} s (0 = cached), parsing {result['parse_seconds']} s; "
          f"left out (the carrier phrases write them): {result['held_out_dropped']}")
    if args.errors:
        for name, r in result["skills"].items():
            for e in r["errors"]:
                print(f"  [{name}] {e}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    o = result["overall"]
    ok = o["intent_accuracy"] >= INTENT_TARGET and (o["entity_f1"] is None or o["entity_f1"] >= ENTITY_TARGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
