"""Where the assistant keeps its files, per user (platformdirs), each overridable by an
environment variable (tests, packages, a second profile). A leaf module: anything may
import it. Paths are absolute because the Rasa sidecar runs in another working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "offline-assistant"


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
