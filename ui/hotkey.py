"""Global hotkeys behind one interface.

* :class:`PynputHotkey` — X11 (and Windows/macOS): ``pynput``'s keyboard listener (XRecord on
  X11: no root, no grab, the key still reaches the focused application).
* :class:`PortalHotkey` — Wayland: the xdg-desktop-portal ``org.freedesktop.portal.
  GlobalShortcuts`` D-Bus interface (KDE Plasma ≥ 5.27, GNOME ≥ 48, Hyprland) through
  :mod:`ui.portal_shortcuts`; binds "listen" and "dictate". Without a portal it reports
  *not available* and points at ``assistant-gui --listen``.
* :class:`NoHotkey` — neither works: :attr:`GlobalHotkey.message` tells the user what to do
  instead (the in-window shortcut, the tray menu, or binding a desktop shortcut to
  ``assistant-gui --listen``, which reaches the running app through a local socket).

All backends emit :attr:`GlobalHotkey.activated` (chord pressed) and
:attr:`GlobalHotkey.released` (chord released, for push-to-talk) on the GUI thread; the
portal backend also :attr:`GlobalHotkey.dictate_activated`. :func:`create_hotkey` picks the
portal only in a Wayland session; the X11 pynput path is unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from ui.portal_shortcuts import GlobalShortcutsClient, PortalUnavailable, Shortcut, portal_trigger, probe

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
    dictate_activated = Signal()  # the separate dictation shortcut (portal backend only)
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


class PortalHotkey(GlobalHotkey):
    """Wayland global shortcuts through xdg-desktop-portal GlobalShortcuts
    (:mod:`ui.portal_shortcuts`, jeepney on a worker thread; its docstring says why not QtDBus).

    :meth:`register` binds two shortcuts in one portal session: ``"listen"`` (the hotkey
    chord; :attr:`activated` / :attr:`released`) and, when given, ``"dictate"``
    (:attr:`dictate_activated`). The desktop may ask the user to confirm, or pick other keys;
    :attr:`message` then shows what it bound. Without a portal (or when the desktop refuses)
    :attr:`message` says why and names the fallback: a desktop keyboard shortcut running
    ``assistant-gui --listen``.

    Args:
        bus: ``"SESSION"`` or a D-Bus address (tests).
    """

    backend = "portal"
    _event = Signal(str, str)  # (kind, shortcut id or message), from the portal thread → GUI thread

    def __init__(self, parent: QObject | None = None, *, bus: str = "SESSION") -> None:
        super().__init__(parent)
        self.bus = bus
        self.version = 0
        self.dictate_chord = ""
        self.bound: dict[str, str] = {}
        self._client: Any = None
        self._event.connect(self._on_event)
        try:
            self.version = probe(bus)
        except PortalUnavailable as exc:
            self.portal_found = False
            self.message = f"Global hotkey not available on Wayland: {exc} {FALLBACK_HINT}"
        else:
            self.portal_found = self.available = True

    def register(self, chord: str, dictate_chord: str | None = None) -> bool:
        """Bind ``chord`` as the "listen" shortcut and ``dictate_chord`` (if any) as
        "dictate" (pynput syntax both). Returns whether the request went to the portal; the
        binding itself completes later (:attr:`status_changed`)."""
        self.unregister()
        self.chord, self.dictate_chord = chord, dictate_chord or ""
        if not self.available:
            self.status_changed.emit(self.message)
            return False
        try:
            shortcuts = [Shortcut.from_chord("listen", "Listen for a voice command", chord)]
            if dictate_chord:
                shortcuts.append(Shortcut.from_chord("dictate", "Start or stop dictation", dictate_chord))
        except ValueError as exc:
            self._set_message(f"The hotkey cannot be given to the desktop portal ({exc}). Record it again in "
                              "Settings → Hotkey.")
            return False
        emit = self._event.emit
        client = GlobalShortcutsClient(
            shortcuts, lambda sid, _ts: emit("activated", sid), on_deactivated=lambda sid, _ts: emit("released", sid),
            on_bound=lambda bound: emit("bound", json.dumps(bound)), on_error=lambda exc: emit("error", str(exc)),
            bus=self.bus)
        try:
            client.start()
        except PortalUnavailable as exc:
            self._set_message(f"Global hotkey not available on Wayland: {exc} {FALLBACK_HINT}")
            return False
        self._client = client
        self.active = True
        self._set_message("Asked the desktop for the global shortcuts (Wayland portal); it may ask you to confirm.")
        return True

    @Slot(str, str)
    def _on_event(self, kind: str, arg: str) -> None:
        if self._client is None:
            return  # unregistered meanwhile
        if kind == "activated" and arg == "listen":
            self.activated.emit()
        elif kind == "activated" and arg == "dictate":
            self.dictate_activated.emit()
        elif kind == "released" and arg == "listen":
            self.released.emit()
        elif kind == "bound":
            self.bound = json.loads(arg)
            if not self.bound:
                self._set_message(f"Global hotkey not available: the desktop bound no shortcut. {FALLBACK_HINT}")
                return
            keys = ", ".join(f"{sid}: {trigger or 'no key yet'}" for sid, trigger in self.bound.items())
            self._set_message(f"Global shortcuts are active (Wayland portal; {keys}). Change them in the desktop's "
                              "shortcut settings.")
        elif kind == "error":
            self.active = False
            self._set_message(f"Global hotkey not available on Wayland: {arg}. {FALLBACK_HINT}")

    def unregister(self) -> None:
        """Close the portal session (the desktop drops the shortcuts)."""
        client, self._client = self._client, None
        if client is not None:
            client.stop()
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

