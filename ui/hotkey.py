"""Global hotkeys behind one interface.

* :class:`PynputHotkey` — X11 (and Windows/macOS): ``pynput``'s keyboard listener (XRecord on
  X11: no root, no grab, the key still reaches the focused application).
* :class:`PortalHotkey` — Wayland: the xdg-desktop-portal ``org.freedesktop.portal.
  GlobalShortcuts`` D-Bus interface (KDE Plasma ≥ 5.27, GNOME ≥ 48, Hyprland). It detects
  the portal for real; registering is a documented stub that reports *not available* (see
  the class doc for why) and points at ``assistant-gui --listen``.
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
        from ui.hotkey_capture import chord_label

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
    """Wayland global hotkey through xdg-desktop-portal GlobalShortcuts — detection only.

    What is real: the probe (a session bus; ``org.freedesktop.portal.Desktop`` running or
    D-Bus-activatable; its GlobalShortcuts ``version`` property). What is a documented stub:
    registering. ``BindShortcuts`` takes an ``a(sa{sv})`` argument, which PySide6's QtDBus
    cannot marshal from Python (no way to register the struct type; libdbus aborts), and the
    portal session must belong to the same D-Bus connection, so a ``gdbus`` helper cannot do
    it either. So :meth:`register` always reports *not available*, saying whether a portal was
    found, and names the fallback that works on every Wayland desktop: a desktop keyboard
    shortcut running ``assistant-gui --listen`` (delivered to the running app through a local
    socket). A real binding needs a pure-Python D-Bus client (jeepney/dbus-fast) behind this
    same interface.
    """

    backend = "portal"
    SERVICE = "org.freedesktop.portal.Desktop"
    PATH = "/org/freedesktop/portal/desktop"
    IFACE = "org.freedesktop.portal.GlobalShortcuts"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.version = 0
        self.portal_found, reason = self._probe()
        self.available = False
        if self.portal_found:
            reason = (f"the desktop portal offers GlobalShortcuts (version {self.version}), but this build cannot "
                      "register shortcuts through it yet.")
        self.message = f"Global hotkey not available on Wayland: {reason} {FALLBACK_HINT}"

    def _probe(self) -> tuple[bool, str]:
        try:
            from PySide6.QtDBus import QDBusConnection, QDBusInterface
        except ImportError as exc:
            return False, f"QtDBus is missing ({exc})."
        bus = QDBusConnection.sessionBus()
        if not bus.isConnected():
            return False, "there is no D-Bus session bus, so the desktop portal cannot be reached."
        iface = bus.interface()
        registered = bool(iface.isServiceRegistered(self.SERVICE).value())
        if not registered and self.SERVICE in (iface.activatableServiceNames().value() or []):
            iface.startService(self.SERVICE)
            registered = bool(iface.isServiceRegistered(self.SERVICE).value())
        if not registered:
            return False, ("no xdg-desktop-portal is running on the session bus (install xdg-desktop-portal and "
                           "your desktop's backend, e.g. xdg-desktop-portal-kde or -gnome).")
        props = QDBusInterface(self.SERVICE, self.PATH, "org.freedesktop.DBus.Properties", bus)
        reply = props.call("Get", self.IFACE, "version")
        args = reply.arguments()
        if not args:
            return False, ("the desktop portal has no GlobalShortcuts interface (KDE Plasma 5.27+, GNOME 48+ and "
                           "Hyprland have one).")
        try:
            value = args[0]
            self.version = int(value.variant() if hasattr(value, "variant") else value)
        except (TypeError, ValueError):
            self.version = 1
        return True, ""

    def register(self, chord: str) -> bool:
        self.chord = chord
        self.status_changed.emit(self.message)
        return False


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

