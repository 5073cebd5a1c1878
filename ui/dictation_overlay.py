"""The dictation overlay: a small always-on-top panel at the bottom centre of the primary
screen while dictation mode is on (issue 11).

It shows that dictation is on and how to leave it, the last committed words (text that has
been, or is being, typed into the focused application) and the unstable tail of the current
hypothesis (shown dimmed and italic; never typed, it may still change).

The overlay must never take the keyboard focus: the text goes to whatever window had it.
So it is a frameless tool window with ``Qt.WindowDoesNotAcceptFocus`` and
``WA_ShowWithoutActivating``, and it lets mouse clicks pass through to the window below
(``WA_TransparentForMouseEvents``); dictation is stopped with the hotkey, the tray menu, the
main window's Dictate button or by saying "stop dictation".

Screen readers: the overlay is named "Dictation"; starting and stopping are announced
(politely), the tail is not (a screen reader would fall behind the speaker), but the
labels' accessible names follow their text like every :class:`~ui.a11y.StatusLabel`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from ui.a11y import StatusLabel, acc, announce

#: what the overlay's headline says while dictating
HEADLINE = "Dictation on — say “stop dictation”"

#: how much of the committed text the overlay keeps on show (characters, whole words)
COMMITTED_CHARS = 80

#: what the typing backends mean for the user (DictationStarted.backend)
BACKEND_TEXT = {
    "xtest": "typing into the focused window",
    "wtype": "typing into the focused window",
    "clipboard": "text goes to the clipboard: paste it with Ctrl+V",
    "file": "text is written to a file",
    "none": "nothing can be typed here",
}

#: why dictation ended (DictationStopped.reason), for the announcement
STOP_TEXT = {
    "user": "Dictation off.",
    "voice": "Dictation off.",
    "silence": "Dictation off after a long silence.",
    "error": "Dictation stopped: typing failed.",
    "command": "Dictation off.",
}

OVERLAY_FLAGS = (Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
                 | Qt.WindowType.WindowDoesNotAcceptFocus)


def last_words(text: str, limit: int = COMMITTED_CHARS) -> str:
    """The end of ``text`` that fits in ``limit`` characters, cut at a word boundary
    (with a leading "…" when something was cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    if 0 <= space < len(cut) - 1:
        cut = cut[space + 1:]
    return "…" + cut


class DictationOverlay(QWidget):
    """The always-on-top dictation panel; it never takes the focus.

    Connect it to an :class:`~ui.controller.EngineController` with :meth:`attach` (or call
    :meth:`on_started` / :meth:`on_heard` / :meth:`on_stopped` yourself).

    Attributes:
        committed: all text committed since dictation started (the overlay shows its end).
        tail: the unstable tail shown now.
        backend: the typing backend of this dictation ("" before the first start).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, OVERLAY_FLAGS)
        self.setObjectName("dictation-overlay")
        self.setWindowTitle("Dictation")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_X11DoNotAcceptFocus, True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        acc(self, "Dictation", "Dictation mode is on: what you say is typed into the focused application. "
                               "Say “stop dictation” or press the dictation hotkey to stop.", tooltip=False)
        self.committed = ""
        self.tail = ""
        self.backend = ""
        frame = QFrame(self)
        frame.setObjectName("dictation-frame")
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        frame.setAutoFillBackground(True)
        self.headline = QLabel(HEADLINE)
        f = QFont(self.headline.font())
        f.setBold(True)
        self.headline.setFont(f)
        self.headline.setAccessibleName(HEADLINE)
        self.backend_label = StatusLabel("", "How dictated text reaches the focused application.", wrap=False)
        self.committed_label = StatusLabel("", "The last words typed by dictation.", wrap=True)
        self.tail_label = StatusLabel("", "Words still being recognised: they may change and are not typed yet.",
                                      wrap=True)
        italic = QFont(self.tail_label.font())
        italic.setItalic(True)
        self.tail_label.setFont(italic)
        self.tail_label.setEnabled(False)  # dimmed: the tail is not final
        for label in (self.headline, self.backend_label, self.committed_label, self.tail_label):
            label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        inner = QVBoxLayout(frame)
        inner.addWidget(self.headline)
        inner.addWidget(self.backend_label)
        inner.addWidget(self.committed_label)
        inner.addWidget(self.tail_label)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 48)

    # ------------------------------------------------------------------ wiring
    def attach(self, controller) -> None:
        """Follow ``controller``'s dictation signals (an
        :class:`~ui.controller.EngineController`)."""
        controller.dictation_started.connect(self.on_started)
        controller.dictation_heard.connect(self.on_heard)
        controller.dictation_stopped.connect(self.on_stopped)

    # ------------------------------------------------------------------ dictation events
    def on_started(self, source: str = "", backend: str = "") -> None:
        """Dictation mode began: clear the text, show the overlay (without activating it)."""
        self.committed = ""
        self.backend = backend
        self.committed_label.setText("")
        self.set_tail("")
        self.backend_label.setText(BACKEND_TEXT.get(backend, f"typing with {backend}") if backend else "")
        self.backend_label.setVisible(bool(backend))
        self.show_overlay()
        announce(self, "Dictation on.")

    def on_heard(self, committed: str = "", tail: str = "") -> None:
        """A dictation update: ``committed`` is newly committed text (added to the shown
        end of the committed text), ``tail`` the unstable rest of the hypothesis."""
        if committed:
            joined = self.committed + committed
            if self.committed and not self.committed[-1].isspace() and not committed[0].isspace() \
                    and committed[0].isalnum():
                joined = self.committed + " " + committed
            self.committed = joined
            self.committed_label.setText(last_words(self.committed))
        self.set_tail(tail)
        if not self.isVisible():  # an update after the overlay was closed by hand: dictation is on
            self.show_overlay()

    def on_stopped(self, reason: str = "user", typed_chars: int = 0) -> None:
        """Dictation mode ended: hide the overlay and announce why."""
        self.set_tail("")
        self.hide()
        announce(self, STOP_TEXT.get(reason, "Dictation off."))

    def set_tail(self, tail: str) -> None:
        """Show the unstable tail ``tail`` ("" hides the line)."""
        self.tail = tail.strip()
        self.tail_label.setText(self.tail)
        self.tail_label.setVisible(bool(self.tail))

    # ------------------------------------------------------------------ placement
    def show_overlay(self) -> None:
        """Show the overlay at the bottom centre of the primary screen, without taking the
        focus from the window that has it."""
        self.adjustSize()
        self.place()
        self.show()
        self.raise_()  # above other windows; raising never activates

    def place(self) -> None:
        """Move to the bottom centre of the primary screen's available area."""
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        size = self.sizeHint().expandedTo(self.minimumSize())
        width = min(max(size.width(), area.width() // 3), area.width())
        self.resize(width, size.height())
        margin = self.fontMetrics().height() * 2
        self.move(area.x() + (area.width() - width) // 2, area.y() + area.height() - size.height() - margin)


__all__ = ["DictationOverlay", "HEADLINE", "OVERLAY_FLAGS", "last_words"]
