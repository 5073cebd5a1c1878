"""Namespacing a skill's data: LOCAL names → global ones (:func:`namespace`, :class:`Namer`).

Namespacing (separator :data:`SEP` = ``"__"``, verified with Rasa 3.6.21: training, forms,
``utter_ask_<slot>`` lookup and custom actions all accept it):

==================  ============================  ===================================
kind                local                         global (skill ``timer``)
==================  ============================  ===================================
intent              ``set_timer``                 ``timer__set_timer``
entity              ``duration``                  ``timer__duration``
slot                ``duration``                  ``timer__duration``
form                ``set_form``                  ``timer__set_form``
response            ``utter_done``                ``utter_timer__done``
form ask response   ``utter_ask_duration``        ``utter_ask_timer__duration``
form+slot ask       ``utter_ask_set_form_duration`` ``utter_ask_timer__set_form_timer__duration``
action              ``action_set_timer``          ``action_timer__set_timer``
ask action          ``action_ask_duration``       ``action_ask_timer__duration``
form validation     ``validate_set_form``         ``validate_timer__set_form``
==================  ============================  ===================================

Local names must match ``[a-z0-9]+(_[a-z0-9]+)*`` (so they never contain ``__``), which
makes every global name split back uniquely into ``(skill id, local name)``. Rasa's own
names (``action_listen``, ``nlu_fallback``, ``requested_slot``, …) are left as they are.
Entity annotations inside examples (``[five minutes](duration)``,
``[x]{"entity": "duration", ...}``), lookup/regex table names, ``{slot}`` placeholders in
response texts, slot mappings and conditions, form ``required_slots``, and every step of
rules and stories are rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from assistant.nlu.project import ANNOTATION_RE, annotations, example_block
from assistant.skills.data import CORE_RESPONSES, PLACEHOLDER_RE, RASA_ACTIONS, RASA_INTENTS, RASA_SLOTS, SEP, SkillData, plain


class Namer:
    """Maps a skill's LOCAL names to global (namespaced) ones.

    Args:
        skill_id: the skill id; ``None`` means "no namespacing" (the core part).
        data: the skill's :class:`SkillData` (slots and forms decide which
            ``utter_ask_…`` names follow Rasa's form conventions).
    """

    def __init__(self, skill_id: str | None, data: SkillData) -> None:
        self.skill_id = skill_id
        self.slots = set(data.slots)
        self.forms = set(data.forms)

    def _p(self, name: str) -> str:
        return name if self.skill_id is None else f"{self.skill_id}{SEP}{name}"

    def intent(self, name: str) -> str:
        """``ask_time`` → ``clock__ask_time`` (Rasa's default intents unchanged)."""
        return name if name in RASA_INTENTS else self._p(name)

    def entity(self, name: str) -> str:
        """``duration`` → ``timer__duration``."""
        return self._p(name)

    def slot(self, name: str) -> str:
        """``duration`` → ``timer__duration`` (``requested_slot`` unchanged)."""
        return name if name in RASA_SLOTS else self._p(name)

    def form(self, name: str) -> str:
        """``set_form`` → ``timer__set_form``."""
        return self._p(name)

    def _ask_suffix(self, rest: str) -> str | None:
        # rest of "utter_ask_<rest>" / "action_ask_<rest>": a slot, or "<form>_<slot>"
        if rest in self.slots:
            return self.slot(rest)
        for form in self.forms:
            if rest.startswith(form + "_") and rest[len(form) + 1:] in self.slots:
                return f"{self.form(form)}_{self.slot(rest[len(form) + 1:])}"
        return None

    def action(self, name: str) -> str:
        """Any action-like name: response, custom action, validation action or form.

        ``utter_done`` → ``utter_timer__done``; ``utter_ask_duration`` (``duration`` a
        slot) → ``utter_ask_timer__duration``; ``action_set_timer`` →
        ``action_timer__set_timer``; ``validate_set_form`` → ``validate_timer__set_form``;
        ``set_form`` (a form) → ``timer__set_form``. Rasa's default actions and the core
        responses are unchanged.
        """
        if self.skill_id is None or name in RASA_ACTIONS or name in CORE_RESPONSES:
            return name
        if name in self.forms:
            return self.form(name)
        for prefix in ("utter_", "action_"):
            if name.startswith(prefix):
                rest = name[len(prefix):]
                if rest.startswith("ask_"):
                    ask = self._ask_suffix(rest[4:])
                    if ask is not None:
                        return f"{prefix}ask_{ask}"
                return f"{prefix}{self._p(rest)}"
        if name.startswith("validate_") and name[9:] in self.forms:
            return f"validate_{self.form(name[9:])}"
        return self._p(name)

    # -- content rewriting
    def example(self, text: str) -> str:
        """Rewrite the entity names of the annotations inside one training example."""

        def sub(m: re.Match) -> str:
            if m.group("json"):
                try:
                    d = json.loads(m.group("json"))
                except ValueError:
                    return m.group(0)
                if isinstance(d, dict) and "entity" in d:
                    d["entity"] = self.entity(str(d["entity"]))
                return f"[{m.group('text')}]{json.dumps(d)}"
            value = f":{m.group('value')}" if m.group("value") else ""
            return f"[{m.group('text')}]({self.entity(m.group('entity').strip())}{value})"

        return ANNOTATION_RE.sub(sub, text)

    def response_text(self, text: str) -> str:
        """Rewrite ``{slot}`` placeholders of a response text to the global slot names."""
        return PLACEHOLDER_RE.sub(lambda m: "{%s}" % self.slot(m.group(1)) if m.group(1) in self.slots else m.group(0), text)

    def slot_spec(self, spec: dict) -> dict:
        """A slot definition with entity/intent/form names in its mappings rewritten."""
        out = plain(spec)
        for mapping in out.get("mappings", []) or []:
            if "entity" in mapping:
                mapping["entity"] = self.entity(mapping["entity"])
            for key in ("intent", "not_intent"):
                if key in mapping:
                    v = mapping[key]
                    mapping[key] = [self.intent(x) for x in v] if isinstance(v, list) else self.intent(v)
            if "action" in mapping:
                mapping["action"] = self.action(mapping["action"])
            for cond in mapping.get("conditions", []) or []:
                if cond.get("active_loop"):
                    cond["active_loop"] = self.form(cond["active_loop"])
                if cond.get("requested_slot"):
                    cond["requested_slot"] = self.slot(cond["requested_slot"])
        return out

    def form_spec(self, spec: dict) -> dict:
        """A form definition with its required slots / ignored intents rewritten."""
        out = plain(spec)
        out["required_slots"] = [self.slot(s) for s in out.get("required_slots", [])]
        if "ignored_intents" in out:
            v = out["ignored_intents"]
            out["ignored_intents"] = [self.intent(x) for x in v] if isinstance(v, list) else self.intent(v)
        return out

    def response_variants(self, variants: list) -> list:
        """Response variants with slot placeholders and slot conditions rewritten."""
        out = plain(variants)
        for var in out:
            if isinstance(var, dict):
                if isinstance(var.get("text"), str):
                    var["text"] = self.response_text(var["text"])
                for cond in var.get("condition", []) or []:
                    if isinstance(cond, dict) and cond.get("type") == "slot" and "name" in cond:
                        cond["name"] = self.slot(cond["name"])
        return out

    def step(self, step: dict) -> dict:
        """One rule/story step (or condition item) with its names rewritten."""
        out = plain(step)
        if "intent" in out:
            out["intent"] = self.intent(out["intent"])
        if "action" in out:
            out["action"] = self.action(out["action"])
        if out.get("active_loop"):
            out["active_loop"] = self.form(out["active_loop"])
        if "slot_was_set" in out:
            new = []
            for item in out["slot_was_set"] or []:
                if isinstance(item, dict):
                    new.append({self.slot(k): v for k, v in item.items()})
                else:
                    new.append(self.slot(item))
            out["slot_was_set"] = new
        if "entities" in out:
            new = []
            for item in out["entities"] or []:
                if isinstance(item, dict):
                    new.append({self.entity(k): v for k, v in item.items()})
                else:
                    new.append(self.entity(item))
            out["entities"] = new
        if "or" in out:
            out["or"] = [self.step(s) for s in out["or"] or []]
        if "checkpoint" in out and self.skill_id is not None:
            out["checkpoint"] = f"{self.skill_id}{SEP}{out['checkpoint']}"
        return out

    def story(self, item: dict, title_key: str) -> dict:
        """A rule or story with its title prefixed by the skill id and all steps rewritten."""
        out = {}
        for key, value in item.items():
            if key == title_key:
                out[key] = value if self.skill_id is None else f"{self.skill_id}: {value}"
            elif key in ("steps", "condition"):
                out[key] = [self.step(s) for s in value or []]
            else:
                out[key] = plain(value)
        return out


@dataclass
class Namespaced:
    """A skill's data with GLOBAL names, ready to merge into one Rasa project.

    Attributes:
        domain: ``intents`` (list), ``entities``, ``slots``, ``forms``, ``responses``,
            ``actions`` (list of custom action names).
        nlu / rules / stories: Rasa data items; nlu examples are ``"- a\\n"`` blocks.
        names: every global name the skill defines, as ``{(kind, name)}`` with kind in
            ``intent``, ``entity``, ``slot``, ``form``, ``response``, ``action``,
            ``lookup``, ``regex`` (used for clash checks).
    """

    domain: dict
    nlu: list[dict]
    rules: list[dict]
    stories: list[dict]
    names: set[tuple[str, str]]


def namespace(skill_id: str | None, data: SkillData, actions: Iterable[str] = ()) -> Namespaced:
    """Rewrite ``data`` with global names.

    Args:
        skill_id: the skill id (``None``: keep names, for the core part).
        data: LOCAL data from :func:`parse_data`.
        actions: local names of the custom actions the skill implements in Python; they
            are added to the domain's ``actions`` with those listed in the file.

    Returns:
        The :class:`Namespaced` data.
    """
    n = Namer(skill_id, data)
    intents = []
    for name, props in data.intents.items():
        g = n.intent(name)
        if props:
            p = plain(props)
            for key in ("use_entities", "ignore_entities"):
                if isinstance(p.get(key), list):
                    p[key] = [n.entity(e) for e in p[key]]
            intents.append({g: p})
        else:
            intents.append(g)
    action_names = list(dict.fromkeys([*data.actions, *actions]))
    domain = {
        "intents": intents,
        "entities": [n.entity(e) for e in data.entities],
        "slots": {n.slot(k): n.slot_spec(v) for k, v in data.slots.items()},
        "forms": {n.form(k): n.form_spec(v) for k, v in data.forms.items()},
        "responses": {n.action(k): n.response_variants(v) for k, v in data.responses.items()},
        "actions": [n.action(a) for a in action_names],
    }
    nlu = []
    for item in data.nlu:
        kind = next(k for k in ("intent", "lookup", "synonym", "regex") if k in item)
        entry: dict[str, Any] = {}
        if kind == "intent":
            entry["intent"] = n.intent(item["intent"])
            entry["examples"] = example_block(n.example(x) for x in item["examples"])
        elif kind in ("lookup", "regex"):
            entry[kind] = n.entity(item[kind])
            entry["examples"] = example_block(item["examples"])
        else:
            entry["synonym"] = item["synonym"]
            entry["examples"] = example_block(item["examples"])
        # "hotwords: false" is ours (keep the entity out of the ASR vocabulary), not Rasa's
        entry.update({k: plain(v) for k, v in item.items() if k not in (kind, "examples", "hotwords")})
        nlu.append(entry)
    names: set[tuple[str, str]] = set()
    names |= {("intent", n.intent(i)) for i in data.intents if i not in RASA_INTENTS}
    names |= {("entity", e) for e in domain["entities"]}
    names |= {("slot", s) for s in domain["slots"]}
    names |= {("form", f) for f in domain["forms"]}
    names |= {("response", r) for r in domain["responses"]}
    names |= {("action", a) for a in domain["actions"]}
    names |= {(k, e[k]) for e in nlu for k in ("lookup", "regex") if k in e}
    return Namespaced(
        domain=domain,
        nlu=nlu,
        rules=[n.story(r, "rule") for r in data.rules],
        stories=[n.story(s, "story") for s in data.stories],
        names=names,
    )
