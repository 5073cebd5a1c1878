"""Settings that belong to the desktop app only (appearance, tray behaviour).

The app keeps its own small file next to the engine's ``settings.toml``:
``<config dir>/ui.toml``. It is read and written exactly like the engine's file
(:func:`assistant.settings.load_toml_model` / :func:`assistant.settings.save_toml_model`):
per key (a bad value or unknown key is named in a notice, the others are used), a file that
is not TOML is moved aside (``ui.toml.corrupt-<UTC time>``), and saving is atomic, mode 0600,
keeping the user's other lines.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from assistant.settings import config_dir, load_toml_model, save_toml_model


class UISettings(BaseModel):
    """Appearance and window behaviour.

    Attributes:
        high_contrast: use the high-contrast palette (white on black, yellow focus).
        font_scale: multiplies the system font size (1.0 = the desktop's size).
        close_to_tray: closing the window keeps the assistant running in the tray.
        start_hidden: start in the tray without showing the window.
        trace_rows: how many recent interactions the latency view lists.
        listen_on_start: open the microphone when the engine is ready.
    """

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    high_contrast: bool = False
    font_scale: float = Field(1.0, ge=0.75, le=3.0)
    close_to_tray: bool = True
    start_hidden: bool = False
    trace_rows: int = Field(20, ge=1, le=200)
    listen_on_start: bool = True


def ui_settings_path() -> Path:
    """Path of ``ui.toml``."""
    return config_dir() / "ui.toml"


def load_ui_settings(path: Path | None = None) -> tuple[UISettings, str | None]:
    """Read ``ui.toml``; returns ``(settings, notice)`` exactly like
    :func:`assistant.settings.load_settings`."""
    return load_toml_model(path or ui_settings_path(), UISettings, "appearance settings")


def save_ui_settings(settings: UISettings, path: Path | None = None) -> Path:
    """Write what changed into ``ui.toml`` (atomic, mode 0600); returns the path.

    Raises:
        assistant.private_files.PrivateWriteError: it could not be written (disk full...).
    """
    return save_toml_model(settings, path or ui_settings_path(), "appearance settings")
