"""The ``rasa_sdk`` actions the sidecar serves for skills: one :class:`SkillAction` per
``@skill.action`` function, one :class:`FormValidationAction` per form, and the two actions
of the core answer form (:class:`AnswerValidation`, :class:`AnswerDispatch`; see
:mod:`assistant.skills.dialogue`).

Every action reaches the app through the :class:`~assistant.skills.hostapi.SkillHostAPI`
protocol; none imports the host.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from rasa_sdk import Action
from rasa_sdk.events import FollowupAction, SlotSet

from assistant.errors import SkillError
from assistant.skills import resolution_flow
from assistant.skills.context import ActionContext
from assistant.skills.dialogue import (
    ANSWER_FORM,
    ANSWER_SLOT,
    DATA_SLOT,
    GIVE_UP,
    HANDLER_SLOT,
    KIND_SLOT,
    REDIRECT_CONFIDENCE,
    YESNO_RETRY,
    is_cancel,
    latest_intent,
    parse_yesno,
    reset_events,
)
from assistant.skills.hostapi import SkillHostAPI
from assistant.skills.runner import run_skill_code

log = logging.getLogger(__name__)


class SkillTurnAction(Action):
    """What the actions of one skill share: the owning skill, the host, the served name,
    and a fresh :class:`~assistant.skills.context.ActionContext` per turn.

    Args:
        skill: the owning :class:`~assistant.skills.sdk.Skill`.
        name: the served (global) action name.
        host: the skill host (may be None: ``ctx.schedule`` etc. then raise).
    """

    def __init__(self, skill: Any, name: str, host: SkillHostAPI | None) -> None:
        self.skill = skill
        self.host = host
        self._name = name

    def name(self) -> str:
        """The served (global) action name."""
        return self._name

    def context(self, dispatcher: Any, tracker: Any, domain: dict) -> ActionContext:
        """A new :class:`~assistant.skills.context.ActionContext` for this turn."""
        return ActionContext(self.skill, dispatcher, tracker, domain, self.host)


class SkillAction(SkillTurnAction):
    """A ``rasa_sdk.Action`` wrapping one ``@skill.action`` function, served as
    ``action_<id>__<name>``.

    Args:
        skill: the owning skill.
        local: the local action name (``action_tell_time``).
        fn: the function, called with an :class:`~assistant.skills.context.ActionContext`.
        host: the skill host (may be None).
    """

    def __init__(self, skill: Any, local: str, fn: Callable[..., Any], host: SkillHostAPI | None) -> None:
        super().__init__(skill, skill.global_name("action", local), host)
        self.local = local
        self.fn = fn

    async def run(self, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Run the function; return its events (plus those of ``ctx.set_slot`` …).

        When a value of this skill's entities is uncertain (entity resolution status
        ``ask``), the function does not run yet: the user is asked "Did you mean …?" and it
        runs after the answer (:mod:`assistant.skills.resolution_flow`)."""
        ctx = self.context(dispatcher, tracker, domain)
        asked = resolution_flow.ask_if_unsure(ctx, self.local)
        if asked is not None:
            return asked
        return await resolution_flow.run_with_canonical_slots(ctx, self.fn)


class FormValidationAction(SkillTurnAction):
    """``validate_<id>__<form>``: runs the skill's ``@skill.extract`` functions (custom slot
    filling) and then its ``@skill.validate`` functions on the slots the form just got.

    Args:
        skill: the owning skill.
        form: local form name.
        validators: local slot name → ``fn(ctx, value) -> value | None``.
        host: the skill host (may be None).
        extractors: local slot name → ``fn(ctx) -> value | None``.
    """

    def __init__(self, skill: Any, form: str, validators: dict[str, Callable[..., Any]],
                 host: SkillHostAPI | None, extractors: dict[str, Callable[..., Any]] | None = None) -> None:
        super().__init__(skill, f"validate_{skill.global_name('form', form)}", host)
        self.form = form
        self.validators = validators
        self.extractors = extractors or {}

    async def run(self, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Extract custom slots, then validate each new value; ``None`` rejects it."""
        ctx = self.context(dispatcher, tracker, domain)
        candidates: dict[str, Any] = dict(tracker.slots_to_validate())
        out = []
        fixed = resolution_flow.resolve_slot_candidates(ctx, candidates)
        for gslot, value in fixed.items():  # canonical values; None: dropped or unsure
            candidates[gslot] = value
            if value is None or self.skill.local_name(gslot) not in self.validators:
                out.append(SlotSet(gslot, value))
        if self.extractors and not ctx.cancelled:
            for local, fn in self.extractors.items():
                gslot = self.skill.global_name("slot", local)
                if gslot in candidates or tracker.get_slot(gslot) is not None:
                    continue
                value = await run_skill_code(fn, ctx)
                if value is not None:
                    candidates[gslot] = value
                elif ctx.requested_slot == local and not self._other_request(tracker):
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
            out.append(SlotSet(gslot, await run_skill_code(fn, ctx, value)))
        return ctx.finish(None) + out

    def _other_request(self, tracker: Any) -> bool:
        """Whether the turn is a clear request a rule answers (a skill intent with at least
        :data:`REDIRECT_CONFIDENCE` whose rule runs something other than this form): then
        the form does not claim the turn, Rasa rejects it and the rule carries the request
        out ("cancel my train ticket" while a booking form waits), and the form asks again.
        (A docs-only skill found such requests swallowed: an ``@skill.extract`` that found
        nothing made the form ask again instead.)"""
        name, conf = latest_intent(tracker)
        if "__" not in name or conf < REDIRECT_CONFIDENCE or self.host is None:
            return False
        action = self.host.action_for_intent(name)
        return bool(action) and action != self.skill.global_name("form", self.form)


class AnswerValidation(Action):
    """``validate_answer_form``: takes the user's words as the answer (text questions) or
    as yes/no, or fills nothing when the user cancels."""

    def name(self) -> str:
        """``validate_answer_form``."""
        return f"validate_{ANSWER_FORM}"

    async def run(self, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Return ``SlotSet("answer", …)``, or nothing (cancel: the form rejects)."""
        if tracker.get_slot("requested_slot") != ANSWER_SLOT:
            return []  # the form is starting: the last message is the request, not the answer
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        kind = tracker.get_slot(KIND_SLOT) or "text"
        if kind in ("yesno", "confirm"):
            yes = parse_yesno(text)
            if yes is not None:
                return [SlotSet(ANSWER_SLOT, yes)]
            if is_cancel(tracker):
                return []
            name, conf = latest_intent(tracker)
            if "__" in name and conf >= REDIRECT_CONFIDENCE:
                return [SlotSet(ANSWER_SLOT, {"redirect": name})]  # a new request: drop the question
            data = dict(tracker.get_slot(DATA_SLOT) or {})
            if data.get("_retried"):
                return [SlotSet(ANSWER_SLOT, {"give_up": True})]
            dispatcher.utter_message(text=YESNO_RETRY)
            return [SlotSet(ANSWER_SLOT, None), SlotSet(DATA_SLOT, {**data, "_retried": True})]
        if is_cancel(tracker):
            return []
        if not text:
            return [SlotSet(ANSWER_SLOT, None)]
        return [SlotSet(ANSWER_SLOT, text)]


class AnswerDispatch(Action):
    """``action_answer``: calls the skill function waiting for the answer.

    Args:
        host: the skill host (knows the loaded skills).
    """

    def __init__(self, host: SkillHostAPI) -> None:
        self.host = host

    def name(self) -> str:
        """``action_answer``."""
        return "action_answer"

    async def run(self, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Find the skill and function named by ``answer_handler`` and call it."""
        handler = tracker.get_slot(HANDLER_SLOT) or ""
        answer = tracker.get_slot(ANSWER_SLOT)
        data = dict(tracker.get_slot(DATA_SLOT) or {})
        kind = tracker.get_slot(KIND_SLOT) or "text"
        if isinstance(answer, dict):  # the yes/no question was dropped (see AnswerValidation)
            if answer.get("redirect"):
                return reset_events() + await self._redirect(answer["redirect"], dispatcher, tracker, domain)
            dispatcher.utter_message(text=GIVE_UP)
            return reset_events()
        skill_id, _, key = str(handler).partition(":")
        skill = self.host.skill(skill_id)
        fn = None
        if skill is not None:
            fn = skill.continuation(key) or resolution_flow.CONTINUATIONS.get(key)
        if fn is None:
            log.error("no function %r waits for an answer (skill %r)", key, skill_id)
            raise SkillError(f"Skill '{skill_id}': the function {key!r} waiting for the answer is gone")
        ctx = ActionContext(skill, dispatcher, tracker, domain, self.host)
        ctx.answer, ctx.data = answer, {k: v for k, v in data.items() if k not in ("_no", "_retried")}
        if kind == "confirm":
            if answer is True:
                return reset_events() + await ctx.run(fn)
            ctx.say(data.get("_no") or "Okay, I won't.")
            return reset_events() + ctx.finish(None)
        return reset_events() + await ctx.run(fn, answer)

    async def _redirect(self, intent: str, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Run what a rule would run for ``intent`` now (the user asked for something else
        instead of answering): a skill action is run right here with this turn's tracker;
        a response is uttered; a form is started with ``FollowupAction``."""
        name = self.host.action_for_intent(intent)
        if not name:
            return []
        action = self.host.served_action(name)
        if action is not None:
            return list(await action.run(dispatcher, tracker, domain) or [])
        if name.startswith("utter_"):
            dispatcher.utter_message(response=name)
            return []
        return [FollowupAction(name)]


def core_actions(host: SkillHostAPI) -> list[Action]:
    """The custom actions of the core part (served with the skills' actions)."""
    return [AnswerValidation(), AnswerDispatch(host)]
