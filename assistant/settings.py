"""User settings: pydantic models persisted as TOML in the platform's config directory.

File: ``platformdirs.user_config_dir("offline-assistant") / "settings.toml"`` unless the
``ASSISTANT_CONFIG_DIR`` environment variable points elsewhere (tests do).

Loading is per key: every valid value is used; each bad value (wrong type, out of range,
unknown choice) and each unknown key is named in a one-line notice (with what is allowed,
or the closest known key) and the file is left as it is. Only a file that is not TOML at
all is moved aside to ``settings.toml.corrupt-<UTC time>`` (defaults are used, the notice
says where it went). Saving writes only what changed, keeps the user's other lines, and is
atomic with mode 0600 (:mod:`assistant.private_files`).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Optional, TypeVar

import annotated_types
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from assistant.private_files import PrivateWriteError, describe_os_error, write_private

from assistant.paths import APP_NAME, cache_dir, config_dir, data_dir  # noqa: E402,F401 (re-exported)


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class AudioSettings(_Section):
    """Audio devices. ``None`` means the system default; otherwise a PortAudio device
    index or a (case-insensitive) substring of its name."""

    input_device: Optional[str] = None
    output_device: Optional[str] = None
    block_ms: int = Field(80, ge=10, le=500, description="capture block, milliseconds")
    input_gain_db: float = Field(0.0, ge=-20, le=30, description="microphone gain, dB, applied before the wake word, VAD and ASR")
    normalize_recordings: bool = Field(True, description="raise a quiet recorded command (a file, not the microphone) "
                                       "to a -6 dBFS peak, by at most 30 dB, before the wake word, VAD and ASR")


class WakeSettings(_Section):
    """Wake word. ``model`` is a shipped model name (``hey_jarvis``, ``alexa``,
    ``hey_mycroft``, ``hey_rhasspy``, ``okay_nabu``) or a path to a ``.tflite`` file."""

    enabled: bool = True
    model: str = "hey_jarvis"
    threshold: float = Field(0.5, gt=0, lt=1)
    trigger_frames: int = Field(2, ge=1, le=10, description="consecutive 80 ms frames over threshold")
    refractory_s: float = Field(2.0, ge=0, le=30, description="seconds ignored after a detection")
    gate: bool = Field(True, description="skip the wake-word embedding model while the last 2.16 s were quiet or steady noise")
    gate_quiet_dbfs: float = Field(-60.0, ge=-100, le=-20, description="80 ms chunk level (60-3800 Hz), dBFS, at or below which it is quiet")
    gate_steady_db: float = Field(4.0, ge=0, le=12, description="level span, dB, of 2.16 s of chunks that counts as steady noise; 0 = off")


class VADSettings(_Section):
    """Silero VAD endpointing."""

    threshold: float = Field(0.5, gt=0, lt=1, description="speech probability threshold")
    end_silence_ms: int = Field(700, ge=100, le=5000, description="silence that ends an utterance")
    early_end_silence_ms: int = Field(300, ge=0, le=5000, description="silence that ends an utterance already "
                                      "heard as a complete command (semantic endpointing); 0 = off")
    hold_silence_ms: int = Field(1500, ge=0, le=5000, description="silence that ends an utterance whose "
                                 "transcript so far stops mid-phrase (\"set a timer for\", \"um\"): the speaker "
                                 "is still thinking; 0 = off (end_silence_ms)")
    early_end_confidence: float = Field(0.85, ge=0, le=1, description="intent confidence a complete command "
                                        "needs to end early")
    speculate_silence_ms: int = Field(64, ge=32, le=1000, description="trailing silence after which the final "
                                      "decode starts speculatively (its transcript is the final one if the "
                                      "speaker has finished; a partial if speech resumes)")
    start_timeout_s: float = Field(6.0, ge=1, le=30, description="give up if no speech starts")
    max_utterance_s: float = Field(20.0, ge=2, le=120)
    pre_roll_ms: int = Field(500, ge=0, le=2000, description="audio kept from before the VAD heard speech start "
                             "(ms): Silero hears a quiet speaker's first word late")


class ASRSettings(_Section):
    """faster-whisper. ``model`` is ``base``, ``tiny.en`` or a CTranslate2 model folder."""

    model: str = "base"
    language: Optional[str] = "en"
    beam_size: int = Field(1, ge=1, le=10)
    compute_type: str = "int8"
    partial_interval_s: float = Field(0.7, ge=0.2, le=5, description="re-decode period for partials")
    partials: bool = True
    partial_after_s: float = Field(1.5, ge=0, le=10, description="no partial transcript before this much of an "
                                   "utterance (s): a shorter command is shown once final, and its final decode "
                                   "never waits for a partial one")
    hotwords: bool = Field(True, description="bias ASR with the skills' vocabulary")
    domain_pass: bool = Field(True, description="decode commands with slot values again, biased "
                              "towards only their skill's vocabulary")
    first_pass_hotwords: bool = Field(False, description="bias a command's first decode with every skill's "
                                      "vocabulary too (slower: a ~250-token prompt); off = only the domain pass "
                                      "biases, towards the vocabulary of the skill the command is for")
    domain_beam_size: int = Field(5, ge=1, le=10, description="beam width of the domain pass")
    domain_pass_explained: bool = Field(False, description="run the domain pass also when the first transcript "
                                        "is already explained (every word a carrier word of its intent's examples "
                                        "or inside an entity resolved exactly); off = such a transcript stands "
                                        "and its command answers ~200 ms sooner")
    lead_in_ms: float = Field(0.0, ge=0, le=1000, description="digital silence put before a command's audio "
                              "for Whisper (ms); off by default: it helps quiet and noisy clips, flips others "
                              "(README, Real voices)")
    window_s: float = Field(15.0, ge=10, le=30, description="shortest Whisper encoder window (s): a short "
                            "command is encoded in max(window_s, its length + 3 s) instead of 30 s (faster; "
                            "30 = Whisper's own window)")
    domain_nbest: int = Field(1, ge=1, le=10, description="hypotheses of the domain pass rescored by the NLU "
                              "(1 = take the best one)")
    cpu_threads: int = Field(0, ge=0, le=64, description="CTranslate2 intra-op threads of the Whisper decodes "
                             "(0 = automatic: min(4, the machine's cores))")


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
    entity_filter: bool = Field(True, description="an intent whose examples never carry an entity type the parse "
                                "found gives way to one of the same skill that does")
    carrier_phrases: bool = Field(True, description="'please', 'can you', 'thanks'… are added to every intent's "
                                  "examples alike, so they name no intent (assistant/nlu/carriers.py)")
    plural_lookups: bool = Field(True, description="lookup tables are trained with their entries' regular plurals "
                                 "too, so 'four espressos' is tagged (assistant/nlu/plurals.py)")
    action_timeout_s: float = Field(5.0, gt=0, le=60)


class HotkeySettings(_Section):
    """Global hotkey (pynput syntax, e.g. ``<ctrl>+<alt>+h``)."""

    chord: str = "<ctrl>+<alt>+h"
    mode: Literal["toggle", "push_to_talk"] = "toggle"
    enabled: bool = True


class DictationSettings(_Section):
    """Dictation mode (speak into the focused application; docs/dictation.md)."""

    hotkey: str = Field("<ctrl>+<alt>+d", description="global hotkey that starts and stops dictation (pynput syntax)")
    typing: Literal["auto", "xtest", "wtype", "clipboard"] = Field(
        "auto", description="how text reaches the focused window; auto = XTest on X11, wtype on wlroots Wayland, else clipboard")
    pause_s: float = Field(0.6, ge=0.2, le=3.0, description="a pause this long (s) ends a phrase: its words are typed")
    interval_s: float = Field(0.5, ge=0.3, le=3.0, description="re-decode after this much new audio (s): "
                              "shorter types sooner and costs more CPU")
    window_s: float = Field(15.0, ge=10, le=30, description="shortest Whisper encoder window (s) of dictation "
                            "decodes, and at least twice the buffer (a pause's decode: 30 s); 30 decodes about half as fast")
    stop_after_silence_s: float = Field(30.0, ge=0, le=3600, description="leave dictation after this long (s) without speech; 0 = never")
    auto_punctuation: bool = Field(False, description="keep Whisper's own punctuation (off: only spoken punctuation is typed)")
    words: list[str] = Field(default_factory=list, description="custom words that bias recognition")
    replacements: dict[str, str] = Field(default_factory=dict, description="say X -> type Y")
    keep_history: bool = Field(False, description="keep a local history of dictated text (0600; clear it in Settings)")


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
    dictation: DictationSettings = Field(default_factory=DictationSettings)
    skills: SkillsSettings = Field(default_factory=SkillsSettings)
    trace: TraceSettings = Field(default_factory=TraceSettings)


def settings_path() -> Path:
    """Path of ``settings.toml``."""
    return config_dir() / "settings.toml"


def _toml_value(value: Any) -> str:
    """How a value looks in TOML (``"loud"``, ``true``, ``3.5``), for messages; long ones cut."""
    if isinstance(value, (str, bool, int, float)):
        text = tomli_w.dumps({"v": value})[4:].strip()
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bounds(metadata: list[Any]) -> str:
    """" from -20 to 30" / " greater than 0 and less than 1" / " of at least 1" from a field's
    annotated-types constraints (``Ge``, ``Gt``, ``Le``, ``Lt``); "" if unbounded."""
    lo = hi = None
    lo_incl = hi_incl = True
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            lo, lo_incl = m.ge, True
        elif isinstance(m, annotated_types.Gt):
            lo, lo_incl = m.gt, False
        elif isinstance(m, annotated_types.Le):
            hi, hi_incl = m.le, True
        elif isinstance(m, annotated_types.Lt):
            hi, hi_incl = m.lt, False
    if lo is not None and hi is not None and lo_incl and hi_incl:
        return f" from {lo} to {hi}"
    parts = []
    if lo is not None:
        parts.append(f"at least {lo}" if lo_incl else f"greater than {lo}")
    if hi is not None:
        parts.append(f"at most {hi}" if hi_incl else f"less than {hi}")
    if not parts:
        return ""
    return (" of " if len(parts) == 1 and parts[0].startswith("at ") else " ") + " and ".join(parts)


def describe_field(field: FieldInfo) -> str:
    """What a setting accepts, in words, from the pydantic field's type and constraints:
    ``"a number from -20 to 30"``, ``"one of \"logreg\", \"diet\""``, ``"true or false"``.
    Used in the message naming a bad value."""
    ann = field.annotation
    args = typing.get_args(ann)
    optional = typing.get_origin(ann) in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        ann = rest[0] if len(rest) == 1 else ann
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        text = "one of " + ", ".join(_toml_value(v) for v in typing.get_args(ann))
    elif ann is bool:
        text = "true or false"
    elif ann is int:
        text = "a whole number" + _bounds(field.metadata)
    elif ann is float:
        text = "a number" + _bounds(field.metadata)
    elif ann is str:
        text = "text in quotes"
    elif origin is list:
        text = "a list" + (" of text in quotes" if typing.get_args(ann) == (str,) else "")
    elif origin is dict:
        text = "a table"
    else:
        text = f"a {getattr(ann, '__name__', ann)}"
    return text + (", or left out" if optional else "")


def _section_model(field: FieldInfo | None) -> type[BaseModel] | None:
    ann = field.annotation if field is not None else None
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _field_at(model: type[BaseModel], dotted: str) -> FieldInfo | None:
    """The field at ``"tts.speed"`` (or ``"tts"``) in ``model``, or None."""
    field = None
    for part in dotted.split("."):
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _section_model(field)
    return field


def _all_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        sub = _section_model(field)
        out.extend(_all_keys(sub, f"{prefix}{name}.") if sub else [f"{prefix}{name}"])
    return out


def _suggest(key: str, prefix: str, model: type[BaseModel], root: type[BaseModel]) -> str:
    """``"audio.input_gain_db"`` for the misspelt ``audio.input_gain`` (difflib), or the same
    key in another section (``tts.speed`` for ``audio.speed``); "" if nothing is close."""
    close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
    if close:
        return prefix + close[0]
    everywhere = _all_keys(root)
    same_leaf = [k for k in everywhere if k.rsplit(".", 1)[-1] == key]
    if same_leaf:
        return same_leaf[0]
    close = difflib.get_close_matches(prefix + key, everywhere, n=1, cutoff=0.75)
    return close[0] if close else ""


def _validate_per_key(model: type[M], raw: dict[str, Any], where: str, notices: list[str],
                      prefix: str = "", root: type[BaseModel] | None = None) -> M:
    """Build ``model`` from ``raw`` one key at a time with the model's own validation
    (``validate_assignment``): valid values are kept, each bad one is dropped (its default
    stays) and named in ``notices`` with what it accepts; unknown keys are named with a
    did-you-mean. Sections (sub-models) are validated the same way, recursively."""
    root = root or model
    value = model()
    for key, item in raw.items():
        name = f"{prefix}{key}"
        field = model.model_fields.get(key)
        if field is None:
            hint = _suggest(key, prefix, model, root)
            what = "section" if isinstance(item, dict) else "setting"
            shown = f"[{name}]" if what == "section" else name
            if hint and _section_model(_field_at(root, hint)) is not None:
                hint = f"[{hint}]"
            notices.append(f"{where}: unknown {what} {shown}"
                           + (f" (did you mean {hint}?)" if hint else "") + "; it is ignored.")
            continue
        sub = _section_model(field)
        if sub is not None:
            if not isinstance(item, dict):
                notices.append(f"{where}: {name} = {_toml_value(item)} should be a section ([{name}] "
                               "followed by its settings); its defaults are used.")
                continue
            item = _validate_per_key(sub, item, where, notices, f"{name}.", root)
        try:
            setattr(value, key, item)
        except ValidationError as exc:
            default = getattr(model(), key)
            reason = exc.errors()[0].get("msg", "") if exc.errors() else ""
            notices.append(f"{where}: {name} = {_toml_value(item)} is not valid (expected "
                           f"{describe_field(field)}{'; ' + reason.lower() if reason and 'Input should be' not in reason else ''});"
                           + (" it is left unset." if default is None else f" the default {_toml_value(default)} is used."))
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def _move_aside(path: Path) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        path.replace(aside)
        return f"it was moved to {aside}"
    except OSError:
        return "it could not be moved aside"


def load_toml_model_notices(path: Path, model: type[M], what: str = "settings") -> tuple[M, list[str]]:
    """Read a TOML file into a pydantic model key by key; nothing the user wrote is lost.

    * missing file → ``model()``, no notices;
    * a file that is not TOML (or not UTF-8) is moved aside to ``<name>.corrupt-<UTC time>``,
      the defaults are used and the notice says where it went;
    * a file that cannot be read (permissions) is left alone and the defaults are used;
    * otherwise every valid value is used, and each bad value (wrong type, out of range,
      unknown choice) or unknown key gives one notice naming the key, the value found and
      what is allowed (or the closest known key). The file itself is not changed.

    Args:
        path: the TOML file.
        model: the pydantic model class (``validate_assignment=True``; every field has a
            default).
        what: how notices name the file ("settings", "appearance settings").

    Returns:
        ``(value, notices)``: the model and a list of one-line messages (empty normally).
    """
    if not path.exists():
        return model(), []
    try:
        data = _read_toml(path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = _move_aside(path)
        return model(), [f"The {what} file {path} could not be read ({first}); {where} and the "
                         "defaults are used. Fix or delete that copy and re-apply your settings."]
    except OSError as exc:
        return model(), [f"The {what} file {path} could not be read ({describe_os_error(exc)}); "
                         "the defaults are used."]
    notices: list[str] = []
    value = _validate_per_key(model, data, str(path), notices)
    return value, notices


def load_toml_model(path: Path, model: type[M], what: str = "settings") -> tuple[M, str | None]:
    """:func:`load_toml_model_notices` with the notices joined into one string, one notice
    per line (``None`` if there are none) — what the CLI and the app show."""
    value, notices = load_toml_model_notices(path, model, what)
    return value, "\n".join(notices) or None


def _merge_changes(raw: dict[str, Any], new: dict[str, Any], old: dict[str, Any],
                   model: type[BaseModel]) -> dict[str, Any]:
    """``raw`` (the file as parsed) with only the values where ``new`` differs from ``old``
    (what the file meant when loaded) written in; everything else in ``raw`` — keys the
    user set, unknown keys, even bad values that are warned about at load — stays."""
    out = dict(raw)
    for name, field in model.model_fields.items():
        sub = _section_model(field)
        if sub is not None:
            before = out.get(name) if isinstance(out.get(name), dict) else {}
            merged = _merge_changes(before, new.get(name) or {}, old.get(name) or {}, sub)
            if merged != before:  # (a bad non-table value is replaced only by a change)
                out[name] = merged
            continue
        if new.get(name) != old.get(name):
            if new.get(name) is None:  # TOML has no null: an unset optional value is left out
                out.pop(name, None)
            else:
                out[name] = new[name]
    return out


def save_toml_model(value: BaseModel, path: Path, what: str = "settings") -> Path:
    """Write what changed in ``value`` into the TOML file at ``path``, atomically and private.

    Only values that differ from what the file currently means are written; every other
    line the user wrote — including unknown keys and values that are invalid (and warned
    about at load) — is kept, so a bad key never costs the user the others, and the file
    only lists what the user set (defaults are not copied into it). A file that is not
    TOML is moved aside first (as at load). The write goes through
    :func:`assistant.private_files.write_private`: mode 0600, temp file + ``os.replace``.

    Returns:
        ``path``.

    Raises:
        PrivateWriteError: the file could not be written (e.g. the disk is full); the
            previous file is unchanged.
    """
    model = type(value)
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = _read_toml(path)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            _move_aside(path)
            raw = {}
        except OSError as exc:
            raise PrivateWriteError(path, exc, f"the {what}") from exc
    old = _validate_per_key(model, raw, str(path), [])
    merged = _merge_changes(raw, value.model_dump(mode="json"), old.model_dump(mode="json"), model)
    return write_private(path, tomli_w.dumps(merged), what=f"the {what} ({path})")


def load_settings(path: Path | None = None) -> tuple[Settings, str | None]:
    """Read settings (see :func:`load_toml_model_notices`).

    Args:
        path: file to read; default :func:`settings_path`.

    Returns:
        ``(settings, notice)``. ``notice`` is None normally; otherwise one line per problem:
        each bad value or unknown key named (the other values are used), or where an
        unparseable file was moved (then ``settings`` are the defaults).
    """
    return load_toml_model(path or settings_path(), Settings)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings that changed into ``settings.toml`` (see :func:`save_toml_model`):
    atomic, mode 0600, the user's other lines kept. Returns the path written.

    Raises:
        PrivateWriteError: the file could not be written (disk full...); it is unchanged.
    """
    return save_toml_model(settings, path or settings_path())
