"""What the skill SDK sees of the running app: the :class:`SkillHostAPI` protocol and the
:class:`TimerHandle` its scheduler returns.

A leaf module: :mod:`assistant.skills.sdk` (contexts, actions) reaches the host only
through this protocol, and :class:`assistant.skills.host.SkillHost` implements it, so the
SDK never imports the host.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

#: States of a :class:`TimerHandle`.
PENDING, FIRED, CANCELLED = "pending", "fired", "cancelled"


@dataclass(eq=False)
class TimerHandle:
    """A scheduled callback.

    Attributes:
        id: unique number within the host.
        skill_id: the skill that scheduled it ("" for the app).
        label: free text the skill chose (e.g. the timer's name).
        delay_s: the delay asked for, seconds.
        due: ``time.monotonic()`` when it fires, seconds.
        data: anything the skill wants to keep with it (e.g. ``{"seconds": 300}``).
        wall_due: ``time.time()`` when it fires (for display), seconds since the epoch.
        callback: what runs when it fires (called with no arguments), or None.
        canceller: what :meth:`cancel` asks to take it off the schedule (the host's),
            ``canceller(handle) -> bool``; None: it cannot be cancelled.
    """

    id: int
    skill_id: str
    label: str
    delay_s: float
    due: float
    data: dict[str, Any] = field(default_factory=dict)
    wall_due: float = 0.0
    callback: Callable[[], Any] | None = field(default=None, repr=False)
    canceller: Callable[["TimerHandle"], bool] | None = field(default=None, repr=False)
    _state: str = field(default=PENDING, init=False, repr=False)

    @property
    def state(self) -> str:
        """``"pending"``, ``"fired"`` or ``"cancelled"``."""
        return self._state

    @property
    def pending(self) -> bool:
        """True until it fires or is cancelled."""
        return self._state == PENDING

    @property
    def cancelled(self) -> bool:
        """True if :meth:`cancel` stopped it before it fired."""
        return self._state == CANCELLED

    @property
    def fired(self) -> bool:
        """True once its callback started."""
        return self._state == FIRED

    def remaining(self) -> float:
        """Seconds until it fires (0 if it is not pending any more)."""
        return max(0.0, self.due - time.monotonic()) if self.pending else 0.0

    def cancel(self) -> bool:
        """Stop it from firing.

        Returns:
            True if it was pending and is now cancelled; False if it had already fired or
            been cancelled (or it has no canceller).
        """
        if self.canceller is None:
            return False
        return self.canceller(self)

    def mark_cancelled(self) -> bool:
        """For the scheduler: pending → cancelled. Returns False if it was not pending."""
        if self._state != PENDING:
            return False
        self._state = CANCELLED
        return True

    def mark_fired(self) -> bool:
        """For the scheduler: pending → fired (its callback is about to run). Returns False
        if it was not pending."""
        if self._state != PENDING:
            return False
        self._state = FIRED
        return True


class SkillHostAPI(Protocol):
    """What skills may ask of the running app (implemented by
    :class:`assistant.skills.host.SkillHost`). ``skill`` arguments are
    :class:`assistant.skills.sdk.Skill` objects."""

    def settings_for(self, skill: Any) -> dict[str, Any]:
        """The skill's effective settings (manifest defaults + the user's valid values)."""
        ...

    def set_setting(self, skill: Any, key: str, value: Any, *, save: bool = True) -> Any:
        """Set, check and (with ``save``) persist one setting; returns the stored value.
        Raises :class:`~assistant.errors.SkillError` for an unknown key or invalid value."""
        ...

    def skills(self) -> list[Any]:
        """Every bound skill, in load order."""
        ...

    def skill(self, skill_id: str) -> Any:
        """The bound skill with this id, or None."""
        ...

    def speak(self, text: str, *, skill_id: str = "", expects_answer: bool = False) -> None:
        """Say ``text`` now, outside a dialogue turn."""
        ...

    def stop(self, reason: str = "skill") -> None:
        """Interrupt speech and the current interaction."""
        ...

    def schedule(self, delay_s: float, callback: Callable[[], Any], *, skill_id: str = "",
                 label: str = "", data: dict[str, Any] | None = None) -> TimerHandle:
        """Run ``callback()`` once after ``delay_s`` seconds. Raises ValueError for a
        negative delay, RuntimeError when the host is closed."""
        ...

    def pending(self, skill_id: str | None = None) -> list[TimerHandle]:
        """Handles not yet fired or cancelled, soonest first."""
        ...

    def action_for_intent(self, intent: str) -> str | None:
        """The action a rule runs right after ``intent`` (global names), or None."""
        ...

    def served_action(self, name: str) -> Any:
        """The served ``rasa_sdk.Action`` named ``name``, or None."""
        ...
