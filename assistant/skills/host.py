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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from assistant.events import Announcement, EventBus, Notice, StopRequested
from assistant.settings import SkillsSettings

if TYPE_CHECKING:  # pragma: no cover
    from rasa_sdk import Action

    from assistant.skills.sdk import Skill

log = logging.getLogger(__name__)


class SkillExit(RuntimeError):
    """Skill code raised ``SystemExit`` (called ``sys.exit``), ``KeyboardInterrupt`` or
    another ``BaseException`` that is not an ``Exception``. :func:`run_skill_code` turns it
    into this ordinary exception so it is reported like any failing skill (the apology is
    spoken) instead of ending a thread, the event loop or the whole app.

    Attributes:
        original: the exception the skill raised.
    """

    def __init__(self, original: BaseException) -> None:
        what = f"called sys.exit({original.code!r})" if isinstance(original, SystemExit) \
            else f"raised {type(original).__name__}"
        super().__init__(f"the skill {what}")
        self.original = original


def _contained(exc: BaseException) -> BaseException:
    return exc if isinstance(exc, Exception) else SkillExit(exc)


_live_lock = threading.Lock()
_live: dict[threading.Thread, float] = {}  # skill-code threads still running → start (monotonic s)


def running_skill_threads() -> list[threading.Thread]:
    """Threads of :func:`run_skill_code` still running skill code (e.g. an action that
    blew its time budget and is still blocked); they are daemon threads and never delay exit."""
    with _live_lock:
        return [t for t in _live if t.is_alive()]


async def run_skill_code(fn: Callable[..., Any], *args: Any, name: str = "") -> Any:
    """Await ``fn(*args)``: a coroutine function directly, a plain function on its own
    **daemon** thread.

    Why not ``asyncio.to_thread``: its threads belong to the event loop's default
    ``ThreadPoolExecutor``, whose workers the interpreter joins at exit
    (``concurrent.futures.thread._python_exit``), so one action blocked in ``time.sleep(60)``
    kept ``assistant ask`` from exiting for the whole minute after its time budget had
    long been spent. A daemon thread is simply abandoned at exit; when the caller stops
    waiting (``asyncio.wait_for`` cancels), the thread is logged and left to finish on its
    own, and its result is dropped.

    ``SystemExit`` / ``KeyboardInterrupt`` / other non-``Exception`` errors raised by skill
    code come out as :class:`SkillExit`, so they are handled like any failing skill.

    Args:
        fn: the skill's function (sync or ``async def``).
        args: its arguments.
        name: what to call it in thread names and logs (e.g. the action name).

    Returns:
        What ``fn`` returned.

    Raises:
        SkillExit: skill code raised a ``BaseException`` that is not an ``Exception``.
        Exception: whatever ``fn`` raised.
        asyncio.CancelledError: the caller cancelled (e.g. the time budget ran out).
    """
    import asyncio
    import contextvars
    import inspect

    label = name or getattr(fn, "__qualname__", repr(fn))
    if inspect.iscoroutinefunction(fn):
        try:
            return await fn(*args)
        except (Exception, asyncio.CancelledError):
            raise
        except BaseException as exc:  # noqa: BLE001 - sys.exit in a skill must not end the app
            raise SkillExit(exc) from None
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()
    ctx = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:  # on the loop's thread
        if not future.done():
            (future.set_result if ok else future.set_exception)(value)

    def work() -> None:
        t0 = time.monotonic()
        try:
            ok, value = True, ctx.run(fn, *args)
        except BaseException as exc:  # noqa: BLE001 - contained, reported by the caller
            ok, value = False, _contained(exc)
        finally:
            with _live_lock:
                _live.pop(threading.current_thread(), None)
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:  # the loop is closed: the caller gave up waiting long ago
            log.warning("skill code %s finished after %.1f s, after its caller stopped waiting; result dropped",
                        label, time.monotonic() - t0)

    thread = threading.Thread(target=work, name=f"skill:{label}", daemon=True)
    with _live_lock:
        _live[thread] = time.monotonic()
    thread.start()
    try:
        return await future
    except asyncio.CancelledError:
        if thread.is_alive():
            log.warning("skill code %s is still running after its caller stopped waiting; "
                        "left running as daemon thread %r (it cannot delay exit)", label, thread.name)
        raise


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
    """

    id: int
    skill_id: str
    label: str
    delay_s: float
    due: float
    data: dict[str, Any] = field(default_factory=dict)
    wall_due: float = 0.0
    _callback: Callable[[], Any] | None = field(default=None, repr=False)
    _host: "SkillHost | None" = field(default=None, repr=False)
    _state: str = field(default="pending", repr=False)

    @property
    def pending(self) -> bool:
        """True until it fires or is cancelled."""
        return self._state == "pending"

    @property
    def cancelled(self) -> bool:
        """True if :meth:`cancel` stopped it before it fired."""
        return self._state == "cancelled"

    @property
    def fired(self) -> bool:
        """True once its callback started."""
        return self._state == "fired"

    def remaining(self) -> float:
        """Seconds until it fires (0 if it is not pending any more)."""
        return max(0.0, self.due - time.monotonic()) if self.pending else 0.0

    def cancel(self) -> bool:
        """Stop it from firing.

        Returns:
            True if it was pending and is now cancelled; False if it had already fired or
            been cancelled.
        """
        if self._host is None:
            return False
        return self._host._cancel(self)


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
        self._skills: dict[str, "Skill"] = {}
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._ids = itertools.count(1)
        self._closed = False
        self._thread: threading.Thread | None = None
        self._served: dict[str, Any] = {}

    # ------------------------------------------------------------------ actions
    def actions(self, skills: Iterable["Skill"]) -> list["Action"]:
        """The ``rasa_sdk.Action`` instances of ``skills``, bound to this host.

        Each ``@skill.action`` function becomes one action named with its namespaced name
        (``action_<id>__<name>``); each form with ``@skill.validate`` functions becomes one
        ``validate_<id>__<form>`` action.

        Args:
            skills: loaded skills (``load_skills(...).skills``).

        Returns:
            The actions, for the sidecar's in-process action server.
        """
        from assistant.skills.dialogue import core_actions

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
            self._run_hooks(skill, skill._on_load, "on_load")
        return out

    def skills(self) -> list["Skill"]:
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

    def skill(self, skill_id: str) -> "Skill | None":
        """The bound skill with this id, or None."""
        return self._skills.get(skill_id)

    def _run_hooks(self, skill: "Skill", hooks: list, what: str, *args: Any) -> None:
        from assistant.skills.sdk import SkillContext

        for fn in hooks:
            try:
                fn(SkillContext(skill, self), *args)
            except (Exception, SystemExit) as exc:  # a broken skill must not stop the app
                exc = _contained(exc)
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
                self._run_hooks(skill, skill._on_settings, "on_settings_changed", changed)

    def set_setting(self, skill: "Skill", key: str, value: Any, *, save: bool = True) -> Any:
        """Set one setting of ``skill`` (what ``ctx.set_setting`` does).

        The value is checked against the manifest, stored in the live
        ``SkillsSettings.options`` and, with ``save``, written to settings.toml (other
        settings in the file are kept). ``@skill.on_settings_changed`` callbacks run.

        Returns:
            The stored value (converted to the field's type).

        Raises:
            SkillError: unknown key or invalid value.
        """
        from assistant.errors import SkillError
        from assistant.skills.manifest import ManifestError

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
                from assistant.settings import load_settings, save_settings

                current, _notice = load_settings()
                current.skills.options.setdefault(skill.id, {})[key] = value
                save_settings(current)
            except OSError as exc:
                log.warning("could not save the setting %s.%s: %s", skill.id, key, exc)
        if old != value:
            self._run_hooks(skill, skill._on_settings, "on_settings_changed", {key: value})
        return value

    def settings_for(self, skill: "Skill") -> dict[str, Any]:
        """A skill's effective settings: manifest defaults overridden by the user's valid
        values from ``SkillsSettings.options[skill.id]`` (invalid ones are logged and
        ignored)."""
        values, problems = skill.manifest.resolve_settings(self._settings.options.get(skill.id))
        for p in problems:
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
                             _callback=callback, _host=self)
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
                if h.pending:
                    h._state = "cancelled"
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _cancel(self, handle: TimerHandle) -> bool:
        with self._cond:
            if not handle.pending:
                return False
            handle._state = "cancelled"
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
                        if not handle.pending:
                            continue
                        handle._state = "fired"
                        break
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
            try:
                if handle._callback is not None:
                    handle._callback()
            except BaseException as exc:  # noqa: BLE001 - a broken skill (even sys.exit) must not kill the scheduler
                exc = _contained(exc)
                log.exception("scheduled callback of skill %r failed", handle.skill_id)
                self.bus.publish(Notice(stage="skills", level="error",
                                        message=f"Skill '{handle.skill_id}' failed in a scheduled task: {exc}",
                                        hint="Check the skill's logs or disable it in Settings → Skills."))
