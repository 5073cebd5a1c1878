"""The skill SDK: :class:`Skill`, the ``@skill.action`` / ``@skill.validate`` decorators, and
the :class:`ActionContext` an action receives.

A skill is a Python package with a ``skill.yml`` beside its ``__init__.py`` (manifest +
Rasa-like training data with LOCAL names, see :mod:`assistant.skills.data`) and a module-level
``skill`` object registered under the entry point group ``offline_assistant.skills``::

    # skills/clock/__init__.py
    from datetime import datetime
    from assistant.skills import Skill

    skill = Skill.from_package(__name__)       # reads skills/clock/skill.yml

    @skill.action("tell_time")                 # → rasa_sdk action "action_clock__tell_time"
    def tell_time(ctx):
        ctx.say(datetime.now().strftime("It's %-I:%M %p."))

    # pyproject.toml
    [project.entry-points."offline_assistant.skills"]
    clock = "skills.clock:skill"

Action functions may be plain functions (run in a worker thread, so they may block briefly)
or ``async def``. They may return ``None``, one rasa_sdk event dict or a list of them; slot,
form and follow-up action names in returned events may be LOCAL (they are namespaced).

This module holds :class:`Skill` and re-exports what a skill author imports from the SDK:
:class:`~assistant.skills.context.ActionContext` and :class:`~assistant.skills.context.SkillContext`
(:mod:`assistant.skills.context`), and the ``rasa_sdk`` adapters :class:`SkillAction` /
:class:`FormValidationAction` (:mod:`assistant.skills.actions`). None of them imports the host:
they reach it through :class:`~assistant.skills.hostapi.SkillHostAPI`.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import yaml
from rasa_sdk import Action

from assistant.errors import SkillError
from assistant.private_files import private_dir
from assistant.settings import data_dir
from assistant.skills.actions import FormValidationAction, SkillAction, SkillTurnAction
from assistant.skills.context import ActionContext, SkillContext
from assistant.skills.data import (
    NAME_RE,
    SEP,
    DataError,
    SkillData,
    annotations,
    check_references,
    line_of,
    parse_data,
    read_yaml,
)
from assistant.skills.hostapi import SkillHostAPI
from assistant.skills.manifest import Manifest, ManifestError
from assistant.skills.naming import Namer, Namespaced, namespace
from assistant.skills.resolve import EntityResolver

__all__ = ["DATA_FILE", "ActionContext", "FormValidationAction", "Skill", "SkillAction", "SkillContext",
           "SkillLoadError", "SkillTurnAction"]

F = TypeVar("F", bound=Callable[..., Any])

#: Name of the data file next to a skill package's ``__init__.py``.
DATA_FILE = "skill.yml"


class SkillLoadError(SkillError):
    """A skill could not be loaded, validated or merged.

    Attributes:
        skill: the skill id or entry point name ("" if unknown).
        file: the file involved (skill.yml, the module), or "".
        line: 1-based line in ``file``, or None.
        skills: every skill involved (two for a clash).
    """

    def __init__(self, message: str, hint: str = "", *, skill: str = "", file: str = "",
                 line: int | None = None, skills: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint)
        self.skill = skill
        self.file = file
        self.line = line
        self.skills = skills or ((skill,) if skill else ())

    @classmethod
    def at(cls, skill: str, file: str, line: int | None, problem: str, hint: str = "") -> "SkillLoadError":
        """Build the standard message ``Skill 'x' (file:line): problem``."""
        where = f"{file}:{line}" if line else file
        return cls(f"Skill '{skill}' ({where}): {problem}", hint or "Fix the skill or disable it in Settings → Skills.",
                   skill=skill, file=file, line=line)


class Skill:
    """One skill: manifest, training data with local names, and Python actions.

    Usually made with :meth:`from_package`. The loader calls :meth:`check` (all names
    used are defined) and :meth:`namespaced` (global names); the host calls
    :meth:`build_actions`.

    Args:
        manifest: who the skill is (:class:`~assistant.skills.manifest.Manifest`).
        data: checked local training data (:func:`~assistant.skills.data.parse_data`).
        source: the data file, for error messages.
        package: the Python package the skill lives in, if any.
    """

    def __init__(self, manifest: Manifest, data: SkillData, *, source: str = "<memory>",
                 package: str | None = None) -> None:
        self.manifest = manifest
        self.data = data
        self.source = source
        self.package = package
        self._actions: dict[str, Callable[..., Any]] = {}
        self._validators: dict[str, dict[str, Callable[..., Any]]] = {}
        self._extractors: dict[str, dict[str, Callable[..., Any]]] = {}
        self._on_load: list[Callable[..., Any]] = []
        self._on_settings: list[Callable[..., Any]] = []
        self._continuations: dict[str, Callable[..., Any]] = {}
        self._providers: dict[str, tuple[Callable[[], Any], bool, bool]] = {}
        self._runtime_lookups: dict[str, tuple[list[str], bool]] = {}  # entity → (values, hotwords)
        self._lookup_base: dict[str, list[str]] = {}
        self._namespaced: Namespaced | None = None
        self._namer = Namer(manifest.id, data)
        self._resolver: Any = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_text(cls, text: str, *, source: str = "<memory>", package: str | None = None,
                  **manifest: Any) -> "Skill":
        """Build from skill.yml text.

        Args:
            text: the YAML.
            source: file name for error messages.
            package: owning package, if any.
            **manifest: manifest fields overriding the ``skill:`` section.

        Raises:
            SkillLoadError: malformed YAML (with the line of the problem), an invalid
                manifest, or badly shaped data.
        """
        skill_id = str(manifest.get("id") or package or "?").rsplit(".", 1)[-1]
        try:
            doc = read_yaml(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = " ".join(p for p in (exc.context, exc.problem) if p) or "malformed YAML"
            raise SkillLoadError.at(skill_id, source, line, f"malformed YAML: {problem}",
                                    "Fix the YAML syntax at that line.") from None
        except yaml.YAMLError as exc:
            raise SkillLoadError.at(skill_id, source, None, f"malformed YAML: {exc}") from None
        except DataError as exc:
            raise SkillLoadError.at(skill_id, source, exc.line, exc.message) from None
        section = doc.get("skill") or {}
        if not isinstance(section, dict):
            raise SkillLoadError.at(skill_id, source, line_of(doc), "'skill:' must be a mapping (the manifest)")
        skill_id = str(manifest.get("id") or section.get("id") or skill_id)
        try:
            man = Manifest.from_dict({**section, **manifest})
        except ManifestError as exc:
            raise SkillLoadError.at(skill_id, source, line_of(section), f"invalid manifest: {exc}") from None
        try:
            data = parse_data(doc)
        except DataError as exc:
            raise SkillLoadError.at(man.id, source, exc.line, exc.message) from None
        except (AttributeError, TypeError, ValueError, KeyError) as exc:  # an unexpected shape
            raise SkillLoadError.at(man.id, source, None, f"unexpected structure ({type(exc).__name__}: {exc}); "
                                    "compare with a built-in skill.yml") from None
        return cls(man, data, source=source, package=package)

    @classmethod
    def from_file(cls, path: str | Path, *, package: str | None = None, **manifest: Any) -> "Skill":
        """Build from a skill.yml file.

        Raises:
            SkillLoadError: the file cannot be read, or as :meth:`from_text`.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SkillLoadError.at(str(manifest.get("id") or package or path.parent.name), str(path), None,
                                    f"cannot read the data file: {exc}") from None
        return cls.from_text(text, source=str(path), package=package, **manifest)

    @classmethod
    def from_package(cls, package: str, filename: str = DATA_FILE, **manifest: Any) -> "Skill":
        """Build from ``<package>/skill.yml``; call it as ``Skill.from_package(__name__)``.

        Args:
            package: the dotted name of the skill's package (its ``__init__`` module).
            filename: the data file inside the package.
            **manifest: manifest fields overriding the ``skill:`` section.

        Raises:
            SkillLoadError: missing/unreadable file, malformed YAML (file:line), invalid
                manifest or data. Raised at import time, so the loader reports it.
        """
        try:
            resource = importlib.resources.files(package).joinpath(filename)
            text = resource.read_text(encoding="utf-8")
        except (OSError, ModuleNotFoundError, TypeError, UnicodeDecodeError) as exc:
            raise SkillLoadError.at(str(manifest.get("id") or package.rsplit(".", 1)[-1]), f"{package}/{filename}",
                                    None, f"cannot read the data file: {exc}") from None
        return cls.from_text(text, source=str(resource), package=package, **manifest)

    # ------------------------------------------------------------------ identity
    @property
    def id(self) -> str:
        """The skill id (namespace)."""
        return self.manifest.id

    @property
    def name(self) -> str:
        """Human-readable name."""
        return self.manifest.name

    def __repr__(self) -> str:
        return f"Skill({self.id!r}, source={self.source!r})"

    # ------------------------------------------------------------------ decorators
    def action(self, name: str) -> Callable[[F], F]:
        """Decorator: implement the custom action ``name`` (``"tell_time"`` or
        ``"action_tell_time"``; served as ``action_<id>__tell_time``).

        The function receives an :class:`ActionContext`; it may be ``async``.

        Raises:
            SkillError: invalid or duplicate action name (a bug in the skill).
        """
        local = name if name.startswith("action_") else f"action_{name}"
        if not NAME_RE.match(local[len("action_"):]):
            raise SkillError(f"Skill '{self.id}': invalid action name {name!r} (use lower-case letters, digits "
                             "and single underscores)")

        def deco(fn: F) -> F:
            if local in self._actions:
                raise SkillError(f"Skill '{self.id}': action {local!r} is implemented twice")
            self._actions[local] = fn
            self._namespaced = None
            return fn

        return deco

    def validate(self, form: str, slot: str) -> Callable[[F], F]:
        """Decorator: validate/normalise ``slot`` while form ``form`` collects it.

        The function is called as ``fn(ctx, value)`` with the extracted value and returns
        the value to keep (possibly normalised) or ``None`` to reject it (the form asks
        again; call ``ctx.say(...)`` to explain). All validators of a form are served as
        one ``validate_<id>__<form>`` action.
        """

        def deco(fn: F) -> F:
            self._validators.setdefault(form, {})[slot] = fn
            self._namespaced = None
            return fn

        return deco

    def extract(self, form: str, slot: str) -> Callable[[F], F]:
        """Decorator: fill ``slot`` of ``form`` yourself (a slot with ``mappings: [{type:
        custom}]``), like rasa_sdk's ``extract_<slot>`` methods.

        The function is called as ``fn(ctx)`` every time the form runs: when it starts
        (``ctx.requested_slot`` is None and ``ctx.text`` is the request that started it)
        and after each answer (``ctx.requested_slot`` is the slot the form asked for). It
        returns the value or ``None`` (nothing found). The value then goes through the
        ``@skill.validate`` function of that slot, if any. When it returns ``None`` for the
        slot the form asked for, the form asks again (say why with ``ctx.say``). Not called
        when the user cancels ("never mind": :attr:`ActionContext.cancelled`), so the form
        gives way to the control skill.
        """

        def deco(fn: F) -> F:
            self._extractors.setdefault(form, {})[slot] = fn
            self._namespaced = None
            return fn

        return deco

    def on_load(self, fn: F) -> F:
        """Decorator: call ``fn(ctx)`` (a :class:`SkillContext`) once when the running app
        binds the skill, before the first request: restore persisted state, schedule
        callbacks again. An exception is logged and reported; the skill stays loaded."""
        self._on_load.append(fn)
        return fn

    def on_settings_changed(self, fn: F) -> F:
        """Decorator: call ``fn(ctx, changed)`` after the user (or :meth:`SkillContext.set_setting`)
        changed this skill's settings; ``changed`` is ``{key: new value}``."""
        self._on_settings.append(fn)
        return fn

    def implemented(self) -> set[str]:
        """Local names of the actions implemented in Python (``action_…``, ``validate_…``)."""
        forms = set(self._validators) | set(self._extractors) | set(self.data.forms)  # all: entity resolution
        return set(self._actions) | {f"validate_{f}" for f in forms}

    # ------------------------------------------------------------------ data added in code
    def extend_lookup(self, entity: str, values: "Iterable[str]", *, hotwords: bool = True) -> None:
        """Add entries to the lookup table of ``entity`` (created if missing), e.g. names
        found on this computer at import time (the apps skill adds its ``.desktop`` names).

        Call it at import time, before the loader checks the skill. Empty and duplicate
        values are dropped. ``hotwords=False`` keeps the entity out of the ASR vocabulary.

        Raises:
            SkillError: ``entity`` is not a valid local name.
        """
        if not NAME_RE.match(entity):
            raise SkillError(f"Skill '{self.id}': invalid entity name {entity!r}")
        clean = [" ".join(str(v).split()) for v in values]
        clean = [v for v in dict.fromkeys(clean) if v and "\n" not in v]
        item = next((i for i in self.data.nlu if i.get("lookup") == entity), None)
        if item is None:
            if not clean:
                return
            item = {"lookup": entity, "examples": []}
            self.data.nlu.append(item)
        have = {e.lower() for e in item["examples"]}
        item["examples"] = [*item["examples"], *(v for v in clean if v.lower() not in have)]
        if not hotwords:
            item["hotwords"] = False
        if entity not in self.data.entities:
            self.data.entities.append(entity)
        self._namespaced = None

    def lookup_provider(self, entity: str, *, hotwords: bool = True, train: bool = True) -> Callable[[F], F]:
        """Decorator: ``fn()`` returns entries for the lookup table of ``entity``, computed
        again every time the skills are loaded, added to the entries written in skill.yml.

        With ``train=True`` they become Rasa training data: a change retrains the model
        (once: cached by hash). With ``train=False`` (the apps skill: the ``.desktop``
        entries of this computer) they only bias the ASR (unless ``hotwords=False``) and
        are declared values for entity resolution, so ``ctx.entity`` maps what was heard
        to them; the trained model stays the same on every computer (a packaged,
        pre-trained model is used as it is).

        An exception in ``fn`` is a load error of the skill.
        """

        def deco(fn: F) -> F:
            self._providers[entity] = (fn, hotwords, train)
            self._namespaced = None
            return fn

        return deco

    def refresh(self) -> None:
        """Recompute the ``@skill.lookup_provider`` lookup tables (the loader calls this
        before checking the skill)."""
        for entity, (fn, hotwords, train) in self._providers.items():
            if not train:
                values = [" ".join(str(v).split()) for v in (fn() or ())]
                self._runtime_lookups[entity] = ([v for v in dict.fromkeys(values) if v and "\n" not in v], hotwords)
                self._resolver = None
                continue
            item = next((i for i in self.data.nlu if i.get("lookup") == entity), None)
            base = self._lookup_base.setdefault(entity, list(item["examples"]) if item else [])
            if item is not None:
                item["examples"] = list(base)
            self.extend_lookup(entity, list(fn() or ()), hotwords=hotwords)

    def data_dir(self) -> Path:
        """This skill's own folder for files it keeps: ``data_dir()/skills/<id>/`` (created,
        mode 0700: it holds the user's data; write files with
        :func:`assistant.private_files.write_private` for atomic 0600 files)."""
        return private_dir(data_dir() / "skills" / self.id)

    # ------------------------------------------------------------------ names
    def global_name(self, kind: str, local: str) -> str:
        """The namespaced name of a local one.

        Args:
            kind: ``"intent"``, ``"entity"``, ``"slot"``, ``"form"`` or ``"action"``
                (actions, responses, forms).
            local: the local name.
        """
        return getattr(self._namer, kind)(local)

    def local_name(self, name: str) -> str | None:
        """The local part of a global intent/entity/slot/form name of this skill
        (``"timer__duration"`` → ``"duration"``), else None."""
        prefix = f"{self.id}{SEP}"
        return name[len(prefix):] if name.startswith(prefix) else None

    # ------------------------------------------------------------------ checks and output
    def check(self) -> None:
        """Check that everything the data refers to exists (actions used in rules,
        slots of forms, entities of mappings, validators of forms …).

        Raises:
            SkillLoadError: naming the skill, the file and the line.
        """
        try:
            for deco, table in (("validate", self._validators), ("extract", self._extractors)):
                for form, slots in table.items():
                    if form not in self.data.forms:
                        raise DataError(f"@skill.{deco}({form!r}, …) names a form the skill does not define")
                    for slot in slots:
                        if slot not in self.data.forms[form]["required_slots"]:
                            raise DataError(f"@skill.{deco}({form!r}, {slot!r}): the form does not require that slot",
                                            line_of(self.data.forms[form]))
            check_references(self.data, self.implemented())
            self.namespaced()
        except DataError as exc:
            raise SkillLoadError.at(self.id, self.source, exc.line, exc.message) from None
        except (AttributeError, TypeError, ValueError, KeyError) as exc:  # an unexpected shape
            raise SkillLoadError.at(self.id, self.source, None, f"unexpected structure ({type(exc).__name__}: {exc}); "
                                    "compare with a built-in skill.yml") from None

    def namespaced(self) -> Namespaced:
        """The data with global names (cached; recomputed after new decorators)."""
        if self._namespaced is None:
            self._namespaced = namespace(self.id, self.data, sorted(self.implemented()))
        return self._namespaced

    def resolver(self) -> Any:
        """The :class:`~assistant.skills.resolve.EntityResolver` over this skill's declared
        entity values (global names; cached, rebuilt when the data changes)."""
        ns = self.namespaced()
        if self._resolver is None or self._resolver[0] is not ns:
            runtime = [{"lookup": self.global_name("entity", e), "examples": list(v)}
                       for e, (v, _hw) in self._runtime_lookups.items() if v]
            self._resolver = (ns, EntityResolver.from_nlu([*ns.nlu, *runtime], ns.domain))
        return self._resolver[1]

    def slot_intents(self) -> list[str]:
        """Global names (``skill__intent``) of this skill's intents whose training examples
        annotate at least one entity: the commands that carry slot values, which the ASR's
        domain pass decodes again with this skill's vocabulary (see
        :mod:`assistant.asr.domain`)."""
        return sorted({item["intent"] for item in self.namespaced().nlu
                       if "intent" in item and annotations(str(item.get("examples") or ""))})

    def vocabulary(self) -> list[str]:
        """Words and phrases this skill expects to hear: annotated entity values, lookup
        entries, synonyms (their canonical value and variants), categorical slot values."""
        out: list[str] = []
        quiet = {i["lookup"] for i in self.data.nlu if "lookup" in i and i.get("hotwords") is False}
        for item in self.data.nlu:
            if "intent" in item:
                out += [text for ex in item["examples"] for text, e, _v in annotations(ex) if e not in quiet]
            elif "lookup" in item:
                if item["lookup"] not in quiet:
                    out += item["examples"]
            elif "synonym" in item:
                out += [str(item["synonym"]), *item["examples"]]
        for spec in self.data.slots.values():
            if spec.get("type") == "categorical":
                out += [str(v) for v in spec.get("values", []) or []]
        for values, hotwords in self._runtime_lookups.values():
            if hotwords:
                out += values
        return out

    def build_actions(self, host: SkillHostAPI | None = None) -> list[Action]:
        """The ``rasa_sdk.Action`` instances of this skill.

        Args:
            host: the app's :class:`~assistant.skills.host.SkillHost` (scheduling, speech,
                stop, settings); None gives actions whose ``ctx.schedule`` etc. raise.
        """
        out: list[Action] = [SkillAction(self, local, fn, host) for local, fn in sorted(self._actions.items())]
        forms = sorted(set(self._validators) | set(self._extractors) | set(self.data.forms))
        out += [FormValidationAction(self, form, dict(self._validators.get(form, {})), host,
                                     dict(self._extractors.get(form, {}))) for form in forms]
        return out

    # ------------------------------------------------------------------ used by contexts, actions and the host
    def translate_event(self, ev: dict) -> dict:
        """A copy of the rasa_sdk event ``ev`` with this skill's LOCAL slot, form and
        follow-up action names made global (other names are kept)."""
        ev = dict(ev)
        kind, name = ev.get("event"), ev.get("name")
        if isinstance(name, str) and SEP not in name:
            if kind == "slot" and name in self.data.slots:
                ev["name"] = self._namer.slot(name)
            elif kind == "active_loop" and name in self.data.forms:
                ev["name"] = self._namer.form(name)
            elif kind == "followup":
                local = name
                if local in self.data.responses or local in self.data.forms or local in self.implemented():
                    ev["name"] = self._namer.action(local)
        return ev

    def action_function(self, local: str) -> Callable[..., Any] | None:
        """The ``@skill.action`` function of the local action name ``action_<name>``, or None."""
        return self._actions.get(local)

    def add_continuation(self, key: str, fn: Callable[..., Any]) -> None:
        """Remember ``fn`` as the function waiting for an answer under ``key`` (its
        ``__qualname__``; what :meth:`ActionContext.ask` does)."""
        self._continuations[key] = fn

    def continuation(self, key: str) -> Callable[..., Any] | None:
        """The function registered with :meth:`add_continuation` under ``key``, or None."""
        return self._continuations.get(key)

    @property
    def load_hooks(self) -> tuple[Callable[..., Any], ...]:
        """The ``@skill.on_load`` functions, in registration order."""
        return tuple(self._on_load)

    @property
    def settings_hooks(self) -> tuple[Callable[..., Any], ...]:
        """The ``@skill.on_settings_changed`` functions, in registration order."""
        return tuple(self._on_settings)
