"""Accessibility helpers: every control gets an accessible name and description.

Screen readers (Orca through AT-SPI on Linux, Narrator/NVDA through UI Automation on
Windows, VoiceOver on macOS) read ``accessibleName`` as the control's label and
``accessibleDescription`` as the longer help text; the tooltip repeats the description for
sighted mouse users.
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)
from PySide6.QtCore import Qt

W = TypeVar("W", bound=QWidget)


def plain(text: str) -> str:
    """A visible label as a screen reader should say it: mnemonic ampersands and a trailing
    colon removed (``"Input &gain:"`` -> ``"Input gain"``; ``"&&"`` stays one ``"&"``)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").strip().rstrip(":").strip()


def acc(widget: W, name: str, description: str = "", *, tooltip: bool = True) -> W:
    """Set ``widget``'s accessible name and description (and its tooltip); return it.

    A button that shows text is named by that text (``name`` is then ignored), so the
    name a screen reader says and voice control listens for is the label a sighted user
    sees."""
    if isinstance(widget, QAbstractButton) and widget.text():
        name = plain(widget.text())
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(description or name)
    if tooltip and description and not widget.toolTip():
        widget.setToolTip(description)
    return widget


INTERACTIVE = (QAbstractButton, QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit,
               QTextEdit, QPlainTextEdit)


def is_internal(widget: QWidget) -> bool:
    """True for parts Qt builds inside a composite control (a spin box's line edit, a combo
    box's popup list, scroll bars of a scroll area): the composite control carries the name."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, (QAbstractSpinBox, QComboBox, QAbstractItemView, QLineEdit)):
            return True
        if parent.objectName() in ("qt_scrollarea_vcontainer", "qt_scrollarea_hcontainer"):
            return True
        if type(parent).__name__ == "QComboBoxPrivateContainer":
            return True
        parent = parent.parentWidget()
    return widget.objectName().startswith("qt_")


def is_interactive(widget: QWidget) -> bool:
    """True for widgets a user operates (buttons, inputs, lists, sliders) or that take focus."""
    if isinstance(widget, INTERACTIVE):
        return True
    # a Tab stop of our own making (a selectable status label only takes click focus)
    return bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus) and type(widget).__module__.startswith("ui.")


def unnamed_controls(root: QWidget) -> list[str]:
    """Describe every interactive, non-internal widget under (and including) ``root`` that has
    no accessible name or no accessible description. Empty list = all labelled."""
    missing = []
    for w in [root, *root.findChildren(QWidget)]:
        if not is_interactive(w) or is_internal(w):
            continue
        if not w.accessibleName().strip() or not w.accessibleDescription().strip():
            label = getattr(w, "text", lambda: "")() if hasattr(w, "text") else ""
            missing.append(f"{type(w).__name__} objectName={w.objectName()!r} text={label!r} "
                           f"name={w.accessibleName()!r} description={w.accessibleDescription()!r}")
    return missing


def announce(widget: QWidget, text: str, *, assertive: bool = False) -> None:
    """Ask screen readers to speak ``text`` now, like an ARIA live region (Qt >= 6.8
    ``QAccessibleAnnouncementEvent``: the AT-SPI ``Announcement`` signal on Linux, a UIA
    notification on Windows). Does nothing when no assistive technology is active."""
    try:
        from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent

        if QAccessible.isActive() and text:
            ev = QAccessibleAnnouncementEvent(widget, text)
            if assertive:
                ev.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive)
            QAccessible.updateAccessibility(ev)
    except Exception:  # noqa: BLE001 - older Qt without announcements
        pass


class StatusLabel(QLabel):
    """A label whose text is a status that changes ("Saved to … and applied.", "Thinking").

    Its accessible name is always its visible text, so a screen reader reads the status
    itself, and every change fires the ``NameChanged`` accessibility event (AT-SPI
    ``object:property-change:accessible-name``). With ``live=True`` a change is also
    announced (:func:`announce`), like an ARIA live region. The accessible description
    says what the status is about."""

    def __init__(self, text: str = "", description: str = "", *, live: bool = False, wrap: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live = live
        self.setWordWrap(wrap)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setAccessibleDescription(description)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        """Show ``text``; the accessible name follows (and is announced if live)."""
        changed = text != self.text()
        super().setText(text)
        self.setAccessibleName(text)
        if changed and self.live and text:
            announce(self, text)
