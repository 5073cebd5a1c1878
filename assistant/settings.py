"""User settings: pydantic models persisted as TOML in the platform's config directory.

File: ``platformdirs.user_config_dir("offline-assistant") / "settings.toml"`` unless the
``ASSISTANT_CONFIG_DIR`` environment variable points elsewhere (tests do). A file that
cannot be parsed or validated is moved aside to ``settings.toml.corrupt-<UTC time>`` and
defaults are used; :func:`load_settings` returns the notice to show the user, so nothing
the user wrote is lost.
"""

from __future__ import annotations

import datetime as _dt
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Optional, TypeVar

import platformdirs
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

APP_NAME = "offline-assistant"


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class AudioSettings(_Section):
    """Audio devices. ``None`` means the system default; otherwise a PortAudio device
    index or a (case-insensitive) substring of its name."""

    input_device: Optional[str] = None
    output_device: Optional[str] = None
    block_ms: int = Field(80, ge=10, le=500, description="capture block, milliseconds")
    input_gain_db: float = Field(0.0, ge=-20, le=30, description="microphone gain, dB, applied before the wake word, VAD and ASR")


class WakeSettings(_Section):
    """Wake word. ``model`` is a shipped model name (``hey_jarvis``, ``alexa``,
    ``hey_mycroft``, ``hey_rhasspy``, ``okay_nabu``) or a path to a ``.tflite`` file."""

    enabled: bool = True
    model: str = "hey_jarvis"
    threshold: float = Field(0.5, gt=0, lt=1)
    trigger_frames: int = Field(2, ge=1, le=10, description="consecutive 80 ms frames over threshold")
    refractory_s: float = Field(2.0, ge=0, le=30, description="seconds ignored after a detection")


class VADSettings(_Section):
    """Silero VAD endpointing."""

    threshold: float = Field(0.5, gt=0, lt=1, description="speech probability threshold")
    end_silence_ms: int = Field(700, ge=100, le=5000, description="silence that ends an utterance")
    start_timeout_s: float = Field(6.0, ge=1, le=30, description="give up if no speech starts")
    max_utterance_s: float = Field(20.0, ge=2, le=120)


class ASRSettings(_Section):
    """faster-whisper. ``model`` is ``base``, ``tiny.en`` or a CTranslate2 model folder."""

    model: str = "base"
    language: Optional[str] = "en"
    beam_size: int = Field(1, ge=1, le=10)
    compute_type: str = "int8"
    partial_interval_s: float = Field(0.7, ge=0.2, le=5, description="re-decode period for partials")
    partials: bool = True
    hotwords: bool = Field(True, description="bias ASR with the skills' vocabulary")


class TTSSettings(_Section):
    """Piper. ``voice`` is ``joe`` (shipped) or a path to a Piper ``.onnx`` voice."""

    voice: str = "joe"
    speed: float = Field(1.0, ge=0.5, le=2.0, description="1.0 = voice default; 2.0 twice as fast")
    volume: float = Field(1.0, ge=0.0, le=2.0)
    voice_dirs: list[str] = Field(default_factory=list)


class NLUSettings(_Section):
    """Rasa sidecar."""

    python: Optional[str] = Field(None, description="Python 3.10 of the Rasa venv; auto if unset")
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 = pick a free port")
    pipeline: Literal["logreg", "diet"] = "logreg"
    fallback_threshold: float = Field(0.45, ge=0, le=1)
    action_timeout_s: float = Field(5.0, gt=0, le=60)


class HotkeySettings(_Section):
    """Global hotkey (pynput syntax, e.g. ``<ctrl>+<alt>+h``)."""

    chord: str = "<ctrl>+<alt>+h"
    mode: Literal["toggle", "push_to_talk"] = "toggle"
    enabled: bool = True


class SkillsSettings(_Section):
    """Installed skills: ids switched off, and each skill's own settings."""

    disabled: list[str] = Field(default_factory=list)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)


class TraceSettings(_Section):
    """Latency traces kept on disk and in memory."""

    keep: int = Field(50, ge=1, le=1000)
    directory: Optional[str] = None


class Settings(_Section):
    """All user settings. Every field has a default, so an empty file is valid."""

    audio: AudioSettings = Field(default_factory=AudioSettings)
    wake: WakeSettings = Field(default_factory=WakeSettings)
    vad: VADSettings = Field(default_factory=VADSettings)
    asr: ASRSettings = Field(default_factory=ASRSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)
    nlu: NLUSettings = Field(default_factory=NLUSettings)
    hotkey: HotkeySettings = Field(default_factory=HotkeySettings)
    skills: SkillsSettings = Field(default_factory=SkillsSettings)
    trace: TraceSettings = Field(default_factory=TraceSettings)


def config_dir() -> Path:
    """The settings folder (``$ASSISTANT_CONFIG_DIR`` or the platform config dir)."""
    env = os.environ.get("ASSISTANT_CONFIG_DIR")
    # absolute: the Rasa sidecar runs in another working directory
    return Path(env).expanduser().resolve() if env else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """Per-user data folder: traces, reminders, notes (``$ASSISTANT_DATA_DIR`` overrides)."""
    env = os.environ.get("ASSISTANT_DATA_DIR")
    # absolute: the Rasa sidecar runs in another working directory
    return Path(env).expanduser().resolve() if env else Path(platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    """Cache folder: joined model files, trained Rasa models (``$ASSISTANT_CACHE_DIR``)."""
    env = os.environ.get("ASSISTANT_CACHE_DIR")
    # absolute: the Rasa sidecar runs in another working directory
    return Path(env).expanduser().resolve() if env else Path(platformdirs.user_cache_dir(APP_NAME))


def settings_path() -> Path:
    """Path of ``settings.toml``."""
    return config_dir() / "settings.toml"


def _drop_none(obj: Any) -> Any:
    # TOML has no null: leave unset optional values out of the file.
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj


M = TypeVar("M", bound=BaseModel)


def load_toml_model(path: Path, model: type[M], what: str = "settings") -> tuple[M, str | None]:
    """Read a TOML file into a pydantic model; a corrupt file is moved aside, not lost.

    Args:
        path: the TOML file (missing → defaults, no notice).
        model: the pydantic model class; its defaults are used when the file is unusable.
        what: how the notice names the file ("settings", "appearance settings").

    Returns:
        ``(value, notice)``. ``notice`` is None normally; if the file could not be parsed or
        validated it was renamed to ``<name>.corrupt-<UTC time>`` and the notice says where,
        and ``value`` is ``model()``.
    """
    if not path.exists():
        return model(), None
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
        return model.model_validate(data), None
    except (tomllib.TOMLDecodeError, ValidationError, UnicodeDecodeError, OSError) as exc:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        try:
            path.replace(aside)
            where = f"it was moved to {aside}"
        except OSError:
            where = "it could not be moved aside"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return model(), (
            f"The {what} file {path} could not be read ({first}); {where} and the "
            "defaults are used. Fix or delete that copy and re-apply your settings."
        )


def load_settings(path: Path | None = None) -> tuple[Settings, str | None]:
    """Read settings (see :func:`load_toml_model`).

    Args:
        path: file to read; default :func:`settings_path`.

    Returns:
        ``(settings, notice)``. ``notice`` is None normally; if the file was corrupt it says
        where the file was moved, and ``settings`` are the defaults.
    """
    return load_toml_model(path or settings_path(), Settings)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write settings atomically (temp file + rename). Returns the path written."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    with tmp.open("wb") as f:
        tomli_w.dump(_drop_none(settings.model_dump(mode="json")), f)
    tmp.replace(path)
    return path
