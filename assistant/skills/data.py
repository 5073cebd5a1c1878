"""A skill's ``skill.yml``: reading it (with line numbers) and checking it.

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

Namespacing (LOCAL → global names) lives in :mod:`assistant.skills.naming`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml

from assistant.nlu.project import annotations, example_lines

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

#: A response placeholder: ``{name}``. (Entity annotations: ``assistant.nlu.project.ANNOTATION_RE``.)
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z0-9_]+)\}")


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
