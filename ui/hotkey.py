"""Global hotkeys behind one interface.

* :class:`PynputHotkey` — X11 (and Windows/macOS): ``pynput``'s keyboard listener (XRecord on
  X11: no root, no grab, the key still reaches the focused application).
* :class:`PortalHotkey` — Wayland: the xdg-desktop-portal ``org.freedesktop.portal.
  GlobalShortcuts`` D-Bus interface (KDE Plasma ≥ 5.27, GNOME ≥ 48, Hyprland). The compositor
  owns the key binding: we *propose* a trigger and the desktop may ask the user to confirm or
  change it. Implemented with QtDBus: ``CreateSession`` → ``BindShortcuts`` →
  ``Activated``/``Deactivated`` signals. Where the portal is missing (no session bus, no
  portal, or a portal without GlobalShortcuts) it reports *not available* with the reason.
* :class:`NoHotkey` — neither works: :attr:`GlobalHotkey.message` tells the user what to do
  instead (the in-window shortcut, the tray menu, or binding a desktop shortcut to
  ``assistant-gui --listen``, which reaches the running app through a local socket).

All backends emit :attr:`GlobalHotkey.activated` (chord pressed) and
:attr:`GlobalHotkey.released` (chord released, for push-to-talk) on the GUI thread.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

FALLBACK_HINT = ("The in-window shortcut (Ctrl+Space) and the tray menu still work; you can also bind a "
                 "desktop keyboard shortcut to the command `assistant-gui --listen`.")


class GlobalHotkey(QObject):
    """Interface of a global hotkey backend.

    Attributes:
        backend: short name (``"pynput"``, ``"portal"``, ``"none"``).
        available: whether :meth:`register` can work here.
        active: a chord is registered and listened to.
        message: for the user: what is listening, or why nothing can and what to do.
    """

    activated = Signal()
    released = Signal()
    status_changed = Signal(str)

    backend = "none"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.available = False
        self.active = False
        self.chord = ""
        self.message = ""

    def register(self, chord: str) -> bool:
        """Listen for ``chord`` (pynput syntax, e.g. ``<ctrl>+<alt>+h``). Returns success;
        :attr:`message` says why not."""
        raise NotImplementedError

    def unregister(self) -> None:
        """Stop listening."""
        self.active = False

    def _set_message(self, message: str) -> None:
        self.message = message
        self.status_changed.emit(message)


class NoHotkey(GlobalHotkey):
    """No global hotkey on this desktop; :attr:`message` explains and names the fallbacks."""

    backend = "none"

    def __init__(self, reason: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.message = f"Global hotkey not available: {reason} {FALLBACK_HINT}"

    def register(self, chord: str) -> bool:
        self.chord = chord
        self.status_changed.emit(self.message)
        return False


class PynputHotkey(GlobalHotkey):
    """X11 / Windows / macOS global hotkey through ``pynput``."""

    backend = "pynput"
    _fire = Signal(str)  # from the listener thread → GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._listener: Any = None
        self._pressed = False
        self._fire.connect(self._on_fire)
        try:
            from pynput import keyboard  # noqa: F401  (fails without an X connection)

            self.available = True
        except Exception as exc:  # ImportError from the backend, Xlib errors
            self.available = False
            self.message = f"Global hotkey not available: pynput cannot reach the display ({_first(exc)}). {FALLBACK_HINT}"

    def register(self, chord: str) -> bool:
        self.unregister()
        self.chord = chord
        if not self.available:
            self.status_changed.emit(self.message)
            return False
        from pynput import keyboard

        try:
            keys = set(keyboard.HotKey.parse(chord))
        except ValueError as exc:
            self._set_message(f"The hotkey {chord!r} is not valid ({exc}). Record it again in Settings → Hotkey.")
            return False
        hotkey = keyboard.HotKey(list(keys), lambda: self._fire.emit("press"))
        listener_box: list[Any] = []

        def on_press(key: Any) -> None:  # listener thread
            if listener_box:
                hotkey.press(listener_box[0].canonical(key))

        def on_release(key: Any) -> None:  # listener thread
            if not listener_box:
                return
            k = listener_box[0].canonical(key)
            hotkey.release(k)
            if self._pressed and k in keys:
                self._fire.emit("release")

        try:
            listener = keyboard.Listener(on_press=on_press, on_release=on_release)
            listener_box.append(listener)
            listener.daemon = True
            listener.start()
            listener.wait()  # until the X record context is up
        except Exception as exc:  # noqa: BLE001
            self._set_message(f"Global hotkey not available: {_first(exc)}. {FALLBACK_HINT}")
            return False
        self._listener = listener
        self.active = True
        from ui.widgets import chord_label

        self._set_message(f"Global hotkey {chord_label(chord)} is active (X11 / pynput).")
        return True

    @Slot(str)
    def _on_fire(self, what: str) -> None:
        if what == "press":
            self._pressed = True
            self.activated.emit()
        elif self._pressed:
            self._pressed = False
            self.released.emit()

    def unregister(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping the pynput listener failed")
        self.active = False


def portal_trigger(chord: str) -> str:
    """pynput chord → the XDG shortcuts format the portal's ``preferred_trigger`` takes:
    ``<ctrl>+<alt>+h`` → ``CTRL+ALT+h``."""
    mods = {"<ctrl>": "CTRL", "<alt>": "ALT", "<shift>": "SHIFT", "<cmd>": "LOGO", "<super>": "LOGO"}
    out = []
    for part in chord.split("+"):
        if part in mods:
            out.append(mods[part])
        elif part.startswith("<") and part.endswith(">"):
            out.append(part[1:-1])
        else:
            out.append(part)
    return "+".join(out)


class PortalHotkey(GlobalHotkey):
    """Wayland global hotkey through xdg-desktop-portal GlobalShortcuts (QtDBus).

    Checked here: a session bus, a portal at ``org.freedesktop.portal.Desktop`` and its
    GlobalShortcuts ``version`` property. Without them :attr:`available` is False and
    :attr:`message` names what is missing. This machine has no Wayland compositor and no
    portal, so the binding path (``CreateSession``/``BindShortcuts``) is untested here.
    """

    backend = "portal"
    SERVICE = "org.freedesktop.portal.Desktop"
    PATH = "/org/freedesktop/portal/desktop"
    IFACE = "org.freedesktop.portal.GlobalShortcuts"
    SHORTCUT_ID = "listen"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session_handle = ""
        self.version = 0
        self.available, reason = self._probe()
        if not self.available:
            self.message = f"Global hotkey not available: {reason} {FALLBACK_HINT}"

    def _probe(self) -> tuple[bool, str]:
        try:
            from PySide6.QtDBus import QDBusConnection, QDBusInterface
        except ImportError as exc:
            return False, f"QtDBus is missing ({exc})."
        bus = QDBusConnection.sessionBus()
        if not bus.isConnected():
            return False, "this Wayland session has no D-Bus session bus, so the desktop portal cannot be reached."
        reply = bus.interface().isServiceRegistered(self.SERVICE)
        registered = bool(reply.value()) if hasattr(reply, "value") else bool(reply)
        if not registered:
            # The portal is D-Bus activatable on most desktops: try to start it.
            try:
                bus.interface().startService(self.SERVICE)
                reply = bus.interface().isServiceRegistered(self.SERVICE)
                registered = bool(reply.value()) if hasattr(reply, "value") else bool(reply)
            except Exception:  # noqa: BLE001
                registered = False
        if not registered:
            return False, ("no xdg-desktop-portal is running on the session bus (install xdg-desktop-portal and "
                           "your desktop's backend, e.g. xdg-desktop-portal-kde or -gnome).")
        props = QDBusInterface(self.SERVICE, self.PATH, "org.freedesktop.DBus.Properties", bus)
        msg = props.call("Get", self.IFACE, "version")
        args = msg.arguments() if hasattr(msg, "arguments") else []
        if not args:
            return False, ("the desktop portal has no GlobalShortcuts interface (it needs KDE Plasma 5.27+, "
                           "GNOME 48+ or Hyprland's portal).")
        try:
            self.version = int(getattr(args[0], "variant", lambda: args[0])())
        except Exception:  # noqa: BLE001
            self.version = 1
        return True, ""

    def register(self, chord: str) -> bool:
        self.chord = chord
        if not self.available:
            self.status_changed.emit(self.message)
            return False
        try:
            return self._bind(chord)
        except Exception as exc:  # noqa: BLE001 - any D-Bus marshalling/portal error
            log.exception("portal BindShortcuts failed")
            self._set_message(f"The desktop portal refused the global hotkey ({_first(exc)}). {FALLBACK_HINT}")
            return False

    def _request_path(self, bus: Any, token: str) -> str:
        sender = bus.baseService().lstrip(":").replace(".", "_")
        return f"/org/freedesktop/portal/desktop/request/{sender}/{token}"

    def _bind(self, chord: str) -> bool:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface, QDBusObjectPath

        bus = QDBusConnection.sessionBus()
        iface = QDBusInterface(self.SERVICE, self.PATH, self.IFACE, bus)
        token = f"assistant_{uuid.uuid4().hex[:8]}"
        session_token = f"assistant_session_{uuid.uuid4().hex[:8]}"
        bus.connect(self.SERVICE, self._request_path(bus, token), "org.freedesktop.portal.Request", "Response",
                    self, "_on_session_response(uint,QVariantMap)")
        bus.connect(self.SERVICE, self.PATH, self.IFACE, "Activated", self,
                    "_on_activated(QDBusObjectPath,QString,qulonglong,QVariantMap)")
        bus.connect(self.SERVICE, self.PATH, self.IFACE, "Deactivated", self,
                    "_on_deactivated(QDBusObjectPath,QString,qulonglong,QVariantMap)")
        iface.call("CreateSession", {"handle_token": token, "session_handle_token": session_token})
        self._pending_chord = chord
        self._set_message("Asking the desktop portal for the global hotkey…")
        self._QDBusObjectPath = QDBusObjectPath
        return True

    @Slot(int, dict)
    def _on_session_response(self, response: int, results: dict) -> None:
        if response != 0:
            self._set_message(f"The desktop refused a global-shortcuts session (response {response}). {FALLBACK_HINT}")
            return
        from PySide6.QtDBus import QDBusConnection, QDBusInterface

        self.session_handle = str(results.get("session_handle", ""))
        bus = QDBusConnection.sessionBus()
        iface = QDBusInterface(self.SERVICE, self.PATH, self.IFACE, bus)
        shortcuts = [(self.SHORTCUT_ID, {"description": "Offline Assistant: listen now",
                                         "preferred_trigger": portal_trigger(self._pending_chord)})]
        iface.call("BindShortcuts", self._QDBusObjectPath(self.session_handle), shortcuts, "",
                   {"handle_token": f"assistant_bind_{uuid.uuid4().hex[:8]}"})
        self.active = True
        from ui.widgets import chord_label

        self._set_message(f"Global hotkey requested from the desktop portal ({chord_label(self._pending_chord)}); "
                          "your desktop may ask you to confirm it.")

    @Slot()
    def _on_activated(self, *args: Any) -> None:
        if len(args) > 1 and args[1] != self.SHORTCUT_ID:
            return
        self.activated.emit()

    @Slot()
    def _on_deactivated(self, *args: Any) -> None:
        if len(args) > 1 and args[1] != self.SHORTCUT_ID:
            return
        self.released.emit()

    def unregister(self) -> None:
        if self.session_handle:
            try:
                from PySide6.QtDBus import QDBusConnection, QDBusInterface

                QDBusInterface(self.SERVICE, self.session_handle, "org.freedesktop.portal.Session",
                               QDBusConnection.sessionBus()).call("Close")
            except Exception:  # noqa: BLE001
                log.exception("closing the portal session failed")
            self.session_handle = ""
        self.active = False


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def session_type(env: dict | None = None) -> str:
    """``"wayland"``, ``"x11"``, ``"windows"``, ``"macos"`` or ``"none"`` (no display)."""
    env = os.environ if env is None else env
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    if env.get("DISPLAY"):
        return "x11"
    return "none"


def create_hotkey(parent: QObject | None = None, env: dict | None = None) -> GlobalHotkey:
    """The right backend for this desktop (see the module doc)."""
    kind = session_type(env)
    if kind == "wayland":
        portal = PortalHotkey(parent)
        return portal
    if kind == "none":
        return NoHotkey("there is no X11 display and no Wayland session (DISPLAY and WAYLAND_DISPLAY are unset).",
                        parent)
    hk = PynputHotkey(parent)
    return hk if hk.available else NoHotkey(hk.message.removeprefix("Global hotkey not available: ")
                                             .removesuffix(" " + FALLBACK_HINT), parent)


__all__ = ["GlobalHotkey", "PynputHotkey", "PortalHotkey", "NoHotkey", "create_hotkey", "session_type",
           "portal_trigger", "FALLBACK_HINT"]

