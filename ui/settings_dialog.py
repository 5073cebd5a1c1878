"""The settings panel: one page per topic, saved to ``settings.toml`` (engine) and
``ui.toml`` (app) and applied live through :meth:`ui.controller.EngineController.apply_settings`.

Keyboard: the page list on the left has the focus when the dialog opens; Up/Down (or
Ctrl+PgDown / Ctrl+PgUp from anywhere in the dialog, which also put the focus back on the
page list and announce the page) switch pages, Tab moves into the page. Every field is named
by its label (see ``docs/accessibility.md``); no mnemonic repeats on a page or clashes with
OK (O), Apply (A) and Cancel (C).
Anything slow (listing audio devices, loading the skills, recording the microphone test,
loading a voice for the preview) runs on a worker thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QSize, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from assistant.settings import Settings
from ui.a11y import StatusLabel, acc, announce, plain
from ui.latency import LatencyPage
from ui.ui_settings import UISettings
from ui.hotkey_capture import HotkeyCapture
from ui.widgets import LevelMeter
from ui.workers import submit

LANGUAGES = [("Automatic", None), ("English", "en"), ("German", "de"), ("French", "fr"), ("Spanish", "es"),
             ("Italian", "it"), ("Dutch", "nl"), ("Portuguese", "pt"), ("Polish", "pl")]


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _labelled(form: QFormLayout, text: str, widget: QWidget, field: Any = None) -> QWidget:
    """Add a form row: the label ``text`` (its mnemonic focuses ``widget``) and ``field``
    (default ``widget``; a layout holding it, e.g. with a button beside it). ``widget`` is
    named by the label's text. The label and ``widget`` end up siblings (same parent), which
    is how Qt finds the buddy label for the AT-SPI ``labelled-by`` relation."""
    label = QLabel(text)
    label.setBuddy(widget)
    widget.setAccessibleName(plain(text))
    form.addRow(label, widget if field is None else field)
    return widget


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


class MicMonitor(QThread):
    """Opens a microphone and reports its level (dBFS) until stopped; or records ``seconds``
    and returns the audio through ``recorded``."""

    level = Signal(float)
    failed = Signal(str, str)
    recorded = Signal(object)

    def __init__(self, device: str | None, seconds: float = 0.0, gain_db: float = 0.0) -> None:
        super().__init__()
        self.device = device
        self.seconds = seconds
        self.gain_db = gain_db
        self._stop = threading.Event()
        self._source = None

    def run(self) -> None:  # worker thread
        from assistant.audio import MicrophoneSource, dbfs

        try:
            source = MicrophoneSource(self.device, block_ms=80, gain_db=self.gain_db)
            self._source = source
            blocks, got = [], 0
            last = 0.0
            try:
                for block in source.blocks():
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    if now - last > 0.05:
                        last = now
                        self.level.emit(float(dbfs(block)))
                    if self.seconds:
                        blocks.append(block)
                        got += len(block)
                        if got >= self.seconds * 16000:
                            break
            finally:
                source.close()
            if self.seconds:
                self.recorded.emit(np.concatenate(blocks) if blocks else np.zeros(0, np.int16))
        except Exception as exc:  # noqa: BLE001
            from ui.controller import error_text

            if not self._stop.is_set():
                self.failed.emit(*error_text(exc))

    def set_gain(self, gain_db: float) -> None:
        """Change the input gain (dB) of the running capture, so the level meter follows
        the gain slider."""
        self.gain_db = gain_db
        if self._source is not None:
            self._source.gain_db = gain_db

    def stop(self) -> None:
        self._stop.set()
        if self._source is not None:
            self._source.close()


class SettingsDialog(QDialog):
    """Settings panel over an :class:`~ui.controller.EngineController`."""

    PAGES = ("Microphone", "Voice", "Wake word", "Speech recognition", "Hotkey", "Skills", "Latency tracing",
             "Appearance")

    def __init__(self, controller, hotkey=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.hotkey = hotkey
        self.settings: Settings = controller.settings.model_copy(deep=True)
        self.ui: UISettings = controller.ui_settings.model_copy(deep=True)
        self._monitor: MicMonitor | None = None
        self._tester: MicMonitor | None = None
        self._n_inputs = -1
        self.setWindowTitle("Assistant settings")
        self.setObjectName("settings-dialog")
        acc(self, "Assistant settings", "Microphone, voice, wake word, speech recognition, hotkey, skills, "
                                        "latency tracing and appearance.")
        self.pages = QListWidget()
        self.pages.setObjectName("settings-pages")
        acc(self.pages, "Settings pages", "Choose a page with the Up and Down arrow keys; press Tab to go into it.")
        self.stack = QStackedWidget()
        self.stack.setObjectName("settings-stack")
        builders = (self._microphone_page, self._voice_page, self._wake_page, self._asr_page, self._hotkey_page,
                    self._skills_page, self._latency_page, self._appearance_page)
        for title, build in zip(self.PAGES, builders):
            page = build()
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
        self.refresh_devices()
        self._load_skills()

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
        return self.PAGES[self.stack.currentIndex()]

    def _page_changed(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        if self.PAGES[row] == "Microphone":
            self._start_monitor()
        else:
            self._stop_monitor()
        if self.PAGES[row] == "Latency tracing":
            self.latency.refresh()

    # ------------------------------------------------------------------ pages
    def _microphone_page(self) -> QWidget:
        page = QWidget()
        form = _form()
        self.input_device = acc(QComboBox(), "Microphone", "The microphone the assistant listens to.")
        self.output_device = acc(QComboBox(), "Speaker", "Where the assistant's voice is played.")
        for combo in (self.input_device, self.output_device):
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.refresh_button = acc(QPushButton("&Refresh devices"), "Refresh devices",
                                  "List the audio devices again, e.g. after plugging in a headset.")
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(rescan=True))
        row = QHBoxLayout()
        row.addWidget(self.input_device, 1)
        row.addWidget(self.refresh_button)
        _labelled(form, "&Microphone:", self.input_device, row)
        _labelled(form, "&Speaker:", self.output_device)
        self.mic_level = LevelMeter("Microphone level")
        form.addRow("Level:", self.mic_level)
        self.input_gain = SliderRow(
            -20, 30, 1, self.settings.audio.input_gain_db, 1.0, lambda u: f"{u:+d} dB",
            "Amplifies the microphone before the wake word and speech recognition, in decibels. "
            "Raise it if the level meter stays low while you speak; lower it if it hits the top.")
        self.input_gain.slider.valueChanged.connect(self._gain_changed)
        _labelled(form, "Input &gain:", self.input_gain.slider, self.input_gain)
        self.test_button = acc(QPushButton("&Test: record 3 s and play back"), "",
                               "Record three seconds from the chosen microphone and play them back.")
        self.test_button.clicked.connect(self.test_microphone)
        self.test_status = StatusLabel("", "Microphone test result.", live=True)
        self.mic_status = StatusLabel("", "Whether the chosen microphone can be opened.", live=True)
        form.addRow(self.test_button)
        form.addRow(self.test_status)
        form.addRow(self.mic_status)
        self.input_device.currentIndexChanged.connect(lambda *_: self._start_monitor())
        page.setLayout(form)
        return page

    def _voice_page(self) -> QWidget:
        page = QWidget()
        form = _form()
        self.voice = acc(QComboBox(), "Voice", "The Piper voice: the shipped one or voices found in your voice folders.")
        self.add_voice_dir = acc(QPushButton("Add voice &folder…"), "Add voice folder",
                                 "Choose a folder holding Piper .onnx voices with their .onnx.json files.")
        self.add_voice_dir.clicked.connect(self._choose_voice_dir)
        row = QHBoxLayout()
        row.addWidget(self.voice, 1)
        row.addWidget(self.add_voice_dir)
        _labelled(form, "&Voice:", self.voice, row)
        self.speed = SliderRow(50, 200, 5, self.settings.tts.speed, 0.01, lambda u: f"{u} %",
                               "How fast the assistant speaks, in percent of the voice's normal speed.")
        _labelled(form, "Sp&eed:", self.speed.slider, self.speed)
        self.volume = SliderRow(0, 200, 5, self.settings.tts.volume, 0.01, lambda u: f"{u} %",
                                "Loudness of the voice; 100 % is normal.")
        _labelled(form, "Vol&ume:", self.volume.slider, self.volume)
        self.preview_button = acc(QPushButton("&Preview"), "",
                                  "Speak a sample sentence with the chosen voice, speed and volume.")
        self.preview_button.clicked.connect(self.preview_voice)
        form.addRow(self.preview_button)
        self.voice_dirs_label = StatusLabel("", "Folders searched for Piper voices.")
        form.addRow(self.voice_dirs_label)
        form.addRow(_note("Voices are Piper .onnx models with their .onnx.json beside them. The shipped voice is "
                          "en_US joe (medium); Piper is GPL-3.0-or-later."))
        self._fill_voices()
        page.setLayout(form)
        return page

    def _fill_voices(self, select: str | None = None) -> None:
        from models.registry import list_tts_voices

        select = select or self.settings.tts.voice
        self.voice.clear()
        voices = list_tts_voices(self.settings.tts.voice_dirs)
        for label, value in voices.items():
            self.voice.addItem(label, value)
        if select not in voices.values():
            self.voice.addItem(Path(select).stem if "/" in select else select, select)
        self.voice.setCurrentIndex(max(0, self.voice.findData(select)))
        self.voice_dirs_label.setText("Voice folders: " + (", ".join(self.settings.tts.voice_dirs) or "none added"))

    def add_voice_folder(self, folder: str | Path) -> None:
        """Search ``folder`` for Piper voices (what "Add voice folder…" does)."""
        folder = str(folder)
        if folder not in self.settings.tts.voice_dirs:
            self.settings.tts.voice_dirs = [*self.settings.tts.voice_dirs, folder]
        self._fill_voices(self.voice.currentData())

    def _choose_voice_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with Piper voices")
        if folder:
            self.add_voice_folder(folder)

    def _wake_page(self) -> QWidget:
        from models.registry import WAKE_MODELS

        page = QWidget()
        form = _form()
        w = self.settings.wake
        self.wake_enabled = acc(QCheckBox("&Listen for the wake word"), "Listen for the wake word",
                                "When off, the assistant is push-to-talk only: it listens after the hotkey, "
                                "the microphone button or the tray menu.")
        self.wake_enabled.setChecked(w.enabled)
        form.addRow(self.wake_enabled)
        self.wake_model = acc(QComboBox(), "Wake word model", "Which phrase wakes the assistant, or your own "
                                                              "openWakeWord .tflite model.")
        for name in WAKE_MODELS:
            self.wake_model.addItem(name.replace("_", " ").title(), name)
        if w.model not in WAKE_MODELS:
            self.wake_model.addItem(Path(w.model).name, w.model)
        self.wake_model.setCurrentIndex(max(0, self.wake_model.findData(w.model)))
        self.wake_file = acc(QPushButton("Own &model…"), "Choose wake word model file",
                             "Use your own openWakeWord .tflite model.")
        self.wake_file.clicked.connect(self._choose_wake_file)
        row = QHBoxLayout()
        row.addWidget(self.wake_model, 1)
        row.addWidget(self.wake_file)
        _labelled(form, "&Wake word:", self.wake_model, row)
        self.wake_threshold = SliderRow(5, 95, 5, w.threshold, 0.01, lambda u: f"{u} %",
                                        "Score the wake word model must reach, in percent (50 % is a score of "
                                        "0.50): lower is more sensitive (more false wakes), higher is stricter.")
        _labelled(form, "&Threshold:", self.wake_threshold.slider, self.wake_threshold)
        self.wake_frames = acc(QSpinBox(), "Frames over threshold",
                               "Consecutive 80 ms frames that must be over the threshold (2–3 avoids false wakes).")
        self.wake_frames.setRange(1, 10)
        self.wake_frames.setValue(w.trigger_frames)
        _labelled(form, "&Frames over threshold:", self.wake_frames)
        self.wake_refractory = acc(QDoubleSpinBox(), "Pause after a wake",
                                   "Seconds during which a new wake word is ignored after one was heard.")
        self.wake_refractory.setRange(0, 30)
        self.wake_refractory.setSuffix(" s")
        self.wake_refractory.setValue(w.refractory_s)
        _labelled(form, "&Pause after a wake:", self.wake_refractory)
        form.addRow(_note("The pre-trained wake word models are from openWakeWord, licensed CC BY-NC-SA 4.0 "
                          "(non-commercial use)."))
        page.setLayout(form)
        return page

    def _choose_wake_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "openWakeWord model", "", "TensorFlow Lite model (*.tflite)")
        if path:
            self.wake_model.addItem(Path(path).name, path)
            self.wake_model.setCurrentIndex(self.wake_model.count() - 1)

    def _asr_page(self) -> QWidget:
        from models.registry import ASR_MODELS

        page = QWidget()
        form = _form()
        a = self.settings.asr
        self.asr_model = acc(QComboBox(), "Speech recognition model",
                             "Whisper base (accurate), tiny.en (faster, English only) or your own CTranslate2 folder.")
        labels = {"base": "Whisper base (multilingual)", "tiny.en": "Whisper tiny.en (fast, English)"}
        for name in ASR_MODELS:
            self.asr_model.addItem(labels.get(name, name), name)
        if a.model not in ASR_MODELS:
            self.asr_model.addItem(a.model, a.model)
        self.asr_model.setCurrentIndex(max(0, self.asr_model.findData(a.model)))
        self.asr_folder = acc(QPushButton("Own model &folder…"), "Choose speech model folder",
                              "Use a CTranslate2 Whisper model folder (model.bin, config.json, tokenizer.json).")
        self.asr_folder.clicked.connect(self._choose_asr_folder)
        row = QHBoxLayout()
        row.addWidget(self.asr_model, 1)
        row.addWidget(self.asr_folder)
        _labelled(form, "&Model:", self.asr_model, row)
        self.asr_language = acc(QComboBox(), "Language", "The language you speak; Automatic detects it "
                                                         "(multilingual models only).")
        for label, code in LANGUAGES:
            self.asr_language.addItem(label, code)
        self.asr_language.setCurrentIndex(max(0, self.asr_language.findData(a.language)))
        _labelled(form, "&Language:", self.asr_language)
        self.beam = acc(QSpinBox(), "Beam size", "Decoding beam width: 1 is fastest, 5 is a little more accurate.")
        self.beam.setRange(1, 10)
        self.beam.setValue(a.beam_size)
        _labelled(form, "&Beam size:", self.beam)
        self.end_silence = acc(QSpinBox(), "End-of-speech silence",
                               "How long a pause ends what you say, in milliseconds.")
        self.end_silence.setRange(100, 5000)
        self.end_silence.setSingleStep(50)
        self.end_silence.setSuffix(" ms")
        self.end_silence.setValue(self.settings.vad.end_silence_ms)
        _labelled(form, "&End-of-speech silence:", self.end_silence)
        self.partials = acc(QCheckBox("Show &words while I speak"), "Partial transcripts",
                            "Show the words as they are recognised, before you finish speaking.")
        self.partials.setChecked(a.partials)
        form.addRow(self.partials)
        self.hotwords = acc(QCheckBox("Bias recognition toward the skills' &vocabulary"), "Skill vocabulary hints",
                            "Pass the enabled skills' vocabulary to the recogniser so names and values are "
                            "recognised more reliably.")
        self.hotwords.setChecked(a.hotwords)
        form.addRow(self.hotwords)
        page.setLayout(form)
        return page

    def _choose_asr_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "CTranslate2 Whisper model folder")
        if folder:
            self.asr_model.addItem(folder, folder)
            self.asr_model.setCurrentIndex(self.asr_model.count() - 1)

    def _hotkey_page(self) -> QWidget:
        page = QWidget()
        form = _form()
        h = self.settings.hotkey
        self.hotkey_enabled = acc(QCheckBox("&Enable the global hotkey"), "Enable global hotkey",
                                  "Listen for the hotkey even when another application has the focus.")
        self.hotkey_enabled.setChecked(h.enabled)
        form.addRow(self.hotkey_enabled)
        self.hotkey_capture = HotkeyCapture(h.chord)
        lbl = QLabel("&Hotkey:")  # the capture button is named by what it shows (the combination)
        lbl.setBuddy(self.hotkey_capture)
        form.addRow(lbl, self.hotkey_capture)
        self.hotkey_mode = acc(QComboBox(), "Hotkey mode", "Toggle: press to start listening, press again to stop. "
                                                           "Push-to-talk: hold while you speak.")
        self.hotkey_mode.addItem("Toggle (press to listen, press again to stop)", "toggle")
        self.hotkey_mode.addItem("Push-to-talk (hold while speaking)", "push_to_talk")
        self.hotkey_mode.setCurrentIndex(max(0, self.hotkey_mode.findData(h.mode)))
        _labelled(form, "&Mode:", self.hotkey_mode)
        msg = self.hotkey.message if self.hotkey is not None else "The global hotkey is not set up."
        self.hotkey_status = StatusLabel(msg, "Whether the global hotkey works on this desktop.", live=True)
        form.addRow(self.hotkey_status)
        form.addRow(_note("In the assistant's window, Ctrl+Space always starts listening and Escape stops."))
        page.setLayout(form)
        return page

    def _skills_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(_note("Switch skills on or off (the language engine is retrained, which takes a few seconds) "
                            "and change each skill's own settings."))
        self.skills_list = acc(QListWidget(), "Installed skills",
                               "Each installed skill; Space switches the selected one on or off.")
        self.skills_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.skills_list.currentRowChanged.connect(self._skill_selected)
        self.skills_list.itemChanged.connect(self._skill_toggled)
        self.skill_forms = QStackedWidget()
        self.skill_forms.setAccessibleName("Skill settings")
        self.skills_status = StatusLabel("Loading the installed skills…",
                                         "Skills installed, and any that could not be loaded and why.", live=True)
        lay.addWidget(self.skills_list, 1)
        lay.addWidget(self.skill_forms, 1)
        lay.addWidget(self.skills_status)
        self.skill_widgets: dict[str, dict[str, QWidget]] = {}
        self.skill_ids: list[str] = []
        return page

    def _load_skills(self) -> None:
        def work():
            from assistant.skills import load_skills

            return load_skills()

        self._skills_task = submit(self.controller.pool, "skills", work, on_done=self._fill_skills,
                                   on_error=lambda exc: self.skills_status.setText(f"Could not list the skills: {exc}"))

    def _fill_skills(self, result: Any) -> None:
        try:
            self.skills_list.count()
        except RuntimeError:  # dialog already gone
            return
        self.skills_list.blockSignals(True)
        self.skills_list.clear()
        while self.skill_forms.count():
            self.skill_forms.removeWidget(self.skill_forms.widget(0))
        self.skill_ids = []
        disabled = set(self.settings.skills.disabled)
        for skill in result.skills:
            m = skill.manifest
            item = QListWidgetItem(f"{m.name} — {m.description}" if m.description else m.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if skill.id in disabled else Qt.CheckState.Checked)
            item.setData(Qt.ItemDataRole.UserRole, skill.id)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{m.name} skill, version {m.version}"
                         + (", needs the internet" if m.requires_internet else ""))
            self.skills_list.addItem(item)
            self.skill_ids.append(skill.id)
            self.skill_forms.addWidget(self._skill_form(skill))
        self.skills_list.blockSignals(False)
        # The forms are built after the OK/Cancel/Apply buttons, which put them last in the
        # Tab chain: move each skill's own settings right after the skills list.
        prev: QWidget = self.skills_list
        for sid in self.skill_ids:
            for w in self.skill_widgets[sid].values():
                QWidget.setTabOrder(prev, w)
                prev = w
        errors = [getattr(e, "message", str(e)) for e in result.errors]
        self.skills_status.setText("Not loaded: " + "; ".join(errors) if errors else
                                   f"{len(result.skills)} skills installed.")
        if self.skill_ids:
            self.skills_list.setCurrentRow(0)

    def _skill_form(self, skill: Any) -> QWidget:
        box = QGroupBox(f"{skill.manifest.name} settings")
        box.setAccessibleName(f"{skill.manifest.name} settings")
        form = _form()
        values, _problems = skill.manifest.resolve_settings(self.settings.skills.options.get(skill.id))
        widgets: dict[str, QWidget] = {}
        for f in skill.manifest.settings:
            v = values.get(f.key, f.default)
            desc = f.help or f.label
            if f.type == "bool":
                w: QWidget = QCheckBox(f.label)
                w.setChecked(bool(v))
                acc(w, f.label, desc)
                form.addRow(w)
            else:
                if f.type == "choice":
                    w = QComboBox()
                    for c in f.choices:
                        w.addItem(c, c)
                    w.setCurrentIndex(max(0, w.findData(str(v))))
                elif f.type == "int":
                    w = QSpinBox()
                    w.setRange(int(f.min) if f.min is not None else -10**9, int(f.max) if f.max is not None else 10**9)
                    w.setValue(int(v))
                elif f.type == "float":
                    w = QDoubleSpinBox()
                    w.setDecimals(3)
                    w.setRange(float(f.min) if f.min is not None else -1e9, float(f.max) if f.max is not None else 1e9)
                    w.setValue(float(v))
                else:
                    w = QLineEdit(str(v))
                acc(w, f.label, desc)
                _labelled(form, f"{f.label}:", w)
            w.setObjectName(f"skill-{skill.id}-{f.key}")
            widgets[f.key] = w
        if not skill.manifest.settings:
            form.addRow(_note("This skill has no settings."))
        self.skill_widgets[skill.id] = widgets
        self._skill_manifests = getattr(self, "_skill_manifests", {})
        self._skill_manifests[skill.id] = skill.manifest
        box.setLayout(form)
        return box

    def _skill_selected(self, row: int) -> None:
        if 0 <= row < self.skill_forms.count():
            self.skill_forms.setCurrentIndex(row)

    def _skill_toggled(self, item: QListWidgetItem) -> None:
        sid = item.data(Qt.ItemDataRole.UserRole)
        on = item.checkState() == Qt.CheckState.Checked
        self.skills_status.setText(f"{item.text().split(' — ')[0]} ({sid}) will be {'enabled' if on else 'disabled'} "
                                   "when you apply; the language engine is retrained then.")

    def _latency_page(self) -> QWidget:
        def traces():
            a = self.controller.assistant
            return list(a.traces.finished) if a is not None else []

        self.latency = LatencyPage(traces, rows=self.ui.trace_rows)
        return self.latency

    def _appearance_page(self) -> QWidget:
        page = QWidget()
        form = _form()
        self.high_contrast = acc(QCheckBox("&High contrast"), "High contrast",
                                 "White text on black with a yellow focus frame.")
        self.high_contrast.setChecked(self.ui.high_contrast)
        form.addRow(self.high_contrast)
        self.font_scale = acc(QDoubleSpinBox(), "Text size", "Text size relative to the desktop's font, in percent.")
        self.font_scale.setRange(75, 300)
        self.font_scale.setSingleStep(25)
        self.font_scale.setSuffix(" %")
        self.font_scale.setDecimals(0)
        self.font_scale.setValue(self.ui.font_scale * 100)
        _labelled(form, "&Text size:", self.font_scale)
        self.close_to_tray = acc(QCheckBox("C&losing the window keeps the assistant running in the tray"),
                                 "Close to tray", "When on, closing the window hides it; quit from the tray menu.")
        self.close_to_tray.setChecked(self.ui.close_to_tray)
        form.addRow(self.close_to_tray)
        self.start_hidden = acc(QCheckBox("&Start in the tray"), "Start in the tray",
                                "Start without showing the window (only where a tray exists).")
        self.start_hidden.setChecked(self.ui.start_hidden)
        form.addRow(self.start_hidden)
        self.listen_on_start = acc(QCheckBox("O&pen the microphone at start"), "Open the microphone at start",
                                   "Listen for the wake word as soon as the assistant is ready.")
        self.listen_on_start.setChecked(self.ui.listen_on_start)
        form.addRow(self.listen_on_start)
        self.trace_rows = acc(QSpinBox(), "Interactions in the latency view",
                              "How many recent interactions the latency view lists.")
        self.trace_rows.setRange(1, 200)
        self.trace_rows.setValue(self.ui.trace_rows)
        _labelled(form, "&Interactions in the latency view:", self.trace_rows)
        page.setLayout(form)
        return page

    # ------------------------------------------------------------------ devices
    def refresh_devices(self, rescan: bool = False) -> None:
        """List audio devices on a worker (``rescan`` re-initialises PortAudio first, which
        finds hot-plugged devices; only when the microphone is not in use)."""
        self.mic_status.setText("Listing audio devices…")
        self.refresh_button.setEnabled(False)
        controller = self.controller

        def work():
            from assistant.audio import list_devices, reinit_portaudio

            if rescan and not controller.mic_running:
                reinit_portaudio()
            return list_devices()

        def failed(exc: BaseException) -> None:
            from ui.controller import error_text

            self._fill_devices([])
            msg, hint = error_text(exc)
            self.mic_status.setText(f"{msg} {hint}")

        submit(controller.pool, "devices", work, on_done=self._fill_devices, on_error=failed)

    def _fill_devices(self, devices: list) -> None:
        try:
            self.refresh_button.setEnabled(True)
        except RuntimeError:
            return
        a = self.settings.audio
        for combo, kind, current in ((self.input_device, "in", a.input_device),
                                     (self.output_device, "out", a.output_device)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("System default", None)
            for d in devices:
                if (d.max_input_channels if kind == "in" else d.max_output_channels) > 0:
                    combo.addItem(f"{d.name} ({d.hostapi})", d.name)
            if current is not None and combo.findData(current) < 0:
                combo.addItem(f"{current} (not connected)", current)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
        n_in = sum(1 for d in devices if d.max_input_channels > 0)
        self._n_inputs = n_in
        self.mic_status.setText(f"{n_in} microphone(s) found." if n_in else
                                "No microphone found. Plug one in and press Refresh devices; typed requests still work.")
        if self.current_page() == "Microphone":
            self._start_monitor()

    def _start_monitor(self) -> None:
        self._stop_monitor()
        if not self.isVisible() or self._n_inputs <= 0:
            return  # devices not listed yet, or no microphone at all
        mon = MicMonitor(self.input_device.currentData(), gain_db=self.input_gain.value())
        mon.level.connect(self.mic_level.set_level)
        mon.failed.connect(lambda m, h: self.mic_status.setText(f"{m} {h}"))
        self._monitor = mon
        mon.start()

    def _gain_changed(self, *_: Any) -> None:
        if self._monitor is not None:
            self._monitor.set_gain(self.input_gain.value())

    def _stop_monitor(self) -> None:
        mon, self._monitor = self._monitor, None
        if mon is not None:
            mon.stop()
            mon.wait(2000)

    def test_microphone(self) -> None:
        """Record 3 s from the chosen microphone on a worker, then play it back."""
        self._stop_monitor()
        self.test_button.setEnabled(False)
        self.test_status.setText("Recording 3 seconds… speak now.")
        tester = MicMonitor(self.input_device.currentData(), seconds=3.0, gain_db=self.input_gain.value())
        tester.level.connect(self.mic_level.set_level)
        tester.failed.connect(self._test_failed)
        tester.recorded.connect(self._play_back)
        self._tester = tester
        tester.start()

    def _test_failed(self, message: str, hint: str) -> None:
        self.test_status.setText(f"Test failed: {message} {hint}")
        self.test_button.setEnabled(True)

    def _play_back(self, audio: np.ndarray) -> None:
        from assistant.audio import dbfs

        peak = float(np.abs(audio.astype(np.int32)).max()) if audio.size else 0.0
        level = dbfs(audio) if audio.size else -100.0
        self.test_status.setText(f"Recorded {audio.size / 16000:.1f} s (level {level:.0f} dBFS, peak "
                                 f"{20 * np.log10(max(peak, 1) / 32768):.0f} dBFS). Playing it back…")
        device = self.output_device.currentData()

        def work():
            from assistant.audio import AudioPlayer

            player = AudioPlayer(device)
            try:
                player.start(16000)
                player.write(audio)
                player.drain(timeout=len(audio) / 16000 + 3)
            finally:
                player.close()

        def done(_):
            self.test_status.setText(self.test_status.text().replace("Playing it back…", "Played back."))
            self.test_button.setEnabled(True)
            self._start_monitor()

        submit(self.controller.pool, "mic-test", work, on_done=done, on_error=lambda e: self._test_failed(str(e), ""))

    # ------------------------------------------------------------------ voice preview
    def preview_voice(self) -> None:
        """Speak a sample with the voice/speed/volume chosen on the page (not yet saved)."""
        tts = self.collect()[0].tts
        self.controller.preview_voice(tts)

    # ------------------------------------------------------------------ collect / apply
    def collect(self) -> tuple[Settings, UISettings]:
        """The settings as edited on the pages."""
        s = self.settings.model_copy(deep=True)
        s.audio.input_device = self.input_device.currentData()
        s.audio.output_device = self.output_device.currentData()
        s.audio.input_gain_db = self.input_gain.value()
        s.tts.voice = self.voice.currentData() or s.tts.voice
        s.tts.speed = self.speed.value()
        s.tts.volume = self.volume.value()
        s.wake.enabled = self.wake_enabled.isChecked()
        s.wake.model = self.wake_model.currentData()
        s.wake.threshold = min(0.95, max(0.05, self.wake_threshold.value()))
        s.wake.trigger_frames = self.wake_frames.value()
        s.wake.refractory_s = self.wake_refractory.value()
        s.asr.model = self.asr_model.currentData()
        s.asr.language = self.asr_language.currentData()
        s.asr.beam_size = self.beam.value()
        s.asr.partials = self.partials.isChecked()
        s.asr.hotwords = self.hotwords.isChecked()
        s.vad.end_silence_ms = self.end_silence.value()
        s.hotkey.enabled = self.hotkey_enabled.isChecked()
        s.hotkey.chord = self.hotkey_capture.chord
        s.hotkey.mode = self.hotkey_mode.currentData()
        if self.skill_ids:
            disabled = [x for x in s.skills.disabled if x not in self.skill_ids]
            for row, sid in enumerate(self.skill_ids):
                if self.skills_list.item(row).checkState() != Qt.CheckState.Checked:
                    disabled.append(sid)
            s.skills.disabled = disabled
            options = dict(s.skills.options)
            for sid, widgets in self.skill_widgets.items():
                manifest = self._skill_manifests[sid]
                values = {}
                for f in manifest.settings:
                    w = widgets[f.key]
                    if isinstance(w, QCheckBox):
                        v: Any = w.isChecked()
                    elif isinstance(w, QComboBox):
                        v = w.currentData()
                    elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                        v = w.value()
                    else:
                        v = w.text()
                    if v != f.default:
                        values[f.key] = v
                if values:
                    options[sid] = values
                else:
                    options.pop(sid, None)
            s.skills.options = options
        ui = self.ui.model_copy(deep=True)
        ui.high_contrast = self.high_contrast.isChecked()
        ui.font_scale = round(self.font_scale.value() / 100, 2)
        ui.close_to_tray = self.close_to_tray.isChecked()
        ui.start_hidden = self.start_hidden.isChecked()
        ui.listen_on_start = self.listen_on_start.isChecked()
        ui.trace_rows = self.trace_rows.value()
        return s, ui

    def apply(self) -> None:
        """Save and apply (live where possible)."""
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
        if getattr(self, "_cleaned", False):
            return
        self._cleaned = True
        self._stop_monitor()
        if self._tester is not None:
            self._tester.stop()
            self._tester.wait(4000)
        try:
            self.controller.settings_applied.disconnect(self._applied)
        except (RuntimeError, TypeError):
            pass

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self.current_page() == "Microphone":
            QTimer.singleShot(0, self._start_monitor)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._cleanup()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        h = self.fontMetrics().height()
        return QSize(h * 52, h * 34)
