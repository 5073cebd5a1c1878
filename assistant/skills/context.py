"""What skill code receives: :class:`SkillContext` (outside a dialogue turn) and
:class:`ActionContext` (inside one). Both reach the app only through the
:class:`~assistant.skills.hostapi.SkillHostAPI` protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rasa_sdk.events import ActiveLoop, SlotSet

from assistant.errors import SkillError
from assistant.skills import resolve
from assistant.skills.dialogue import is_cancel, question_events
from assistant.skills.hostapi import SkillHostAPI, TimerHandle
from assistant.skills.runner import run_skill_code


class SkillContext:
    """What a skill gets outside a dialogue turn (``@skill.on_load``, ``@skill.on_settings_changed``,
    scheduled callbacks) and inside one (:class:`ActionContext` extends it): the host's
    clock, voice, stop button and settings, in the skill's own terms.

    Attributes:
        skill: the :class:`~assistant.skills.sdk.Skill`.
        host: the :class:`~assistant.skills.host.SkillHost` (any
            :class:`~assistant.skills.hostapi.SkillHostAPI`), or None outside the app (then
            scheduling and speaking later raise :class:`~assistant.errors.SkillError`).
    """

    def __init__(self, skill: Any, host: SkillHostAPI | None) -> None:
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

    def installed_skills(self) -> list[Any]:
        """Every skill the app loaded, in load order ([] without a host)."""
        return self.host.skills() if self.host is not None else []

    # -- through the host
    def _need_host(self) -> SkillHostAPI:
        if self.host is None:
            raise SkillError(f"Skill '{self.skill_id}': no skill host (scheduling and speaking later need the app)")
        return self.host

    def schedule(self, delay_s: float, callback: Callable[[], Any], *, label: str = "",
                 data: dict[str, Any] | None = None) -> TimerHandle:
        """Call ``callback()`` after ``delay_s`` seconds (on the host's scheduler thread).

        Returns:
            A cancellable :class:`~assistant.skills.hostapi.TimerHandle`.

        Raises:
            SkillError: no host. ValueError: negative delay.
        """
        return self._need_host().schedule(delay_s, callback, skill_id=self.skill_id, label=label, data=data)

    def speak_later(self, text: str, delay_s: float = 0.0, *, label: str = "",
                    data: dict[str, Any] | None = None) -> TimerHandle:
        """Say ``text`` after ``delay_s`` seconds, outside the dialogue (published as
        ``Announcement(source="skill:<id>")``; the pipeline speaks it when idle).

        Returns:
            A cancellable :class:`~assistant.skills.hostapi.TimerHandle`.
        """
        host = self._need_host()
        sid = self.skill_id
        return host.schedule(delay_s, lambda: host.speak(text, skill_id=sid), skill_id=sid, label=label, data=data)

    def announce(self, text: str) -> None:
        """Say ``text`` now, outside the dialogue (safe from scheduled callbacks)."""
        self._need_host().speak(text, skill_id=self.skill_id)

    def timers(self) -> list[TimerHandle]:
        """This skill's pending scheduled handles, soonest first ([] without a host)."""
        return self.host.pending(self.skill_id) if self.host is not None else []

    def stop(self, reason: str = "") -> None:
        """Interrupt speech and the current interaction (publishes ``StopRequested``)."""
        self._need_host().stop(reason or f"skill:{self.skill_id}")


class ActionContext(SkillContext):
    """What an action function gets: the turn (tracker, dispatcher, domain) behind helpers
    that speak LOCAL names, plus everything of :class:`SkillContext`.

    Attributes:
        skill: the :class:`~assistant.skills.sdk.Skill`.
        dispatcher: the ``rasa_sdk`` ``CollectingDispatcher`` of this turn.
        tracker: the ``rasa_sdk`` ``Tracker`` (global names).
        domain: the domain dict Rasa sent (global names).
        host: the :class:`~assistant.skills.host.SkillHost`, or None outside the app.
        events: rasa_sdk events the action returns (``set_slot`` etc. append here).
        answer: in a function given to :meth:`ask` / :meth:`ask_yesno`, the answer (text,
            or True/False); None elsewhere.
        data: in such a function, the ``data`` dict given to the question ({} elsewhere).

    Keyword args (used when an action runs after a confirmed "Did you mean …?"):
        pinned: the confirmed entities (global entity dicts) :meth:`resolved_entities`
            returns instead of resolving the last message again.
        text: what :attr:`text` returns instead of the last message (the request that was
            being confirmed).
    """

    def __init__(self, skill: Any, dispatcher: Any, tracker: Any, domain: dict, host: SkillHostAPI | None,
                 *, pinned: list[dict] | None = None, text: str | None = None) -> None:
        super().__init__(skill, host)
        self.dispatcher = dispatcher
        self.tracker = tracker
        self.domain = domain or {}
        self.events: list[dict] = []
        self.answer: Any = None
        self.data: dict[str, Any] = {}
        self._pinned = [dict(e) for e in pinned] if pinned is not None else None
        self._text_override = text

    # -- the turn
    @property
    def text(self) -> str:
        """What the user said last (the transcript); after a confirmed "Did you mean …?",
        the request that was being confirmed (``text`` given to the constructor)."""
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
        key = getattr(then, "__qualname__", None) or getattr(then, "__name__", None)
        if not callable(then) or not key:
            raise SkillError(f"Skill '{self.skill_id}': 'then' must be a function")
        self.skill.add_continuation(key, then)
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
    @property
    def pinned(self) -> list[dict] | None:
        """Entities fixed by a confirmed "Did you mean …?" (global entity dicts, copies),
        given to the constructor; None in an ordinary turn."""
        return [dict(e) for e in self._pinned] if self._pinned is not None else None

    def finish(self, result: Any) -> list[dict]:
        """The events the action returns: :attr:`events` then ``result`` (None, one
        rasa_sdk event dict or a list of them), LOCAL names made global.

        Raises:
            SkillError: ``result`` is not None, an event or a list of events.
        """
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
        return [self.skill.translate_event(ev) for ev in [*self.events, *returned]]

    async def run(self, fn: Callable[..., Any], *args: Any) -> list[dict]:
        """Call the skill function ``fn(self, *args)`` (sync on a daemon thread, or async;
        see :func:`~assistant.skills.runner.run_skill_code`) and return :meth:`finish` of
        its result.

        Raises:
            SkillExit: it called ``sys.exit`` (or raised another non-``Exception``).
            Exception: whatever ``fn`` raised; SkillError for a bad return value.
        """
        return self.finish(await run_skill_code(fn, self, *args))
