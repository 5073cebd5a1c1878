"""Running engine work off the GUI thread.

:func:`submit` wraps a callable in a :class:`QRunnable` for a :class:`QThreadPool`; its result
or exception comes back to the GUI thread through queued signals. The GUI thread never
waits on engine work.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class TaskSignals(QObject):
    """Signals of one task; the object lives in the GUI thread, so slots run there."""

    done = Signal(object)
    failed = Signal(object)
    finished = Signal()


class Task(QRunnable):
    """A callable run on a pool thread. ``thread_name`` and ``thread_id`` record where it ran."""

    def __init__(self, name: str, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.name = name
        self.fn = fn
        self.signals = TaskSignals()
        self.thread_id: int | None = None
        self.thread_name = ""
        self.setAutoDelete(False)

    def run(self) -> None:  # pool thread
        self.thread_id = threading.get_ident()
        self.thread_name = threading.current_thread().name
        try:
            result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - everything is reported to the GUI
            if not isinstance(exc, Exception):
                log.warning("task %s interrupted: %r", self.name, exc)
            elif not hasattr(exc, "hint"):
                log.exception("task %s failed", self.name)
            self._emit(self.signals.failed, exc)
        else:
            self._emit(self.signals.done, result)
        self._emit(self.signals.finished)

    def _emit(self, signal, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the receiver (a closed dialog, the app at exit) is gone
            log.debug("task %s finished after its receiver was deleted", self.name)


_live: set[Task] = set()  # keep Python wrappers alive until the task reported back


def submit(pool: QThreadPool, name: str, fn: Callable[[], Any], *, on_done: Callable[[Any], None] | None = None,
           on_error: Callable[[BaseException], None] | None = None) -> Task:
    """Run ``fn()`` on ``pool``; ``on_done(result)`` / ``on_error(exc)`` run on the GUI thread."""
    task = Task(name, fn)
    if on_done is not None:
        task.signals.done.connect(on_done)
    if on_error is not None:
        task.signals.failed.connect(on_error)
    _live.add(task)
    task.signals.finished.connect(lambda: _live.discard(task))
    pool.start(task)
    return task
