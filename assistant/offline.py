"""Nothing leaves the machine: switch off every library's "call home" before it loads.

ONNX Runtime (used by the Piper voice and by faster-whisper's Silero VAD) ships, since
1.29, a 1DS telemetry client in its official Linux wheels that is *on by default*: a few
seconds after ``import onnxruntime`` a native thread resolves
``mobile.events.data.microsoft.com`` and uploads usage events. It reads the switch
``ORT_DISABLE_TELEMETRY`` from the environment **when the module is imported**;
``onnxruntime.disable_telemetry_events()`` alone, called after the import, does *not*
stop it (measured with onnxruntime 1.32: four DNS queries either way). Hence
:func:`apply` sets the environment first, and is called from ``assistant/__init__.py`` so
it runs before any module of the engine can import onnxruntime; the API call is made
as well, right after onnxruntime is imported (:func:`disable_onnxruntime_telemetry`).

The same variables go into the environment of every child process (Rasa's Python, see
``assistant.nlu.interpreter.child_env``) through :data:`OFFLINE_ENV`. Proven by
``tests/test_faults_security.py`` (``strace`` of real ``assistant ask`` / ``assistant run``:
no DNS query, no connection to a non-loopback address).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
from typing import Any, Optional, Sequence

log = logging.getLogger(__name__)

#: Environment that keeps every library we load (or a child process loads) off the network.
OFFLINE_ENV: dict[str, str] = {
    # ONNX Runtime >= 1.29 1DS telemetry (Piper, faster-whisper's Silero VAD).
    "ORT_DISABLE_TELEMETRY": "1",
    # Rasa's own telemetry (Segment) and its Sentry error reports.
    "RASA_TELEMETRY_ENABLED": "false",
    # Hugging Face Hub (faster-whisper model look-ups) and friends: no downloads, no pings.
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    # The cross-tool convention (https://consoledonottrack.com) that several CLIs honour.
    "DO_NOT_TRACK": "1",
    # TensorFlow (inside Rasa) does not call home, but keep its log quiet and local.
    "TF_CPP_MIN_LOG_LEVEL": "2",
}

_applied = False
#: True once ``onnxruntime.disable_telemetry_events()`` has been called in this process.
ort_api_called = False


def apply() -> None:
    """Put :data:`OFFLINE_ENV` into ``os.environ`` (overriding user values: the offline
    promise is not a preference) and make sure ONNX Runtime's telemetry API switch is
    thrown as soon as onnxruntime is imported. Idempotent; cheap (does not import
    onnxruntime).

    If onnxruntime was imported before this ran (an embedding program imported it first),
    its telemetry client already read the environment: the API switch is thrown at once
    and a warning is logged, since only the environment variable is known to stop it.
    """
    global _applied
    os.environ.update(OFFLINE_ENV)
    if _applied:
        return
    _applied = True
    if "onnxruntime" in sys.modules:
        log.warning("onnxruntime was imported before the assistant; its telemetry may already be running "
                    "(set ORT_DISABLE_TELEMETRY=1 before importing it)")
        disable_onnxruntime_telemetry()
    else:
        sys.meta_path.insert(0, _OnnxruntimeHook())


def disable_onnxruntime_telemetry() -> bool:
    """Call ``onnxruntime.disable_telemetry_events()`` if onnxruntime is imported.

    Returns:
        True if the call was made, False if onnxruntime is not loaded or lacks the API.
    """
    global ort_api_called
    ort = sys.modules.get("onnxruntime")
    fn = getattr(ort, "disable_telemetry_events", None)
    if fn is None:
        return False
    try:
        fn()
    except Exception as exc:  # never let a privacy switch break model loading
        log.warning("onnxruntime.disable_telemetry_events() failed: %s", exc)
        return False
    ort_api_called = True
    return True


class _OnnxruntimeHook(importlib.abc.MetaPathFinder):
    """One-shot meta-path finder: when the top-level ``onnxruntime`` package is imported,
    wrap its loader's ``exec_module`` so that :func:`disable_onnxruntime_telemetry` runs
    right after the package has executed, i.e. before anyone can create an
    ``InferenceSession``. Removes itself from ``sys.meta_path`` on first use."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: Any = None) -> Any:
        """Python import protocol; only acts on ``onnxruntime`` itself."""
        if fullname != "onnxruntime":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = getattr(spec, "loader", None)
        inner = getattr(loader, "exec_module", None)
        if inner is None:
            return spec

        def exec_module(module: Any) -> None:
            inner(module)
            disable_onnxruntime_telemetry()

        loader.exec_module = exec_module  # this loader instance serves only this module
        return spec
