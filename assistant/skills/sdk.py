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
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

import yaml
from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, SlotSet

from assistant.errors import SkillError
from assistant.skills.data import (
    NAME_RE,
    SEP,
    DataError,
    Namer,
    Namespaced,
    SkillData,
    annotations,
    check_references,
    line_of,
    namespace,
    parse_data,
    read_yaml,
)
from assistant.skills.manifest import Manifest, ManifestError

if TYPE_CHECKING:  # pragma: no cover
    from assistant.skills.host import SkillHost, TimerHandle

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
        self._providers: dict[str, tuple[Callable[[], Any], bool]] = {}
        self._lookup_base: dict[str, list[str]] = {}
        self._namespaced: Namespaced | None = None
        self._namer = Namer(manifest.id, data)
        self._resolver: Any = None
        # entity resolution asks "Did you mean …?" through the ordinary question mechanism
        from assistant.skills import resolution_flow

        self._continuations.update(resolution_flow.CONTINUATIONS)

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

    def lookup_provider(self, entity: str, *, hotwords: bool = True) -> Callable[[F], F]:
        """Decorator: ``fn()`` returns entries for the lookup table of ``entity``, computed
        again every time the skills are loaded (the apps skill lists the ``.desktop``
        entries of this computer), added to the entries written in skill.yml. A change
        changes the training data, so the model is retrained (once: cached by hash).

        An exception in ``fn`` is a load error of the skill.
        """

        def deco(fn: F) -> F:
            self._providers[entity] = (fn, hotwords)
            self._namespaced = None
            return fn

        return deco

    def refresh(self) -> None:
        """Recompute the ``@skill.lookup_provider`` lookup tables (the loader calls this
        before checking the skill)."""
        for entity, (fn, hotwords) in self._providers.items():
            item = next((i for i in self.data.nlu if i.get("lookup") == entity), None)
            base = self._lookup_base.setdefault(entity, list(item["examples"]) if item else [])
            if item is not None:
                item["examples"] = list(base)
            self.extend_lookup(entity, list(fn() or ()), hotwords=hotwords)

    def data_dir(self) -> Path:
        """This skill's own folder for files it keeps: ``data_dir()/skills/<id>/`` (created,
        mode 0700: it holds the user's data; write files with
        :func:`assistant.private_files.write_private` for atomic 0600 files)."""
        from assistant.private_files import private_dir
        from assistant.settings import data_dir

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
            from assistant.skills.resolve import EntityResolver

            self._resolver = (ns, EntityResolver.from_nlu(ns.nlu, ns.domain))
        return self._resolver[1]

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
        return out

    def build_actions(self, host: "SkillHost | None" = None) -> list[Action]:
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

    # used by ActionContext
    def _translate_event(self, ev: dict) -> dict:
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


class SkillContext:
    """What a skill gets outside a dialogue turn (``@skill.on_load``, ``@skill.on_settings_changed``,
    scheduled callbacks) and inside one (:class:`ActionContext` extends it): the host's
    clock, voice, stop button and settings, in the skill's own terms.

    Attributes:
        skill: the :class:`Skill`.
        host: the :class:`~assistant.skills.host.SkillHost`, or None outside the app (then
            scheduling and speaking later raise :class:`~assistant.errors.SkillError`).
    """

    def __init__(self, skill: Skill, host: "SkillHost | None") -> None:
        self.skill = skill
        self.host = host

    @property
    def skill_id(self) -> str:
        """The skill id."""
        return self.skill.id

    # -- settings
    @property
    def settings(self) -> dict[str, Any]:
        """This skill's effective settings (manifest defaults + the user's values)."""
        if self.host is not None:
            return self.host.settings_for(self.skill)
        return self.skill.manifest.default_settings()

    def set_setting(self, key: str, value: Any) -> Any:
        """Change one of this skill's settings and save it in settings.toml (the settings
        panel shows the new value; ``@skill.on_settings_changed`` callbacks run).

        Returns:
            The value as stored (converted to the field's type).

        Raises:
            SkillError: no such setting, or the value is invalid for it; or no host.
        """
        return self._need_host().set_setting(self.skill, key, value)

    def data_dir(self) -> Path:
        """This skill's folder for files it keeps (``data_dir()/skills/<id>/``)."""
        return self.skill.data_dir()

    def installed_skills(self) -> list[Skill]:
        """Every skill the app loaded, in load order ([] without a host)."""
        return self.host.skills() if self.host is not None else []

    # -- through the host
    def _need_host(self) -> "SkillHost":
        if self.host is None:
            raise SkillError(f"Skill '{self.skill_id}': no skill host (scheduling and speaking later need the app)")
        return self.host

    def schedule(self, delay_s: float, callback: Callable[[], Any], *, label: str = "",
                 data: dict[str, Any] | None = None) -> "TimerHandle":
        """Call ``callback()`` after ``delay_s`` seconds (on the host's scheduler thread).

        Returns:
            A cancellable :class:`~assistant.skills.host.TimerHandle`.

        Raises:
            SkillError: no host. ValueError: negative delay.
        """
        return self._need_host().schedule(delay_s, callback, skill_id=self.skill_id, label=label, data=data)

    def speak_later(self, text: str, delay_s: float = 0.0, *, label: str = "",
                    data: dict[str, Any] | None = None) -> "TimerHandle":
        """Say ``text`` after ``delay_s`` seconds, outside the dialogue (published as
        ``Announcement(source="skill:<id>")``; the pipeline speaks it when idle).

        Returns:
            A cancellable :class:`~assistant.skills.host.TimerHandle`.
        """
        host = self._need_host()
        sid = self.skill_id
        return host.schedule(delay_s, lambda: host.speak(text, skill_id=sid), skill_id=sid, label=label, data=data)

    def announce(self, text: str) -> None:
        """Say ``text`` now, outside the dialogue (safe from scheduled callbacks)."""
        self._need_host().speak(text, skill_id=self.skill_id)

    def timers(self) -> list["TimerHandle"]:
        """This skill's pending scheduled handles, soonest first ([] without a host)."""
        return self.host.pending(self.skill_id) if self.host is not None else []

    def stop(self, reason: str = "") -> None:
        """Interrupt speech and the current interaction (publishes ``StopRequested``)."""
        self._need_host().stop(reason or f"skill:{self.skill_id}")


class ActionContext(SkillContext):
    """What an action function gets: the turn (tracker, dispatcher, domain) behind helpers
    that speak LOCAL names, plus everything of :class:`SkillContext`.

    Attributes:
        skill: the :class:`Skill`.
        dispatcher: the ``rasa_sdk`` ``CollectingDispatcher`` of this turn.
        tracker: the ``rasa_sdk`` ``Tracker`` (global names).
        domain: the domain dict Rasa sent (global names).
        host: the :class:`~assistant.skills.host.SkillHost`, or None outside the app.
        events: rasa_sdk events the action returns (``set_slot`` etc. append here).
        answer: in a function given to :meth:`ask` / :meth:`ask_yesno`, the answer (text,
            or True/False); None elsewhere.
        data: in such a function, the ``data`` dict given to the question ({} elsewhere).
    """

    def __init__(self, skill: Skill, dispatcher: Any, tracker: Any, domain: dict, host: "SkillHost | None") -> None:
        super().__init__(skill, host)
        self.dispatcher = dispatcher
        self.tracker = tracker
        self.domain = domain or {}
        self.events: list[dict] = []
        self.answer: Any = None
        self.data: dict[str, Any] = {}
        #: entities fixed by a confirmed "Did you mean …?" (global dicts), or None
        self._pinned: list[dict] | None = None
        self._text_override: str | None = None

    # -- the turn
    @property
    def text(self) -> str:
        """What the user said last (the transcript); after a confirmed "Did you mean …?",
        the request that was being confirmed."""
        if self._text_override is not None:
            return self._text_override
        return (self.tracker.latest_message or {}).get("text") or ""

    @property
    def intent(self) -> str:
        """The last user intent: LOCAL if it belongs to this skill (``"set_timer"``), else the
        global name (``"control__stop"``, ``"nlu_fallback"``) or "" if none."""
        name = ((self.tracker.latest_message or {}).get("intent") or {}).get("name") or ""
        return self.skill.local_name(name) or name

    @property
    def confidence(self) -> float:
        """Confidence of the last user intent in [0, 1] (0 if unknown)."""
        return float(((self.tracker.latest_message or {}).get("intent") or {}).get("confidence") or 0.0)

    @property
    def cancelled(self) -> bool:
        """True if the last user turn was "stop" / "never mind" / "cancel" (an intent in
        :data:`assistant.skills.dialogue.CANCEL_INTENTS`)."""
        from assistant.skills.dialogue import is_cancel

        return is_cancel(self.tracker)

    @property
    def requested_slot(self) -> str | None:
        """The slot (LOCAL name) a form of this skill just asked for, else None."""
        name = self.tracker.get_slot("requested_slot")
        return self.skill.local_name(name) if isinstance(name, str) else None

    def say(self, text: str) -> None:
        """Reply ``text`` (spoken by TTS)."""
        self.dispatcher.utter_message(text=text)

    def ask(self, text: str, then: Callable[..., Any] | None = None, *, data: dict[str, Any] | None = None) -> None:
        """Ask a question and wait for the answer.

        With ``then``: the next thing the user says (any words; "never mind" cancels) is
        passed to ``then(ctx, answer_text)`` in the next turn, where ``ctx.data`` is
        ``data``. ``then`` must be a function of this skill's module (it is found again by
        name). It may ask again.

        Without ``then``: only says ``text`` and tells the pipeline to listen again without
        the wake word (custom payload ``{"expect_answer": true}``); the answer is then an
        ordinary user turn that goes through the NLU.
        """
        if then is None:
            self.dispatcher.utter_message(text=text, json_message={"expect_answer": True})
            return
        self._question(text, "text", then, data)

    def ask_yesno(self, text: str, then: Callable[..., Any], *, data: dict[str, Any] | None = None) -> None:
        """Ask a yes/no question; ``then(ctx, True | False)`` runs with the answer.

        "yes", "yeah", "sure", "go ahead" … are True; "no", "nope", "don't" … are False;
        anything else asks again ("Please answer yes or no."); "never mind" cancels.
        """
        self._question(text, "yesno", then, data)

    def confirm(self, text: str, then: Callable[..., Any], *, data: dict[str, Any] | None = None,
                no: str = "Okay, I won't.") -> None:
        """Ask for confirmation: on yes run ``then(ctx)``, on no say ``no``."""
        self._question(text, "confirm", then, {**(data or {}), "_no": no})

    def _question(self, text: str, kind: str, then: Callable[..., Any], data: dict[str, Any] | None) -> None:
        from assistant.skills.dialogue import question_events

        key = getattr(then, "__qualname__", None) or getattr(then, "__name__", None)
        if not callable(then) or not key:
            raise SkillError(f"Skill '{self.skill_id}': 'then' must be a function")
        self.skill._continuations[key] = then
        self.events += question_events(text, kind, f"{self.skill_id}:{key}", dict(data or {}))

    def slot(self, name: str, default: Any = None) -> Any:
        """Value of this skill's slot ``name`` (local), or ``default`` if unset."""
        value = self.tracker.get_slot(self.skill.global_name("slot", name))
        return default if value is None else value

    def set_slot(self, name: str, value: Any) -> None:
        """Set this skill's slot ``name`` (local) when the action returns."""
        self.events.append(SlotSet(self.skill.global_name("slot", name), value))

    def resolved_entities(self, name: str | None = None) -> list[dict]:
        """This skill's entities in the last message after entity resolution
        (:mod:`assistant.skills.resolve`): one per span, ``value`` canonical, plus
        ``heard``, ``raw_value``, ``resolution`` (``exact``/``resolved``/``ask``/
        ``unknown``/``free``/``confirmed``) and ``resolution_confidence``.

        Args:
            name: a LOCAL entity name of this skill, or None for every entity (global names).
        """
        if self._pinned is not None:
            ents = [dict(e) for e in self._pinned]
        else:
            from assistant.skills import resolve

            msg = self.tracker.latest_message or {}
            raw = [e for e in msg.get("entities") or [] if isinstance(e, dict)]
            if resolve.ENABLED:
                intent = (msg.get("intent") or {}).get("name")
                asked = self.tracker.get_slot("requested_slot")
                spec = self.skill.namespaced().domain.get("slots", {}).get(asked) if isinstance(asked, str) else None
                types = [m["entity"] for m in (spec or {}).get("mappings") or []
                         if isinstance(m, dict) and m.get("type") == "from_entity" and m.get("entity")]
                ents = self.skill.resolver().resolve(msg.get("text") or "", raw, intent, types, focus=self.skill.id)
            else:
                ents = [{**e, "heard": e.get("value"), "raw_value": e.get("value"), "resolution": "off"} for e in raw]
        if name is None:
            return ents
        g = self.skill.global_name("entity", name)
        return [e for e in ents if e.get("entity") == g]

    def entities(self, name: str) -> list[str]:
        """Values of this skill's entity ``name`` (local) in the last message, in order,
        without duplicates: the skill's declared (canonical) values — lookup entries and
        synonyms — after entity resolution; one entity per span."""
        values = [e.get("value") for e in self.resolved_entities(name)]
        return list(dict.fromkeys(v for v in values if v is not None))

    def entity(self, name: str, default: Any = None) -> Any:
        """The first (canonical) value of entity ``name`` (local) in the last message, or
        ``default``. ``ctx.entity("size") == "eight ounce"`` even if the user said "8 oz"
        and ``8 oz`` is a synonym, or the recogniser wrote "a ounce" and the user confirmed."""
        values = self.entities(name)
        return values[0] if values else default

    def entity_raw(self, name: str, default: Any = None) -> Any:
        """The words actually heard for the first entity ``name`` (local), before they were
        mapped to a declared value, or ``default``."""
        ents = self.resolved_entities(name)
        return ents[0].get("heard", ents[0].get("value")) if ents else default

    def end_dialogue(self) -> list[dict]:
        """Deactivate any active form (of any skill) and clear its slots.

        Returns:
            The events added to :attr:`events` (``ActiveLoop(None)``, ``SlotSet``\\ s).
        """
        loop = (self.tracker.active_loop or {}).get("name")
        added = [ActiveLoop(None), SlotSet("requested_slot", None)]
        if loop:
            form = (self.domain.get("forms") or {}).get(loop) or {}
            added += [SlotSet(s, None) for s in form.get("required_slots", []) or []]
        self.events += added
        return added

    # -- result
    def _finish(self, result: Any) -> list[dict]:
        if result is None:
            returned: list = []
        elif isinstance(result, dict):
            returned = [result]
        elif isinstance(result, (list, tuple)):
            returned = list(result)
        else:
            raise SkillError(f"Skill '{self.skill_id}': an action must return None, an event or a list of events, "
                             f"not {type(result).__name__}")
        for ev in returned:
            if not isinstance(ev, dict) or "event" not in ev:
                raise SkillError(f"Skill '{self.skill_id}': {ev!r} is not a rasa_sdk event")
        return [self.skill._translate_event(ev) for ev in [*self.events, *returned]]


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    from assistant.skills.host import run_skill_code  # daemon thread; contains sys.exit (issue 8)

    return await run_skill_code(fn, *args)


class SkillAction(Action):
    """A ``rasa_sdk.Action`` wrapping one ``@skill.action`` function.

    Args:
        skill: the owning skill.
        local: the local action name (``action_tell_time``).
        fn: the function, called with an :class:`ActionContext`.
        host: the skill host (may be None).
    """

    def __init__(self, skill: Skill, local: str, fn: Callable[..., Any], host: "SkillHost | None") -> None:
        self.skill = skill
        self.local = local
        self.fn = fn
        self.host = host
        self._name = skill.global_name("action", local)

    def name(self) -> str:
        """The namespaced action name, e.g. ``action_clock__tell_time``."""
        return self._name

    async def run(self, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Run the function; return its events (plus those of ``ctx.set_slot`` …).

        When a value of this skill's entities is uncertain (entity resolution status
        ``ask``), the function does not run yet: the user is asked "Did you mean …?" and it
        runs after the answer (:mod:`assistant.skills.resolution_flow`)."""
        from assistant.skills import resolution_flow

        ctx = ActionContext(self.skill, dispatcher, tracker, domain, self.host)
        asked = resolution_flow.ask_if_unsure(ctx, self.local)
        if asked is not None:
            return asked
        result = await _call(self.fn, ctx)
        return resolution_flow.slot_fixes(ctx) + ctx._finish(result)


class FormValidationAction(Action):
    """``validate_<id>__<form>``: runs the skill's ``@skill.extract`` functions (custom slot
    filling) and then its ``@skill.validate`` functions on the slots the form just got.

    Args:
        skill: the owning skill.
        form: local form name.
        validators: local slot name → ``fn(ctx, value) -> value | None``.
        host: the skill host (may be None).
        extractors: local slot name → ``fn(ctx) -> value | None``.
    """

    def __init__(self, skill: Skill, form: str, validators: dict[str, Callable[..., Any]],
                 host: "SkillHost | None", extractors: dict[str, Callable[..., Any]] | None = None) -> None:
        self.skill = skill
        self.form = form
        self.validators = validators
        self.extractors = extractors or {}
        self.host = host
        self._name = f"validate_{skill.global_name('form', form)}"

    def name(self) -> str:
        """``validate_<id>__<form>``."""
        return self._name

    async def run(self, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Extract custom slots, then validate each new value; ``None`` rejects it."""
        from assistant.skills import resolution_flow

        ctx = ActionContext(self.skill, dispatcher, tracker, domain, self.host)
        candidates: dict[str, Any] = dict(tracker.slots_to_validate())
        out = []
        required = [self.skill.global_name("slot", x) for x in self.skill.data.forms[self.form]["required_slots"]]
        fixed = resolution_flow.resolve_slot_candidates(ctx, candidates, required)
        for gslot, value in fixed.items():  # canonical values; None: dropped or unsure
            candidates[gslot] = value
            if value is None or self.skill.local_name(gslot) not in self.validators:
                out.append(SlotSet(gslot, value))
        if self.extractors and not ctx.cancelled:
            for local, fn in self.extractors.items():
                gslot = self.skill.global_name("slot", local)
                if gslot in candidates or tracker.get_slot(gslot) is not None:
                    continue
                value = await _call(fn, ctx)
                if value is not None:
                    candidates[gslot] = value
                elif ctx.requested_slot == local:
                    out.append(SlotSet(gslot, None))  # not understood: the form asks again
        for gslot, value in candidates.items():
            local = self.skill.local_name(gslot)
            fn = self.validators.get(local) if local else None
            if value is None:
                continue
            if fn is None:
                if local in self.extractors:
                    out.append(SlotSet(gslot, value))
                continue
            out.append(SlotSet(gslot, await _call(fn, ctx, value)))
        return ctx._finish(None) + out
