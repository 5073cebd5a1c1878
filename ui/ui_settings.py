"""Settings that belong to the desktop app only (appearance, tray behaviour).

The engine's :class:`assistant.settings.Settings` ignores unknown keys, so the app keeps its
own small file next to it: ``<config dir>/ui.toml``. Like the engine's file, a corrupt one is
moved aside (``ui.toml.corrupt-<UTC time>``) and defaults are used, with a notice.
"""

from __future__ import annotations

from pathlib import Path

import tomli_w
from pydantic import BaseModel, ConfigDict, Field

from assistant.settings import config_dir, load_toml_model


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
    """Write ``ui.toml`` atomically; returns the path."""
    path = path or ui_settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    with tmp.open("wb") as f:
        tomli_w.dump(settings.model_dump(mode="json"), f)
    tmp.replace(path)
    return path
