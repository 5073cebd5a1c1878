"""Builds every stage of the engine from :class:`~assistant.settings.Settings`: the one
place a model or an audio device is opened. The pipeline, the CLI and the UI call these
instead of the stages' constructors, so a new setting is read in one place.

Each builder imports its stage lazily: loading faster-whisper, onnxruntime or PortAudio
costs seconds and memory, and ``assistant transcribe`` needs no voice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from assistant.events import EventBus, Notice
from assistant.settings import (
    ASRSettings,
    AudioSettings,
    NLUSettings,
    Settings,
    TTSSettings,
    VADSettings,
    WakeSettings,
)

if TYPE_CHECKING:  # annotations only: the stages are imported lazily below
    from assistant.asr import WhisperASR
    from assistant.tts import PiperTTS
    from assistant.vad import Endpointer, SileroVAD
    from assistant.wake import WakeWordDetector


def build_asr(s: ASRSettings, *, model: str | None = None) -> "WhisperASR":
    """Load faster-whisper for ``s`` (model, int8/float32 compute type, beam size, language).

    Args:
        s: the ASR settings.
        model: overrides ``s.model`` (``assistant transcribe --model``).
    Raises:
        ModelError: the model is not installed or cannot be loaded (message + hint).
    """
    from assistant.asr import WhisperASR

    return WhisperASR.from_settings(s.model_copy(update={"model": model}) if model else s)


def asr_changed(old: ASRSettings, new: ASRSettings) -> bool:
    """True when ``new`` needs another Whisper model loaded (not just new decode options)."""
    return (old.model, old.compute_type, old.beam_size, old.language, old.window_s) != (
        new.model, new.compute_type, new.beam_size, new.language, new.window_s)


def build_voice(s: TTSSettings) -> "PiperTTS":
    """Load the Piper voice of ``s`` with its speed and volume.

    Raises:
        ModelError, SettingsError: the voice is not installed, or a value is out of range.
    """
    from assistant.tts import PiperTTS

    return PiperTTS.from_settings(s)


def build_vad() -> "SileroVAD":
    """Load the Silero VAD (ONNX, 16 kHz, 512-sample chunks).

    Raises:
        ModelError: the model file is missing.
    """
    from assistant.vad import SileroVAD

    return SileroVAD()


def build_endpointer(vad: "SileroVAD", s: VADSettings) -> "Endpointer":
    """An :class:`~assistant.vad.Endpointer` on ``vad`` with the threshold, end-of-speech
    silence (ms), start timeout and maximum utterance (s) of ``s``."""
    from assistant.vad import Endpointer

    return Endpointer.from_settings(vad, s)


def build_wake(s: WakeSettings) -> "WakeWordDetector":
    """Load the openWakeWord model of ``s`` with its threshold, trigger frames and
    refractory period.

    Raises:
        ModelError: the wake-word model is not installed.
    """
    from assistant.wake import WakeWordDetector

    return WakeWordDetector(s.model, threshold=s.threshold, trigger_frames=s.trigger_frames,
                            refractory_s=s.refractory_s, gate=s.gate,
                            gate_quiet_dbfs=s.gate_quiet_dbfs, gate_steady_db=s.gate_steady_db)


def build_output(s: AudioSettings, bus: EventBus | None = None):
    """Open the speaker (an :class:`~assistant.audio.AudioPlayer` on ``s.output_device``).

    When there is no usable output device and ``bus`` is given, a warning
    :class:`~assistant.events.Notice` is published and a :class:`~assistant.audio.NullSink`
    returned, so the assistant keeps answering in text.

    Raises:
        DeviceError: no output device and no ``bus`` to tell the user on.
    """
    from assistant.audio import AudioPlayer, NullSink
    from assistant.errors import DeviceError

    try:
        return AudioPlayer(s.output_device)
    except DeviceError as exc:
        if bus is None:
            raise
        bus.publish(Notice(stage="audio", level="warning",
                           message=f"{exc.message} Replies are shown as text only.", hint=exc.hint))
        return NullSink()


@dataclass(frozen=True)
class LanguageStack:
    """The language side of the engine, built by :func:`build_language`.

    Attributes:
        host: the :class:`~assistant.skills.SkillHost` (timers, voice, settings for skills).
        skills: the loaded skills.
        errors: skills that failed to load (each also published as a warning Notice).
        hotwords: the skills' vocabulary for ASR biasing, interleaved so every skill keeps
            its first phrases (issue 9); empty when ``asr.hotwords`` is off.
        nlu: the trained, not yet started :class:`~assistant.nlu.sidecar.RasaSidecar`.
        domains: per skill, the vocabulary of its domain pass
            (:class:`~assistant.asr.domain.DomainVocabularies`); None when ``asr.hotwords``
            or ``asr.domain_pass`` is off.
        shapes: what each intent needs to be a complete command, for semantic endpointing
            (:class:`~assistant.nlu.complete.CommandShapes`).
    """

    host: object
    skills: list
    errors: tuple
    hotwords: tuple[str, ...]
    nlu: object
    domains: object = None
    shapes: object = None


def build_language(settings: Settings, bus: EventBus,
                   progress: Callable[[str, float, str], None] | None = None) -> LanguageStack:
    """Load the enabled skills, compose their Rasa project and train it (cached by content
    hash; a minute the first time). ``progress(task, fraction, message)`` is told before
    the training.

    Raises:
        NLUError: no Rasa Python, or training failed (message + hint).
    """
    from assistant.asr import DomainVocabularies, interleave_vocabularies
    from assistant.nlu.complete import CommandShapes
    from assistant.skills import SkillHost, load_skills

    host = SkillHost(bus, settings.skills)
    loaded = load_skills(disabled=settings.skills.disabled)
    for err in loaded.errors:
        bus.publish(Notice(stage="skills", level="warning", message=str(getattr(err, "message", err)),
                           hint=getattr(err, "hint", "")))
    hotwords = tuple(interleave_vocabularies([sk.vocabulary() for sk in loaded.skills])) \
        if settings.asr.hotwords else ()
    nlu = build_sidecar(loaded.skills, host, settings.nlu, bus)
    if progress is not None:
        progress("language engine", 0.6, "Training the language engine (cached after the first time)")
    nlu.ensure_trained()
    domains = DomainVocabularies.from_skills(loaded.skills) if settings.asr.hotwords and settings.asr.domain_pass else None
    shapes = CommandShapes.from_skills(loaded.skills)
    return LanguageStack(host=host, skills=list(loaded.skills), errors=tuple(loaded.errors), hotwords=hotwords, nlu=nlu,
                         domains=domains, shapes=shapes)


def first_pass_hotwords(s: ASRSettings, hotwords) -> tuple[str, ...]:
    """The phrases that bias a command's first (streaming) decode: all of ``hotwords`` (the
    skills' vocabulary, as :func:`build_language` builds it) when ``s.first_pass_hotwords``
    is on or there is no domain pass (``s.domain_pass`` off), else none — the domain pass then
    biases a command towards its own skill's vocabulary only (README, "Real voices",
    2026-12-07: as accurate, half the decode time, fewer invented words)."""
    return tuple(hotwords) if s.first_pass_hotwords or not s.domain_pass else ()


def build_sidecar(skills: list, host, nlu_settings: NLUSettings, bus: EventBus | None = None):
    """A :class:`~assistant.nlu.sidecar.RasaSidecar` (not trained, not started) for
    ``skills``: their composed Rasa project, their actions served by ``host`` (a
    :class:`~assistant.skills.SkillHost`), and entity resolution to their declared values
    (:class:`~assistant.skills.resolve.ProjectResolution`).
    """
    from assistant.nlu.sidecar import RasaSidecar
    from assistant.skills import compose_project
    from assistant.skills.resolve import ProjectResolution

    project = compose_project(skills)
    return RasaSidecar(project, host.actions(skills), nlu_settings, bus=bus, resolve=ProjectResolution(project))


class VoicePreview:
    """Speaks a sample with voice settings that are not (yet) applied (Settings → Voice →
    Preview), through the assistant's own output. The last previewed voice stays loaded:
    the user tries several speeds in a row."""

    def __init__(self) -> None:
        self._last: tuple[TTSSettings, object] | None = None

    def say(self, tts: TTSSettings, sink, text: str, timeout: float, current=None) -> None:
        """Speak ``text`` with ``tts`` on ``sink``; blocks until spoken or ``timeout`` seconds.

        Args:
            current: the engine's loaded voice, used as it is when ``tts`` equals its settings.
        Raises:
            ModelError: the voice is not installed.
        """
        from assistant.speaker import Speaker

        if current is None:
            if self._last is None or self._last[0] != tts:
                self._last = (tts.model_copy(), build_voice(tts))
            current = self._last[1]
        speaker = Speaker(current, sink, bus=None)
        try:
            speaker.say(text)
            speaker.wait(timeout)
        finally:
            speaker.close()
