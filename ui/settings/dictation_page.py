"""Settings page "Dictation" (``settings.dictation``, issue 11): how dictated text reaches
the focused application (the typing backend), the pause that commits a phrase, when a long
silence ends dictation, punctuation, custom words that bias recognition, replacements
("say X => type Y"), and the local history of dictated text with a button that clears it.
The dictation hotkey itself is on the Hotkey page."""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QPlainTextEdit, QPushButton, QSpinBox

from assistant.settings import Settings
from ui.a11y import StatusLabel, acc
from ui.hotkey_capture import chord_label
from ui.settings.common import SettingsPage, form_layout, labelled, note
from ui.ui_settings import UISettings

#: the typing backends, as the combo box shows them (text, setting value)
TYPING_CHOICES = (
    ("Automatic (XTest on X11, wtype on Wayland, else the clipboard)", "auto"),
    ("XTest (X11: types as if on the keyboard)", "xtest"),
    ("wtype (wlroots Wayland compositors)", "wtype"),
    ("Clipboard (you paste with Ctrl+V)", "clipboard"),
)

#: separates what is said from what is typed on a replacement line
ARROW = "=>"


def replacements_text(replacements: dict[str, str]) -> str:
    """Replacements as the text box shows them: one ``say => type`` line each."""
    return "\n".join(f"{say} {ARROW} {typed}" for say, typed in replacements.items())


def parse_replacements(text: str) -> tuple[dict[str, str], list[str]]:
    """Read ``say => type`` lines (blank lines skipped). Returns the replacements and the
    problems (a line without ``=>`` or with nothing to say); a later line for the same
    spoken words wins."""
    out: dict[str, str] = {}
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        say, arrow, typed = line.partition(ARROW)
        if not arrow:
            problems.append(f"replacement line {n} needs “{ARROW}” between what you say and what is typed")
        elif not say.strip():
            problems.append(f"replacement line {n} says nothing before “{ARROW}”")
        else:
            out[" ".join(say.split())] = typed.strip()
    return out, problems


def parse_words(text: str) -> list[str]:
    """Custom words, one per line: stripped, blank lines and repeats dropped, order kept."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        word = " ".join(line.split())
        if word:
            seen.setdefault(word, None)
    return list(seen)


class DictationPage(SettingsPage):
    """The dictation settings (``settings.dictation``).

    Args:
        settings: the settings shown.
        clear_history: called by the "Clear history" button with a callback to run once the
            history is gone (the controller's
            :meth:`~ui.controller.EngineController.clear_dictation_history`); None disables it.
    """

    def __init__(self, settings: Settings, clear_history: Callable[[Callable[[], None]], None] | None = None) -> None:
        super().__init__()
        d = settings.dictation
        self.clear_history = clear_history
        form = form_layout()
        form.addRow(note(f"Dictation types what you say into the application that has the focus. Start and stop it "
                         f"with the dictation hotkey ({chord_label(d.hotkey) if d.hotkey else 'none'}; change it "
                         "on the Hotkey page), the tray menu, the Dictate button, or say “start dictation” and "
                         "“stop dictation”."))
        self.typing = QComboBox()
        for text, value in TYPING_CHOICES:
            self.typing.addItem(text, value)
        self.typing.setCurrentIndex(max(0, self.typing.findData(d.typing)))
        labelled(form, "&Typing method:", self.typing)
        self.typing.setAccessibleDescription("How dictated text reaches the focused application.")
        self.pause = QDoubleSpinBox()
        self.pause.setRange(0.2, 3.0)
        self.pause.setSingleStep(0.1)
        self.pause.setDecimals(1)
        self.pause.setSuffix(" s")
        self.pause.setValue(d.pause_s)
        labelled(form, "&Pause that ends a phrase:", self.pause)
        self.pause.setAccessibleDescription("After a pause this long the phrase's words are typed.")
        self.silence = QSpinBox()
        self.silence.setRange(0, 3600)
        self.silence.setSingleStep(5)
        self.silence.setSuffix(" s")
        self.silence.setSpecialValueText("Never")
        self.silence.setValue(int(round(d.stop_after_silence_s)))
        labelled(form, "&Leave dictation after silence:", self.silence)
        self.silence.setAccessibleDescription("Dictation ends by itself after this long without speech; "
                                              "Never keeps it on until you stop it.")
        self.punctuation = acc(QCheckBox("Keep the recogniser's p&unctuation"), "",
                               "On: Whisper's own commas and full stops are typed. Off: only punctuation you say "
                               "(“comma”, “full stop”, “new line”) is typed.")
        self.punctuation.setChecked(d.auto_punctuation)
        form.addRow(self.punctuation)
        self.words = QPlainTextEdit("\n".join(d.words))
        self.words.setTabChangesFocus(True)
        self.words.setPlaceholderText("One word or name per line, e.g. Kubernetes")
        self.words.setMaximumHeight(self.fontMetrics().height() * 6)
        labelled(form, "Custom &words:", self.words)
        self.words.setAccessibleDescription("Words and names that dictation should recognise, one per line.")
        self.replacements = QPlainTextEdit(replacements_text(d.replacements))
        self.replacements.setTabChangesFocus(True)
        self.replacements.setPlaceholderText(f"say {ARROW} type, one per line, e.g. my email {ARROW} me@example.org")
        self.replacements.setMaximumHeight(self.fontMetrics().height() * 6)
        labelled(form, "&Replacements:", self.replacements)
        self.replacements.setAccessibleDescription(
            f"One per line: what you say, then {ARROW}, then what is typed instead.")
        self.keep_history = acc(QCheckBox("&Keep a history of dictated text"), "",
                                "Keep what was dictated in a private file on this computer (readable only by you).")
        self.keep_history.setChecked(d.keep_history)
        form.addRow(self.keep_history)
        self.clear_button = acc(QPushButton("Clear &history"), "", "Delete the dictation history now.")
        self.clear_button.setEnabled(clear_history is not None)
        self.clear_button.clicked.connect(self.clear)
        form.addRow(self.clear_button)
        self.history_status = StatusLabel("", "Whether the dictation history was cleared.", live=True)
        form.addRow(self.history_status)
        self.setLayout(form)

    def clear(self) -> None:
        """The "Clear history" button: ask the engine to delete the dictation history
        (:meth:`history_cleared` is called when it is gone)."""
        if self.clear_history is not None:
            self.history_status.setText("Clearing the dictation history…")
            self.clear_history(self.history_cleared)

    def history_cleared(self) -> None:
        """The dictation history has been deleted: say so."""
        try:
            self.history_status.setText("The dictation history was cleared.")
        except RuntimeError:  # the dialog was closed meanwhile
            pass

    def validate(self) -> list[str]:
        """Replacement lines that cannot be read (no "=>", nothing said before it)."""
        return parse_replacements(self.replacements.toPlainText())[1]

    def write(self, settings: Settings, ui: UISettings) -> None:
        """Write the page's values into ``settings.dictation``."""
        d = settings.dictation
        d.typing = self.typing.currentData()
        d.pause_s = round(self.pause.value(), 1)
        d.stop_after_silence_s = float(self.silence.value())
        d.auto_punctuation = self.punctuation.isChecked()
        d.words = parse_words(self.words.toPlainText())
        d.replacements = parse_replacements(self.replacements.toPlainText())[0]
        d.keep_history = self.keep_history.isChecked()


__all__ = ["DictationPage", "TYPING_CHOICES", "parse_replacements", "parse_words", "replacements_text"]
