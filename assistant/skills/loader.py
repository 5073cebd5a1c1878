"""Finding, checking and merging skills.

:func:`load_skills` discovers skills through ``importlib.metadata`` entry points of the
group :data:`ENTRY_POINT_GROUP` (``offline_assistant.skills``; each entry point names a
:class:`~assistant.skills.sdk.Skill` object), imports and checks each one, and refuses
broken or clashing skills one by one: every problem becomes ONE
:class:`~assistant.skills.sdk.SkillLoadError` naming the skill and its file (and line when
known), and the other skills still load.

:func:`compose_project` merges the loaded skills' namespaced data with the core part
(``core.yml`` beside this module: the ``out_of_scope`` intent and the fallback response
"Sorry, I can't do that yet.") into one :class:`~assistant.nlu.project.RasaProject`.
:func:`vocabulary` lists the phrases the skills expect, for ASR hotwords.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import logging
import re
import traceback
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from assistant.errors import SkillError
from assistant.nlu.project import RasaProject, example_block, example_lines, strip_annotations
from assistant.skills.data import parse_data, plain, read_yaml
from assistant.skills.naming import namespace
from assistant.skills.sdk import Skill, SkillLoadError

log = logging.getLogger(__name__)

#: Entry point group skills register under.
ENTRY_POINT_GROUP = "offline_assistant.skills"
#: Distribution whose skills load first (the built-ins win a clash).
BUILTIN_DISTRIBUTION = "offline-assistant"
#: ``session_config`` of the composed domain (minutes; slots survive a new session).
SESSION_CONFIG = {"session_expiration_time": 60, "carry_over_slots_to_new_session": True}


@dataclass
class LoadResult:
    """What :func:`load_skills` found.

    Attributes:
        skills: the skills that loaded and passed every check, in load order.
        errors: one :class:`SkillLoadError` per refused skill (show ``.message`` and
            ``.hint``; ``.skill``, ``.file``, ``.line``, ``.skills`` for details).
        disabled: entry point names / skill ids skipped because the user disabled them.
    """

    skills: list[Skill] = field(default_factory=list)
    errors: list[SkillLoadError] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    def by_id(self) -> dict[str, Skill]:
        """``{skill id: skill}``."""
        return {s.id: s for s in self.skills}


def _is_builtin(ep: importlib.metadata.EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)  # None for EntryPoint objects made by hand
    name = dist.name if dist is not None else ""
    return bool(name) and re.sub(r"[-_.]+", "-", name).lower() == BUILTIN_DISTRIBUTION


def _discover(group: str) -> list[importlib.metadata.EntryPoint]:
    eps = list(importlib.metadata.entry_points(group=group))
    # Built-ins first, then by name: load order decides which side of a clash is kept.
    eps.sort(key=lambda ep: (not _is_builtin(ep), ep.name, ep.value))
    seen, out = set(), []
    for ep in eps:  # the same entry point may be visible twice (e.g. an editable install)
        if (ep.name, ep.value) not in seen:
            seen.add((ep.name, ep.value))
            out.append(ep)
    return out


def import_error(ep: importlib.metadata.EntryPoint, exc: BaseException) -> SkillLoadError:
    """The :class:`SkillLoadError` for a skill whose module raised ``exc`` on import: the
    skill's own file and line (the syntax error's, or the deepest frame in the skill's
    package), the exception, and what to do. Used by :func:`load_skills` and by
    ``assistant skill test`` (:func:`assistant.skills.testing.import_skill`)."""
    file, line = "", None
    if isinstance(exc, SyntaxError) and exc.filename:
        file, line = exc.filename, exc.lineno
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
        module = ep.value.split(":", 1)[0]
        tail = module.replace(".", "/")
        own = [f for f in frames if tail in f.filename.replace("\\", "/")]
        frame = (own or frames or [None])[-1]
        if frame is not None and (own or "importlib" not in frame.filename):
            file, line = frame.filename, frame.lineno
        else:
            file = module
    err = SkillLoadError.at(ep.name, file or ep.value, line,
                            f"cannot be imported ({ep.value}): {type(exc).__name__}: {exc}",
                            "Reinstall or update the skill, or disable it in Settings → Skills.")
    return err


def load_skills(disabled: Iterable[str] = (),
                extra_entry_points: Sequence[importlib.metadata.EntryPoint] | None = None,
                *, group: str = ENTRY_POINT_GROUP, discover: bool = True) -> LoadResult:
    """Discover, import and check skills.

    Args:
        disabled: entry point names or skill ids not to load (not even imported when the
            entry point name matches).
        extra_entry_points: more ``importlib.metadata.EntryPoint`` objects to load after
            the discovered ones (tests, a user's skills folder).
        group: the entry point group to discover.
        discover: False loads only ``extra_entry_points``.

    Returns:
        A :class:`LoadResult`. A skill that fails to import (ImportError, SyntaxError, any
        exception at import), whose skill.yml is malformed (file:line), whose data refers
        to something it does not define (e.g. an action used in a rule), or whose id or
        names clash with an already loaded skill is left out with ONE error entry; the
        others load. In a clash, the skill loaded first (built-ins, then by entry point
        name) is kept and the error names both.
    """
    disabled = set(disabled)
    result = LoadResult()
    eps = (_discover(group) if discover else []) + list(extra_entry_points or [])
    owners: dict[tuple[str, str], Skill] = {}
    origin: dict[int, str] = {}
    for ep in eps:
        if ep.name in disabled:
            result.disabled.append(ep.name)
            continue
        try:
            obj = ep.load()
        except SkillLoadError as exc:
            result.errors.append(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - any import-time failure is the skill's
            result.errors.append(import_error(ep, exc))
            continue
        if not isinstance(obj, Skill):
            result.errors.append(SkillLoadError.at(
                ep.name, ep.value, None, f"the entry point names a {type(obj).__name__}, not an "
                "assistant.skills.Skill", "The entry point must point at the module's Skill object."))
            continue
        if any(obj is s for s in result.skills):
            continue  # the same skill reached through two entry points
        if obj.id in disabled:
            result.disabled.append(obj.id)
            continue
        try:
            obj.refresh()
            obj.check()
            names = obj.namespaced().names
        except SkillLoadError as exc:
            result.errors.append(exc)
            continue
        except SkillError as exc:
            result.errors.append(SkillLoadError.at(obj.id, obj.source, None, exc.message, exc.hint))
            continue
        except Exception as exc:  # noqa: BLE001 - a lookup provider of the skill failed
            result.errors.append(SkillLoadError.at(obj.id, obj.source, None,
                                                   f"failed to compute its data: {type(exc).__name__}: {exc}"))
            continue
        clash = _clash(obj, names, owners, result.skills)
        if clash is not None:
            other, what = clash
            err = SkillLoadError(
                f"Skill '{obj.id}' ({obj.source}, entry point {ep.value}) clashes with skill '{other.id}' "
                f"({other.source}, entry point {origin.get(id(other), '?')}): {what}. '{obj.id}' was not loaded.",
                "Rename one skill's id or disable one of them in Settings → Skills.",
                skill=obj.id, file=obj.source, skills=(obj.id, other.id))
            result.errors.append(err)
            continue
        for n in names:
            owners[n] = obj
        origin[id(obj)] = ep.value
        result.skills.append(obj)
    return result


def _clash(skill: Skill, names: set[tuple[str, str]], owners: dict[tuple[str, str], Skill],
           loaded: list[Skill]) -> tuple[Skill, str] | None:
    for other in loaded:
        if other.id == skill.id:
            return other, f"both use the id '{skill.id}'"
    common = sorted(n for n in names if n in owners)
    if common:
        other = owners[common[0]]
        shown = ", ".join(f"{k} '{v}'" for k, v in common[:5]) + (" …" if len(common) > 5 else "")
        return other, f"both define {shown}"
    return None


# ---------------------------------------------------------------------------- composing
def _core_data():
    text = importlib.resources.files(__package__).joinpath("core.yml").read_text(encoding="utf-8")
    return parse_data(read_yaml(text))


def compose_project(skills: Iterable[Skill], *, core: bool = True) -> RasaProject:
    """Merge skills (and the core part) into one Rasa project with global names.

    The core part adds the ``out_of_scope`` intent (minus any example a skill also uses),
    the ``utter_default`` response ("Sorry, I can't do that yet.") and rules sending
    ``out_of_scope`` and ``nlu_fallback`` to it; for every form it adds the rules that
    say sorry and then resume the form (which asks its question again).

    Args:
        skills: loaded skills (``load_skills(...).skills``), in order.
        core: include the core part.

    Returns:
        The :class:`~assistant.nlu.project.RasaProject` (plain dicts and lists).

    Raises:
        SkillError: two of ``skills`` define the same name (``load_skills`` never returns
            such a list).
    """
    skills = list(skills)
    domain: dict = {"intents": [], "entities": [], "slots": {}, "forms": {}, "responses": {}, "actions": []}
    own_intents = {skill.id: list(skill.namespaced().domain.get("intents") or []) for skill in skills}
    nlu: list[dict] = []
    rules: list[dict] = []
    stories: list[dict] = []
    owners: dict[tuple[str, str], str] = {}
    example_owner: dict[str, str] = {}  # normalised example → first skill using it
    for skill in skills:
        ns = skill.namespaced()
        for n in ns.names:
            if n in owners:
                raise SkillError(f"Skills '{owners[n]}' and '{skill.id}' both define {n[0]} '{n[1]}'.",
                                 "Load skills with load_skills(), which refuses clashes.")
            owners[n] = skill.id
        others = sorted({i for sid, its in own_intents.items() if sid != skill.id for i in its})
        _merge_domain(domain, {**ns.domain, "slots": _only_own_intents(ns.domain.get("slots") or {}, others)})
        nlu += ns.nlu
        rules += ns.rules
        stories += ns.stories
        mine = {strip_annotations(x) for item in skill.data.nlu if "intent" in item for x in item["examples"]}
        for example in sorted(mine & set(example_owner)):
            log.warning("skills '%s' and '%s' both use the training example %r for different intents; "
                        "the classifier cannot tell them apart", example_owner[example], skill.id, example)
        for example in mine:
            example_owner.setdefault(example, skill.id)
    if core:
        cns = namespace(None, _core_data())
        _merge_domain(domain, cns.domain)
        for item in cns.nlu:
            if item.get("intent") == "out_of_scope":
                kept = [x for x in example_lines(item["examples"]) if strip_annotations(x) not in example_owner]
                item = {**item, "examples": example_block(kept)}
            nlu.append(item)
        rules += cns.rules
        for form in domain["forms"]:
            for intent in ("out_of_scope", "nlu_fallback"):
                rules.append({
                    "rule": f"core: say sorry for {intent} while {form} is active, then go on with the form",
                    "condition": [{"active_loop": form}],
                    "steps": [{"intent": intent}, {"action": "utter_default"}, {"action": form},
                              {"active_loop": form}],
                })
    domain["session_config"] = dict(SESSION_CONFIG)
    return RasaProject(domain=plain(domain), nlu=plain(nlu), rules=plain(rules), stories=plain(stories))


def _only_own_intents(slots: dict, others: list[str]) -> dict:
    """``slots`` whose ``from_entity`` mappings without an ``intent``/``not_intent`` or
    ``conditions`` (a form's question) get ``not_intent: others`` (the other skills'
    intents). Rasa fills a slot from *any* message with its entity: the drinks skill's
    ``quantity`` took the "5" of "set a timer for 5 minutes" and the next order was for 5
    lattes. An answer to the skill's own question that no intent of its own names
    ("medium", a fallback) still fills it."""
    if not others:
        return slots
    out = {}
    for name, spec in slots.items():
        maps = (spec or {}).get("mappings") if isinstance(spec, dict) else None
        if maps:
            spec = {**spec, "mappings": [
                {**m, "not_intent": list(others)}
                if isinstance(m, dict) and m.get("type") == "from_entity"
                and not ({"intent", "not_intent", "conditions"} & set(m))
                else m for m in maps]}
        out[name] = spec
    return out


def _merge_domain(into: dict, part: dict) -> None:
    for key in ("intents", "entities", "actions"):
        for item in part.get(key, []):
            if item not in into[key]:
                into[key].append(item)
    for key in ("slots", "forms", "responses"):
        into[key].update(part.get(key, {}))


def vocabulary(skills: Iterable[Skill]) -> list[str]:
    """Phrases the skills expect to hear, for ASR contextual biasing (hotwords): annotated
    entity values in examples, lookup table entries, synonyms and their variants,
    categorical slot values. De-duplicated case-insensitively, first spelling kept, in
    skill order.
    """
    seen, out = set(), []
    for skill in skills:
        for phrase in skill.vocabulary():
            key = " ".join(phrase.lower().split())
            if key and key not in seen:
                seen.add(key)
                out.append(phrase.strip())
    return out
