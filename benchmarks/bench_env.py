"""A benchmark's own throwaway profile: temporary config and data folders.

A benchmark drives the real assistant, and its skills keep state in the data folder
(reminders, notes, timers) and read settings from the config folder. Run against the user's
own profile, a benchmark's "Remind me to call mom in ten minutes." rang during the *next*
benchmark run ten minutes later (its reply interaction was counted as a missed command) —
and would have rung in the user's own assistant. So every benchmark that starts skills calls
:func:`isolate` before it builds the assistant; the model and Rasa caches stay shared
(``ASSISTANT_CACHE_DIR``, default ``<repo>/.cache``). Not for a module a test imports
(``nlu_eval``, which only parses): it would move the test session's own folders.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def isolate(prefix: str) -> Path:
    """Point ``ASSISTANT_CONFIG_DIR`` and ``ASSISTANT_DATA_DIR`` (read by
    :mod:`assistant.paths` whenever a path is needed) at new empty folders under a fresh
    temporary directory named ``<prefix>-…``, overriding any value set outside, and return
    that directory. The folders are left in place after the run (traces, notes) for a look."""
    home = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    os.environ["ASSISTANT_CONFIG_DIR"] = str(home / "config")
    os.environ["ASSISTANT_DATA_DIR"] = str(home / "data")
    return home
