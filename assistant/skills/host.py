"""The skill host: what the running app lends to skills.

:class:`SkillHost` gives skills a clock (:meth:`SkillHost.schedule` runs a callback later on
one scheduler thread, with cancellable :class:`TimerHandle`\\ s), a voice outside dialogue
turns (:meth:`SkillHost.speak` publishes ``Announcement(source="skill:<id>")`` on the
:class:`~assistant.events.EventBus`; the pipeline turns it into the one ``Reply`` and speaks
it as its own interaction when idle), a stop button (:meth:`SkillHost.stop` publishes ``StopRequested``), and each skill's
effective settings. :meth:`SkillHost.actions` turns loaded skills into the ``rasa_sdk``
actions the Rasa sidecar serves.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any, Callable, Iterable

from rasa_sdk import Action

from assistant.errors import SkillError
from assistant.events import Announcement, EventBus, Notice, StopRequested
from assistant.settings import SkillsSettings, load_settings, save_settings
from assistant.skills.actions import core_actions
from assistant.skills.hostapi import TimerHandle
from assistant.skills.manifest import ManifestError
from assistant.skills.runner import SkillExit, contained, run_skill_code, running_skill_threads
from assistant.skills.sdk import Skill, SkillContext

#: Re-exported: these lived here before :mod:`assistant.skills.runner` and
#: :mod:`assistant.skills.hostapi` existed.
__all__ = ["SkillExit", "SkillHost", "TimerHandle", "run_skill_code", "running_skill_threads"]

log = logging.getLogger(__name__)


class SkillHost:
    """Scheduler, voice, stop and settings for skills (one per running assistant).

    Args:
        bus: the engine's event bus (replies and stop requests are published on it).
        settings: the user's skill settings (``disabled`` and per-skill ``options``);
            defaults if None. Replace with :meth:`update_settings`.

    Callbacks run one after another on a single daemon thread ("skill-scheduler"): keep
    them short. A callback that raises is logged and reported as a ``Notice``.
    """

    def __init__(self, bus: EventBus, settings: SkillsSettings | None = None) -> None:
        self.bus = bus
        self._settings = settings or SkillsSettings()
        self._skills: dict[str, Skill] = {}
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._ids = itertools.count(1)
        self._closed = False
        self._thread: threading.Thread | None = None
        self._served: dict[str, Any] = {}
        self._warned: set[str] = set()  # invalid skill settings already logged (once each)

    # ------------------------------------------------------------------ actions
    def actions(self, skills: Iterable[Skill]) -> list[Action]:
        """The ``rasa_sdk.Action`` instances of ``skills``, bound to this host.

        Each ``@skill.action`` function becomes one action named with its namespaced name
        (``action_<id>__<name>``); each form with ``@skill.validate`` functions becomes one
        ``validate_<id>__<form>`` action.

        Args:
            skills: loaded skills (``load_skills(...).skills``).

        Returns:
            The actions, for the sidecar's in-process action server.
        """
        out: list = []
        new = []
        for skill in skills:
            if skill.id not in self._skills:
                new.append(skill)
            self._skills[skill.id] = skill
            out.extend(skill.build_actions(self))
        out.extend(core_actions(self))
        self._served = {a.name(): a for a in out}
        for skill in new:
            self._run_hooks(skill, skill.load_hooks, "on_load")
        return out

    def skills(self) -> list[Skill]:
        """The skills bound to this host by :meth:`actions`, in load order."""
        return list(self._skills.values())

    def action_for_intent(self, intent: str) -> str | None:
        """The action a rule of a bound skill runs right after ``intent`` (global names),
        e.g. ``timer__set_timer`` → ``timer__set_form``; None if no rule starts with it."""
        for skill in self._skills.values():
            for rule in skill.namespaced().rules:
                steps = [s for s in rule.get("steps", []) if isinstance(s, dict)]
                if rule.get("condition") or len(steps) < 2:
                    continue
                if steps[0].get("intent") == intent and steps[1].get("action"):
                    return steps[1]["action"]
        return None

    def served_action(self, name: str) -> Any:
        """The ``rasa_sdk.Action`` named ``name`` made by :meth:`actions`, or None."""
        return self._served.get(name)

    def skill(self, skill_id: str) -> Skill | None:
        """The bound skill with this id, or None."""
        return self._skills.get(skill_id)

    def _run_hooks(self, skill: Skill, hooks: Iterable[Callable[..., Any]], what: str, *args: Any) -> None:
        for fn in hooks:
            try:
                fn(SkillContext(skill, self), *args)
            except (Exception, SystemExit) as exc:  # a broken skill must not stop the app
                exc = contained(exc)
                log.exception("%s hook of skill %r failed", what, skill.id)
                self.bus.publish(Notice(stage="skills", level="error",
                                        message=f"Skill '{skill.id}' failed in its {what} hook: {exc}",
                                        hint="Check the skill's logs or disable it in Settings → Skills."))

    # ------------------------------------------------------------------ settings
    def update_settings(self, settings: SkillsSettings) -> None:
        """Use new user settings from now on (the next action sees them); skills whose
        effective settings changed get their ``@skill.on_settings_changed`` callbacks."""
        before = {sid: self.settings_for(s) for sid, s in self._skills.items()}
        self._settings = settings
        for sid, skill in self._skills.items():
            after = self.settings_for(skill)
            changed = {k: v for k, v in after.items() if before[sid].get(k) != v}
            if changed:
                self._run_hooks(skill, skill.settings_hooks, "on_settings_changed", changed)

    def set_setting(self, skill: Skill, key: str, value: Any, *, save: bool = True) -> Any:
        """Set one setting of ``skill`` (what ``ctx.set_setting`` does).

        The value is checked against the manifest, stored in the live
        ``SkillsSettings.options`` and, with ``save``, written to settings.toml (other
        settings in the file are kept). ``@skill.on_settings_changed`` callbacks run.

        Returns:
            The stored value (converted to the field's type).

        Raises:
            SkillError: unknown key or invalid value.
        """
        field_ = next((f for f in skill.manifest.settings if f.key == key), None)
        if field_ is None:
            raise SkillError(f"Skill '{skill.id}' has no setting {key!r}",
                             "Declare it under 'settings:' in the skill's manifest.")
        try:
            value = field_.coerce(value)
        except ManifestError as exc:
            raise SkillError(f"Skill '{skill.id}': {exc}") from None
        old = self.settings_for(skill).get(key)
        self._settings.options.setdefault(skill.id, {})[key] = value
        if save:
            try:
                current, _notice = load_settings()
                current.skills.options.setdefault(skill.id, {})[key] = value
                save_settings(current)
            except OSError as exc:
                log.warning("could not save the setting %s.%s: %s", skill.id, key, exc)
        if old != value:
            self._run_hooks(skill, skill.settings_hooks, "on_settings_changed", {key: value})
        return value

    def settings_for(self, skill: Skill) -> dict[str, Any]:
        """A skill's effective settings: manifest defaults overridden by the user's valid
        values from ``SkillsSettings.options[skill.id]`` (invalid ones are ignored and
        logged, once each: this is called on every turn that reads a setting)."""
        values, problems = skill.manifest.resolve_settings(self._settings.options.get(skill.id))
        for p in problems:
            if str(p) not in self._warned:
                self._warned.add(str(p))
                log.warning("%s", p)
        return values

    # ------------------------------------------------------------------ voice and stop
    def speak(self, text: str, *, skill_id: str = "", expects_answer: bool = False) -> None:
        """Say ``text`` now, outside a dialogue turn: publishes
        ``Announcement(text, source="skill:<skill_id>")``; the pipeline publishes it as a
        ``Reply`` of its own interaction (once) and speaks it as soon as it is idle."""
        source = f"skill:{skill_id}" if skill_id else "skill"
        self.bus.publish(Announcement(text=text, expects_answer=expects_answer, source=source))

    def stop(self, reason: str = "skill") -> None:
        """Interrupt speech and the current interaction: publishes ``StopRequested``."""
        self.bus.publish(StopRequested(reason=reason))

    # ------------------------------------------------------------------ scheduler
    def schedule(self, delay_s: float, callback: Callable[[], Any], *, skill_id: str = "",
                 label: str = "", data: dict[str, Any] | None = None) -> TimerHandle:
        """Run ``callback()`` once after ``delay_s`` seconds on the scheduler thread.

        Args:
            delay_s: seconds from now (≥ 0).
            callback: called with no arguments.
            skill_id: who scheduled it (for :meth:`pending` and error reports).
            label: free text kept on the handle.
            data: free dict kept on the handle.

        Returns:
            The :class:`TimerHandle` (cancel it with ``handle.cancel()``).

        Raises:
            ValueError: negative or non-finite ``delay_s``.
            RuntimeError: the host was closed.
        """
        delay_s = float(delay_s)
        if not delay_s >= 0 or delay_s == float("inf"):
            raise ValueError(f"delay_s must be a finite number ≥ 0, got {delay_s!r}")
        now = time.monotonic()
        handle = TimerHandle(id=next(self._ids), skill_id=skill_id, label=label, delay_s=delay_s,
                             due=now + delay_s, data=dict(data or {}), wall_due=time.time() + delay_s,
                             callback=callback, canceller=self._cancel)
        with self._cond:
            if self._closed:
                raise RuntimeError("the skill host is closed")
            heapq.heappush(self._heap, (handle.due, handle.id, handle))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="skill-scheduler", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return handle

    def pending(self, skill_id: str | None = None) -> list[TimerHandle]:
        """Handles not yet fired or cancelled, soonest first (of one skill if given)."""
        with self._cond:
            items = sorted((h for _, _, h in self._heap if h.pending), key=lambda h: (h.due, h.id))
        return [h for h in items if skill_id is None or h.skill_id == skill_id]

    def cancel_all(self, skill_id: str | None = None) -> int:
        """Cancel every pending handle (of one skill if given). Returns how many."""
        return sum(1 for h in self.pending(skill_id) if h.cancel())

    def close(self, timeout: float = 2.0) -> None:
        """Cancel everything pending and stop the scheduler thread (idempotent). Skill code
        still running on a thread (an action over its budget) is logged and left behind as a
        daemon thread: it never delays exit."""
        for t in running_skill_threads():
            log.warning("skill code still running at close: thread %r (daemon, abandoned)", t.name)
        with self._cond:
            self._closed = True
            for _, _, h in self._heap:
                h.mark_cancelled()
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _cancel(self, handle: TimerHandle) -> bool:
        with self._cond:
            if not handle.mark_cancelled():
                return False
            self._heap = [e for e in self._heap if e[2] is not handle]
            heapq.heapify(self._heap)
            self._cond.notify_all()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        _, _, handle = heapq.heappop(self._heap)
                        if not handle.mark_fired():
                            continue
                        break
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
            try:
                if handle.callback is not None:
                    handle.callback()
            except BaseException as exc:  # noqa: BLE001 - a broken skill (even sys.exit) must not kill the scheduler
                exc = contained(exc)
                log.exception("scheduled callback of skill %r failed", handle.skill_id)
                self.bus.publish(Notice(stage="skills", level="error",
                                        message=f"Skill '{handle.skill_id}' failed in a scheduled task: {exc}",
                                        hint="Check the skill's logs or disable it in Settings → Skills."))
