"""The hotkey capture button and the chord helpers (pynput chord syntax ↔ Qt keys ↔ the
text a user reads): ``<ctrl>+<alt>+h`` ↔ ``Ctrl+Alt+H``."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QPushButton, QWidget

from ui.a11y import announce


_QT_TO_PYNPUT = {
    Qt.Key.Key_Space: "<space>", Qt.Key.Key_Tab: "<tab>", Qt.Key.Key_Return: "<enter>", Qt.Key.Key_Enter: "<enter>",
    Qt.Key.Key_Home: "<home>", Qt.Key.Key_End: "<end>", Qt.Key.Key_PageUp: "<page_up>",
    Qt.Key.Key_PageDown: "<page_down>", Qt.Key.Key_Insert: "<insert>", Qt.Key.Key_Delete: "<delete>",
    Qt.Key.Key_Pause: "<pause>", Qt.Key.Key_Print: "<print_screen>", Qt.Key.Key_ScrollLock: "<scroll_lock>",
    Qt.Key.Key_Up: "<up>", Qt.Key.Key_Down: "<down>", Qt.Key.Key_Left: "<left>", Qt.Key.Key_Right: "<right>",
    Qt.Key.Key_Backspace: "<backspace>", Qt.Key.Key_Menu: "<menu>",
}
_MODS = ((Qt.KeyboardModifier.ControlModifier, "<ctrl>", "Ctrl"), (Qt.KeyboardModifier.AltModifier, "<alt>", "Alt"),
         (Qt.KeyboardModifier.ShiftModifier, "<shift>", "Shift"), (Qt.KeyboardModifier.MetaModifier, "<cmd>", "Meta"))
_MODIFIER_KEYS = {Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Shift, Qt.Key.Key_Meta, Qt.Key.Key_AltGr,
                  Qt.Key.Key_Super_L, Qt.Key.Key_Super_R, Qt.Key.Key_CapsLock, Qt.Key.Key_NumLock}


def chord_from_key(key: int, modifiers) -> str | None:
    """pynput chord (``<ctrl>+<alt>+h``) for a Qt key press, or None for keys that cannot
    be a hotkey (a bare modifier)."""
    key = Qt.Key(key)
    if key in _MODIFIER_KEYS:
        return None
    if Qt.Key.Key_F1 <= key <= Qt.Key.Key_F24:
        name = f"<f{key - Qt.Key.Key_F1 + 1}>"
    elif key in _QT_TO_PYNPUT:
        name = _QT_TO_PYNPUT[key]
    elif Qt.Key.Key_A <= key <= Qt.Key.Key_Z or Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
        name = chr(key).lower()
    elif 0x20 < key < 0x7F:
        name = chr(key).lower()
    else:
        return None
    mods = [p for m, p, _ in _MODS if modifiers & m]
    return "+".join([*mods, name])


def chord_label(chord: str) -> str:
    """Human form of a pynput chord: ``<ctrl>+<alt>+h`` → ``Ctrl+Alt+H``."""
    names = {"<ctrl>": "Ctrl", "<alt>": "Alt", "<shift>": "Shift", "<cmd>": "Meta", "<space>": "Space",
             "<enter>": "Enter", "<page_up>": "PgUp", "<page_down>": "PgDown", "<print_screen>": "Print"}
    parts = []
    for part in chord.split("+"):
        if part in names:
            parts.append(names[part])
        elif part.startswith("<") and part.endswith(">"):
            parts.append(part[1:-1].replace("_", " ").title())
        else:
            parts.append(part.upper())
    return "+".join(parts)


def qt_sequence(chord: str) -> QKeySequence:
    """The chord as a Qt key sequence (for the in-window shortcut)."""
    return QKeySequence(chord_label(chord).replace("PgUp", "PgUp").replace("Enter", "Return"))


class HotkeyCapture(QPushButton):
    """Shows the hotkey; press it (Enter/Space/click), then press the new key combination.
    Escape cancels; a modifier alone is not accepted. ``purpose`` names the hotkey in the
    description a screen reader reads ("Global hotkey", "Dictation hotkey")."""

    chord_changed = Signal(str)

    def __init__(self, chord: str = "<ctrl>+<alt>+h", parent: QWidget | None = None, *,
                 purpose: str = "Global hotkey") -> None:
        super().__init__(parent)
        self._chord = chord
        self.purpose = purpose
        self.capturing = False
        # A plain push button (not checkable: that made it a "check box" / toggle button for
        # screen readers); its accessible name is what it shows, the combination or the prompt.
        self.clicked.connect(self._begin)
        self._refresh()

    @property
    def chord(self) -> str:
        """The hotkey in pynput syntax."""
        return self._chord

    def set_chord(self, chord: str) -> None:
        """Show ``chord`` (pynput syntax) as the hotkey."""
        self._chord = chord
        self._refresh()

    PROMPT = "Press the new key combination…"

    def _refresh(self) -> None:
        self.setDown(self.capturing)
        text = self.PROMPT if self.capturing else chord_label(self._chord)
        self.setText(text)
        self.setAccessibleName(text)
        if self.capturing:
            desc = f"Recording a new {self.purpose.lower()} (now {chord_label(self._chord)}): press it; Escape cancels."
        else:
            desc = (f"{self.purpose}, now {chord_label(self._chord)}. Activate this button, then press the new key "
                    "combination; Escape cancels.")
        self.setAccessibleDescription(desc)
        self.setToolTip(desc)
        if self.capturing:
            announce(self, self.PROMPT, assertive=True)

    def _begin(self) -> None:
        self.capturing = True
        self._refresh()
        self.grabKeyboard()

    def _end(self) -> None:
        self.capturing = False
        self.releaseKeyboard()
        self._refresh()

    def focusOutEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.capturing:
            self._end()
        super().focusOutEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if not self.capturing:
            super().keyPressEvent(event)
            return
        if event.key() == Qt.Key.Key_Escape and not event.modifiers():
            self._end()
            return
        chord = chord_from_key(event.key(), event.modifiers())
        if chord is None:
            return
        self._chord = chord
        self._end()
        self.chord_changed.emit(chord)
