"""The settings panel: one page per topic, saved to ``settings.toml`` (engine) and
``ui.toml`` (app) and applied live through :meth:`ui.controller.EngineController.apply_settings`.

Each page is its own class in :mod:`ui.settings` (a :class:`~ui.settings.common.SettingsPage`:
built from the settings, writes them back, validates); this dialog only composes them.

Keyboard: the page list on the left has the focus when the dialog opens; Up/Down (or
Ctrl+PgDown / Ctrl+PgUp from anywhere in the dialog, which also put the focus back on the
page list and announce the page) switch pages, Tab moves into the page. Every field is named
by its label (see ``docs/accessibility.md``); no mnemonic repeats on a page or clashes with
OK (O), Apply (A) and Cancel (C).
Anything slow (listing audio devices, loading the skills, recording the microphone test,
loading a voice for the preview) runs on a worker thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from assistant.settings import Settings
from ui.a11y import StatusLabel, acc, announce
from ui.latency import LatencyPage
from ui.settings.appearance_page import AppearancePage
from ui.settings.asr_page import SpeechPage
from ui.settings.audio_page import MicrophonePage
from ui.settings.common import SettingsPage
from ui.settings.dictation_page import DictationPage
from ui.settings.hotkey_page import HotkeyPage
from ui.settings.skills_page import SkillsPage
from ui.settings.voice_page import VoicePage
from ui.settings.wake_page import WakePage
from ui.ui_settings import UISettings


def finished_traces(controller: Any) -> list:
    """The finished interaction traces (oldest first), as the controller collected them
    from the engine's ``TraceWritten`` events."""
    return list(controller.traces)


class SettingsDialog(QDialog):
    """Settings panel over an :class:`~ui.controller.EngineController`.

    Args:
        controller: the engine controller; its ``settings`` / ``ui_settings`` are copied and
            edited, :meth:`apply` hands the result to its ``apply_settings``.
        hotkey: the global hotkey backend (its ``message`` is shown on the Hotkey page), or None.
        parent: the parent window.
        dictation_status: what the dictation hotkey's backend says (shown on the Hotkey page).

    The pages are attributes: ``audio_page``, ``voice_page``, ``wake_page``, ``asr_page``,
    ``hotkey_page``, ``dictation_page``, ``skills_page``, ``latency`` and ``appearance_page``, in
    :attr:`PAGES` order.
    """

    PAGES = ("Microphone", "Voice", "Wake word", "Speech recognition", "Hotkey", "Dictation", "Skills",
             "Latency tracing", "Appearance")

    def __init__(self, controller, hotkey=None, parent: QWidget | None = None, *,
                 dictation_status: str | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings: Settings = controller.settings.model_copy(deep=True)
        self.ui: UISettings = controller.ui_settings.model_copy(deep=True)
        self._cleaned = False
        self.setWindowTitle("Assistant settings")
        self.setObjectName("settings-dialog")
        acc(self, "Assistant settings", "Microphone, voice, wake word, speech recognition, hotkey, dictation, "
                                        "skills, latency tracing and appearance.")
        self.pages = QListWidget()
        self.pages.setObjectName("settings-pages")
        acc(self.pages, "Settings pages", "Choose a page with the Up and Down arrow keys; press Tab to go into it.")
        self.stack = QStackedWidget()
        self.stack.setObjectName("settings-stack")
        self.audio_page = MicrophonePage(self.settings, controller.pool, lambda: controller.mic_running)
        self.voice_page = VoicePage(self.settings, preview=controller.preview_voice)
        self.wake_page = WakePage(self.settings)
        self.asr_page = SpeechPage(self.settings)
        self.hotkey_page = HotkeyPage(self.settings, hotkey.message if hotkey is not None else None,
                                      dictation_status)
        self.dictation_page = DictationPage(self.settings, controller.clear_dictation_history)
        self.skills_page = SkillsPage(self.settings, controller.pool)
        self.latency = LatencyPage(lambda: finished_traces(controller), rows=self.ui.trace_rows)
        self.appearance_page = AppearancePage(self.ui)
        self._widgets: tuple[QWidget, ...] = (self.audio_page, self.voice_page, self.wake_page, self.asr_page,
                                              self.hotkey_page, self.dictation_page, self.skills_page, self.latency,
                                              self.appearance_page)
        #: the pages that edit settings (all but the latency view)
        self.setting_pages: tuple[SettingsPage, ...] = tuple(p for p in self._widgets if isinstance(p, SettingsPage))
        for title, page in zip(self.PAGES, self._widgets):
            page.setObjectName(f"page-{title.lower().replace(' ', '-')}")
            page.setAccessibleName(f"{title} settings")
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes straight to the page's first control
            scroll.setWidget(page)
            scroll.setAccessibleName(f"{title} settings")
            self.stack.addWidget(scroll)
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{title} settings page")
            self.pages.addItem(item)
        fm = self.fontMetrics()
        self.pages.setFixedWidth(max(fm.horizontalAdvance(t) for t in self.PAGES) + fm.height() * 3)
        self.pages.setStyleSheet("QListWidget#settings-pages::item { padding: 6px 4px; }")
        self._current: QWidget | None = None
        self.pages.currentRowChanged.connect(self._page_changed)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Cancel)
        for which, name, desc in (
            (QDialogButtonBox.StandardButton.Ok, "OK", "Save the settings, apply them and close."),
            (QDialogButtonBox.StandardButton.Apply, "Apply", "Save the settings and apply them now."),
            (QDialogButtonBox.StandardButton.Cancel, "Cancel", "Close without saving the changes."),
        ):
            acc(self.buttons.button(which), name, desc)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.status = StatusLabel("", "Whether the settings were saved and applied.", live=True)
        top = QHBoxLayout()
        top.addWidget(self.pages)
        top.addWidget(self.stack, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        QShortcut(QKeySequence("Ctrl+PgDown"), self, activated=lambda: self.step_page(+1))
        QShortcut(QKeySequence("Ctrl+PgUp"), self, activated=lambda: self.step_page(-1))
        self.pages.setCurrentRow(0)
        self.pages.setFocus()
        self.resize(fm.height() * 52, fm.height() * 34)
        controller.settings_applied.connect(self._applied)
        self.audio_page.refresh_devices()
        self.skills_page.load()

    # ------------------------------------------------------------------ navigation
    def go_page(self, index: int | str) -> None:
        """Show page ``index`` (number or title)."""
        if isinstance(index, str):
            index = self.PAGES.index(index)
        self.pages.setCurrentRow(index % len(self.PAGES))

    def step_page(self, delta: int) -> None:
        """Ctrl+PgDown / Ctrl+PgUp: show the next / previous page (wrapping), put the focus on
        the page list (a screen reader then says the new page, "Voice settings page") and
        announce the page's name; Tab then goes into the page."""
        self.go_page(self.pages.currentRow() + delta)
        self.pages.setFocus(Qt.FocusReason.ShortcutFocusReason)
        announce(self, f"{self.current_page()} settings page")

    def current_page(self) -> str:
        """The title of the page shown (one of :attr:`PAGES`)."""
        return self.PAGES[self.stack.currentIndex()]

    def page(self, title: str) -> QWidget:
        """The page titled ``title`` (one of :attr:`PAGES`)."""
        return self._widgets[self.PAGES.index(title)]

    def _page_changed(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        old, new = self._current, self._widgets[row]
        self._current = new
        if isinstance(old, SettingsPage) and old is not new:
            old.page_hidden()
        if isinstance(new, SettingsPage):
            new.page_shown()
        if new is self.latency:
            self.latency.refresh()

    # ------------------------------------------------------------------ collect / apply
    def collect(self) -> tuple[Settings, UISettings]:
        """The settings as edited on the pages (copies). Raises pydantic's
        ``ValidationError`` for an out-of-range value."""
        s = self.settings.model_copy(deep=True)
        ui = self.ui.model_copy(deep=True)
        for page in self.setting_pages:
            page.write(s, ui)
        return s, ui

    def validate(self) -> list[str]:
        """What keeps the edited settings from being saved, from every page (empty: all valid)."""
        return [problem for page in self.setting_pages for problem in page.validate()]

    def apply(self) -> None:
        """Save and apply (live where possible); shows why not when a value is invalid."""
        problems = self.validate()
        if problems:
            self.status.setText("Not saved: " + "; ".join(problems))
            return
        try:
            s, ui = self.collect()
        except Exception as exc:  # pydantic validation of an out-of-range value
            self.status.setText(f"Not saved: {exc}")
            return
        self.settings = s.model_copy(deep=True)
        self.ui = ui.model_copy(deep=True)
        self.status.setText("Saving and applying…")
        self.controller.apply_settings(s, ui)

    def _applied(self, settings: Settings) -> None:
        try:
            from assistant.settings import settings_path

            self.status.setText(f"Saved to {settings_path()} and applied.")
        except RuntimeError:
            pass

    def accept(self) -> None:  # noqa: D102
        self.apply()
        self._cleanup()
        super().accept()

    def reject(self) -> None:  # noqa: D102
        self._cleanup()
        super().reject()

    def _cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        for page in self.setting_pages:
            page.close_page()
        try:
            self.controller.settings_applied.disconnect(self._applied)
        except (RuntimeError, TypeError):
            pass

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self.current_page() == "Microphone":
            QTimer.singleShot(0, self.audio_page.start_monitor)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._cleanup()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        h = self.fontMetrics().height()
        return QSize(h * 52, h * 34)
