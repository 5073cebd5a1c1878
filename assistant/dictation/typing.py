"""Typing dictated text into the focused window: one :class:`Typist` interface, three
backends, chosen from the session by :func:`choose_typist` (with an override).

* :class:`XTestTypist` (X11): XTest fake key events through python-xlib. A character with
  a key of its own in the current layout (first or Shift level) is typed on that key; every
  other character (``€ — “ ” ✓ 日``, or ``ß`` under ``us``) gets a *spare* keycode (one
  with no keysym) mapped to its keysym, in batches of as many spare keycodes as the server
  has (19 on Xvfb), and each keycode's original (empty) mapping is written back after the
  batch. Exact under any layout, including ``setxkbmap de`` (tests/test_dictation_typing.py);
  xdotool and pynput got non-ASCII characters wrong (issue 11).
* :class:`WtypeTypist` (wlroots Wayland compositors: sway, Hyprland, …): the ``wtype``
  command, always with ``-s`` (without a leading sleep it drops the first character of
  each call). ``env``/``user`` let a root process type into another user's session
  (tests/test_wayland.py: a headless sway run as ``nobody``).
* :class:`ClipboardTypist`: puts the text on the clipboard (``xclip``, ``xsel`` or, on
  Wayland, ``wl-copy``, run as subprocesses: the engine has no Qt) and tells the user to
  paste it (``on_notice``). It cannot delete.

Not done here (issue 11, later): KDE/GNOME's RemoteDesktop portal, ydotool, clipboard +
Ctrl+V for long text. Refusing password fields is the session's
(:mod:`assistant.dictation.focus`), as is refusing "scratch that" after the focus moved.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from typing import Callable, Iterable, Mapping, Optional, Sequence

from assistant.dictation.commands import Backspace, EditOp, Key, TypeText
from assistant.errors import AssistantError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "xtest", "wtype", "clipboard")
"""The ``dictation.typing`` setting's choices (:class:`FileTypist` is chosen by
``assistant dictate --to-file``, not by the setting)."""
"""Values of :func:`choose_typist`'s ``backend`` (the setting that overrides the choice)."""

SPECIAL_KEYS = {"\n": "Return", "\t": "Tab", "\b": "BackSpace"}


class TypingError(AssistantError):
    """Text cannot be typed: no display, no XTest, the typing tool is missing or failed."""


class Typist:
    """Types edit operations into whatever window has the keyboard focus.

    Subclasses implement :meth:`type_text`, :meth:`backspace` and :meth:`press`.

    Attributes:
        name: the backend's name (one of :data:`BACKENDS` but ``"auto"``).
    """

    name = "none"

    def type_text(self, text: str) -> None:
        """Type ``text`` exactly (Unicode; ``"\\n"`` is Return, ``"\\t"`` Tab).

        Raises:
            TypingError: the backend failed.
        """
        raise NotImplementedError

    def backspace(self, count: int) -> None:
        """Press BackSpace ``count`` times.

        Raises:
            TypingError: the backend failed or cannot delete (clipboard).
        """
        raise NotImplementedError

    def press(self, key: str) -> None:
        """Press and release one key named by its X keysym name (``"Return"``, ``"Tab"``).

        Raises:
            TypingError: unknown key name or the backend failed.
        """
        raise NotImplementedError

    def apply(self, ops: Iterable[EditOp]) -> None:
        """Apply edit operations of :class:`assistant.dictation.commands.Formatter` in order."""
        for op in ops:
            if isinstance(op, TypeText):
                self.type_text(op.text)
            elif isinstance(op, Backspace):
                self.backspace(op.count)
            elif isinstance(op, Key):
                self.press(op.name)
            else:
                raise TypeError(f"not an edit operation: {op!r}")

    def focus(self) -> Optional[int]:
        """An id of the window that has the keyboard focus now, or None where the backend
        cannot tell (then "scratch that" trusts that the focus did not move)."""
        return None

    def close(self) -> None:
        """Release the backend's resources (display connection)."""


def char_keysym(ch: str) -> int:
    """The X keysym of one character: its code point for Latin-1 (U+0020–U+007E,
    U+00A0–U+00FF), ``0x01000000 + code point`` otherwise (X11's Unicode keysyms);
    Return/Tab/BackSpace for ``"\\n"``, ``"\\t"``, ``"\\b"``."""
    from Xlib import XK

    if ch in SPECIAL_KEYS:
        return XK.string_to_keysym(SPECIAL_KEYS[ch])
    cp = ord(ch)
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    return 0x01000000 | cp


class XTestTypist(Typist):
    """X11 typing through the XTest extension (python-xlib), exact under any layout.

    Args:
        display: X display name (``":0"``); ``None`` = ``$DISPLAY``.
        settle_s: wait after a batch of mapped keys before their mappings are written
            back, seconds. Clients translate a key event with the keymap they hold when
            they handle it; restoring before a busy client got to the batch's events loses
            them. 0.1 s lost a whole batch once on a loaded CI machine (the Qt editor of
            tests/test_dictation_typing.py), so 0.3 s. Only characters the layout has no
            key for pay it (a batch is up to ``len(spare_keycodes)`` of them).
        map_wait_s: wait after writing a batch's mappings before its first key event,
            seconds, for the clients to read the new keymap (was 0.01 s; see ``settle_s``).
        key_delay_s: pause between characters, seconds (0: as fast as the server takes
            them).

    Attributes:
        spare_keycodes: keycodes with no keysym in the current keymap (re-read before
            every :meth:`type_text`, so a layout change in between is fine).
        remaps: keycode mappings written (and restored) so far.

    Raises:
        TypingError: no ``$DISPLAY``/display name, the display cannot be opened, or the
            server has no XTest extension.

    Limits: modifiers the user still holds (the hotkey's Ctrl) and Caps Lock change what
    the keys type; the caller should wait for the hotkey's release before typing.
    """

    name = "xtest"

    def __init__(self, display: Optional[str] = None, *, settle_s: float = 0.3, map_wait_s: float = 0.05,
                 key_delay_s: float = 0.0) -> None:
        from Xlib import X, XK, error
        from Xlib import display as xdisplay

        self._X, self._XK = X, XK
        name = display or os.environ.get("DISPLAY")
        if not name:
            raise TypingError("Cannot type with XTest: no X display ($DISPLAY is not set).",
                              "Run inside an X11 session, or choose the wtype or clipboard typing backend.")
        try:
            self._d = xdisplay.Display(name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise TypingError(f"Cannot open the X display {name!r} to type: {exc}",
                              "Check $DISPLAY and that the X server runs, or choose another typing backend.") from exc
        if not self._d.has_extension("XTEST"):
            self._d.close()
            raise TypingError(f"The X server on {name!r} has no XTEST extension; cannot type.",
                              "Enable XTEST in the X server, or choose the clipboard typing backend.")
        self.display_name = name
        self.settle_s = float(settle_s)
        self.map_wait_s = float(map_wait_s)
        self.key_delay_s = float(key_delay_s)
        self.remaps = 0
        self._min = self._d.display.info.min_keycode
        self._max = self._d.display.info.max_keycode
        self.spare_keycodes: list[int] = []
        self._shift = self._d.keysym_to_keycode(XK.string_to_keysym("Shift_L"))

    def focus(self) -> Optional[int]:
        """The X window id with the input focus (``GetInputFocus``), or None on error."""
        try:
            f = self._d.get_input_focus().focus
        except Exception:  # noqa: BLE001 - a closed display: cannot tell
            return None
        return f if isinstance(f, int) else f.id

    # -- the keymap ----------------------------------------------------------------------

    def keyboard_mapping(self) -> list[list[int]]:
        """The core keyboard mapping: one list of keysyms per keycode from the minimum
        keycode (8 on Xorg/Xvfb) to the maximum (255)."""
        return [list(r) for r in self._d.get_keyboard_mapping(self._min, self._max - self._min + 1)]

    def _layout(self) -> tuple[dict[int, tuple[int, bool]], list[int]]:
        """(keysym → (keycode, needs Shift) for levels 1–2 of every key, spare keycodes)."""
        table: dict[int, tuple[int, bool]] = {}
        spare = []
        for i, row in enumerate(self.keyboard_mapping()):
            code = self._min + i
            if not any(row):
                if code > 8:  # keycode 8 is not a real key for XKB
                    spare.append(code)
                continue
            for level, ks in enumerate(row[:2]):
                if ks and ks not in table:
                    table[ks] = (code, level == 1)
        return table, spare

    def _key(self, code: int, shift: bool = False) -> None:
        from Xlib.ext import xtest

        X = self._X
        if shift:
            xtest.fake_input(self._d, X.KeyPress, self._shift)
        xtest.fake_input(self._d, X.KeyPress, code)
        xtest.fake_input(self._d, X.KeyRelease, code)
        if shift:
            xtest.fake_input(self._d, X.KeyRelease, self._shift)
        if self.key_delay_s:
            self._d.sync()
            time.sleep(self.key_delay_s)

    def type_text(self, text: str) -> None:
        """Type ``text`` exactly into the focused window (see the class doc).

        Raises:
            TypingError: the keymap has no spare keycode and a character has no key.
        """
        if not text:
            return
        table, spare = self._layout()
        self.spare_keycodes = spare
        shift_ks = self._XK.string_to_keysym("Shift_L")
        self._shift = table.get(shift_ks, (self._d.keysym_to_keycode(shift_ks), False))[0]
        plan = [(ch, char_keysym(ch)) for ch in text]
        i = 0
        while i < len(plan):
            # the longest run of characters whose missing keysyms fit the spare keycodes
            mapped: dict[int, int] = {}
            j = i
            while j < len(plan):
                ks = plan[j][1]
                if ks not in table and ks not in mapped:
                    if len(mapped) == len(spare):
                        break
                    mapped[ks] = spare[len(mapped)]
                j += 1
            if j == i:
                raise TypingError(f"Cannot type {plan[i][0]!r}: the keymap has no spare keycode to map it to.",
                                  "Choose the clipboard typing backend.")
            originals = self._map(mapped)
            try:
                for _, ks in plan[i:j]:
                    if ks in table:
                        self._key(*table[ks])
                    else:
                        self._key(mapped[ks])
                self._d.sync()
            finally:
                if originals:
                    time.sleep(self.settle_s)
                    self._restore(originals)
            i = j

    def _map(self, mapped: Mapping[int, int]) -> dict[int, list[int]]:
        """Map keysyms to spare keycodes; returns each keycode's original keysyms."""
        if not mapped:
            return {}
        rows = self.keyboard_mapping()
        originals = {code: rows[code - self._min] for code in mapped.values()}
        for ks, code in mapped.items():
            self._d.change_keyboard_mapping(code, [(ks, ks)])
            self.remaps += 1
        self._d.sync()
        time.sleep(self.map_wait_s)  # let the clients read the new keymap before the first key event
        return originals

    def _restore(self, originals: Mapping[int, list[int]]) -> None:
        for code, row in originals.items():
            self._d.change_keyboard_mapping(code, [tuple(row)])
        self._d.sync()

    def backspace(self, count: int) -> None:
        """Press BackSpace ``count`` times (0 or less: nothing)."""
        for _ in range(max(0, int(count))):
            self.press("BackSpace")

    def press(self, key: str) -> None:
        """Press and release the key with keysym name ``key`` (``"Return"``, ``"Tab"``).

        Raises:
            TypingError: no such keysym name, or no key for it in the current keymap.
        """
        ks = self._XK.string_to_keysym(key)
        code = self._d.keysym_to_keycode(ks) if ks else 0
        if not code:
            raise TypingError(f"No key {key!r} on this keyboard.", "Use an X keysym name such as Return or Tab.")
        self._key(code)
        self._d.sync()

    def close(self) -> None:
        """Close the display connection."""
        self._d.close()


def wtype_commands(text: str, exe: str = "wtype", sleep_ms: int = 20) -> list[list[str]]:
    """The ``wtype`` command lines that type ``text``.

    Each starts with ``-s sleep_ms`` (without a leading sleep wtype drops the first
    character of a call). Newlines and tabs become ``-k Return`` / ``-k Tab`` (wtype would
    send a newline as the keysym U+000A); text between them is one positional argument
    (wtype puts a space between two *consecutive* text arguments, which never occur here);
    text starting with ``-`` ends its call after ``--`` (everything after ``--`` is text).
    """
    head = [exe, "-s", str(int(sleep_ms))]
    cmds: list[list[str]] = []
    cur = list(head)
    for seg in re.split(r"(\n|\t)", text):
        if not seg:
            continue
        if seg in SPECIAL_KEYS:
            cur += ["-k", SPECIAL_KEYS[seg]]
        elif seg.startswith("-"):
            cmds.append(cur + ["--", seg])
            cur = list(head)
        else:
            cur.append(seg)
    if len(cur) > len(head):
        cmds.append(cur)
    return cmds


class WtypeTypist(Typist):
    """Wayland typing through ``wtype`` (wlroots compositors: sway, Hyprland, river …).

    Args:
        exe: the wtype executable (default: found on ``$PATH``).
        sleep_ms: ``-s`` sleep before typing, ms.
        env: the environment wtype runs in (default: this process's). It must name the
            compositor: ``WAYLAND_DISPLAY`` and ``XDG_RUNTIME_DIR`` (where its socket is).
        user: run wtype as this user (name or uid; its primary group, no supplementary
            groups). Only root can do that; for a root process (a test, a system service)
            typing into a user's session. ``None``: as this process.

    Raises:
        TypingError: wtype is not installed, ``WAYLAND_DISPLAY`` is not set (in ``env``),
            or ``user`` does not exist.
    """

    name = "wtype"

    def __init__(self, exe: Optional[str] = None, *, sleep_ms: int = 20, env: Optional[Mapping[str, str]] = None,
                 user: Optional[str | int] = None) -> None:
        path = exe or shutil.which("wtype", path=(env or os.environ).get("PATH"))
        if not path:
            raise TypingError("Cannot type on Wayland: wtype is not installed.",
                              "Install it (apt-get install wtype), or choose the clipboard typing backend.")
        if not (os.environ if env is None else env).get("WAYLAND_DISPLAY"):
            raise TypingError("Cannot type with wtype: $WAYLAND_DISPLAY is not set.",
                              "Run inside a Wayland session, or choose another typing backend.")
        self.exe = path
        self.sleep_ms = int(sleep_ms)
        self.env = None if env is None else dict(env)
        self._as_user: dict = {}
        if user is not None:
            import pwd

            try:
                pw = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
            except KeyError as exc:
                raise TypingError(f"Cannot type as user {user!r}: no such user.", "") from exc
            self._as_user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _run(self, cmd: Sequence[str]) -> None:
        try:
            subprocess.run(list(cmd), check=True, capture_output=True, timeout=30, env=self.env, **self._as_user)
        except subprocess.CalledProcessError as exc:
            err = exc.stderr.decode(errors="replace").strip()
            raise TypingError(f"wtype failed: {err or exc}",
                              "wtype needs a wlroots compositor (sway, Hyprland); on KDE/GNOME choose the "
                              "clipboard typing backend.") from exc
        except (OSError, subprocess.TimeoutExpired) as exc:  # PermissionError: user= without root
            raise TypingError(f"wtype failed: {exc}", "") from exc

    def type_text(self, text: str) -> None:
        """Type ``text`` (newlines as Return, tabs as Tab); see :func:`wtype_commands`."""
        for cmd in wtype_commands(text, self.exe, self.sleep_ms):
            self._run(cmd)

    def backspace(self, count: int) -> None:
        """Press BackSpace ``count`` times in one wtype call."""
        if count > 0:
            self._run([self.exe, "-s", str(self.sleep_ms)] + ["-k", "BackSpace"] * int(count))

    def press(self, key: str) -> None:
        """Press the key with XKB keysym name ``key`` (wtype ``-k``)."""
        self._run([self.exe, "-s", str(self.sleep_ms), "-k", key])


def clipboard_command(env: Optional[Mapping[str, str]] = None) -> Optional[list[str]]:
    """The command that copies its stdin to the clipboard in this session, or ``None``:
    ``wl-copy`` on Wayland, else ``xclip -selection clipboard`` or ``xsel --clipboard
    --input`` on X11."""
    env = os.environ if env is None else env
    if env.get("WAYLAND_DISPLAY") and shutil.which("wl-copy"):
        return ["wl-copy"]
    if env.get("DISPLAY"):
        if shutil.which("xclip"):
            return ["xclip", "-selection", "clipboard", "-in"]
        if shutil.which("xsel"):
            return ["xsel", "--clipboard", "--input"]
    return None


class ClipboardTypist(Typist):
    """The fallback: put each text on the clipboard and ask the user to paste it.

    Args:
        on_notice: called with a one-line message for the user ("… press Ctrl+V");
            default: logged at INFO. The engine should turn it into a ``Notice`` event.
        command: the copy command (default: :func:`clipboard_command`).

    Raises:
        TypingError: no clipboard tool for this session (install xclip, xsel or wl-clipboard).
    """

    name = "clipboard"

    def __init__(self, on_notice: Optional[Callable[[str], None]] = None, command: Optional[Sequence[str]] = None
                 ) -> None:
        cmd = list(command) if command else clipboard_command()
        if not cmd:
            raise TypingError("No clipboard to put dictated text on: xclip, xsel or wl-copy is needed.",
                              "Install xclip (X11) or wl-clipboard (Wayland).")
        self.command = cmd
        self.on_notice = on_notice or (lambda msg: log.info("%s", msg))

    def type_text(self, text: str) -> None:
        """Copy ``text`` to the clipboard and tell the user to paste it.

        Raises:
            TypingError: the copy command failed.
        """
        if not text:
            return
        try:
            # xclip/xsel fork a child that serves the selection; do not wait for it
            subprocess.run(self.command, input=text.encode(), check=True, timeout=10,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
            raise TypingError(f"Cannot copy to the clipboard with {self.command[0]}: {exc}", "") from exc
        self.on_notice(f"Dictated text is on the clipboard ({len(text)} characters): press Ctrl+V to paste it.")

    def backspace(self, count: int) -> None:
        """Cannot delete pasted text: tells the user how many characters to delete."""
        if count > 0:
            self.on_notice(f"Delete the last {count} characters yourself (the clipboard cannot delete).")

    def press(self, key: str) -> None:
        """Tells the user which key to press."""
        self.on_notice(f"Press {key}.")


class FileTypist(Typist):
    """"Dictate to file": append the text to a UTF-8 text file (no window, no focus needed).

    Backspaces remove the last characters this typist appended ("scratch that"), never
    text that was in the file before. The file is created with mode 0600 (it holds what
    the user said).

    Args:
        path: the text file; its folder must exist.

    Raises:
        TypingError: the file cannot be opened or written (message names the path).
    """

    name = "file"

    def __init__(self, path) -> None:
        self.path = os.fspath(path)
        self._appended = ""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise TypingError(f"Cannot write dictation to {self.path}: {exc.strerror}",
                              "Choose a file in a folder you can write to.") from exc
        os.close(fd)

    def type_text(self, text: str) -> None:
        """Append ``text`` (``"\n"`` as a line break).

        Raises:
            TypingError: the write failed (disk full, file removed read-only).
        """
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise TypingError(f"Cannot write dictation to {self.path}: {exc.strerror}", "") from exc
        self._appended += text

    def backspace(self, count: int) -> None:
        """Remove the last ``count`` characters appended by this typist (fewer if it
        appended fewer).

        Raises:
            TypingError: the file cannot be rewritten.
        """
        count = min(count, len(self._appended))
        if count <= 0:
            return
        try:
            with open(self.path, "r+", encoding="utf-8") as f:
                text = f.read()
                f.seek(0)
                f.write(text[: len(text) - count])
                f.truncate()
        except OSError as exc:
            raise TypingError(f"Cannot correct {self.path}: {exc.strerror}", "") from exc
        self._appended = self._appended[: len(self._appended) - count]

    def press(self, key: str) -> None:
        """Return and Tab become ``"\n"`` and ``"\t"``; other keys are ignored."""
        text = {v: k for k, v in SPECIAL_KEYS.items()}.get(key, "")
        if text and text != "\b":
            self.type_text(text)
        elif key == "BackSpace":
            self.backspace(1)


def session_backend(env: Optional[Mapping[str, str]] = None) -> str:
    """The automatic choice for this session: ``"wtype"`` on Wayland
    (``XDG_SESSION_TYPE=wayland`` or ``WAYLAND_DISPLAY`` set) when wtype is installed,
    ``"xtest"`` when ``DISPLAY`` is set (X11, or XWayland when wtype is missing),
    else ``"clipboard"``."""
    env = os.environ if env is None else env
    wayland = env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))
    if wayland and shutil.which("wtype"):
        return "wtype"
    if env.get("DISPLAY"):
        return "xtest"  # on Wayland without wtype: XWayland reaches only X11 windows
    return "clipboard"


def choose_typist(backend: str = "auto", *, display: Optional[str] = None,
                  on_notice: Optional[Callable[[str], None]] = None) -> Typist:
    """Make the typing backend: ``backend`` (the setting) or, for ``"auto"``,
    :func:`session_backend`.

    Raises:
        ValueError: unknown ``backend``.
        TypingError: the backend cannot work here (no display, tool missing), with what
            to do.
    """
    if backend not in BACKENDS:
        raise ValueError(f"typing backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    name = session_backend() if backend == "auto" else backend
    if name == "xtest":
        return XTestTypist(display)
    if name == "wtype":
        return WtypeTypist()
    return ClipboardTypist(on_notice)
