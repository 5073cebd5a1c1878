"""Questions that wait for the answer: the core ``answer_form`` behind
:meth:`ActionContext.ask(text, then=fn) <assistant.skills.sdk.ActionContext.ask>`,
:meth:`~assistant.skills.sdk.ActionContext.ask_yesno` and
:meth:`~assistant.skills.sdk.ActionContext.confirm`.

An action cannot block until the user answers (the answer is the *next* turn), so a question
is a continuation: the action names the function to call with the answer, and the core part
of the Rasa project (``core.yml``) collects the answer with one generic form:

1. the action returns ``SlotSet`` events for ``answer_question`` (what to ask),
   ``answer_kind`` (``text`` / ``yesno`` / ``confirm``), ``answer_handler``
   (``"<skill id>:<function>"``), ``answer_data``, clears ``answer``, and a
   ``FollowupAction("answer_form")``;
2. ``answer_form`` starts and asks ``utter_ask_answer`` (the text ``{answer_question}``); the
   pipeline listens again without the wake word because a form is active;
3. the user's next words reach ``validate_answer_form`` (:class:`AnswerValidation`): for a
   text question they are the answer; for yes/no they must be yes or no — a clear request
   for something else ("what time is it", a skill intent with confidence ≥
   :data:`REDIRECT_CONFIDENCE`) drops the question and runs that request instead; anything
   else gets "Please answer yes or no." and the question again, once; "stop" / "never
   mind" fills nothing, so the form gives way to the control skill's rule;
4. the form ends, and the core rule runs ``action_answer`` (:class:`AnswerDispatch`), which
   calls the skill's function in a fresh :class:`~assistant.skills.sdk.ActionContext` with
   ``ctx.answer`` / ``ctx.data`` set. The function may ask again.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action
from rasa_sdk.events import FollowupAction, SlotSet

if TYPE_CHECKING:  # pragma: no cover
    from assistant.skills.host import SkillHost

log = logging.getLogger(__name__)

ANSWER_FORM = "answer_form"
ANSWER_SLOT = "answer"
QUESTION_SLOT = "answer_question"
KIND_SLOT = "answer_kind"
HANDLER_SLOT = "answer_handler"
DATA_SLOT = "answer_data"
ANSWER_SLOTS = (ANSWER_SLOT, QUESTION_SLOT, KIND_SLOT, HANDLER_SLOT, DATA_SLOT)

#: Intents that cancel a question (the control skill's "stop" / "never mind").
CANCEL_INTENTS = frozenset({"control__stop"})
#: Minimum confidence for a cancel intent to count.
CANCEL_CONFIDENCE = 0.5
YESNO_RETRY = "Please answer yes or no."
#: A yes/no question is dropped for another request classified with at least this confidence.
REDIRECT_CONFIDENCE = 0.7
#: Said when a yes/no question gets no usable answer twice.
GIVE_UP = "Okay, never mind."

_YES = re.compile(r"^(?:oh |well |um |uh )?(yes|yeah|yep|yup|ya|aye|sure|certainly|of course|ok|okay|alright|all right|"
                  r"correct|right|affirmative|absolutely|definitely|please do|do it|go ahead|go for it|i do|"
                  r"that's right|that is right|yes please|please)\b")
_NO = re.compile(r"^(?:oh |well |um |uh )?(no|nope|nah|negative|not really|not now|don't|do not|never|"
                 r"no thanks|no thank you|i don't|please don't|better not|leave it)\b")


def parse_yesno(text: str) -> bool | None:
    """True for "yes, please" / "sure" / "go ahead", False for "no" / "nope" / "don't",
    None for anything else. Only the start of the answer counts ("yes, do it")."""
    t = " ".join(re.sub(r"[^a-z' ]+", " ", (text or "").lower()).split())
    if not t:
        return None
    if _NO.match(t):
        return False
    if _YES.match(t):
        return True
    return None


def is_cancel(tracker: Any) -> bool:
    """True if the last user turn was a cancel intent (:data:`CANCEL_INTENTS`) with
    confidence of at least :data:`CANCEL_CONFIDENCE`."""
    intent = (getattr(tracker, "latest_message", None) or {}).get("intent") or {}
    return intent.get("name") in CANCEL_INTENTS and float(intent.get("confidence") or 0.0) >= CANCEL_CONFIDENCE


def question_events(text: str, kind: str, handler: str, data: dict) -> list[dict]:
    """The events that start the answer form (see the module docstring)."""
    return [SlotSet(ANSWER_SLOT, None), SlotSet(QUESTION_SLOT, text), SlotSet(KIND_SLOT, kind),
            SlotSet(HANDLER_SLOT, handler), SlotSet(DATA_SLOT, data), SlotSet("requested_slot", None),
            FollowupAction(ANSWER_FORM)]


def _reset() -> list[dict]:
    return [SlotSet(name, None) for name in ANSWER_SLOTS]


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
            intent = (tracker.latest_message or {}).get("intent") or {}
            name, conf = intent.get("name") or "", float(intent.get("confidence") or 0.0)
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

    def __init__(self, host: "SkillHost") -> None:
        self.host = host

    def name(self) -> str:
        """``action_answer``."""
        return "action_answer"

    async def run(self, dispatcher: Any, tracker: Any, domain: dict) -> list[dict]:
        """Find the skill and function named by ``answer_handler`` and call it."""
        from assistant.errors import SkillError
        from assistant.skills.sdk import ActionContext, _call

        handler = tracker.get_slot(HANDLER_SLOT) or ""
        answer = tracker.get_slot(ANSWER_SLOT)
        data = dict(tracker.get_slot(DATA_SLOT) or {})
        kind = tracker.get_slot(KIND_SLOT) or "text"
        if isinstance(answer, dict):  # the yes/no question was dropped (see AnswerValidation)
            if answer.get("redirect"):
                return _reset() + await self._redirect(answer["redirect"], dispatcher, tracker, domain)
            dispatcher.utter_message(text=GIVE_UP)
            return _reset()
        skill_id, _, key = str(handler).partition(":")
        skill = self.host.skill(skill_id)
        fn = skill._continuations.get(key) if skill is not None else None
        if fn is None:
            log.error("no function %r waits for an answer (skill %r)", key, skill_id)
            raise SkillError(f"Skill '{skill_id}': the function {key!r} waiting for the answer is gone")
        ctx = ActionContext(skill, dispatcher, tracker, domain, self.host)
        ctx.answer, ctx.data = answer, {k: v for k, v in data.items() if k not in ("_no", "_retried")}
        if kind == "confirm":
            if answer is True:
                result = await _call(fn, ctx)
            else:
                ctx.say(data.get("_no") or "Okay, I won't.")
                result = None
        else:
            result = await _call(fn, ctx, answer)
        return _reset() + ctx._finish(result)


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


def core_actions(host: "SkillHost") -> list[Action]:
    """The custom actions of the core part (served with the skills' actions)."""
    return [AnswerValidation(), AnswerDispatch(host)]
