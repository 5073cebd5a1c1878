"""Rasa's child processes: the boot script, spawning, stopping, and reading their logs.

Every Rasa command (``rasa train``, ``rasa run``) is started through :func:`boot_script`
(run by Rasa's Python), in its own process group (:func:`popen`), and stopped with
:func:`terminate` (SIGTERM to the group, SIGKILL after a grace period). :class:`Children`
tracks the processes one sidecar owns so a finalizer can kill them. Rasa's output goes to
log files; :func:`log_excerpt` picks the lines worth quoting in an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, Optional

from assistant.nlu.config import ENTITY_FILTER
from assistant.nlu.project import dump_yaml

log = logging.getLogger(__name__)

#: The Rasa HTTP API routes the app uses (method, path regex): everything else answers 404,
#: and every request, these included, needs ``?token=`` (see :data:`BOOT`).
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
BOOT = r"""
import os, sys, threading, time
_parent = int(os.environ.pop("ASSISTANT_PARENT_PID", "0") or 0)
def _exit_now(code):
    # os._exit, not sys.exit: this runs on the watcher thread, where sys.exit would end
    # only the thread; and nothing of Rasa's (3.6.21, Python 3.10) shutdown may run, as the
    # app that would read its output is gone. The one private-API call of the boot script.
    os._exit(code)
def _watch_parent():
    while True:
        time.sleep(1.0)
        if os.getppid() != _parent:
            _exit_now(3)
if _parent and os.name == "posix":
    threading.Thread(target=_watch_parent, name="parent-watch", daemon=True).start()
# TensorFlow-free pipelines (see tensorflow_free): Rasa 3.6 imports TensorFlow, Keras and
# TensorBoard whatever the pipeline (its component registry imports DIET, TED, ...), which
# costs ~370 MB and ~2 s. Here those packages are replaced by inert stand-ins: any
# attribute is a class that can be subclassed, called, used as a decorator or subscripted,
# and does nothing. Only used when no component of the config runs TensorFlow code.
_stubbed = tuple(filter(None, os.environ.pop("ASSISTANT_RASA_STUB", "").split(",")))
if _stubbed:
    import importlib.abc, importlib.machinery, types

    class _StandInMeta(type):
        def __getattr__(cls, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            sub = _StandInMeta(name, (_StandIn,), {"__module__": cls.__module__})
            type.__setattr__(cls, name, sub)
            return sub
        def __call__(cls, *a, **k):
            if len(a) == 1 and not k and callable(a[0]) and not isinstance(a[0], _StandInMeta):
                return a[0]  # @tf.function and the like: the function itself
            if not a and k:
                return lambda f: f  # @tf.function(...)
            return cls
        def __getitem__(cls, item):
            return cls
        def __or__(cls, other):
            return cls
        __ror__ = __or__
        def __iter__(cls):
            return iter(())
        def __bool__(cls):
            return False

    class _StandIn(metaclass=_StandInMeta):
        pass

    class _StandInModule(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            sub = _StandInMeta(name, (_StandIn,), {"__module__": self.__name__})
            setattr(self, name, sub)
            return sub

    class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname.split(".")[0] in _stubbed:
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None
        def create_module(self, spec):
            module = _StandInModule(spec.name)
            module.__path__ = []
            module.__version__ = "0+stand-in"
            return module
        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _StandInFinder())
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


def boot_script(root: Path) -> Path:
    """Write :data:`BOOT` to ``root/rasa_boot.py`` (if changed) and return its path, so
    ``ps`` shows ``python …/rasa_boot.py run …`` rather than the whole script; beside it,
    the project's own Rasa component (:data:`COMPONENTS_SOURCE` as
    ``assistant_entity_intents.py``), which Rasa imports by module path from that folder.

    Raises:
        OSError: ``root`` cannot be written."""
    path = root / "rasa_boot.py"
    _write_if_changed(path, BOOT)
    # Rasa imports the project's own NLU components by module path; the boot script's
    # folder is first on its sys.path (the app's package itself is not importable there)
    module = ENTITY_FILTER.rsplit(".", 1)[0]
    _write_if_changed(root / f"{module}.py", COMPONENTS_SOURCE.read_text(encoding="utf-8"))
    return path


#: The Rasa-side source of :data:`assistant.nlu.config.ENTITY_FILTER`.
COMPONENTS_SOURCE = Path(__file__).with_name("rasa_entity_intents.py")


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically unless it already holds exactly that."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def private_dir() -> Path:
    """A new owner-only (0700) folder for one sidecar's per-run files (``endpoints.yml``
    with the action server's token, ``credentials.yml``, the boot script): below
    ``$XDG_RUNTIME_DIR`` (a per-user tmpfs) if it exists, else the system temp folder."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base or not os.path.isdir(base) or not os.access(base, os.W_OK):
        base = None
    return Path(tempfile.mkdtemp(prefix="assistant-rasa-", dir=base))


class RunFolder:
    """One sidecar's private 0700 folder of per-run files (see :func:`private_dir`):
    created by the first :meth:`get`, deleted by :meth:`remove` (and, at the latest, when
    this object is collected or the interpreter exits)."""

    def __init__(self) -> None:
        self.path: Optional[Path] = None

    def get(self) -> Path:
        """The folder, created now if it does not exist (again)."""
        if self.path is None or not self.path.is_dir():
            self.path = private_dir()
            weakref.finalize(self, shutil.rmtree, str(self.path), True)
        return self.path

    def write_run_files(self, action_url: str, action_token: str) -> None:
        """Write ``endpoints.yml`` (the action server's URL and token; mode 0600) and
        ``credentials.yml`` (the REST channel) into the folder (created if needed)."""
        rundir = self.get()
        endpoints = rundir / "endpoints.yml"  # holds the webhook token: owner-only
        endpoints.touch(mode=0o600)
        endpoints.chmod(0o600)
        endpoints.write_text(dump_yaml({"action_endpoint": {"url": action_url, "token": action_token}}),
                             encoding="utf-8")
        # The REST channel stays (one round trip per turn) but, like every route, only
        # answers requests with the token (see BOOT).
        (rundir / "credentials.yml").write_text(dump_yaml({"rest": None}), encoding="utf-8")

    def remove(self) -> None:
        """Delete the folder and its files. Idempotent."""
        path, self.path = self.path, None
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


def popen(cmd: list[str], **kw: Any) -> subprocess.Popen:
    """``subprocess.Popen(cmd, stdin=DEVNULL, **kw)`` in a new process group (session on
    POSIX), so :func:`terminate` can signal the child and everything it started."""
    if os.name == "posix":
        kw["start_new_session"] = True  # own process group: one signal stops everything
    else:  # pragma: no cover - Windows
        kw["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)


def terminate(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
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


class Children:
    """The child processes a sidecar owns; shared with its finalizer (which must not hold
    a reference to the sidecar itself)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()

    def add(self, proc: subprocess.Popen) -> None:
        """Track ``proc``."""
        with self.lock:
            self.procs.add(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        """Stop tracking ``proc`` (no error if it was not tracked)."""
        with self.lock:
            self.procs.discard(proc)

    def kill_all(self, grace_s: float = 5.0) -> None:
        """:func:`terminate` every tracked process (``grace_s`` seconds each) and forget them."""
        with self.lock:
            procs = list(self.procs)
            self.procs.clear()
        for proc in procs:
            terminate(proc, grace_s)


def free_port(host: str) -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
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


def tail(path: Path, nbytes: int = 64_000, start: int = 0) -> str:
    """The last ``nbytes`` of ``path`` (never before byte ``start``), decoded leniently."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(start, f.tell() - nbytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


@contextlib.contextmanager
def file_lock(path: Path):
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


#: Rasa components and policies that run no TensorFlow code (Rasa 3.6.21): a config made only
#: of these runs with TensorFlow replaced by stand-ins (see :func:`boot_env`).
TENSORFLOW_FREE = frozenset({
    "WhitespaceTokenizer", "RegexFeaturizer", "LexicalSyntacticFeaturizer", "CountVectorsFeaturizer",
    "LogisticRegressionClassifier", "SklearnIntentClassifier", "KeywordIntentClassifier",
    "CRFEntityExtractor", "RegexEntityExtractor", "EntitySynonymMapper", "FallbackClassifier",
    "MemoizationPolicy", "AugmentedMemoizationPolicy", "RulePolicy", ENTITY_FILTER,
})
#: The packages replaced by stand-ins for a TensorFlow-free config.
STUBBED_PACKAGES = ("tensorflow", "tensorflow_addons", "tensorflow_hub", "tensorflow_text", "keras",
                    "tensorboard", "jax", "jaxlib")


def tensorflow_free(config: dict) -> bool:
    """Whether every pipeline component and policy of the Rasa ``config`` (the dict of
    :func:`assistant.nlu.config.build_config`) is in :data:`TENSORFLOW_FREE`."""
    names = [c.get("name") for c in (*config.get("pipeline", []), *config.get("policies", []))]
    return bool(names) and all(n in TENSORFLOW_FREE for n in names)


def boot_env(config: dict) -> dict[str, str]:
    """Environment entries for :data:`BOOT` running Rasa on ``config``:
    ``ASSISTANT_RASA_PREIMPORT``, the modules imported before Rasa (see the note on skops),
    and ``ASSISTANT_RASA_STUB``, the packages replaced by stand-ins when the config is
    :func:`tensorflow_free` (Rasa then needs ~370 MB less and starts ~2 s sooner; measured
    with ``import rasa.core.agent``: 560 → 190 MB peak RSS, 3.4 → 1.4 s)."""
    names = {c.get("name") for c in config.get("pipeline", [])}
    return {
        "ASSISTANT_RASA_PREIMPORT": "skops.io" if "LogisticRegressionClassifier" in names else "",
        "ASSISTANT_RASA_STUB": ",".join(STUBBED_PACKAGES) if tensorflow_free(config) else "",
    }
