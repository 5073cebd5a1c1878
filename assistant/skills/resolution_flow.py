"""Entity resolution inside the dialogue: canonical slot values, and "Did you mean …?".

:mod:`assistant.skills.resolve` decides, per heard value, whether it is a declared value
(``exact``/``resolved``), uncertain (``ask``) or unknown. This module applies that to the
turn, for every skill, without code in the skill:

* **One-shot actions** (:class:`~assistant.skills.actions.SkillAction`): ``ctx.entity(...)``
  returns canonical values. If a value of the skill's entities is uncertain, the action
  does not run: the user is asked "Did you mean medium roast?" (a yes/no question through
  the core ``answer_form``, see :mod:`assistant.skills.dialogue`). Yes → the action runs
  with the canonical value (and the request's text as ``ctx.text``); no → "Which roast did
  you mean?" and the answer is resolved against the declared values (asked once more if it
  is uncertain again, given up with "Sorry, I don't know that roast." if it matches
  nothing). Slots Rasa filled from the raw entities are set to the canonical values (or
  cleared when their entity lost its span to a longer one).
* **Forms** (:class:`~assistant.skills.actions.FormValidationAction`, which every form now
  has): values Rasa put into the form's slots from entities become canonical; a slot filled
  from an entity that lost its span is cleared (the form asks for it); an uncertain value
  is cleared with "Sorry, I'm not sure which roast you meant." so the form asks again.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet

from assistant.skills import resolve
from assistant.skills.context import ActionContext
from assistant.skills.dialogue import question_events

#: Keys kept of an entity carried through a question (JSON in the ``answer_data`` slot).
_KEEP = ("entity", "value", "start", "end", "role", "group", "heard", "raw_value", "resolution",
         "resolution_confidence", "candidate")
#: How many times the user is asked about one value before giving up.
MAX_TRIES = 2


def label(skill: Any, entity: str) -> str:
    """How to name an entity in a question: ``coffee__milk_type`` → ``milk type``."""
    local = skill.local_name(entity) or entity
    return local.replace("_", " ")


def question(candidate: str) -> str:
    """The confirmation question for an uncertain value."""
    return f"Did you mean {candidate}?"


def _own(ctx: ActionContext) -> list[dict]:
    return [{k: e[k] for k in _KEEP if k in e} for e in ctx.resolved_entities()
            if ctx.skill.local_name(str(e.get("entity") or "")) is not None]


def _ask_about(ctx: ActionContext, data: dict) -> list[dict]:
    e = data["entities"][data["i"]]
    ctx.events += question_events(question(e["candidate"]), "yesno", f"{ctx.skill_id}:_resolve_yesno", data)
    return ctx.finish(None)


def ask_if_unsure(ctx: ActionContext, action: str) -> list[dict] | None:
    """Before a skill action runs: if one of the skill's entity values is uncertain, ask
    about it and return the events (the action runs after the answer); else None.

    Args:
        ctx: the action's context.
        action: the local action name (``action_order``) to run after the answer.
    """
    if not resolve.ENABLED or ctx.pinned is not None:
        return None
    own = _own(ctx)
    unsure = [i for i, e in enumerate(own) if e.get("resolution") == "ask" and e.get("candidate")]
    if not unsure:
        return None
    return _ask_about(ctx, {"action": action, "text": ctx.text, "entities": own, "i": unsure[0], "tries": 0})


async def _resolve_yesno(ctx: ActionContext, yes: bool) -> list[dict]:
    """The answer to "Did you mean …?"."""
    data = dict(ctx.data)
    e = data["entities"][data["i"]]
    if yes:
        e.update(value=e["candidate"], resolution="confirmed", resolution_confidence=1.0)
        return await _next(ctx, data)
    ctx.events += question_events(f"Which {label(ctx.skill, e['entity'])} did you mean?", "text",
                                  f"{ctx.skill_id}:_resolve_clarify", data)
    return []


async def _resolve_clarify(ctx: ActionContext, answer: str) -> list[dict]:
    """The answer to "Which roast did you mean?": resolved against the declared values."""
    data = dict(ctx.data)
    e = data["entities"][data["i"]]
    name = label(ctx.skill, e["entity"])
    res = best_in_text(ctx.skill.resolver(), e["entity"], str(answer or ""))
    if res is not None and res.status in ("exact", "resolved"):
        e.update(value=res.value, heard=res.heard, resolution="confirmed", resolution_confidence=1.0)
        return await _next(ctx, data)
    data["tries"] = int(data.get("tries") or 0) + 1
    if res is not None and res.status == "ask" and data["tries"] < MAX_TRIES:
        e.update(candidate=res.candidate, heard=res.heard)
        return _ask_about(ctx, data)
    ctx.say(f"Sorry, I don't know that {name}.")
    return []


async def _next(ctx: ActionContext, data: dict) -> list[dict]:
    """Ask about the next uncertain value, or run the action with the confirmed values."""
    ents = data["entities"]
    later = [i for i, e in enumerate(ents) if i > data["i"] and e.get("resolution") == "ask" and e.get("candidate")]
    if later:
        return _ask_about(ctx, {**data, "i": later[0], "tries": 0})
    skill = ctx.skill
    fn = skill.action_function(data["action"])
    if fn is None:
        return []
    run = ActionContext(skill, ctx.dispatcher, ctx.tracker, ctx.domain, ctx.host,
                        pinned=ents, text=str(data.get("text") or ""))
    return await run_with_canonical_slots(run, fn)


async def run_with_canonical_slots(ctx: ActionContext, fn: Any) -> list[dict]:
    """Run a skill's action function with its slots already canonical: the
    :func:`slot_fixes` of this turn are applied to the tracker the function reads
    (``ctx.slot``) and returned in front of its events. (Before, the function saw Rasa's
    raw slot — a list slot held "senior railcard" twice, once per entity extractor.)"""
    fixes = slot_fixes(ctx)
    for ev in fixes:
        ctx.tracker.slots[ev["name"]] = ev["value"]
    return fixes + await ctx.run(fn)


#: Continuations every skill has (found by ``"<skill id>:<key>"``; see
#: :class:`~assistant.skills.actions.AnswerDispatch`).
CONTINUATIONS = {"_resolve_yesno": _resolve_yesno, "_resolve_clarify": _resolve_clarify}


def best_in_text(resolver: resolve.EntityResolver, entity: str, text: str) -> resolve.Resolution | None:
    """The best declared value of ``entity`` found in any run of words of ``text`` (an
    answer like "the medium one, please"), or None when ``text`` has no words."""
    words = str(text).split()
    best: resolve.Resolution | None = None
    rank = {"exact": 4, "resolved": 3, "ask": 2, "unknown": 1, "free": 0}
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + 6) + 1):
            r = resolver.resolve_value(entity, " ".join(words[i:j]))
            key = (rank.get(r.status, 0), r.confidence, j - i)
            if best is None or key > (rank.get(best.status, 0), best.confidence, len(best.heard.split())):
                best = r
    return best


def _entity_slots(ctx: ActionContext) -> dict[str, str]:
    """Global slot name → global entity name, for this skill's plain ``from_entity`` slots."""
    out = {}
    for gslot, spec in (ctx.skill.namespaced().domain.get("slots") or {}).items():
        for m in spec.get("mappings") or []:
            if isinstance(m, dict) and m.get("type") == "from_entity" and m.get("entity") \
                    and not m.get("role") and not m.get("group"):
                out[gslot] = m["entity"]
                break
    return out


def _raw_of(ctx: ActionContext, entity: str, value: Any) -> bool:
    return any(e.get("entity") == entity and e.get("value") == value
               for e in (ctx.tracker.latest_message or {}).get("entities") or [] if isinstance(e, dict))


def _canonical_values(resolved: list[dict], entity: str) -> list:
    """The canonical values of ``entity`` among resolved entities, in text order, without
    duplicates; uncertain ones (``ask``) left out (a list slot has no one value to ask about)."""
    return list(dict.fromkeys(e.get("value") for e in resolved
                              if e.get("entity") == entity and e.get("resolution") != "ask" and e.get("value") is not None))


def _merged_list(ctx: ActionContext, current: list, resolved: list[dict], entity: str) -> list:
    """A list slot after this turn's resolution: its values in order, each raw value of this
    turn replaced by its canonical value (dropped when uncertain), values from earlier turns
    (a form's validated answer) kept, then this turn's canonical values it lacks; each once."""
    by_raw = {e.get("raw_value"): e for e in resolved if e.get("entity") == entity}
    out = []
    for v in current:
        if not _raw_of(ctx, entity, v):
            out.append(v)
        elif v in by_raw and by_raw[v].get("resolution") != "ask" and by_raw[v].get("value") is not None:
            out.append(by_raw[v]["value"])
    out += _canonical_values(resolved, entity)
    return list(dict.fromkeys(out))


def slot_fixes(ctx: ActionContext) -> list[dict]:
    """``SlotSet`` events putting canonical values into the slots Rasa filled from this
    turn's raw entities (None where the entity lost its span), and into empty slots whose
    entity only resolution found (:func:`_found_only_by_resolution`); [] when resolution is off."""
    if not resolve.ENABLED:
        return []
    out = []
    resolved = ctx.resolved_entities()
    pinned = ctx.pinned is not None
    for gslot, gent in _entity_slots(ctx).items():
        current = ctx.tracker.get_slot(gslot)
        if isinstance(current, list):  # a list slot: every value of this turn, canonical
            if any(_raw_of(ctx, gent, v) for v in current):
                values = _merged_list(ctx, current, resolved, gent)
                if values and values != current:
                    out.append(SlotSet(gslot, values))
            continue
        if current is None or not (_raw_of(ctx, gent, current) or pinned):
            continue
        mine = [e for e in resolved if e.get("entity") == gent]
        if pinned:
            mine = [e for e in mine if e.get("raw_value") == current or e.get("heard") == current]
            if not mine:
                continue
        value = mine[0].get("value") if mine else None
        if value != current:
            out.append(SlotSet(gslot, value))
    out += [SlotSet(gslot, v) for gslot, v in _found_only_by_resolution(ctx, _entity_slots(ctx), resolved).items()]
    return out


def resolve_slot_candidates(ctx: ActionContext, candidates: dict[str, Any]) -> dict[str, Any]:
    """For a form's validation: the slots among ``candidates`` (global slot → value, what
    Rasa extracted this turn) whose value came from an entity of the latest message, mapped
    to the canonical value; None for an entity that lost its span or is uncertain (then
    the form asks again, after "Sorry, I'm not sure which … you meant."). Also fills every
    empty slot of the skill from a value only entity resolution found ("movie nights" for a
    scene; :func:`_found_only_by_resolution`)."""
    if not resolve.ENABLED:
        return {}
    out: dict[str, Any] = {}
    slots = _entity_slots(ctx)
    resolved = ctx.resolved_entities()
    for gslot, value in candidates.items():
        gent = slots.get(gslot)
        if gent is not None and isinstance(value, list):  # a list slot: every value, canonical
            if any(_raw_of(ctx, gent, v) for v in value):
                values = _canonical_values(resolved, gent)
                if values != value:
                    out[gslot] = values or None
            continue
        if gent is None or value is None or not _raw_of(ctx, gent, value):
            continue
        mine = [e for e in resolved if e.get("entity") == gent and e.get("raw_value") == value]
        if not mine:
            out[gslot] = None
            continue
        e = mine[0]
        if e.get("resolution") == "ask":
            ctx.say(f"Sorry, I'm not sure which {label(ctx.skill, gent)} you meant.")
            out[gslot] = None
        elif e.get("value") != value:
            out[gslot] = e.get("value")
    out.update({gslot: v for gslot, v in _found_only_by_resolution(ctx, slots, resolved).items()
                if gslot not in candidates})
    return out


def _found_only_by_resolution(ctx: ActionContext, slots: dict[str, str], resolved: list[dict]) -> dict[str, Any]:
    """Empty ``from_entity`` slots (global slot → global entity ``slots``) whose entity only
    entity resolution found in the latest message (words the NLU did not tag: "skimmed
    milk" for a ``milk`` whose lookup says "skim milk"): global slot → canonical value, a
    list for a ``list`` slot. Rasa fills slots from its own extractors only, so without
    this the action's ``ctx.slot`` stayed empty where ``ctx.entity`` had the value."""
    specs = ctx.skill.namespaced().domain.get("slots") or {}
    asked = ctx.tracker.get_slot("requested_slot")
    out: dict[str, Any] = {}
    for gslot, gent in slots.items():
        if ctx.tracker.get_slot(gslot) is not None:
            continue
        # the slot a form asked for takes any value of its entity in the answer (the answer
        # may be classified as another skill's intent, whose turns fill none of these slots)
        values = _canonical_values([e for e in resolved if gslot == asked or e.get("extractor") == "EntityResolver"], gent)
        if values:
            out[gslot] = values if (specs.get(gslot) or {}).get("type") == "list" else values[0]
    return out
