"""Finding Rasa's Python: the Python 3.10 interpreter with rasa 3.6 installed.

Rasa 3.6 only runs on Python 3.10, so it lives in its own virtual environment
(``.venv-rasa``, made by ``scripts/setup.sh``). :func:`find_rasa_python` locates and
checks it; :func:`child_env` is the environment every child process of that Python gets
(offline switches from :mod:`assistant.offline`, no leaking ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Optional

from assistant.errors import NLUError
from assistant.offline import OFFLINE_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP_COMMAND = "scripts/setup.sh"
SETUP_HINT = (f"Run {SETUP_COMMAND} to create .venv-rasa (Python 3.10 with rasa==3.6.21), or set "
              "nlu.python in the settings (or $ASSISTANT_RASA_PYTHON) to such a Python.")

_PROBE = ("import sys, rasa; print('%d.%d' % sys.version_info[:2]); print(rasa.__version__)")

_probe_cache: dict[tuple[str, float], tuple[bool, str, str]] = {}


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process of Rasa's Python: this process's environment
    without ``PYTHONPATH``/``PYTHONHOME``/``VIRTUAL_ENV`` (they would mix our Python 3.x
    packages into Python 3.10), plus :data:`~assistant.offline.OFFLINE_ENV`, unbuffered
    UTF-8 output, and ``extra`` (name -> value) last."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__")}
    env.update(OFFLINE_ENV)  # no telemetry, no model hub look-ups (assistant.offline)
    env.update({
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONIOENCODING": "utf-8",
    })
    env.update(extra)
    return env


def _venv_python(venv: Path) -> Path:
    """The ``python`` executable inside virtual environment ``venv``."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _probe(path: Path) -> tuple[bool, str, str]:
    """``(ok, what was found, rasa version)`` for one candidate interpreter."""
    if not path.exists():
        return False, "no such file", ""
    if path.is_dir():
        return False, "a folder, not a Python executable", ""
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError as exc:
        return False, f"unreadable ({exc.strerror})", ""
    if key in _probe_cache:
        return _probe_cache[key]
    env = child_env()
    try:
        out = subprocess.run([str(path), "-c", _PROBE], capture_output=True, text=True, timeout=60,
                             env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        res = (False, f"cannot run it ({exc})", "")
    else:
        lines = out.stdout.split()
        if out.returncode != 0 or len(lines) < 2:
            try:
                version = subprocess.run([str(path), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                         capture_output=True, text=True, timeout=30, env=env).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                version = ""
            res = (False, f"Python {version or '?'} without rasa" if version else "not a working Python", "")
        elif lines[0] != "3.10" or not lines[1].startswith("3.6."):
            res = (False, f"Python {lines[0]} with rasa {lines[1]}", lines[1])
        else:
            res = (True, f"Python {lines[0]} with rasa {lines[1]}", lines[1])
    _probe_cache[key] = res
    return res


def find_rasa_python(setting: Optional[str | os.PathLike] = None) -> Path:
    """Locate the Python 3.10 interpreter that has rasa 3.6 installed.

    Order: ``setting`` (``settings.nlu.python``) if given — then only that one, since the
    user chose it; otherwise ``<repo>/.venv-rasa/bin/python``, then
    ``$ASSISTANT_RASA_PYTHON``. Each candidate is checked by running it (``import rasa``;
    about 0.1 s, cached per file).

    Args:
        setting: path of a Python executable, or None.

    Returns:
        The interpreter path (not symlink-resolved: resolving a venv's ``python`` would
        leave the venv).

    Raises:
        NLUError: "Rasa needs Python 3.10 with rasa 3.6 installed; not found at …", naming
            what was found at each candidate, with a hint to run the set-up command.
    """
    if setting:
        candidates = [Path(setting).expanduser()]
    else:
        candidates = [_venv_python(REPO_ROOT / ".venv-rasa")]
        env = os.environ.get("ASSISTANT_RASA_PYTHON")
        if env:
            candidates.append(Path(env).expanduser())
    tried = []
    for path in candidates:
        path = path if path.is_absolute() else Path.cwd() / path
        ok, found, _ = _probe(path)
        if ok:
            return path
        tried.append(f"{path} ({found})")
    raise NLUError(f"Rasa needs Python 3.10 with rasa 3.6 installed; not found at {'; '.join(tried)}.",
                   SETUP_HINT)


def rasa_version(python: Path) -> str:
    """The rasa version installed for ``python`` (e.g. ``"3.6.21"``).

    Raises:
        NLUError: ``python`` is not a Python 3.10 with rasa 3.6.
    """
    ok, found, version = _probe(Path(python))
    if not ok:
        raise NLUError(f"Rasa needs Python 3.10 with rasa 3.6 installed; not found at {python} ({found}).",
                       SETUP_HINT)
    return version
