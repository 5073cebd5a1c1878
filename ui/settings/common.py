"""Building blocks shared by the settings pages: the page base class, form rows whose
label names the field, the slider row with its unit, and the model picker (a combo box of
models with an "own model" button beside it).

Layout rule (accessibility): a field and its buddy label must be siblings (same parent
widget), which is how Qt finds the label for the AT-SPI ``labelled-by`` relation; so rows
are built from layouts, never from wrapper widgets, except :class:`SliderRow`, whose slider
gets its buddy label through the row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from assistant.settings import Settings
from ui.a11y import acc, plain
from ui.ui_settings import UISettings


def form_layout() -> QFormLayout:
    """A form layout whose fields grow and whose long rows wrap (large text sizes)."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


def note(text: str) -> QLabel:
    """A wrapped, mouse-selectable explanatory paragraph."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def labelled(form: QFormLayout, text: str, widget: QWidget, field: Any = None) -> QWidget:
    """Add a form row: the label ``text`` (its mnemonic focuses ``widget``) and ``field``
    (default ``widget``; a layout holding it, e.g. with a button beside it). ``widget`` is
    named by the label's text. The label and ``widget`` end up siblings (same parent), which
    is how Qt finds the buddy label for the AT-SPI ``labelled-by`` relation. Returns ``widget``."""
    label = QLabel(text)
    label.setBuddy(widget)
    widget.setAccessibleName(plain(text))
    form.addRow(label, widget if field is None else field)
    return widget


def button_row(form: QFormLayout, text: str, widget: QWidget, button: QPushButton) -> QWidget:
    """Add a form row labelled ``text`` with ``widget`` stretched and ``button`` beside it
    (e.g. a device list and "Refresh devices"); returns ``widget``."""
    row = QHBoxLayout()
    row.addWidget(widget, 1)
    row.addWidget(button)
    return labelled(form, text, widget, row)


class SettingsPage(QWidget):
    """One page of the settings dialog.

    A page builds its widgets from the :class:`~assistant.settings.Settings` /
    :class:`~ui.ui_settings.UISettings` it is given, writes the edited values back with
    :meth:`write`, and lists what cannot be saved with :meth:`validate`. The dialog calls
    :meth:`page_shown` / :meth:`page_hidden` when the page becomes / stops being the current
    one, and :meth:`close_page` once when the dialog closes (stop workers there).
    """

    def write(self, settings: Settings, ui: UISettings) -> None:
        """Write the values edited on the page into ``settings`` and ``ui`` (copies owned by
        the caller). May raise pydantic's ``ValidationError`` for an out-of-range value."""

    def validate(self) -> list[str]:
        """Problems that keep the page's values from being saved (empty: all valid)."""
        return []

    def page_shown(self) -> None:
        """The page became the current page of a visible dialog."""

    def page_hidden(self) -> None:
        """Another page became the current one."""

    def close_page(self) -> None:
        """The dialog is closing: stop anything the page runs."""


class SliderRow(QWidget):
    """A slider with its value shown as text.

    The slider counts in the unit it shows (dB, %), so the value a screen reader gets from
    it (the AT-SPI Value interface, UIA RangeValue) is the real value, not a step number:
    ``lo``, ``hi``, ``step`` are integers in that unit, ``scale`` converts it to the setting
    (``0.01`` for a percentage of 1.0), ``fmt`` formats the unit value (``"+0 dB"``). The
    accessible description starts with that text; the name comes from the row's label.
    """

    def __init__(self, lo: int, hi: int, step: int, value: float, scale: float, fmt: Callable[[int], str],
                 description: str) -> None:
        super().__init__()
        self.scale, self.fmt, self.help = scale, fmt, description
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.slider.setSingleStep(step)
        self.slider.setPageStep(max(step, (hi - lo) // 10))
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0000 ms ×"))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.value_label)
        self.value_label.setAccessibleDescription(description)
        self.slider.setToolTip(description)
        self.slider.valueChanged.connect(self._changed)
        self.set_value(value)

    def value(self) -> float:
        """The setting's value (slider units times ``scale``)."""
        return round(self.slider.value() * self.scale, 6)

    def text(self) -> str:
        """The value as shown, with its unit."""
        return self.fmt(self.slider.value())

    def set_value(self, v: float) -> None:
        """Show the setting's value ``v`` (rounded to the slider's unit)."""
        self.slider.setValue(int(round(v / self.scale)))
        self._changed()

    def _changed(self, *_: Any) -> None:
        text = self.text()
        self.value_label.setText(text)
        self.value_label.setAccessibleName(text)
        self.slider.setAccessibleDescription(f"{text}. {self.help}")

    def add_to(self, form: QFormLayout, label: str) -> SliderRow:
        """Add this row to ``form`` under ``label`` (which names the slider); returns self."""
        labelled(form, label, self.slider, self)
        return self


class ModelPicker:
    """A form row choosing a model: a combo box of the known models (``choices``: pairs of
    shown text and setting value) plus the user's own one, and a button that asks for an own
    model file or folder (``ask(parent)`` returns its path, or "" when cancelled).

    ``combo`` is named by the row's ``label``; ``button`` by ``button_name``. A current
    value not among the choices is added as ``own_text(value)``.
    """

    def __init__(self, form: QFormLayout, label: str, *, name: str, description: str,
                 choices: Iterable[tuple[str, str]], current: str, button_text: str, button_name: str,
                 button_description: str, ask: Callable[[QWidget], str],
                 own_text: Callable[[str], str] = str) -> None:
        self.combo = acc(QComboBox(), name, description)
        self.own_text = own_text
        self.ask = ask
        for text, value in choices:
            self.combo.addItem(text, value)
        if self.combo.findData(current) < 0:
            self.combo.addItem(own_text(current), current)
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)))
        self.button = acc(QPushButton(button_text), button_name, button_description)
        self.button.clicked.connect(self.choose)
        button_row(form, label, self.combo, self.button)

    def value(self) -> str:
        """The chosen model (a known name, or a path)."""
        return self.combo.currentData()

    def add_own(self, path: str | Path) -> None:
        """Add the own model ``path`` to the list and choose it."""
        self.combo.addItem(self.own_text(str(path)), str(path))
        self.combo.setCurrentIndex(self.combo.count() - 1)

    def choose(self) -> None:
        """Ask for an own model (the button); choose it unless cancelled."""
        path = self.ask(self.combo.window())
        if path:
            self.add_own(path)
