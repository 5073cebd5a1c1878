"""Wayland global shortcuts through the xdg-desktop-portal ``org.freedesktop.portal.
GlobalShortcuts`` D-Bus interface (KDE Plasma ≥ 5.27, GNOME ≥ 48, Hyprland).

The exchange (xdg-desktop-portal spec, GlobalShortcuts version 1):

1. ``CreateSession(a{sv} options) → o request``; the portal answers with the
   ``org.freedesktop.portal.Request.Response(u code, a{sv} results)`` signal on the request
   object, ``results["session_handle"]`` naming the session.
2. ``BindShortcuts(o session, a(sa{sv}) shortcuts, s parent_window, a{sv} options) → o
   request``; each shortcut is ``(id, {"description": s, "preferred_trigger": s})``. The
   desktop may ask the user (KDE and GNOME show a dialog); the ``Response`` lists what was
   bound, with a ``trigger_description`` the desktop chose.
3. ``Activated(o session, s id, t timestamp, a{sv})`` when the user presses a shortcut and
   ``Deactivated`` (same arguments) when it is released (push-to-talk).

Why jeepney and not QtDBus: ``BindShortcuts`` takes ``a(sa{sv})``, which PySide6's QtDBus
cannot marshal from Python (a struct type cannot be registered; libdbus aborts), and the
session belongs to the D-Bus connection that created it, so the whole exchange must run on
one connection that can send that type. jeepney is pure Python, already a dependency (the
media skill), and its blocking connection runs in one worker thread here: binding may wait
for the user's answer in a desktop dialog, which must not block the GUI thread. This module
does not import Qt; :class:`ui.hotkey.PortalHotkey` turns the callbacks into Qt signals.

When there is no session bus, no portal, or a portal without GlobalShortcuts,
:meth:`GlobalShortcutsClient.start` raises :class:`PortalUnavailable` with the reason, and
the app falls back to a desktop keyboard shortcut running ``assistant-gui --listen``.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
IFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST_IFACE = "org.freedesktop.portal.Request"
SESSION_IFACE = "org.freedesktop.portal.Session"

_MODIFIERS = {"ctrl": "CTRL", "ctrl_l": "CTRL", "ctrl_r": "CTRL", "alt": "ALT", "alt_l": "ALT", "alt_r": "ALT",
              "shift": "SHIFT", "shift_l": "SHIFT", "shift_r": "SHIFT", "cmd": "LOGO", "cmd_l": "LOGO",
              "cmd_r": "LOGO", "super": "LOGO"}
_MODIFIER_ORDER = ("CTRL", "ALT", "SHIFT", "LOGO")
#: pynput special key names → XKB keysym names (the XDG shortcuts format names keys so).
_SPECIAL = {"space": "space", "enter": "Return", "esc": "Escape", "tab": "Tab", "backspace": "BackSpace",
            "delete": "Delete", "insert": "Insert", "home": "Home", "end": "End", "page_up": "Page_Up",
            "page_down": "Page_Down", "up": "Up", "down": "Down", "left": "Left", "right": "Right",
            "print_screen": "Print", "pause": "Pause", "menu": "Menu", "scroll_lock": "Scroll_Lock",
            "media_play_pause": "XF86AudioPlay", "media_next": "XF86AudioNext", "media_previous": "XF86AudioPrev",
            "media_volume_up": "XF86AudioRaiseVolume", "media_volume_down": "XF86AudioLowerVolume",
            "media_volume_mute": "XF86AudioMute"}
_PUNCTUATION = {",": "comma", ".": "period", "/": "slash", ";": "semicolon", "'": "apostrophe",
                "[": "bracketleft", "]": "bracketright", "-": "minus", "=": "equal", "`": "grave",
                "\\": "backslash"}


class PortalError(RuntimeError):
    """The portal refused or failed a request (its message says which and why)."""


class PortalUnavailable(PortalError):
    """No GlobalShortcuts portal here: no session bus, no xdg-desktop-portal, or a portal
    without the GlobalShortcuts interface."""


def portal_trigger(chord: str) -> str:
    """A pynput chord → the XDG shortcuts format of ``preferred_trigger``:
    ``<ctrl>+<alt>+h`` → ``CTRL+ALT+h``, ``<cmd>+<space>`` → ``LOGO+space``,
    ``<ctrl>+<f5>`` → ``CTRL+F5``, ``<alt>+,`` → ``ALT+comma``.

    Modifiers come first in the order CTRL, ALT, SHIFT, LOGO; the key is an XKB keysym name.

    Raises:
        ValueError: not exactly one non-modifier key, or a key with no keysym name here
            (``<65>`` virtual key codes, ``<alt_gr>``).
    """
    mods: list[str] = []
    keys: list[str] = []
    for part in (p.strip() for p in chord.split("+")):
        if not part:
            raise ValueError(f"empty key in hotkey {chord!r}")
        if part.startswith("<") and part.endswith(">"):
            name = part[1:-1].lower()
            if name in _MODIFIERS:
                if _MODIFIERS[name] not in mods:
                    mods.append(_MODIFIERS[name])
            elif name in _SPECIAL:
                keys.append(_SPECIAL[name])
            elif name[:1] == "f" and name[1:].isdigit() and 1 <= int(name[1:]) <= 35:
                keys.append(name.upper())
            else:
                raise ValueError(f"the key <{name}> in {chord!r} has no portal name")
        elif len(part) == 1:
            keys.append(_PUNCTUATION.get(part, part.lower()))
        else:
            raise ValueError(f"unknown key {part!r} in hotkey {chord!r}")
    if len(keys) != 1:
        raise ValueError(f"a portal shortcut needs exactly one non-modifier key, {chord!r} has {len(keys)}")
    return "+".join([m for m in _MODIFIER_ORDER if m in mods] + keys)


@dataclass(frozen=True)
class Shortcut:
    """One shortcut to bind.

    Attributes:
        id: the app's name for it (``"listen"``, ``"dictate"``); ``Activated`` reports it.
        description: shown to the user by the desktop's shortcut settings.
        preferred_trigger: XDG shortcuts format (``CTRL+ALT+h``, see :func:`portal_trigger`);
            empty: let the desktop/user choose.
    """

    id: str
    description: str
    preferred_trigger: str = ""

    @classmethod
    def from_chord(cls, id: str, description: str, chord: str) -> "Shortcut":  # noqa: A002
        """A shortcut whose preferred trigger is the pynput ``chord`` converted
        (:func:`portal_trigger`; raises its ``ValueError``)."""
        return cls(id, description, portal_trigger(chord) if chord else "")


def _jeepney() -> Any:
    try:
        import jeepney
        from jeepney.io import blocking
    except ImportError as exc:  # a dependency in pyproject.toml; only a broken install lacks it
        raise PortalUnavailable(f"the D-Bus library jeepney is missing ({exc})") from exc
    return jeepney, blocking


def _unwrap(jeepney: Any, reply: Any, what: str) -> tuple:
    if reply.header.message_type == jeepney.MessageType.error:
        name = reply.header.fields.get(jeepney.HeaderFields.error_name, "error")
        detail = reply.body[0] if reply.body else ""
        raise PortalError(f"{what} failed: {name} {detail}".strip())
    return reply.body


def probe(bus: str = "SESSION", timeout_s: float = 5.0) -> int:
    """The GlobalShortcuts interface version of the desktop portal on ``bus`` (``"SESSION"``
    or a D-Bus address). Starts the portal if it is D-Bus-activatable.

    Raises:
        PortalUnavailable: with the reason (no session bus, no portal, no GlobalShortcuts).
    """
    jeepney, blocking = _jeepney()
    try:
        conn = blocking.open_dbus_connection(bus)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:  # KeyError: no $DBUS_SESSION_BUS_ADDRESS
        raise PortalUnavailable(f"there is no D-Bus session bus, so the desktop portal cannot be reached "
                                f"({type(exc).__name__}: {exc}).") from exc
    try:
        return _probe_on(jeepney, conn, timeout_s)
    finally:
        conn.close()


def _probe_on(jeepney: Any, conn: Any, timeout_s: float) -> int:
    props = jeepney.DBusAddress(PATH, bus_name=SERVICE, interface="org.freedesktop.DBus.Properties")
    msg = jeepney.new_method_call(props, "Get", "ss", (IFACE, "version"))
    try:
        reply = conn.send_and_get_reply(msg, timeout=timeout_s)
    except TimeoutError as exc:
        raise PortalUnavailable(f"the desktop portal did not answer within {timeout_s:g} s.") from exc
    if reply.header.message_type == jeepney.MessageType.error:
        name = reply.header.fields.get(jeepney.HeaderFields.error_name, "")
        if name in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"):
            raise PortalUnavailable("no xdg-desktop-portal is running on the session bus (install xdg-desktop-portal "
                                    "and your desktop's backend, e.g. xdg-desktop-portal-kde or -gnome).")
        raise PortalUnavailable("the desktop portal has no GlobalShortcuts interface (KDE Plasma 5.27+, GNOME 48+ "
                                f"and Hyprland have one; {name}).")
    _sig, value = reply.body[0]
    return int(value)


class GlobalShortcutsClient:
    """Binds shortcuts through the GlobalShortcuts portal and reports their activations.

    Args:
        shortcuts: what to bind (ids must be unique).
        on_activated: ``(shortcut_id, timestamp_ms)`` on each press; called on the worker
            thread (a Qt caller re-emits it as a signal).
        on_deactivated: the same on release (optional).
        on_bound: ``{shortcut_id: trigger_description}`` once the portal bound them (the
            desktop may have chosen other triggers, or the user none: missing ids).
        on_error: a :class:`PortalError` when the session or the binding failed or the user
            cancelled it (after :meth:`start` returned).
        bus: ``"SESSION"`` or a D-Bus address.
        timeout_s: how long to wait for the probe and each method reply. The ``Response``
            to ``BindShortcuts`` may wait for the user, so it has ``response_timeout_s``.

    Attributes:
        version: the portal's GlobalShortcuts version (after :meth:`start`).
        session_handle: the portal session's object path (once created).
        bound: what :attr:`on_bound` received.
    """

    def __init__(self, shortcuts: Sequence[Shortcut], on_activated: Callable[[str, int], None], *,
                 on_deactivated: Optional[Callable[[str, int], None]] = None,
                 on_bound: Optional[Callable[[dict[str, str]], None]] = None,
                 on_error: Optional[Callable[[PortalError], None]] = None,
                 bus: str = "SESSION", timeout_s: float = 5.0, response_timeout_s: float = 300.0) -> None:
        ids = [s.id for s in shortcuts]
        if len(set(ids)) != len(ids) or not ids:
            raise ValueError(f"shortcut ids must be unique and at least one: {ids}")
        self.shortcuts = list(shortcuts)
        self.on_activated = on_activated
        self.on_deactivated = on_deactivated
        self.on_bound = on_bound
        self.on_error = on_error
        self.bus = bus
        self.timeout_s = float(timeout_s)
        self.response_timeout_s = float(response_timeout_s)
        self.version = 0
        self.session_handle = ""
        self.bound: dict[str, str] = {}
        self._conn: Any = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Connect, check the portal, then create the session, bind and listen on a worker
        thread (results through the callbacks).

        Raises:
            PortalUnavailable: no portal with GlobalShortcuts (see :func:`probe`).
        """
        self.stop()
        jeepney, blocking = _jeepney()
        try:
            conn = blocking.open_dbus_connection(self.bus)
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise PortalUnavailable(f"there is no D-Bus session bus, so the desktop portal cannot be reached "
                                    f"({type(exc).__name__}: {exc}).") from exc
        try:
            self.version = _probe_on(jeepney, conn, self.timeout_s)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(jeepney, conn, self._stop),
                                        name="portal-shortcuts", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """The worker thread is alive (binding or listening)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Close the portal session (the desktop drops the bindings) and the connection."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    # -- the worker thread ---------------------------------------------------------------

    def _run(self, jeepney: Any, conn: Any, stop: threading.Event) -> None:
        from jeepney.bus_messages import message_bus

        try:
            sender = conn.unique_name.lstrip(":").replace(".", "_")
            requests = jeepney.MatchRule(type="signal", interface=REQUEST_IFACE, member="Response",
                                         path_namespace=f"{PATH}/request/{sender}")
            events = jeepney.MatchRule(type="signal", interface=IFACE, path=PATH)
            for rule in (requests, events):
                _unwrap(jeepney, conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=self.timeout_s),
                        "AddMatch")
            with conn.filter(requests, bufsize=16) as responses, conn.filter(events, bufsize=256) as queue:
                token = "assistant_" + secrets.token_hex(4)
                results = self._request(jeepney, conn, responses, sender, stop, "CreateSession", "a{sv}", (
                    {"handle_token": ("s", token + "c"), "session_handle_token": ("s", token)},), self.timeout_s)
                if results is None:
                    return
                self.session_handle = str(results.get("session_handle", ("s", ""))[1])
                if not self.session_handle:
                    raise PortalError("CreateSession gave no session_handle")
                shortcuts = [(s.id, {"description": ("s", s.description),
                                     **({"preferred_trigger": ("s", s.preferred_trigger)} if s.preferred_trigger
                                        else {})}) for s in self.shortcuts]
                results = self._request(jeepney, conn, responses, sender, stop, "BindShortcuts", "oa(sa{sv})sa{sv}",
                                        (self.session_handle, shortcuts, "", {"handle_token": ("s", token + "b")}),
                                        self.response_timeout_s)
                if results is None:
                    return
                bound = results.get("shortcuts", ("a(sa{sv})", []))[1]
                self.bound = {sid: str(props.get("trigger_description", ("s", ""))[1]) for sid, props in bound}
                if self.on_bound:
                    self.on_bound(dict(self.bound))
                self._listen(conn, queue, stop)
        except PortalError as exc:
            log.warning("GlobalShortcuts portal: %s", exc)
            if self.on_error:
                self.on_error(exc)
        except Exception as exc:  # noqa: BLE001 - connection lost, malformed reply: report, do not die silently
            log.exception("GlobalShortcuts portal client failed")
            if self.on_error:
                self.on_error(PortalError(f"the portal connection failed: {type(exc).__name__}: {exc}"))
        finally:
            self._close(jeepney, conn)

    def _request(self, jeepney: Any, conn: Any, responses: Any, sender: str, stop: threading.Event, method: str,
                 signature: str, body: tuple, response_timeout_s: float) -> Optional[dict]:
        """Call a portal method that answers with a Request object; wait for its Response
        (``None`` when :meth:`stop` was called meanwhile)."""
        portal = jeepney.DBusAddress(PATH, bus_name=SERVICE, interface=IFACE)
        reply = conn.send_and_get_reply(jeepney.new_method_call(portal, method, signature, body),
                                        timeout=self.timeout_s)
        (handle,) = _unwrap(jeepney, reply, method)
        waited = 0.0
        while not stop.is_set():
            while responses:
                msg = responses.popleft()
                if msg.header.fields.get(jeepney.HeaderFields.path) != handle:
                    continue
                code, results = msg.body
                if code == 0:
                    return results
                why = "the user cancelled it" if code == 1 else "the desktop refused it"
                raise PortalError(f"{method}: {why} (response {code})")
            if waited >= response_timeout_s:
                raise PortalError(f"{method}: no answer from the portal within {response_timeout_s:g} s")
            try:
                conn.recv_messages(timeout=0.2)
            except TimeoutError:
                waited += 0.2
        return None

    def _listen(self, conn: Any, queue: Any, stop: threading.Event) -> None:
        while not stop.is_set():
            while queue:
                msg = queue.popleft()
                member = msg.header.fields.get(_member_field())
                if member not in ("Activated", "Deactivated") or len(msg.body) < 3:
                    continue
                session, shortcut_id, timestamp = msg.body[:3]
                if session != self.session_handle:
                    continue
                callback = self.on_activated if member == "Activated" else self.on_deactivated
                if callback is not None:
                    try:
                        callback(str(shortcut_id), int(timestamp))
                    except Exception:  # noqa: BLE001 - a faulty callback must not end the listener
                        log.exception("shortcut callback failed")
            try:
                conn.recv_messages(timeout=0.2)
            except TimeoutError:
                pass

    def _close(self, jeepney: Any, conn: Any) -> None:
        try:
            if self.session_handle:
                session = jeepney.DBusAddress(self.session_handle, bus_name=SERVICE, interface=SESSION_IFACE)
                conn.send_and_get_reply(jeepney.new_method_call(session, "Close"), timeout=1.0)
        except Exception:  # noqa: BLE001 - the bus may be gone already
            log.debug("closing the portal session failed", exc_info=True)
        finally:
            self.session_handle = ""
            conn.close()
            if self._conn is conn:
                self._conn = None


def _member_field() -> Any:
    from jeepney import HeaderFields

    return HeaderFields.member


__all__ = ["GlobalShortcutsClient", "PortalError", "PortalUnavailable", "Shortcut", "portal_trigger", "probe",
           "SERVICE", "PATH", "IFACE"]
