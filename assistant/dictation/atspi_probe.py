"""The AT-SPI side of :class:`assistant.dictation.focus.FocusProbe`: a small long-lived
helper that runs on the *system* Python (``/usr/bin/python3`` with ``python3-pyatspi``
from apt; PyGObject and pyatspi are not in the app's venv). It imports nothing from
``assistant`` and only the standard library at module level.

Run: ``/usr/bin/python3 -I atspi_probe.py`` in the desktop session's environment
(``DBUS_SESSION_BUS_ADDRESS``; ``DISPLAY`` helps libatspi find the bus on X11).

Protocol, one JSON object per line on stdout:

* at start: ``{"ready": true}`` once it listens to focus events, or ``{"error": "..."}``
  (then it exits with status 2): pyatspi missing, no AT-SPI bus;
* stdin ``focus?`` (optionally ``focus? <id>``) → ``{"id": <id>, "role": "password text",
  "password": true, "serial": 7}``: the AT-SPI role name of the focused object, whether it
  is a password field (role ``PASSWORD_TEXT``: Qt's ``QLineEdit`` with
  ``EchoMode.Password``, GTK entries with visibility off, browsers' password inputs) and
  a counter that grows with every focus change seen. ``"role": null, "password": null``
  when no accessible object has the focus as far as AT-SPI tells (a window of an
  application without accessibility, e.g. xterm, or Qt apps when accessibility is off);
  ``{"id": ..., "error": "..."}`` when the query failed (the application did not answer
  within :data:`CALL_TIMEOUT_MS`);
* stdin ``quit`` or end of input: exits.

How it knows the focus: it listens to ``object:state-changed:focused`` and keeps the last
object that gained the focus; a query re-reads that object's role and states (two D-Bus
calls to its application, about a millisecond each) and reports nothing when it lost the
focus meanwhile. Applications only send focus events once someone listens, so at start
(and when nothing is known at a query, at most every :data:`SEARCH_EVERY_S`) the active
windows are searched for a focused object, breadth first, for at most
:data:`SEARCH_BUDGET_S`.
"""

from __future__ import annotations

import json
import os
import sys
import time

#: libatspi's timeout for one call to an application, ms (its default is 25 s: a hung
#: application must not hang dictation).
CALL_TIMEOUT_MS = 250
#: Time budget of one search of the active windows for the focused object, seconds.
SEARCH_BUDGET_S = 0.05
#: At most one search per this many seconds while nothing is known.
SEARCH_EVERY_S = 2.0
#: Objects visited at most by one search.
SEARCH_MAX_NODES = 3000


def reply(**kw) -> None:
    """Write one JSON line to stdout."""
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def bus_problem(Gio) -> str:
    """Why the AT-SPI bus cannot be reached ("" if it can): the session bus's
    ``org.a11y.Bus`` must answer ``GetAddress`` (it starts ``at-spi-bus-launcher`` on
    demand), unless ``AT_SPI_BUS_ADDRESS`` names the bus. The session bus must exist
    (``DBUS_SESSION_BUS_ADDRESS`` or ``$XDG_RUNTIME_DIR/bus``)."""
    if os.environ.get("AT_SPI_BUS_ADDRESS"):
        return ""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not (runtime and os.path.exists(f"{runtime}/bus")):
        # GLib would "autolaunch" a session bus of its own on $DISPLAY: not the desktop's
        return "no AT-SPI bus: no D-Bus session bus ($DBUS_SESSION_BUS_ADDRESS is not set)"
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        res = bus.call_sync("org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress", None, None,
                            Gio.DBusCallFlags.NONE, 3000, None)
    except Exception as exc:  # noqa: BLE001 - GLib.Error: no session bus, no launcher
        return f"no AT-SPI bus: {getattr(exc, 'message', exc)}"
    return "" if res.unpack()[0] else "no AT-SPI bus: org.a11y.Bus gave no address"


def main() -> int:
    try:
        import gi

        gi.require_version("Atspi", "2.0")
        from gi.repository import Gio
    except Exception as exc:  # noqa: BLE001 - any import failure: cannot tell
        reply(error=f"PyGObject/AT-SPI is not available on {sys.executable}: {exc}")
        return 2
    problem = bus_problem(Gio)
    if problem:  # libatspi would abort the process (g_error) without a bus
        reply(error=problem)
        return 2
    try:
        import pyatspi
        from gi.repository import Atspi, GLib
    except Exception as exc:  # noqa: BLE001
        reply(error=f"pyatspi is not available on {sys.executable}: {exc}")
        return 2

    try:
        Atspi.set_timeout(CALL_TIMEOUT_MS, 4 * CALL_TIMEOUT_MS)
    except Exception:  # noqa: BLE001 - older libatspi: keep its default
        pass
    state = {"acc": None, "serial": 0, "searched": 0.0}

    def on_focus(ev) -> None:
        if ev.detail1:
            state["acc"] = ev.source
            state["serial"] += 1

    def focused(acc) -> bool:
        return acc.getState().contains(pyatspi.STATE_FOCUSED)

    def search():
        """The focused object under an active window, or None (bounded breadth-first)."""
        state["searched"] = time.monotonic()
        deadline = state["searched"] + SEARCH_BUDGET_S
        desktop = pyatspi.Registry.getDesktop(0)
        queue = []
        for i in range(desktop.childCount):
            app = desktop.getChildAtIndex(i)
            for j in range(app.childCount if app is not None else 0):
                win = app.getChildAtIndex(j)
                if win is not None and win.getState().contains(pyatspi.STATE_ACTIVE):
                    queue.append(win)
        seen = 0
        while queue and seen < SEARCH_MAX_NODES and time.monotonic() < deadline:
            acc = queue.pop(0)
            seen += 1
            states = acc.getState()
            if states.contains(pyatspi.STATE_FOCUSED):
                return acc
            if states.contains(pyatspi.STATE_MANAGES_DESCENDANTS):
                continue  # tables and long lists: the focused cell announces itself
            queue.extend(c for c in (acc.getChildAtIndex(k) for k in range(min(acc.childCount, 500)))
                         if c is not None)
        return None

    def query() -> dict:
        acc = state["acc"]
        if acc is not None and not focused(acc):
            acc = None
        if acc is None and time.monotonic() - state["searched"] >= SEARCH_EVERY_S:
            acc = search()
            if acc is not None:
                state["acc"] = acc
                state["serial"] += 1
        if acc is None:
            return {"role": None, "password": None, "serial": state["serial"]}
        role = acc.getRole()
        return {"role": acc.getRoleName(), "password": role == pyatspi.ROLE_PASSWORD_TEXT, "serial": state["serial"]}

    try:
        pyatspi.Registry.registerEventListener(on_focus, "object:state-changed:focused")
        pyatspi.Registry.getDesktop(0).childCount  # noqa: B018 - fails here without an AT-SPI bus
    except Exception as exc:  # noqa: BLE001
        reply(error=f"no AT-SPI bus: {exc}")
        return 2
    try:
        acc = search()
        if acc is not None:
            state["acc"] = acc
    except Exception:  # noqa: BLE001 - an application went away mid-search: events will tell
        pass
    loop = GLib.MainLoop()

    pending = [b""]

    def answer(line: str) -> bool:
        words = line.split()
        if words[:1] == ["quit"]:
            return False
        if words[:1] != ["focus?"]:
            if words:
                reply(error=f"unknown request {words[0]!r}")
            return True
        rid = words[1] if len(words) > 1 else None
        try:
            reply(id=rid, **query())
        except Exception as exc:  # noqa: BLE001 - the application died or did not answer in time
            reply(id=rid, error=str(exc) or type(exc).__name__)
        return True

    def on_stdin(source, condition) -> bool:
        # os.read, not readline: Python's buffer would hide a second queued line from GLib
        data = os.read(sys.stdin.fileno(), 4096)
        *lines, pending[0] = (pending[0] + data).split(b"\n")
        for line in lines:
            if not answer(line.decode("utf-8", "replace")):
                loop.quit()
                return False
        if not data:
            loop.quit()
            return False
        return True

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)
    reply(ready=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
