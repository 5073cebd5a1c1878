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


def acc(widget: W, name: str, description: str = "", *, tooltip: bool = True) -> W:
    """Set ``widget``'s accessible name and description (and its tooltip); return it."""
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
    return widget.focusPolicy() != Qt.FocusPolicy.NoFocus and type(widget).__module__.startswith("ui.")


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
