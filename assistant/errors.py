"""User-facing errors of the engine.

Every failure a user can cause or fix (a missing model, an unreadable file, no microphone,
no Python 3.10 for Rasa) is raised as an :class:`AssistantError` carrying *what went wrong*
and *what to do*. The CLI prints those two lines and exits non-zero; the UI shows them in
the window. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class AssistantError(Exception):
    """An error the user can understand and act on.

    Args:
        message: what went wrong, one sentence, naming the file/device/model involved.
        hint: what the user can do about it, one sentence (may be empty).
        exit_code: process exit status the CLI uses for this error (default 2).
    """

    exit_code = 2

    def __init__(self, message: str, hint: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:  # pragma: no cover - trivial
        return f"{self.message} {self.hint}".strip()


class AudioInputError(AssistantError):
    """An audio file cannot be decoded, or is empty/truncated."""


class DeviceError(AssistantError):
    """No usable audio input/output device, or the device disappeared."""


class ModelError(AssistantError):
    """A model file or folder is missing, corrupt or of the wrong kind."""


class NLUError(AssistantError):
    """The Rasa sidecar cannot be installed, trained, started or reached."""


class SkillError(AssistantError):
    """A skill failed to load, validate or run."""


class SettingsError(AssistantError):
    """A settings value is invalid."""
