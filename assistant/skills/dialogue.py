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
3. the user's next words reach ``validate_answer_form``
   (:class:`~assistant.skills.actions.AnswerValidation`): for a
   text question they are the answer; for yes/no they must be yes or no — a clear request
   for something else ("what time is it", a skill intent with confidence ≥
   :data:`REDIRECT_CONFIDENCE`) drops the question and runs that request instead; anything
   else gets "Please answer yes or no." and the question again, once; "stop" / "never
   mind" fills nothing, so the form gives way to the control skill's rule;
4. the form ends, and the core rule runs ``action_answer``
   (:class:`~assistant.skills.actions.AnswerDispatch`), which
   calls the skill's function in a fresh :class:`~assistant.skills.sdk.ActionContext` with
   ``ctx.answer`` / ``ctx.data`` set. The function may ask again.

This module holds the pure parts (slot names, :func:`parse_yesno`, :func:`is_cancel`,
:func:`question_events`); the two ``rasa_sdk`` actions are in :mod:`assistant.skills.actions`.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk.events import FollowupAction, SlotSet

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


def latest_intent(tracker: Any) -> tuple[str, float]:
    """The last user turn's intent: ``(name, confidence in [0, 1])``, ``("", 0.0)`` if none."""
    intent = (getattr(tracker, "latest_message", None) or {}).get("intent") or {}
    return intent.get("name") or "", float(intent.get("confidence") or 0.0)


def is_cancel(tracker: Any) -> bool:
    """True if the last user turn was a cancel intent (:data:`CANCEL_INTENTS`) with
    confidence of at least :data:`CANCEL_CONFIDENCE`."""
    name, conf = latest_intent(tracker)
    return name in CANCEL_INTENTS and conf >= CANCEL_CONFIDENCE


def question_events(text: str, kind: str, handler: str, data: dict) -> list[dict]:
    """The events that start the answer form (see the module docstring)."""
    return [SlotSet(ANSWER_SLOT, None), SlotSet(QUESTION_SLOT, text), SlotSet(KIND_SLOT, kind),
            SlotSet(HANDLER_SLOT, handler), SlotSet(DATA_SLOT, data), SlotSet("requested_slot", None),
            FollowupAction(ANSWER_FORM)]


def reset_events() -> list[dict]:
    """``SlotSet(…, None)`` for every slot of the answer form (the question is over)."""
    return [SlotSet(name, None) for name in ANSWER_SLOTS]
