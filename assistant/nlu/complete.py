"""Semantic endpointing: is what was heard so far a complete command?

The audio loop ends an utterance after ``vad.end_silence_ms`` (700 ms) of silence. When the
speculative decode at the first trailing silence already parses into a complete command,
waiting that long only delays the answer, so the turn may end after the shorter
``vad.early_end_silence_ms`` (issue 13, "semantic endpointing"; the idea is the one of
Google's "end-of-query" detection, Shannon et al., Interspeech 2017, and of LiveKit's and
Pipecat's turn detectors: decide the end of a turn from what was said, not only from
silence). A wrong "complete" cuts the speaker off, so the judgement is conservative — any
doubt keeps the normal endpoint:

* the best intent (not a fallback) has at least ``min_confidence``;
* the transcript does not end like an unfinished sentence: a trailing "…", "-", "," or a
  closed-class word that cannot end an English command ("for", "to", "the", "and", "my",
  "called" …: :data:`DANGLING`);
* an intent that starts a form has the entities the form's required slots are filled from
  (``from_entity`` mappings); if a required slot is filled any other way (a custom
  extractor, ``from_text``) the form's own logic decides and the command is never ended
  early.

The other direction, a pause *inside* a command: when the decode at the first trailing
silence stops on a word no command ends with ("set a timer for", "a large latte with",
"um") — :func:`ends_mid_phrase` — the speaker is still thinking, and the turn waits up to
``vad.hold_silence_ms`` before its endpoint instead of ``vad.end_silence_ms``, so the rest of
the command is heard in the same turn (people pause longer than 700 ms mid-sentence; the
same idea as the semantic VAD "eagerness" of OpenAI's Realtime API and LiveKit's turn
detector, which wait longer after an unfinished sentence).

All names are Rasa's global (namespaced) names, ``skill__intent``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from assistant.nlu.config import FALLBACK_INTENT

#: Words after which an English command is not over: articles, prepositions, conjunctions,
#: possessive determiners and the verbs that introduce a name or a value. A command that
#: really ends in one of them ("turn it on") is still answered — at the normal endpoint.
DANGLING = frozenset("""
a an the my your his her its our their some any every each another
to for at in on of by with from into onto about after before until till than as via per
and or but nor if because while when where whether which whose
called named titled like is are was were be been am will would should could can may might must shall
set make turn play put start open add remind tell give show what's
""".split())

#: Words after which a speaker is still in mid-phrase, whatever the intent: articles,
#: possessives, prepositions that are not also verb particles ("turn it on", "switch that
#: off" end commands), conjunctions and fillers. Narrower than :data:`DANGLING`, because a
#: word here makes the turn *wait longer* rather than merely not end early.
MID_PHRASE = frozenset("""
a an the my your our their some to for of with from into than and or but because
um uh er erm hmm
""".split())

_TRAILING = re.compile(r"(\.\.\.|…|[-–—,;:])\s*$")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Verdict:
    """The judgement of one transcript.

    Attributes:
        complete: the command may end early.
        reason: why (for logs and tests): ``"complete"``, ``"empty"``, ``"fallback"``,
            ``"unsure"``, ``"dangling"``, ``"missing <entity>"`` or ``"form decides"``.
        intent: the best non-fallback intent ("" if none).
        confidence: its confidence in [0, 1].
    """

    complete: bool
    reason: str
    intent: str = ""
    confidence: float = 0.0


@dataclass(frozen=True)
class CommandShapes:
    """What each intent needs before it is a whole command.

    Attributes:
        required: intent → the entities that fill the required slots of the form the
            intent starts (rules ``intent → form``); only intents that start a form.
        open_ended: intents that start a form with a required slot not filled from an
            entity (never ended early).
    """

    required: dict = field(default_factory=dict)
    open_ended: frozenset = frozenset()

    @classmethod
    def from_skills(cls, skills: Iterable) -> "CommandShapes":
        """Read the forms and rules of loaded skills (each with ``namespaced()``, whose
        ``domain`` has ``forms`` and ``slots`` and whose ``rules`` have ``steps``)."""
        required: dict[str, frozenset] = {}
        open_ended: set[str] = set()
        for sk in skills:
            ns = sk.namespaced()
            forms = ns.domain.get("forms") or {}
            slots = ns.domain.get("slots") or {}
            for rule in [*ns.rules, *ns.stories]:
                steps = rule.get("steps") or []
                for step, nxt in zip(steps, steps[1:]):
                    form = nxt.get("action")
                    if "intent" not in step or form not in forms:
                        continue
                    entities = set()
                    for slot in forms[form].get("required_slots") or []:
                        maps = (slots.get(slot) or {}).get("mappings") or []
                        names = {m.get("entity") for m in maps if m.get("type") == "from_entity" and m.get("entity")}
                        if not names:
                            open_ended.add(step["intent"])
                        entities |= names
                    required[step["intent"]] = frozenset(required.get(step["intent"], frozenset()) | entities)
        return cls(required, frozenset(open_ended))

    def judge(self, text: str, parse: dict, min_confidence: float) -> Verdict:
        """Judge ``text`` with its Rasa ``/model/parse`` answer ``parse`` (``intent``,
        ``intent_ranking``, ``entities``).

        Args:
            text: the transcript so far, as Whisper wrote it (its punctuation is evidence).
            min_confidence: the intent confidence, in [0, 1], below which it is unsure.
        """
        words = _WORD.findall(text.lower())
        if not words:
            return Verdict(False, "empty")
        intent = (parse.get("intent") or {}).get("name") or ""
        confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
        if not intent or intent == FALLBACK_INTENT:
            return Verdict(False, "fallback", "", confidence)
        if confidence < min_confidence:
            return Verdict(False, "unsure", intent, confidence)
        if _TRAILING.search(text) or words[-1] in DANGLING:
            return Verdict(False, "dangling", intent, confidence)
        if intent in self.open_ended:
            return Verdict(False, "form decides", intent, confidence)
        have = {e.get("entity") for e in parse.get("entities") or []}
        for entity in sorted(self.required.get(intent, ())):
            if entity not in have:
                return Verdict(False, f"missing {entity}", intent, confidence)
        return Verdict(True, "complete", intent, confidence)


def ends_mid_phrase(text: str) -> bool:
    """Whether a transcript stops mid-phrase: its last word is in :data:`MID_PHRASE`.
    Whisper's punctuation is no evidence here: it closes a polite request cut at a pause
    with "?" ("Can I get a large latte with?"). The rare sentence that really ends so ("what
    can you help me with?") only waits longer.

    Args:
        text: the transcript so far, as Whisper wrote it.
    """
    words = _WORD.findall(text.lower())
    return bool(words) and words[-1] in MID_PHRASE
