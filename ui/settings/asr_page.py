"""Settings page "Speech recognition": the Whisper model (shipped or an own CTranslate2
folder), language, beam size, end-of-speech silence, partial transcripts and the skills'
vocabulary hints."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QSpinBox, QWidget

from assistant.settings import Settings
from ui.a11y import acc
from ui.settings.common import ModelPicker, SettingsPage, form_layout, labelled
from ui.ui_settings import UISettings

#: (shown name, Whisper language code or None for automatic detection)
LANGUAGES = [("Automatic", None), ("English", "en"), ("German", "de"), ("French", "fr"), ("Spanish", "es"),
             ("Italian", "it"), ("Dutch", "nl"), ("Portuguese", "pt"), ("Polish", "pl")]

#: the shipped models' shown names
MODEL_LABELS = {"base": "Whisper base (multilingual)", "tiny.en": "Whisper tiny.en (fast, English)"}


def ask_asr_folder(parent: QWidget) -> str:
    """Ask for a CTranslate2 Whisper model folder; "" when cancelled."""
    return QFileDialog.getExistingDirectory(parent, "CTranslate2 Whisper model folder")


class SpeechPage(SettingsPage):
    """The speech recognition settings (``settings.asr``, ``settings.vad.end_silence_ms`` and
    ``hold_silence_ms``)."""

    def __init__(self, settings: Settings) -> None:
        from models.registry import ASR_MODELS

        super().__init__()
        form = form_layout()
        a = settings.asr
        self.picker = ModelPicker(
            form, "&Model:", name="Speech recognition model",
            description="Whisper base (accurate), tiny.en (faster, English only) or your own CTranslate2 folder.",
            choices=[(MODEL_LABELS.get(name, name), name) for name in ASR_MODELS], current=a.model,
            button_text="Own model &folder…", button_name="Choose speech model folder",
            button_description="Use a CTranslate2 Whisper model folder (model.bin, config.json, tokenizer.json).",
            ask=ask_asr_folder)
        self.asr_model = self.picker.combo
        self.language = acc(QComboBox(), "Language", "The language you speak; Automatic detects it "
                                                     "(multilingual models only).")
        for label, code in LANGUAGES:
            self.language.addItem(label, code)
        self.language.setCurrentIndex(max(0, self.language.findData(a.language)))
        labelled(form, "&Language:", self.language)
        self.beam = acc(QSpinBox(), "Beam size", "Decoding beam width: 1 is fastest, 5 is a little more accurate.")
        self.beam.setRange(1, 10)
        self.beam.setValue(a.beam_size)
        labelled(form, "&Beam size:", self.beam)
        self.end_silence = acc(QSpinBox(), "End-of-speech silence",
                               "How long a pause ends what you say, in milliseconds.")
        self.end_silence.setRange(100, 5000)
        self.end_silence.setSingleStep(50)
        self.end_silence.setSuffix(" ms")
        self.end_silence.setValue(settings.vad.end_silence_ms)
        labelled(form, "&End-of-speech silence:", self.end_silence)
        self.hold_silence = acc(QSpinBox(), "Pause allowed mid-sentence",
                                "How long you may pause after a word like \"for\", \"with\" or \"um\" "
                                "before what you say ends, in milliseconds; 0 uses the end-of-speech silence.")
        self.hold_silence.setRange(0, 5000)
        self.hold_silence.setSingleStep(100)
        self.hold_silence.setSuffix(" ms")
        self.hold_silence.setValue(settings.vad.hold_silence_ms)
        labelled(form, "&Pause allowed mid-sentence:", self.hold_silence)
        self.partials = acc(QCheckBox("Show &words while I speak"), "Partial transcripts",
                            "Show the words as they are recognised, before you finish speaking.")
        self.partials.setChecked(a.partials)
        form.addRow(self.partials)
        self.hotwords = acc(QCheckBox("Bias recognition toward the skills' &vocabulary"), "Skill vocabulary hints",
                            "Pass the enabled skills' vocabulary to the recogniser so names and values are "
                            "recognised more reliably.")
        self.hotwords.setChecked(a.hotwords)
        form.addRow(self.hotwords)
        self.setLayout(form)

    def write(self, settings: Settings, ui: UISettings) -> None:  # noqa: D102
        a = settings.asr
        a.model = self.picker.value()
        a.language = self.language.currentData()
        a.beam_size = self.beam.value()
        a.partials = self.partials.isChecked()
        a.hotwords = self.hotwords.isChecked()
        settings.vad.end_silence_ms = self.end_silence.value()
        settings.vad.hold_silence_ms = self.hold_silence.value()
