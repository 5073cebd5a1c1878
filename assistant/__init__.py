"""The offline voice assistant engine (no Qt here): audio, wake word, VAD, ASR, the Rasa
bridge, the skill host, TTS, the pipeline state machine, settings, traces and the CLI."""

__version__ = "0.1.0"

# Before anything can import onnxruntime: its telemetry reads the environment at import.
from assistant.offline import apply as apply_offline  # noqa: E402

apply_offline()
