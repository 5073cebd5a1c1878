"""Entity–intent consistency: a Rasa NLU component that runs **inside Rasa's Python 3.10**.

Never imported by the app (it imports Rasa, which only the Rasa venv has):
:func:`assistant.nlu.children.boot_script` copies this file next to the boot script as
``assistant_entity_intents.py``, where Rasa imports it by the module path the config names
(:data:`assistant.nlu.config.ENTITY_FILTER`).

What it does: an intent whose training examples never carry an entity type that the parse
found is not the intent, when another intent of the same skill does carry it. "switch to
dinner party in the kitchen" has a ``scene`` entity; the smart-home skill's ``turn_on``
examples never have one and ``set_scene`` examples do, so ``turn_on`` (which the word
"switch" made the classifier's first choice) is dropped from the ranking and the other
intents' confidences are renormalised (the conditional probability given that the intent
must be consistent with the entities), before ``FallbackClassifier`` applies its
thresholds. Any ranked intent that is inconsistent is dropped, not only the top one, and
with two or more entity types of one skill ``out_of_scope`` is dropped too, and so are other
skills' intents that take entities but none of the types found. An entity type
no training example annotates (found only by a lookup table) is no evidence, and entities of
another skill never move an intent to an intent of that other skill that takes entities.

Measured (``benchmarks/command_bench.py --text``, 400 smart-home commands with exact text):
intent right 90.0 → 92.5 % when only an inconsistent top intent was dropped, 98.8 % as it is
now (README, "Real voices").

Shapes: Rasa ``Message`` objects; entity and intent names are the skills' namespaced ones
(``smarthome__room``, ``smarthome__turn_on``: the skill is the part before ``__``);
confidences are floats in [0, 1].
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_FILE = "entity_types.json"

#: Rasa's name for the "none of the skills" intent (the core skill's ``out_of_scope``).
OUT_OF_SCOPE = "out_of_scope"
#: Entity types of one skill a parse must hold before :data:`OUT_OF_SCOPE` counts as
#: inconsistent with it. Two, not one: a single vocabulary word the ASR wrote into
#: something nobody can do ("milk, book me a flight") must not make it a command of the
#: skill that owns the word; "switch to good morning in the kitchen" (scene + room), which
#: the classifier gave to ``out_of_scope``, is one. Other intents that take no entity are
#: left alone: "remind me to turn off the oven in 20 minutes" holds two timer entities and
#: is a reminder, whose examples annotate none (its text is parsed by the skill).
MIN_TYPES_AGAINST_OUT_OF_SCOPE = 2
#: A top intent at least this sure is kept even if its examples never carry an entity type
#: found: the classifier read the whole sentence, and a value named in passing ("cancel my
#: latte order", "what size was my latte") does not make it an order.
KEEP_CONFIDENT = 0.9


#: Words a bare request may hold besides its values ("a cold brew please", "the kitchen").
FILLER_WORDS = frozenset("a an the some of and with please um uh oh just".split())
#: Share of a message's other words one skill's entity spans must cover for the message to
#: be a *bare request* of that skill ("a cold brew", "large latte please"): then only that
#: skill's intents can be meant.
BARE_COVER = 0.8
_WORDS = re.compile(r"[a-z0-9']+")


def bare_request_skill(text: str, entities: List[Dict[str, Any]], annotated: set) -> Optional[str]:
    """The one skill whose entities (of types some training example annotates) cover at
    least :data:`BARE_COVER` of the words of ``text`` that are not :data:`FILLER_WORDS`, or
    None (no skill, or several: "coffee" may be a drink and a timer's name).
    A message that only names a skill's values ("a cold brew") fell back: the classifier
    has no verb to go on, while the values say whose request it is."""
    words = [(m.start(), m.end()) for m in _WORDS.finditer(str(text or "").lower()) if m.group() not in FILLER_WORDS]
    if not words:
        return None
    spans: Dict[str, List[tuple]] = {}
    for e in entities:
        skill, s, t = _skill(str(e.get("entity") or "")), e.get("start"), e.get("end")
        if skill is not None and e.get("entity") in annotated and isinstance(s, int) and isinstance(t, int):
            spans.setdefault(skill, []).append((s, t))
    covering = [skill for skill, found in spans.items()
                if sum(1 for s, t in words if any(a <= s and t <= b for a, b in found)) >= BARE_COVER * len(words)]
    return covering[0] if len(covering) == 1 else None  # "coffee", a drink and a timer's name: no one's


def _skill(name: str) -> Optional[str]:
    """The skill namespace of an intent or entity name ("smarthome__room" → "smarthome")."""
    return name.split("__", 1)[0] if "__" in name else None


def evidence(entities: List[Dict[str, Any]]) -> List[str]:
    """The entity types that count as evidence: of overlapping entities ("bright" inside
    "bright white", the CRF and a lookup table disagreeing on a span) only the longest
    span counts."""
    spans = [(e.get("start"), e.get("end"), e.get("entity")) for e in entities if e.get("entity")]
    out = []
    for s, e, name in spans:
        if not isinstance(s, int) or not isinstance(e, int):
            continue
        if any(isinstance(s2, int) and isinstance(e2, int) and s2 < e and s < e2 and (e2 - s2) > (e - s)
               for s2, e2, _ in spans):
            continue
        out.append(name)
    return out


def inconsistent(table: Dict[str, List[str]], entities: List[str]) -> set:
    """Intents that cannot be meant given the entity types found.

    Args:
        table: intent → the entity types its training examples annotate.
        entities: entity types of the parse (see :func:`evidence`).
    Returns:
        Per skill, with ``T`` its entity types found that some training example annotates:
        when at least one intent of the skill takes all of ``T``, the skill's intents
        that do not (none otherwise: contradictory evidence decides nothing); and when ``T``
        holds at least :data:`MIN_TYPES_AGAINST_OUT_OF_SCOPE` types, ``out_of_scope`` too,
        and every intent of another skill whose examples annotate entities but none of the
        types found ("put the fan on low", device + level: the timer's ``timer_status``,
        which takes a timer name, gave way, and ``set_level`` rose from 0.449, a fallback,
        to 0.517). Intents that take no entity stay ("remind me to turn off the oven in 20
        minutes" is a reminder; the volume skill's ``change_volume`` annotates none, so "turn
        the heater to low" still goes to it at 0.70).
    """
    out: set = set()
    by_skill: Dict[str, set] = {}
    annotated = {e for v in table.values() for e in v}
    for e in set(entities):
        skill = _skill(e)
        if skill is not None and e in annotated:
            by_skill.setdefault(skill, set()).add(e)
    all_found = set().union(*by_skill.values())
    for skill, found in by_skill.items():
        same = [i for i in table if _skill(i) == skill]
        fits = [i for i in same if found <= set(table[i])]
        if fits:
            out |= {i for i in same if i not in fits}
            if len(found) >= MIN_TYPES_AGAINST_OUT_OF_SCOPE:
                out |= {i for i in table if i == OUT_OF_SCOPE}
                # another skill's intent that takes entities but none of those found
                out |= {i for i in table if _skill(i) not in (None, skill) and table[i] and not set(table[i]) & all_found}
    return out


def filter_ranking(table: Dict[str, List[str]], ranking: List[Dict[str, Any]],
                   entities: List[str], bare: Optional[str] = None) -> Optional[List[Dict[str, Any]]]:
    """The intent ranking with the inconsistent intents dropped and the rest renormalised,
    or None when no ranked intent is inconsistent (nothing to change) or nothing would be
    left. A top intent with at least :data:`KEEP_CONFIDENT` is never dropped.

    Renormalising also when the top intent is consistent matters: an unsure top intent
    (below the fallback threshold, or within the ambiguity margin of an intent the entities
    rule out) gains the confidence of the intents dropped. "turn the living room lamp red"
    (colour, device, room) fell back before and is ``set_colour`` now
    (``benchmarks/command_bench.py --text``).

    Args:
        ranking: Rasa's ``intent_ranking`` (``[{"name", "confidence"}]``, best first).
        bare: the skill of a bare request (:func:`bare_request_skill`): every other
            skill's intents and ``out_of_scope`` are inconsistent too.
    """
    if not ranking:
        return None
    bad = inconsistent(table, entities)
    if bare is not None and any(_skill(i) == bare for i in table):
        bad |= {i for i in table if _skill(i) != bare}  # a bare request names its skill
    if float(ranking[0].get("confidence") or 0.0) >= KEEP_CONFIDENT:
        bad.discard(ranking[0].get("name"))
    if not any(r.get("name") in bad for r in ranking):
        return None
    kept = [r for r in ranking if r.get("name") not in bad]
    total = sum(float(r.get("confidence") or 0.0) for r in kept)
    if not kept or total <= 0.0:
        return None
    return [{**r, "confidence": float(r.get("confidence") or 0.0) / total} for r in kept]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class EntityIntentFilter(GraphComponent):
    """Drops intents inconsistent with the parse's entities (see the module docstring).
    Goes after the entity extractors and before ``FallbackClassifier``."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "EntityIntentFilter":
        """A new, untrained component (Rasa's GraphComponent API)."""
        return cls(model_storage, resource, {})

    def __init__(self, model_storage: ModelStorage, resource: Resource, table: Dict[str, List[str]]) -> None:
        self._storage = model_storage
        self._resource = resource
        self.table = table
        self.annotated = {e for v in table.values() for e in v}  # entity types some example annotates

    def train(self, training_data: TrainingData) -> Resource:
        """Learn intent → annotated entity types from the training examples; persist it."""
        table: Dict[str, set] = {}
        for ex in training_data.intent_examples:
            intent = ex.get("intent")
            if not intent:
                continue
            table.setdefault(intent, set()).update(e.get("entity") for e in ex.get("entities") or [] if e.get("entity"))
        self.table = {k: sorted(v) for k, v in table.items()}
        self.annotated = {e for v in self.table.values() for e in v}
        with self._storage.write_to(self._resource) as folder:
            (folder / _FILE).write_text(json.dumps(self.table), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "EntityIntentFilter":
        """The trained component; an empty table (changes nothing) if none was persisted."""
        try:
            with model_storage.read_from(resource) as folder:
                table = json.loads((folder / _FILE).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            table = {}
        return cls(model_storage, resource, table)

    def process(self, messages: List[Message]) -> List[Message]:
        """Re-rank each message's intents (in place) when any ranked intent is inconsistent."""
        for m in messages:
            intent = m.get("intent") or {}
            ranking = m.get("intent_ranking") or []
            if not intent or not ranking:
                continue
            ents = m.get("entities") or []
            new = filter_ranking(self.table, ranking, evidence(ents), bare_request_skill(m.get("text"), ents, self.annotated))
            if new is None:
                continue
            m.set("intent", {"name": new[0]["name"], "confidence": new[0]["confidence"]}, add_to_output=True)
            m.set("intent_ranking", new, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add to the training data."""
        return training_data
