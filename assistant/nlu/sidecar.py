"""Rasa as a sidecar process: find its Python, train (cached), run, talk to it, restart it.

Rasa 3.6 only runs on Python 3.10, so it lives in its own virtual environment
(``.venv-rasa``, made by ``scripts/setup.sh``) and runs as a child process bound to
127.0.0.1, protected by a random auth token. The skills' custom actions run in *this*
process (:class:`~assistant.nlu.action_server.ActionServer`); Rasa calls them over HTTP.

No open door: every request to Rasa, on every route (the REST channel ``/webhooks/rest/
webhook`` and ``/``, ``/version`` included), needs the token (401 otherwise); only the
routes in :data:`API_ROUTES` exist (404 for the rest, wrong methods included); no CORS
origin is ever granted. The action server likewise answers nothing without its own
token. Per-run files (``endpoints.yml`` with the action server's URL and token,
``credentials.yml``, the boot script) live in a private 0700 folder per sidecar
(:attr:`RasaSidecar.rundir`, under ``$XDG_RUNTIME_DIR``), so two running instances never
read each other's; only the trained model is shared.

Life cycle::

    sidecar = RasaSidecar(project, actions, settings.nlu, bus)
    sidecar.ensure_trained()      # cache hit: instant; else `rasa train` (seconds)
    sidecar.start()               # action server + `rasa run`, waits for /status
    result = sidecar.message("default", "set a timer for five minutes")
    sidecar.stop()                # also happens at interpreter exit

Trained models are cached in ``cache_dir()/rasa/<hash>/model.tar.gz`` where the hash
covers every YAML file, the config and the Rasa version, so an unchanged set of skills
never trains twice. Rasa's own output goes to ``train.log`` / ``server.log`` in that
folder and is quoted in errors, never printed to the console.

The child cannot outlive the app: it is stopped by :meth:`RasaSidecar.stop`, by a
``weakref.finalize`` hook (which also runs at interpreter exit), and, should the app be
killed outright, by a thread in the child that exits when its parent process disappears.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional
from urllib.parse import quote

import httpx

from assistant.errors import NLUError
from assistant.events import EventBus, Notice, NLUReady, NLURestarting, Progress
from assistant.nlu.action_server import ActionServer
from assistant.nlu.config import build_config, config_yaml, with_fallback
from assistant.nlu.project import RasaProject, dump_yaml
from assistant.offline import OFFLINE_ENV
from assistant.settings import NLUSettings, cache_dir

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP_COMMAND = "scripts/setup.sh"
SETUP_HINT = (f"Run {SETUP_COMMAND} to create .venv-rasa (Python 3.10 with rasa==3.6.21), or set "
              "nlu.python in the settings (or $ASSISTANT_RASA_PYTHON) to such a Python.")
RESTART_NOTICE = "The language engine stopped; restarting it."
#: Bump when the layout of the work folder or the way Rasa is invoked changes.
_LAYOUT_VERSION = "1"
_MODEL_NAME = "model"
_KEEP_MODELS = 6

#: The Rasa HTTP API routes the app uses (method, path regex): everything else answers 404,
#: and every request, these included, needs ``?token=`` (see :data:`_BOOT`).
API_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", r"/status"),
    ("POST", r"/webhooks/rest/webhook"),
    ("POST", r"/model/parse"),
    ("GET", r"/conversations/[^/]+/tracker"),
    ("PUT", r"/conversations/[^/]+/tracker/events"),
)

# Runs inside the Rasa Python: exit when the app (our parent) disappears, read the auth
# token from the environment (so it is not visible in `ps`), close every door we do not
# use, then hand over to Rasa's CLI.
#
# Rasa's own --auth-token protects its HTTP API only: the REST input channel
# (/webhooks/rest/webhook, which runs skill actions), "/" and "/version" answer anyone,
# and a browser page may POST to them (text/plain needs no CORS preflight). So: Sanic-CORS
# is not installed (no automatic OPTIONS answers, no Access-Control-* headers, and a
# response middleware drops any such header anyway); a request middleware answers 401 to
# any request without the token and 404 to any route not in API_ROUTES; a wrong method on
# a known path (OPTIONS included) answers 404 too.
_BOOT = r"""
import os, sys, threading, time
_parent = int(os.environ.pop("ASSISTANT_PARENT_PID", "0") or 0)
def _watch_parent():
    while True:
        time.sleep(1.0)
        if os.getppid() != _parent:
            os._exit(3)
if _parent and os.name == "posix":
    threading.Thread(target=_watch_parent, name="parent-watch", daemon=True).start()
# skops (LogisticRegressionClassifier's model format) scans every loaded module for each
# numpy/scipy ufunc when first imported: ~1 s now, 10-16 s once TensorFlow and jax are in.
for _name in filter(None, os.environ.pop("ASSISTANT_RASA_PREIMPORT", "").split(",")):
    try:
        __import__(_name)
    except Exception:
        pass
_args = sys.argv[1:]
_token = os.environ.pop("ASSISTANT_RASA_TOKEN", "")
if _token:
    _args.append("--auth-token=" + _token)
    import hmac, re
    import rasa.core.run as _run
    import rasa.server as _server
    _server.configure_cors = lambda app, cors_origins=None: None  # no Sanic-CORS at all
    _ROUTES = [(_m, re.compile(_p)) for _m, _p in %(routes)r]
    _configure_app = _run.configure_app

    def _guarded_app(*a, **kw):
        from sanic import response as _response
        app = _configure_app(*a, **kw)

        async def _guard(request):
            given = (request.args.get("token") or "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, _token.encode("utf-8")):
                return _response.json({"error": "missing or wrong token"}, status=401)
            if not any(request.method == m and p.fullmatch(request.path) for m, p in _ROUTES):
                return _response.json({"error": "not found"}, status=404)

        async def _no_cors(request, response):
            for key in [k for k in response.headers if k.lower().startswith("access-control-")]:
                del response.headers[key]

        app.request_middleware.appendleft(_guard)
        app.response_middleware.append(_no_cors)
        try:  # unknown method on a known path: 404 like any other closed door, not 405
            from sanic.exceptions import MethodNotSupported

            @app.exception(MethodNotSupported)
            async def _method(request, exc):
                return _response.json({"error": "not found"}, status=404)
        except Exception:
            pass
        return app

    _run.configure_app = _guarded_app
sys.argv = ["rasa"] + _args
from rasa.__main__ import main
main()
""" % {"routes": API_ROUTES}


def _boot_script(root: Path) -> Path:
    """Write :data:`_BOOT` to ``root/rasa_boot.py`` (if changed) and return its path, so
    ``ps`` shows ``python …/rasa_boot.py run …`` rather than the whole script."""
    path = root / "rasa_boot.py"
    try:
        if path.read_text(encoding="utf-8") == _BOOT:
            return path
    except OSError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(_BOOT, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _private_dir() -> Path:
    """A new owner-only (0700) folder for one sidecar's per-run files (``endpoints.yml``
    with the action server's token, ``credentials.yml``, the boot script): below
    ``$XDG_RUNTIME_DIR`` (a per-user tmpfs) if it exists, else the system temp folder."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base or not os.path.isdir(base) or not os.access(base, os.W_OK):
        base = None
    return Path(tempfile.mkdtemp(prefix="assistant-rasa-", dir=base))


_PROBE = ("import sys, rasa; print('%d.%d' % sys.version_info[:2]); print(rasa.__version__)")

_probe_cache: dict[tuple[str, float], tuple[bool, str, str]] = {}


# --------------------------------------------------------------------------------------
# Finding Rasa's Python
# --------------------------------------------------------------------------------------
def _venv_python(venv: Path) -> Path:
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
    env = _child_env()
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


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass
class DialogueResult:
    """What Rasa made of one user turn.

    Attributes:
        intent: intent name (``nlu_fallback`` when not understood); "" if Rasa gave none.
        confidence: intent confidence in [0, 1].
        entities: ``[{"entity", "value", "start", "end", "confidence"?, "role"?,
            "group"?}]`` (character offsets into ``text``; one entry per span even when
            several extractors found it).
        replies: the bot's text messages, in order.
        expects_answer: the dialogue waits for the user: a form is active, or a bot message
            carried the custom payload ``{"expect_answer": true}``.
        active_loop: name of the active form, or None.
        slots: all slot values after the turn.
        custom: the custom payloads of the bot's messages, in order.
        text: the user text that was sent.
        elapsed_ms: wall time of the turn, milliseconds.
    """

    intent: str
    confidence: float
    entities: list[dict]
    replies: list[str]
    expects_answer: bool
    active_loop: Optional[str]
    slots: dict
    custom: list[dict] = field(default_factory=list)
    text: str = ""
    elapsed_ms: float = 0.0


def normalize_entities(raw: Iterable[dict] | None) -> list[dict]:
    """Rasa entity dicts → ``{"entity", "value", "start", "end", "confidence"?, "role"?,
    "group"?}``, keeping the first of several extractors' results for the same span."""
    out: list[dict] = []
    seen: set[tuple] = set()
    for e in raw or []:
        d: dict[str, Any] = {"entity": e.get("entity"), "value": e.get("value"),
                             "start": e.get("start"), "end": e.get("end")}
        conf = e.get("confidence_entity", e.get("confidence"))
        if conf is not None:
            d["confidence"] = float(conf)
        for k in ("role", "group"):
            if e.get(k):
                d[k] = e[k]
        key = (d["entity"], d["start"], d["end"], d.get("role"), d.get("group"))
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out


# --------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------
def _child_env(**extra: str) -> dict[str, str]:
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


def _popen(cmd: list[str], **kw: Any) -> subprocess.Popen:
    if os.name == "posix":
        kw["start_new_session"] = True  # own process group: one signal stops everything
    else:  # pragma: no cover - Windows
        kw["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)


def _terminate(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL it after ``grace_s`` seconds.

    Rasa keeps nothing on disk (in-memory tracker store), so the SIGKILL fallback loses
    nothing; it is needed because Sanic may wait up to its 15 s graceful-shutdown timeout.
    """
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGTERM)
        else:  # pragma: no cover - Windows
            proc.terminate()
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        log.info("Rasa (pid %d) still running %.0f s after SIGTERM; killing it", proc.pid, grace_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover - Windows
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    # A killed group leader may leave children: sweep the group once more.
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


class _Children:
    """The child processes a sidecar owns; shared with its finalizer (which must not hold
    a reference to the sidecar itself)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()

    def add(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.add(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.discard(proc)

    def kill_all(self, grace_s: float = 5.0) -> None:
        with self.lock:
            procs = list(self.procs)
            self.procs.clear()
        for proc in procs:
            _terminate(proc, grace_s)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NOISE = re.compile(
    r"Warning:|warnings\.warn|declare_namespace|import pkg_resources|Implementing implicit namespace|"
    r"Base: DeclarativeMeta|xla_computation|^\s*(Processed|Epochs:|  [a-z_.]+\()|\d+%\|| it/s|"
    r"^\s*More info at|tensorflow/|oneDNN|^\s*\)\.|setParseAction|parseString|resetCache|LooseVersion|^\s*$")
_ERROR_LINE = re.compile(r"^\s*(\w+\.)*\w*(Error|Exception)\b|Traceback|InvalidDomain|ERROR\s|^[\w ]+: error: ")


def log_excerpt(text: str, max_lines: int = 8, max_chars: int = 900) -> str:
    """The last meaningful lines of Rasa's output: ANSI colours and warning noise dropped,
    starting at the last error line if there is one.

    Args:
        text: the log text.
        max_lines: at most this many lines.
        max_chars: at most this many characters (the end is kept).

    Returns:
        The excerpt (lines joined with newlines); "" if nothing is left.
    """
    lines = [_ANSI.sub("", ln).rstrip() for ln in text.replace("\r", "\n").splitlines()]
    useful = [ln for ln in lines if ln.strip() and not _NOISE.search(ln)]
    start = max(0, len(useful) - max_lines)
    for i in range(len(useful) - 1, -1, -1):
        if _ERROR_LINE.search(useful[i]):
            start = i
            break
    chunk = useful[start:start + max_lines]
    out = "\n".join(ln if len(ln) <= 300 else ln[:297] + "..." for ln in chunk)
    return out if len(out) <= max_chars else "..." + out[-max_chars:]


def _tail(path: Path, nbytes: int = 64_000, start: int = 0) -> str:
    """The last ``nbytes`` of ``path`` (never before byte ``start``), decoded leniently."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(start, f.tell() - nbytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


@contextlib.contextmanager
def _file_lock(path: Path):
    """Exclusive advisory lock (POSIX ``flock``; a no-op elsewhere) so two processes do
    not train the same model at once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------
# The sidecar
# --------------------------------------------------------------------------------------
class RasaSidecar:
    """Owns one Rasa server process and the in-process action server it calls.

    Args:
        project: the composed training data; the ``nlu_fallback`` rule and
            ``utter_default`` response are added if missing (:func:`with_fallback`).
        actions: ``rasa_sdk.Action`` instances served to Rasa from this process.
        settings: ``settings.nlu`` (Python path, host, port, pipeline, thresholds, action
            time budget); defaults if None.
        bus: events are published here: :class:`~assistant.events.Progress` while
            training/starting, :class:`~assistant.events.Notice` on a restart,
            ``ActionStarted``/``ActionFinished`` for custom actions.
        workdir: root of the model cache instead of ``cache_dir()/"rasa"``; each trained
            project gets a ``<hash>/`` folder below it.
        auto_restart: let the watchdog restart a Rasa process that died between turns
            (at most 3 times in 10 minutes); :meth:`message` restarts it anyway.
        on_action_error: passed to :class:`ActionServer` as ``on_error``.

    Nothing is started or checked in the constructor; errors come from
    :meth:`ensure_trained` and :meth:`start` (:class:`~assistant.errors.NLUError`).
    Rasa's training cache (reused component outputs, at most 300 MB) lives in
    ``<cache>/rasa/training-cache``, not in ``~/.rasa``.

    Attributes:
        python: Rasa's interpreter (after :meth:`ensure_trained`).
        workdir: the ``<hash>`` folder of this project (after :meth:`ensure_trained`).
        model_path: the trained ``model.tar.gz`` (after :meth:`ensure_trained`).
        trained: True if the last :meth:`ensure_trained` ran ``rasa train``, False if it
            was a cache hit, None before.
        train_seconds: duration of that training, seconds (0.0 on a cache hit).
        start_seconds: duration of the last server start until healthy, seconds.
        url: base URL of the Rasa server while running.
        restarts: how many times the server was restarted after dying.
        rundir: this instance's private 0700 folder of per-run files (``endpoints.yml``,
            ``credentials.yml``, ``rasa_boot.py``); created on first use (training or
            start), removed by :meth:`stop`; None before and after.
    """

    def __init__(
        self,
        project: RasaProject,
        actions: Iterable[Any] = (),
        settings: Optional[NLUSettings] = None,
        bus: Optional[EventBus] = None,
        workdir: Optional[str | os.PathLike] = None,
        *,
        auto_restart: bool = True,
        on_action_error: Optional[Callable[[str, str], None]] = None,
    ) -> None:
        self.settings = settings or NLUSettings()
        self.project = with_fallback(project)
        self.config = build_config(self.settings.pipeline, self.settings.fallback_threshold)
        self.actions = list(actions)
        self.bus = bus
        self.auto_restart = auto_restart
        self._root = Path(workdir) if workdir else cache_dir() / "rasa"
        self._on_action_error = on_action_error

        self.python: Optional[Path] = None
        self.rasa_version: str = ""
        self.workdir: Optional[Path] = None
        self.model_path: Optional[Path] = None
        self.trained: Optional[bool] = None
        self.train_seconds = 0.0
        self.start_seconds = 0.0
        self.url = ""
        self.restarts = 0

        self._token = secrets.token_hex(24)  # hex: never starts with "-" (argparse would take it for an option)
        self._lock = threading.RLock()
        self._proc: Optional[subprocess.Popen] = None
        self._ready = False
        self._running = False  # start() called and stop() not yet
        self._generation = 0
        self._auto_restarts: list[float] = []
        self._action_server: Optional[ActionServer] = None
        self._http: Optional[httpx.Client] = None
        self._watch_stop = threading.Event()
        self._watchdog: Optional[threading.Thread] = None
        self._children = _Children()
        #: Owner-only folder of this instance's per-run files (``endpoints.yml`` with the
        #: action server's URL and token, ``credentials.yml``, the boot script), so two
        #: running instances never read each other's; removed by :meth:`stop`.
        self.rundir: Optional[Path] = None
        self._finalizer = weakref.finalize(self, self._children.kill_all)

    # -- properties --------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True while the server is up, has loaded the model and passed the health check."""
        return self._ready and self.is_alive()

    @property
    def pid(self) -> Optional[int]:
        """Process id of the Rasa server (for RSS measurement), None when not running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def action_server(self) -> Optional[ActionServer]:
        """The in-process action server (after :meth:`start`)."""
        return self._action_server

    def is_alive(self) -> bool:
        """True if the Rasa server process exists and has not exited."""
        proc = self._proc
        return proc is not None and proc.poll() is None

    # -- training ----------------------------------------------------------------------
    def _files(self) -> dict[str, str]:
        files = dict(self.project.yaml_files())
        files["config.yml"] = config_yaml(self.config)
        return files

    def project_hash(self) -> str:
        """sha256 (hex) over the YAML files, the config, the Rasa version and the work-folder
        layout version: the cache key of the trained model.

        Raises:
            NLUError: Rasa's Python cannot be found (its version is part of the hash).
        """
        self._resolve_python()
        h = hashlib.sha256()
        for name, text in sorted(self._files().items()):
            h.update(name.encode() + b"\0" + text.encode("utf-8") + b"\0")
        h.update(f"rasa={self.rasa_version};layout={_LAYOUT_VERSION}".encode())
        return h.hexdigest()

    def _resolve_python(self) -> Path:
        if self.python is None:
            python = find_rasa_python(self.settings.python)
            self.rasa_version = rasa_version(python)
            self.python = python
        return self.python

    def ensure_trained(self, timeout: float = 1800.0) -> Path:
        """Write the project into its cache folder and train it unless already trained.

        The folder is ``<cache>/rasa/<first 20 hex digits of project_hash()>/``; it holds
        ``domain.yml``, ``data/*.yml``, ``config.yml``, ``model.tar.gz`` and ``train.log``.
        Publishes :class:`Progress` (task ``"nlu-train"``) while training.

        Args:
            timeout: give up training after this many seconds.

        Returns:
            Path of ``model.tar.gz``.

        Raises:
            NLUError: no usable Rasa Python, or training failed / timed out (the message
                quotes the last meaningful lines of Rasa's output; the hint names the log).
        """
        with self._lock:
            python = self._resolve_python()
            digest = self.project_hash()
            folder = self._root / digest[:20]
            model = folder / f"{_MODEL_NAME}.tar.gz"
            self.workdir, self.model_path = folder, model
            if model.exists():
                self._cache_hit(folder)
                return model
            folder.mkdir(parents=True, exist_ok=True)
            with _file_lock(folder / ".train.lock"):
                if model.exists():  # another process trained it while we waited
                    self._cache_hit(folder)
                    return model
                for rel, text in self._files().items():
                    path = folder / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
                self._train(python, folder, model, timeout)
            self._prune(keep=_KEEP_MODELS, current=folder)
            return model

    def _private(self) -> Path:
        """This instance's private run folder (created on first use, 0700)."""
        if self.rundir is None or not self.rundir.is_dir():
            self.rundir = _private_dir()
            weakref.finalize(self, shutil.rmtree, str(self.rundir), True)
        return self.rundir

    def _cache_hit(self, folder: Path) -> None:
        self.trained, self.train_seconds = False, 0.0
        with contextlib.suppress(OSError):
            (folder / ".last_used").touch()
        log.info("Rasa model cache hit: %s", folder)
        self._progress("nlu-train", 1.0, "Using the cached language model.")

    def _train(self, python: Path, folder: Path, model: Path, timeout: float) -> None:
        tmp_out = folder / "models-tmp"
        shutil.rmtree(tmp_out, ignore_errors=True)
        log_path = folder / "train.log"
        n_steps = max(1, len(self.config["pipeline"]) - 2 + len(self.config["policies"]))
        cmd = [str(python), str(_boot_script(self._private())), "train", "--config", "config.yml", "--domain", "domain.yml",
               "--data", "data", "--out", str(tmp_out), "--fixed-model-name", _MODEL_NAME]
        env = _child_env(ASSISTANT_PARENT_PID=str(os.getpid()), ASSISTANT_RASA_PREIMPORT=self._preimports(),
                         RASA_CACHE_DIRECTORY=str(self._root / "training-cache"), RASA_MAX_CACHE_SIZE="300")
        self._progress("nlu-train", 0.0, "Training the language model…")
        t0 = time.monotonic()
        with log_path.open("w", encoding="utf-8") as logf:
            proc = _popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, encoding="utf-8", errors="replace", bufsize=1)
            self._children.add(proc)
            timer = threading.Timer(timeout, _terminate, args=(proc, 2.0))
            timer.daemon = True
            timer.start()
            done = 0
            try:
                assert proc.stdout is not None
                for line in proc.stdout:  # universal newlines: progress bars' \r split too
                    logf.write(line if line.endswith("\n") else line + "\n")
                    if "Finished training component" in line:
                        done += 1
                        comp = line.split("component", 1)[1].strip(" '.\n")
                        self._progress("nlu-train", min(0.95, done / n_steps), f"Trained {comp}.")
                rc = proc.wait()
            finally:
                timer.cancel()
                self._children.discard(proc)
                if proc.poll() is None:
                    _terminate(proc, 2.0)
        elapsed = time.monotonic() - t0
        produced = tmp_out / f"{_MODEL_NAME}.tar.gz"
        if rc != 0 or not produced.exists():
            why = "timed out" if elapsed >= timeout else f"failed (exit code {rc})"
            excerpt = log_excerpt(_tail(log_path))
            self._progress("nlu-train", 1.0, "Training the language model failed.")
            raise NLUError(f"Training the language model {why}: {excerpt or 'Rasa printed nothing.'}",
                           f"Rasa's full output is in {log_path}.")
        os.replace(produced, model)
        shutil.rmtree(tmp_out, ignore_errors=True)
        (folder / ".last_used").touch()
        self.trained, self.train_seconds = True, elapsed
        log.info("trained the Rasa model in %.1f s: %s", elapsed, model)
        self._progress("nlu-train", 1.0, f"Language model trained in {elapsed:.0f} s.")

    def _prune(self, keep: int, current: Path) -> None:
        """Delete all but the ``keep`` most recently used model folders (never ``current``
        nor one used in the last 10 minutes)."""
        try:
            folders = [p for p in self._root.iterdir()
                       if p.is_dir() and re.fullmatch(r"[0-9a-f]{20}", p.name)]
        except OSError:
            return

        def last_used(p: Path) -> float:
            try:
                return (p / ".last_used").stat().st_mtime
            except OSError:
                return p.stat().st_mtime

        folders.sort(key=last_used, reverse=True)
        for p in folders[keep:]:
            if p != current and time.time() - last_used(p) > 600:
                shutil.rmtree(p, ignore_errors=True)

    # -- serving -----------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        """Train if needed, start the action server and ``rasa run``, wait until healthy.

        Idempotent while running. Publishes :class:`Progress` (task ``"nlu-start"``).

        Args:
            timeout: seconds to wait for the server to load the model and answer
                ``/status``.

        Raises:
            NLUError: no Rasa Python, training failed, the server exited during start-up
                or was not ready within ``timeout`` (with the log excerpt).
        """
        with self._lock:
            if self._running and self.ready:
                return
            model = self.model_path if self.model_path and self.model_path.exists() else self.ensure_trained()
            assert self.workdir is not None
            if self._action_server is None:
                self._action_server = ActionServer(self.actions, host="127.0.0.1", port=0,
                                                   timeout_s=self.settings.action_timeout_s,
                                                   on_error=self._on_action_error, bus=self.bus)
            self._action_server.start()
            self._check_actions()
            # Per instance, never in the shared model folder: another running instance (or a
            # second start of this one) must not make our Rasa call its action server.
            rundir = self._private()
            endpoints = rundir / "endpoints.yml"  # holds the webhook token: owner-only
            endpoints.touch(mode=0o600)
            endpoints.chmod(0o600)
            endpoints.write_text(dump_yaml({"action_endpoint": {"url": self._action_server.url,
                                                                "token": self._action_server.token}}),
                                 encoding="utf-8")
            # The REST channel stays (one round trip per turn) but, like every route, only
            # answers requests with the token (see _BOOT).
            (rundir / "credentials.yml").write_text(dump_yaml({"rest": None}), encoding="utf-8")
            self._running = True
            try:
                self._spawn(model, timeout)
            except BaseException:
                self._running = False
                raise
            if self._http is None:
                self._http = self._new_client()
            if self._watchdog is None or not self._watchdog.is_alive():
                self._watch_stop.clear()
                self._watchdog = threading.Thread(target=_watchdog, args=(weakref.ref(self), self._watch_stop),
                                                  name="rasa-watchdog", daemon=True)
                self._watchdog.start()

    def _preimports(self) -> str:
        """Modules the boot script imports before Rasa (see the note in ``_BOOT``)."""
        names = {c.get("name") for c in self.config.get("pipeline", [])}
        return "skops.io" if "LogisticRegressionClassifier" in names else ""

    def _new_client(self) -> httpx.Client:
        # A turn may run a few custom actions, each with its own budget.
        t = self.settings.action_timeout_s
        return httpx.Client(timeout=httpx.Timeout(15.0 + 3 * t, connect=5.0), trust_env=False)

    def _check_actions(self) -> None:
        domain_actions = {a for a in (self.project.domain.get("actions") or []) if isinstance(a, str)}
        custom = {a for a in domain_actions if not a.startswith("utter_")}
        served = set(self._action_server.action_names) if self._action_server else set()
        for missing in sorted(custom - served):
            if not missing.startswith("validate_"):
                log.warning("domain action %s has no registered rasa_sdk Action; Rasa will get a 404", missing)
        for extra in sorted(served - domain_actions):
            log.warning("registered action %s is not listed in the domain; Rasa will never call it", extra)

    def _spawn(self, model: Path, timeout: float) -> None:
        """Start ``rasa run`` and wait for /status. Caller holds the lock."""
        assert self.python is not None and self.workdir is not None
        host = self.settings.host
        log_path = self.workdir / "server.log"
        with contextlib.suppress(OSError):
            if log_path.stat().st_size > 2_000_000:
                os.replace(log_path, log_path.with_suffix(".log.1"))
        self._progress("nlu-start", 0.0, "Starting the language engine…")
        t0 = time.monotonic()
        for attempt in range(3):
            port = self.settings.port or _free_port(host)
            rundir = self._private()
            cmd = [str(self.python), str(_boot_script(rundir)), "run", "--enable-api", "-i", host, "-p", str(port),
                   "--model", str(model), "--endpoints", str(rundir / "endpoints.yml"),
                   "--credentials", str(rundir / "credentials.yml")]
            env = _child_env(ASSISTANT_PARENT_PID=str(os.getpid()), ASSISTANT_RASA_TOKEN=self._token,
                             ASSISTANT_RASA_PREIMPORT=self._preimports())
            with log_path.open("ab") as logf:
                logf.write(f"\n===== rasa run on {host}:{port} at {time.ctime()} =====\n".encode())
                logf.flush()
                offset = logf.tell()
                proc = _popen(cmd, cwd=rundir, env=env, stdout=logf, stderr=subprocess.STDOUT)
            self._children.add(proc)
            self._proc, self._ready = proc, False
            self.url = f"http://{host}:{port}"
            try:
                self._wait_healthy(proc, log_path, offset, t0 + timeout, timeout)
            except _PortBusy:
                self._children.discard(proc)
                if self.settings.port or attempt == 2:
                    raise NLUError(f"The language engine could not listen on {host}:{port}: the port is in use.",
                                   "Set nlu.port to 0 (pick a free port) or to a free port.") from None
                continue
            break
        self._ready = True
        self.start_seconds = time.monotonic() - t0
        log.info("Rasa ready at %s (pid %d) in %.1f s", self.url, proc.pid, self.start_seconds)
        self._progress("nlu-start", 1.0, f"Language engine ready in {self.start_seconds:.0f} s.")

    def _wait_healthy(self, proc: subprocess.Popen, log_path: Path, offset: int, deadline: float,
                      timeout: float) -> None:
        last_note = time.monotonic()
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                rc = proc.poll()
                if rc is not None:
                    text = _tail(log_path, 200_000, start=offset)
                    if re.search(r"address already in use|Errno 98|Errno 48", text, re.I):
                        raise _PortBusy()
                    self._children.discard(proc)
                    raise NLUError(f"The language engine (Rasa) exited during start-up (exit code {rc}): "
                                   f"{log_excerpt(text) or 'Rasa printed nothing.'}",
                                   f"Rasa's full output is in {log_path}.")
                try:
                    r = client.get(f"{self.url}/status", params={"token": self._token})
                    if r.status_code == 200 and (r.json() or {}).get("model_file"):
                        return
                except (httpx.TransportError, ValueError):
                    pass
                now = time.monotonic()
                if now > deadline:
                    _terminate(proc, 2.0)
                    self._children.discard(proc)
                    raise NLUError(f"The language engine (Rasa) was not ready within {timeout:.0f} s: "
                                   f"{log_excerpt(_tail(log_path, start=offset)) or 'no output'}",
                                   f"Rasa's full output is in {log_path}; a slow or busy machine may need "
                                   "a longer start-up timeout.")
                if now - last_note > 3.0:
                    last_note = now
                    self._progress("nlu-start", -1.0, "Loading the language model…")
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the Rasa process (SIGTERM to its process group, SIGKILL after 8 s), the
        watchdog and the action server. Idempotent; also runs at interpreter exit."""
        with self._lock:
            self._running = False
            self._ready = False
            self._watch_stop.set()
            if self._http is not None:  # drop keep-alive connections first: Sanic waits for them
                self._http.close()
                self._http = None
            proc, self._proc = self._proc, None
            if proc is not None:
                _terminate(proc, grace_s=1.0)  # nothing on disk to lose; Sanic ignores SIGTERM for 5+ s (quit must be prompt)
                self._children.discard(proc)
            self._children.kill_all()
            if self._action_server is not None:
                self._action_server.stop()
            rundir, self.rundir = self.rundir, None
            if rundir is not None:
                shutil.rmtree(rundir, ignore_errors=True)
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(timeout=2.0)
        self._watchdog = None

    close = stop

    def restart(self, timeout: float = 120.0) -> None:
        """Stop the Rasa process and start it again with the same model (the action server
        keeps running). Conversation state held by Rasa is lost.

        Raises:
            NLUError: as :meth:`start`.
        """
        with self._lock:
            if not self._running:
                self.start(timeout)
                return
            proc, self._proc = self._proc, None
            self._ready = False
            if self._http is not None:  # fresh connections to the new server
                self._http.close()
                self._http = self._new_client()
            if proc is not None:
                _terminate(proc)
                self._children.discard(proc)
            assert self.model_path is not None
            self._spawn(self.model_path, timeout)
            self._generation += 1

    def _recover(self, observed_generation: int, reason: str, timeout: float = 120.0) -> None:
        """Restart after a failure seen at ``observed_generation`` unless another thread
        already did. Publishes the restart Notice."""
        with self._lock:
            if not self._running:
                raise NLUError("The language engine is not running.", "Start it first (RasaSidecar.start()).")
            if self._generation != observed_generation and self.ready:
                return
            log.warning("Rasa sidecar failed (%s); restarting it", reason)
            if self.bus is not None:  # typed: the pipeline says "one moment", the UI shows a banner
                self.bus.publish(NLURestarting(message=RESTART_NOTICE, reason=reason))
            self.restarts += 1
            self.restart(timeout)
            if self.bus is not None:  # clears the banner
                self.bus.publish(NLUReady(restarted=True))

    def _check_process(self) -> None:
        """Watchdog tick: notice a server that died and (optionally) restart it."""
        if not self._running or self._proc is None:
            return
        gen = self._generation
        proc = self._proc
        rc = proc.poll()
        if rc is None or not self._ready:
            return
        self._ready = False
        log.warning("Rasa server (pid %d) exited with code %s", proc.pid, rc)
        if not self.auto_restart:
            return
        now = time.monotonic()
        self._auto_restarts = [t for t in self._auto_restarts if now - t < 600]
        if len(self._auto_restarts) >= 3:
            self._notice("error", "The language engine keeps stopping.",
                         f"See {self.workdir / 'server.log' if self.workdir else 'server.log'}.")
            return
        self._auto_restarts.append(now)
        try:
            self._recover(gen, f"process exited with code {rc}")
        except NLUError as exc:
            log.error("could not restart Rasa: %s", exc)
            self._notice("error", exc.message, exc.hint)

    # -- talking -----------------------------------------------------------------------
    def message(self, sender_id: str, text: str, *, interaction: str = "") -> DialogueResult:
        """Send one user utterance through Rasa's dialogue and collect the outcome.

        Posts to ``/webhooks/rest/webhook?token=…`` (runs NLU, policies and any custom actions),
        then reads ``/conversations/<sender_id>/tracker`` for intent, entities, active form
        and slots. If Rasa is dead or the connection fails, publishes the Notice "The
        language engine stopped; restarting it.", restarts Rasa (blocking, same model) and
        retries once. Note that Rasa's conversation state is lost on a restart.

        Args:
            sender_id: conversation id (one per user/session).
            text: the user's utterance.
            interaction: interaction id stamped on ``ActionStarted``/``ActionFinished``.

        Returns:
            A :class:`DialogueResult`.

        Raises:
            NLUError: not started, the restart failed, the retry failed too, or Rasa
                answered with an HTTP error.
        """
        if not self._running:
            raise NLUError("The language engine is not running.", "Start it first (RasaSidecar.start()).")
        if self._action_server is not None:
            self._action_server.interaction = interaction
        t0 = time.monotonic()
        gen = self._generation
        recovered = False
        if not self.ready:
            self._recover(gen, "process not running")
            recovered = True
        try:
            result = self._turn(sender_id, text)
        except httpx.TransportError as exc:
            if recovered:
                raise NLUError(f"The language engine did not answer: {exc}.",
                               f"See {self.workdir / 'server.log' if self.workdir else 'server.log'}.") from exc
            self._recover(gen, f"{type(exc).__name__}: {exc}")
            try:
                result = self._turn(sender_id, text)
            except httpx.TransportError as exc2:
                raise NLUError(f"The language engine did not answer after a restart: {exc2}.",
                               f"See {self.workdir / 'server.log' if self.workdir else 'server.log'}.") from exc2
        result.elapsed_ms = (time.monotonic() - t0) * 1000
        return result

    def _client(self) -> httpx.Client:
        http = self._http
        if http is None:
            raise NLUError("The language engine is not running.", "Start it first (RasaSidecar.start()).")
        return http

    def _check(self, r: httpx.Response, what: str) -> Any:
        if r.status_code >= 400:
            raise NLUError(f"The language engine failed on {what} (HTTP {r.status_code}): {r.text[:300]}",
                           f"See {self.workdir / 'server.log' if self.workdir else 'server.log'}.")
        try:
            return r.json()
        except ValueError as exc:
            raise NLUError(f"The language engine sent an unreadable answer to {what}.") from exc

    def _turn(self, sender_id: str, text: str) -> DialogueResult:
        http, base, params = self._client(), self.url, {"token": self._token}
        msgs = self._check(http.post(f"{base}/webhooks/rest/webhook", params=params,
                                     json={"sender": sender_id, "message": text}), "a message") or []
        tracker = self._check(http.get(f"{base}/conversations/{quote(sender_id, safe='')}/tracker",
                                       params={**params, "include_events": "NONE"}), "the tracker") or {}
        replies = [m["text"] for m in msgs if isinstance(m, dict) and m.get("text")]
        custom = [m["custom"] for m in msgs if isinstance(m, dict) and isinstance(m.get("custom"), dict)]
        latest = tracker.get("latest_message") or {}
        if (latest.get("text") or "").strip() == text.strip():
            intent = latest.get("intent") or {}
            name, conf, ents = intent.get("name") or "", float(intent.get("confidence") or 0.0), \
                normalize_entities(latest.get("entities"))
        else:
            # action_default_fallback reverts the user message, so the tracker no longer
            # shows it: ask the NLU directly (a few ms).
            name, conf, ents = self._parse(text)
        ents = self._resolve(text, ents, name)
        loop = (tracker.get("active_loop") or {}).get("name") or None
        expects = bool(loop) or any(c.get("expect_answer") is True for c in custom)
        return DialogueResult(intent=name, confidence=conf, entities=ents, replies=replies,
                              expects_answer=expects, active_loop=loop, slots=dict(tracker.get("slots") or {}),
                              custom=custom, text=text)

    def _parse_raw(self, text: str) -> dict:
        return self._check(self._client().post(f"{self.url}/model/parse", params={"token": self._token},
                                               json={"text": text}), "parsing") or {}

    def _parse(self, text: str) -> tuple[str, float, list[dict]]:
        data = self._parse_raw(text)
        intent = data.get("intent") or {}
        return (intent.get("name") or "", float(intent.get("confidence") or 0.0),
                self._resolve(text, normalize_entities(data.get("entities")), intent.get("name")))

    def _resolve(self, text: str, entities: list[dict], intent: Optional[str] = None) -> list[dict]:
        """Entity resolution (one entity per span, declared values): assistant.skills.resolve."""
        from assistant.skills import resolve

        if not resolve.ENABLED:
            return entities
        if getattr(self, "_resolver", None) is None:
            self._resolver = resolve.EntityResolver.from_nlu(self.project.nlu, self.project.domain)
        focus = intent.split("__", 1)[0] if intent and "__" in intent else None  # the intent's skill
        return self._resolver.resolve(text, entities, intent, focus=focus)

    def parse(self, text: str) -> tuple[str, float, list[dict]]:
        """NLU only (no dialogue, no actions) via ``/model/parse``: for evaluation.

        Returns:
            ``(intent name, confidence in [0, 1], entities)`` with entities as in
            :class:`DialogueResult`.

        Raises:
            NLUError: not started, unreachable (after one restart-and-retry) or an HTTP error.
        """
        if not self._running:
            raise NLUError("The language engine is not running.", "Start it first (RasaSidecar.start()).")
        gen = self._generation
        if not self.ready:
            self._recover(gen, "process not running")
        try:
            return self._parse(text)
        except httpx.TransportError as exc:
            self._recover(gen, f"{type(exc).__name__}: {exc}")
            try:
                return self._parse(text)
            except httpx.TransportError as exc2:
                raise NLUError(f"The language engine did not answer after a restart: {exc2}.") from exc2

    def parse_full(self, text: str) -> dict:
        """Rasa's whole ``/model/parse`` answer (``intent``, ``intent_ranking`` — which keeps
        the classifier's ranking under an ``nlu_fallback`` — ``entities``, ``text``): for
        evaluating thresholds offline. No restart-and-retry.

        Raises:
            NLUError: not started or an HTTP error.
            httpx.TransportError: the server is unreachable.
        """
        if not self._running:
            raise NLUError("The language engine is not running.", "Start it first (RasaSidecar.start()).")
        return self._parse_raw(text)

    def forget(self, sender_id: str) -> None:
        """Drop a conversation's dialogue state (slots, active form, history) in Rasa.

        Rasa sends a conversation's *whole* event history to the action server with every
        custom action call, so a long-lived ``sender_id`` makes turns slowly heavier; call
        this (or switch ids) when a dialogue is over. The next message starts a new session.

        Raises:
            NLUError: not started, unreachable or an HTTP error.
        """
        try:
            r = self._client().put(f"{self.url}/conversations/{quote(sender_id, safe='')}/tracker/events",
                                   params={"token": self._token}, json=[])
        except httpx.TransportError as exc:
            raise NLUError(f"The language engine did not answer: {exc}.") from exc
        self._check(r, "forgetting a conversation")

    # -- helpers -----------------------------------------------------------------------
    def _progress(self, task: str, fraction: float, message: str) -> None:
        if self.bus is not None:
            self.bus.publish(Progress(task=task, fraction=fraction, message=message))

    def _notice(self, level: str, message: str, hint: str = "") -> None:
        if self.bus is not None:
            self.bus.publish(Notice(stage="nlu", level=level, message=message, hint=hint))

    def __enter__(self) -> "RasaSidecar":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "ready" if self.ready else ("starting" if self._running else "stopped")
        return f"<RasaSidecar {self.settings.pipeline} {state} {self.url or ''}>"


class _PortBusy(Exception):
    pass


def _watchdog(ref: "weakref.ref[RasaSidecar]", stop: threading.Event) -> None:
    """Poll the sidecar's process every 0.5 s without keeping the sidecar alive."""
    while not stop.wait(0.5):
        sidecar = ref()
        if sidecar is None:
            return
        try:
            sidecar._check_process()
        except Exception:  # never let the watchdog die silently
            log.exception("Rasa watchdog failed")
        del sidecar
