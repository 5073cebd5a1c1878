"""Running skill code safely: :func:`run_skill_code` (a daemon thread per plain function,
``sys.exit`` contained as :class:`SkillExit`). A leaf module: the SDK and the host both use it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import time
from typing import Any, Callable

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


def contained(exc: BaseException) -> BaseException:
    """``exc`` itself if it is an ``Exception``, else a :class:`SkillExit` wrapping it."""
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
            ok, value = False, contained(exc)
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
