"""A skill's ``skill.yml``: reading it (with line numbers), checking it, and namespacing it.

A ``skill.yml`` is a Rasa 3 ``domain.yml`` + ``nlu.yml`` + ``rules.yml`` (+ ``stories``) in
one file, written with the skill's LOCAL names, plus a ``skill:`` manifest section::

    skill:            # manifest (see assistant.skills.manifest.Manifest)
      id: timer
      name: Timer
    intents: [set_timer]          # optional: intents of the nlu section are added
    entities: [duration]          # optional: annotated entities are added
    slots: {duration: {type: text, mappings: [{type: from_entity, entity: duration}]}}
    forms: {set_form: {required_slots: [duration]}}
    responses: {utter_ask_duration: [{text: "For how long?"}]}
    actions: [action_set_timer]   # optional: @skill.action functions are added
    nlu:
      - intent: set_timer
        examples: |
          - set a timer for [five minutes](duration)
      - lookup: duration
        examples: |
          - five minutes
    rules:
      - rule: start the form
        steps: [{intent: set_timer}, {action: set_form}, {active_loop: set_form}]

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

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml

#: Separator between the skill id and a local name.
SEP = "__"

#: A local name (intent, entity, slot, form, or the part after ``utter_``/``action_``).
NAME_RE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")

#: Rasa 3.6 default actions: referenced as they are, never namespaced, never redefined.
RASA_ACTIONS = frozenset({
    "action_listen", "action_restart", "action_session_start", "action_default_fallback",
    "action_deactivate_loop", "action_revert_fallback_events", "action_default_ask_affirmation",
    "action_default_ask_rephrase", "action_two_stage_fallback", "action_unlikely_intent",
    "action_back", "action_extract_slots",
})
#: Rasa's default intents (plus the assistant's core ``out_of_scope``).
RASA_INTENTS = frozenset({"restart", "back", "session_start", "nlu_fallback", "out_of_scope"})
#: Rasa's default slots.
RASA_SLOTS = frozenset({"requested_slot", "session_started_metadata"})
#: Responses of the core part that skills may use in their rules.
CORE_RESPONSES = frozenset({"utter_default"})

TOP_LEVEL_KEYS = ("version", "skill", "intents", "entities", "slots", "forms", "responses",
                  "actions", "nlu", "rules", "stories")

# [text](entity) / [text](entity:value) / [text]{"entity": ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+?)\](?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|(?P<json>\{[^}]+?\}))")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")


class DataError(ValueError):
    """Something in a skill's data is wrong.

    Attributes:
        message: what is wrong, naming the item.
        line: 1-based line in the YAML file, or None when unknown.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# ---------------------------------------------------------------------------- YAML reading
class _Map(dict):
    """A YAML mapping that remembers its 1-based line (attribute ``line``)."""

    line: int | None = None


class _Seq(list):
    """A YAML sequence that remembers its 1-based line (attribute ``line``)."""

    line: int | None = None


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry the line they start on."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    m = _Map(loader.construct_mapping(node, deep=True))
    m.line = node.start_mark.line + 1
    return m


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    s = _Seq(loader.construct_sequence(node, deep=True))
    s.line = node.start_mark.line + 1
    return s


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def read_yaml(text: str) -> dict:
    """Parse a skill.yml text; mappings/sequences remember their line (see :func:`line_of`).

    Raises:
        yaml.YAMLError: malformed YAML (``MarkedYAMLError`` carries ``problem_mark``).
        DataError: the document is not a mapping.
    """
    doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    if doc is None:
        return _Map()
    if not isinstance(doc, dict):
        raise DataError("the file must be a YAML mapping (keys like skill:, nlu:, rules:)", 1)
    return doc


def line_of(obj: Any) -> int | None:
    """The 1-based line a mapping/sequence read by :func:`read_yaml` started on, if known."""
    return getattr(obj, "line", None)


def plain(obj: Any) -> Any:
    """A deep copy of ``obj`` made of plain ``dict``/``list`` (YAML dumpers need them)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return copy.copy(obj)


def example_lines(examples: Any) -> list[str]:
    """The items of a Rasa ``examples`` block (``"- a\\n- b\\n"``) or of a YAML list."""
    if examples is None:
        return []
    if isinstance(examples, list):
        return [str(e).strip() for e in examples if str(e).strip()]
    out = []
    for raw in str(examples).splitlines():
        s = raw.strip()
        if not s:
            continue
        out.append(s[1:].strip() if s.startswith("-") else s)
    return out


def example_block(lines: Iterable[str]) -> str:
    """Items as a Rasa ``examples`` block: ``"- a\\n- b\\n"``."""
    return "".join(f"- {x}\n" for x in lines)


def annotations(example: str) -> list[tuple[str, str, str | None]]:
    """Entity annotations in one example.

    Returns:
        ``[(text, entity, value or None)]`` for ``[text](entity)``, ``[text](entity:value)``
        and ``[text]{"entity": ..., "value": ...}``.
    """
    out = []
    for m in _ANNOTATION.finditer(example):
        if m.group("json"):
            try:
                d = json.loads(m.group("json"))
            except ValueError:
                continue
            if isinstance(d, dict) and "entity" in d:
                out.append((m.group("text"), str(d["entity"]), d.get("value")))
        else:
            out.append((m.group("text"), m.group("entity").strip(), m.group("value")))
    return out


# ---------------------------------------------------------------------------- the data model
@dataclass
class SkillData:
    """A skill's training data, checked, with LOCAL names.

    Attributes:
        intents: intent name → Rasa intent properties (``use_entities`` …, usually ``{}``).
        entities: entity names (declared or used in annotations).
        slots / forms / responses: as in ``domain.yml``.
        actions: custom action names (``action_…``/``validate_…``) declared in the file.
        nlu / rules / stories: as in the Rasa data files.
        lines: ``(kind, name) → line`` for error messages.
    """

    intents: dict[str, dict] = field(default_factory=dict)
    entities: list[str] = field(default_factory=list)
    slots: dict[str, dict] = field(default_factory=dict)
    forms: dict[str, dict] = field(default_factory=dict)
    responses: dict[str, list] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    nlu: list[dict] = field(default_factory=list)
    rules: list[dict] = field(default_factory=list)
    stories: list[dict] = field(default_factory=list)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)


def _check_name(kind: str, name: Any, line: int | None) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DataError(
            f"{kind} name {name!r} is not valid: use lower-case letters, digits and single "
            "underscores (no '__', no leading/trailing '_')", line)
    return name


def _check_prefixed(kind: str, name: Any, prefixes: tuple[str, ...], line: int | None) -> str:
    if not isinstance(name, str) or not name.startswith(prefixes):
        raise DataError(f"{kind} {name!r} must start with {' or '.join(prefixes)}", line)
    rest = name[len(next(p for p in prefixes if name.startswith(p))):]
    _check_name(kind, rest, line)
    return name


def parse_data(doc: dict) -> SkillData:
    """Check a parsed skill.yml (without caring about the ``skill:`` manifest section).

    Args:
        doc: what :func:`read_yaml` returned.

    Returns:
        The :class:`SkillData` with LOCAL names.

    Raises:
        DataError: unknown top-level key, invalid name, wrong shape, or an nlu item of
            unknown kind; ``line`` says where.
    """
    d = SkillData()
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            raise DataError(f"unknown top-level key {key!r} (expected one of {', '.join(TOP_LEVEL_KEYS)})",
                            line_of(doc))

    def mapping(key: str) -> dict:
        v = doc.get(key) or {}
        if not isinstance(v, dict):
            raise DataError(f"'{key}' must be a mapping", line_of(v) or line_of(doc))
        return v

    def sequence(key: str) -> list:
        v = doc.get(key) or []
        if not isinstance(v, list):
            raise DataError(f"'{key}' must be a list", line_of(v) or line_of(doc))
        return v

    for item in sequence("intents"):
        if isinstance(item, dict):
            if len(item) != 1 or not isinstance(next(iter(item.values())) or {}, dict):
                raise DataError("an intent with properties is written '- name: {use_entities: [...]}'", line_of(item))
            (name, props), = item.items()
            d.intents[_check_name("intent", name, line_of(item))] = plain(props or {})
        else:
            d.intents[_check_name("intent", item, line_of(doc.get("intents")))] = {}
    for item in sequence("entities"):
        name = next(iter(item)) if isinstance(item, dict) else item
        d.entities.append(_check_name("entity", name, line_of(doc.get("entities"))))

    for name, spec in mapping("slots").items():
        _check_name("slot", name, line_of(spec))
        if not isinstance(spec, dict) or "type" not in spec:
            raise DataError(f"slot {name!r} needs a mapping with at least 'type'", line_of(spec) or line_of(doc["slots"]))
        d.slots[name] = spec
        d.lines[("slot", name)] = line_of(spec) or 0
    for name, spec in mapping("forms").items():
        _check_name("form", name, line_of(spec))
        spec = spec or _Map()
        if not isinstance(spec, dict):
            raise DataError(f"form {name!r} must be a mapping like 'required_slots: [slot, ...]'",
                            line_of(spec) or line_of(doc["forms"]))
        req = spec.get("required_slots")
        if not isinstance(req, list) or not req:
            raise DataError(f"form {name!r} needs a non-empty 'required_slots' list", line_of(spec))
        d.forms[name] = spec
        d.lines[("form", name)] = line_of(spec) or 0
    for name, variants in mapping("responses").items():
        _check_prefixed("response", name, ("utter_",), line_of(variants))
        if not isinstance(variants, list) or not variants:
            raise DataError(f"response {name!r} needs a list of variants like '- text: ...'",
                            line_of(variants) or line_of(doc["responses"]))
        d.responses[name] = variants
        d.lines[("response", name)] = line_of(variants) or 0
    for name in sequence("actions"):
        d.actions.append(_check_prefixed("action", name, ("action_", "validate_"), line_of(doc.get("actions"))))
        d.lines[("action", name)] = line_of(doc.get("actions")) or 0

    for item in sequence("nlu"):
        if not isinstance(item, dict):
            raise DataError("each nlu item must be a mapping (intent:/lookup:/synonym:/regex: + examples:)",
                            line_of(doc["nlu"]))
        kinds = [k for k in ("intent", "lookup", "synonym", "regex") if k in item]
        if len(kinds) != 1 or "examples" not in item:
            raise DataError("an nlu item needs exactly one of intent/lookup/synonym/regex and 'examples'",
                            line_of(item))
        kind = kinds[0]
        lines = example_lines(item["examples"])
        if not lines:
            raise DataError(f"nlu {kind} {item[kind]!r} has no examples", line_of(item))
        if kind == "intent":
            name = _check_name("intent", item["intent"], line_of(item))
            d.intents.setdefault(name, {})
            d.lines.setdefault(("intent", name), line_of(item) or 0)
            for ex in lines:
                for _text, ent, _value in annotations(ex):
                    _check_name("entity", ent, line_of(item))
                    if ent not in d.entities:
                        d.entities.append(ent)
        elif kind in ("lookup", "regex"):
            _check_name(kind, item[kind], line_of(item))
        entry = {kind: item[kind], "examples": lines}
        entry.update({k: v for k, v in item.items() if k not in (kind, "examples")})
        d.nlu.append(entry)
        d.lines[("nlu", f"{kind}:{item[kind]}:{len(d.nlu)}")] = line_of(item) or 0

    for key, title in (("rules", "rule"), ("stories", "story")):
        for item in sequence(key):
            if not isinstance(item, dict) or title not in item or not isinstance(item.get("steps"), list):
                raise DataError(f"each {title} needs '{title}:' (a title) and 'steps:' (a list)",
                                line_of(item) or line_of(doc[key]))
            getattr(d, key).append(item)
    return d


# ---------------------------------------------------------------------------- namespacing
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

        return _ANNOTATION.sub(sub, text)

    def response_text(self, text: str) -> str:
        """Rewrite ``{slot}`` placeholders of a response text to the global slot names."""
        return _PLACEHOLDER.sub(lambda m: "{%s}" % self.slot(m.group(1)) if m.group(1) in self.slots else m.group(0), text)

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


# ---------------------------------------------------------------------------- reference checks
def check_references(data: SkillData, implemented: Iterable[str]) -> None:
    """Check that every name the skill's rules, stories, forms and slots use is defined.

    Args:
        data: LOCAL data.
        implemented: local names of the custom actions implemented in Python
            (``action_…``, ``validate_…``).

    Raises:
        DataError: the first problem found, with its line: an action used in a rule that
            is neither a response, a form, a Python action nor a Rasa default action; an
            action listed under ``actions:`` with no Python implementation; an unknown
            intent, slot, entity or form; a form slot nobody asks for.
    """
    implemented = set(implemented)
    for a in data.actions:
        if a not in implemented:
            raise DataError(f"action {a!r} is listed under 'actions:' but no @skill.action function implements it",
                            data.lines.get(("action", a)) or None)
    for a in implemented:
        if a in RASA_ACTIONS:
            raise DataError(f"action name {a!r} is reserved by Rasa")
    known_actions = set(data.responses) | set(data.forms) | implemented | RASA_ACTIONS | CORE_RESPONSES
    intents = set(data.intents) | RASA_INTENTS
    slots = set(data.slots) | RASA_SLOTS
    entities = set(data.entities)

    for name in data.intents:
        if name in RASA_INTENTS:
            raise DataError(f"intent name {name!r} is reserved by Rasa / the core part",
                            data.lines.get(("intent", name)))

    for name, spec in data.slots.items():
        for m in spec.get("mappings", []) or []:
            if not isinstance(m, dict):
                raise DataError(f"slot {name!r}: each mapping must be a mapping", line_of(spec))
            if "entity" in m and m["entity"] not in entities:
                raise DataError(f"slot {name!r} maps from entity {m['entity']!r}, which the skill does not define",
                                line_of(m) or line_of(spec))
            for key in ("intent", "not_intent"):
                vals = m.get(key)
                for v in (vals if isinstance(vals, list) else [vals] if vals else []):
                    if v not in intents:
                        raise DataError(f"slot {name!r} mapping uses intent {v!r}, which the skill does not define",
                                        line_of(m) or line_of(spec))
            for cond in m.get("conditions", []) or []:
                if cond.get("active_loop") and cond["active_loop"] not in data.forms:
                    raise DataError(f"slot {name!r} mapping condition uses form {cond['active_loop']!r}, "
                                    "which the skill does not define", line_of(cond) or line_of(spec))
    for name, spec in data.forms.items():
        for s in spec["required_slots"]:
            if s not in data.slots:
                raise DataError(f"form {name!r} requires slot {s!r}, which the skill does not define", line_of(spec))
            asks = {f"utter_ask_{s}", f"utter_ask_{name}_{s}"} & set(data.responses)
            asks |= {f"action_ask_{s}", f"action_ask_{name}_{s}"} & implemented
            if not asks:
                raise DataError(f"form {name!r} needs a response 'utter_ask_{s}' (what to ask for slot {s!r})",
                                line_of(spec))
        if f"validate_{name}" in data.actions and f"validate_{name}" not in implemented:
            raise DataError(f"form {name!r}: 'validate_{name}' has no @skill.validate function", line_of(spec))

    def check_step(step: Any, where: str, line: int | None) -> None:
        if not isinstance(step, dict):
            raise DataError(f"{where}: each step must be a mapping", line)
        sl = line_of(step) or line
        if "intent" in step and step["intent"] not in intents:
            raise DataError(f"{where} uses intent {step['intent']!r}, which the skill does not define", sl)
        if "action" in step and step["action"] not in known_actions:
            raise DataError(f"{where} uses action {step['action']!r}, which the skill does not define "
                            "(no response, form or @skill.action of that name)", sl)
        if step.get("active_loop") and step["active_loop"] not in data.forms:
            raise DataError(f"{where} uses form {step['active_loop']!r}, which the skill does not define", sl)
        for item in step.get("slot_was_set", []) or []:
            for s in (item if isinstance(item, dict) else [item]):
                if s not in slots:
                    raise DataError(f"{where} uses slot {s!r}, which the skill does not define", sl)
        for item in step.get("entities", []) or []:
            for e in (item if isinstance(item, dict) else [item]):
                if e not in entities:
                    raise DataError(f"{where} uses entity {e!r}, which the skill does not define", sl)
        for sub in step.get("or", []) or []:
            check_step(sub, where, sl)

    for key, title in (("rules", "rule"), ("stories", "story")):
        for item in getattr(data, key):
            where = f"{title} {item[title]!r}"
            for step in [*(item.get("condition") or []), *item["steps"]]:
                check_step(step, where, line_of(item))
