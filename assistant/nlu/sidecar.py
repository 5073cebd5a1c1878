"""Rasa as a sidecar process: find its Python, train (cached), run, talk to it, restart it.

This module is the facade; the parts live in :mod:`~assistant.nlu.interpreter` (finding
Rasa's Python), :mod:`~assistant.nlu.training` (the trained-model cache),
:mod:`~assistant.nlu.children` (boot script, spawning/stopping child processes, logs),
:mod:`~assistant.nlu.process` (the server process and its watchdog) and
:mod:`~assistant.nlu.client` (HTTP).

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

import functools
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, TypeVar

import httpx

from assistant.errors import NLUError
from assistant.events import EventBus, Notice, NLUReady, NLURestarting, Progress
from assistant.nlu.action_server import ActionServer, warn_unmatched_actions
from assistant.nlu.children import Children, RunFolder, boot_env, log_excerpt
from assistant.nlu.client import DialogueResult, RasaClient, ResolveFn, normalize_entities
from assistant.nlu.carriers import with_carrier_phrases
from assistant.nlu.plurals import with_plural_lookups
from assistant.nlu.config import build_config, with_fallback
from assistant.nlu.interpreter import find_rasa_python, rasa_version
from assistant.nlu.process import RasaServer, Watchdog
from assistant.nlu.project import RasaProject
from assistant.nlu.training import ModelCache
from assistant.settings import NLUSettings, cache_dir

log = logging.getLogger(__name__)

# Re-exported: other modules import these from here.
__all__ = ["RESTART_NOTICE", "DialogueResult", "RasaSidecar", "find_rasa_python", "log_excerpt",
           "normalize_entities", "rasa_version"]

RESTART_NOTICE = "The language engine stopped; restarting it."
_NOT_RUNNING = ("The language engine is not running.", "Start it first (RasaSidecar.start()).")
T = TypeVar("T")


def _publish_progress(bus: Optional[EventBus], task: str, fraction: float, message: str) -> None:
    if bus is not None:
        bus.publish(Progress(task=task, fraction=fraction, message=message))


def _log_hint(models: ModelCache) -> str:
    return f"See {models.workdir / 'server.log' if models.workdir else 'server.log'}."


class RasaSidecar:
    """Owns one Rasa server process and the in-process action server it calls.

    Args:
        project: the composed training data; the ``nlu_fallback`` rule and
            ``utter_default`` response are added if missing (:func:`with_fallback`).
        actions: ``rasa_sdk.Action`` instances served to Rasa from this process.
        settings: ``settings.nlu`` (Python path, host, port, pipeline, thresholds, action
            time budget); defaults if None.
        bus: events are published here: :class:`~assistant.events.Progress` while
            training/starting, :class:`~assistant.events.NLURestarting` (a ``Notice``)
            then :class:`~assistant.events.NLUReady` on a restart after a failure,
            ``ActionStarted``/``ActionFinished`` for custom actions.
        workdir: root of the model cache instead of ``cache_dir()/"rasa"``; each trained
            project gets a ``<hash>/`` folder below it.
        auto_restart: let the watchdog restart a Rasa process that died between turns
            (at most 3 times in 10 minutes); :meth:`message` restarts it anyway.
        on_action_error: passed to :class:`ActionServer` as ``on_error``.
        resolve: entity resolution applied to every turn's entities before the dialogue
            sees them (``resolve(text, entities, intent) -> entities``); the engine passes
            :class:`assistant.skills.resolve.ProjectResolution` of the project. None keeps
            the entities as Rasa extracted them (the NLU layer knows nothing of skills).

    Nothing is started or checked in the constructor; errors come from
    :meth:`ensure_trained` and :meth:`start` (:class:`~assistant.errors.NLUError`).
    Rasa's training cache (reused component outputs, at most 300 MB) lives in
    ``<cache>/rasa/training-cache``, not in ``~/.rasa``.

    Composed of :class:`~assistant.nlu.training.ModelCache` (training, cache),
    :class:`~assistant.nlu.process.RasaServer` (the process, its token),
    :class:`~assistant.nlu.process.Watchdog` and :class:`~assistant.nlu.client.RasaClient`
    (HTTP); this class adds the life cycle and the restart-and-retry policy.

    Attributes:
        restarts: how many times the server was restarted after dying.
        settings, project, config, actions, bus, auto_restart: as given (``project`` with
            the fallback added; ``config`` built from ``settings``).

    Read-only properties (see each): ``ready``, ``pid``, ``token``, ``url``, ``python``,
    ``rasa_version``, ``workdir``, ``model_path``, ``trained``, ``train_seconds``,
    ``start_seconds``, ``rundir``, ``action_server``.
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
        resolve: Optional[ResolveFn] = None,
    ) -> None:
        self.settings = settings or NLUSettings()
        self.project = with_fallback(project)
        if self.settings.carrier_phrases:
            self.project = with_carrier_phrases(self.project)
        if self.settings.plural_lookups:
            self.project = with_plural_lookups(self.project)
        self.config = build_config(self.settings.pipeline, self.settings.fallback_threshold,
                                   entity_filter=self.settings.entity_filter)
        self.actions = list(actions)
        self.bus = bus
        self.auto_restart = auto_restart
        self.restarts = 0
        self._on_action_error = on_action_error
        self._lock = threading.RLock()
        self._running = False  # start() called and stop() not yet
        self._generation = 0
        self._auto_restarts: list[float] = []
        self._action_server: Optional[ActionServer] = None
        # The parts get plain functions, never bound methods of self: the watchdog and
        # the finalizer rely on this object being collectable without a cycle.
        progress = functools.partial(_publish_progress, bus)
        self._children = Children()
        self._rundir = RunFolder()
        models = self._models = ModelCache(self.project, self.config, self.settings.python,
                                           Path(workdir) if workdir else cache_dir() / "rasa",
                                           self._children, progress, self._rundir.get)
        server = self._server = RasaServer(self.settings, self._children, progress)
        self._client = RasaClient(lambda: server.url, server.token, self.settings.action_timeout_s,
                                  resolve or _as_parsed, functools.partial(_log_hint, models))
        self._watchdog = Watchdog(self)
        self._finalizer = weakref.finalize(self, self._children.kill_all)

    # -- properties --------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True while the server is up, has loaded the model and passed the health check."""
        return self._server.healthy and self._server.is_alive()

    @property
    def pid(self) -> Optional[int]:
        """Process id of the Rasa server (for RSS measurement), None when not running."""
        return self._server.pid

    @property
    def token(self) -> str:
        """The Rasa server's auth token (48 hex digits, fixed for this object's life): every
        request must carry it as ``?token=``."""
        return self._server.token

    @property
    def action_server(self) -> Optional[ActionServer]:
        """The in-process action server (after :meth:`start`)."""
        return self._action_server

    @property
    def python(self) -> Optional[Path]:
        """Rasa's interpreter (after :meth:`ensure_trained`), or None."""
        return self._models.python

    @property
    def rasa_version(self) -> str:
        """The rasa version of :attr:`python` (e.g. ``"3.6.21"``); "" before it is found."""
        return self._models.rasa_version

    @property
    def workdir(self) -> Optional[Path]:
        """The ``<hash>`` folder of this project (after :meth:`ensure_trained`), or None."""
        return self._models.workdir

    @property
    def model_path(self) -> Optional[Path]:
        """The trained ``model.tar.gz`` (after :meth:`ensure_trained`), or None."""
        return self._models.model_path

    @property
    def trained(self) -> Optional[bool]:
        """True if the last :meth:`ensure_trained` trained, False on a cache hit, None before."""
        return self._models.trained

    @property
    def train_seconds(self) -> float:
        """Duration of the last training, seconds (0.0 on a cache hit)."""
        return self._models.train_seconds

    @property
    def start_seconds(self) -> float:
        """Duration of the last server start until healthy, seconds."""
        return self._server.start_seconds

    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:<port>``) of the Rasa server; "" before the first start."""
        return self._server.url

    @property
    def rundir(self) -> Optional[Path]:
        """This instance's private 0700 folder of per-run files (``endpoints.yml``,
        ``credentials.yml``, ``rasa_boot.py``); created on first use (training or start),
        removed by :meth:`stop`; None before and after."""
        return self._rundir.path

    def is_alive(self) -> bool:
        """True if the Rasa server process exists and has not exited."""
        return self._server.is_alive()

    # -- training ----------------------------------------------------------------------
    def project_hash(self) -> str:
        """The cache key of the trained model: see
        :meth:`ModelCache.project_hash <assistant.nlu.training.ModelCache.project_hash>`.

        Raises:
            NLUError: Rasa's Python cannot be found (its version is part of the hash).
        """
        return self._models.project_hash()

    def ensure_trained(self, timeout: float = 1800.0) -> Path:
        """Train the project unless its model is cached (below ``workdir`` given to the
        constructor, by default ``<cache>/rasa``); publishes :class:`Progress` (task
        ``"nlu-train"``). Same arguments, result and errors as
        :meth:`ModelCache.ensure_trained <assistant.nlu.training.ModelCache.ensure_trained>`:
        ``timeout`` in seconds, returns the ``model.tar.gz`` path, raises
        :class:`NLUError` (no Rasa Python, training failed or timed out).
        """
        with self._lock:
            return self._models.ensure_trained(timeout)

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
            warn_unmatched_actions(self.project.domain, self._action_server.action_names)
            # Per instance, never in the shared model folder: another running instance (or a
            # second start of this one) must not make our Rasa call its action server.
            self._rundir.write_run_files(self._action_server.url, self._action_server.token)
            self._running = True
            try:
                self._spawn(model, timeout)
            except BaseException:
                self._running = False
                raise
            if not self._client.is_open:
                self._client.open()
            self._watchdog.start()

    def _spawn(self, model: Path, timeout: float) -> None:
        """Start ``rasa run`` and wait for /status. Caller holds the lock."""
        assert self.python is not None and self.workdir is not None
        self._server.spawn(self.python, model, self.workdir, self._rundir.get(), boot_env(self.config), timeout)

    def stop(self) -> None:
        """Stop the Rasa process (SIGTERM to its process group, SIGKILL after 1 s), the
        watchdog and the action server. Idempotent; also runs at interpreter exit."""
        with self._lock:
            self._running = False
            self._watchdog.signal_stop()
            self._client.close()  # drop keep-alive connections first: Sanic waits for them
            # Nothing on disk to lose; Sanic ignores SIGTERM for 5+ s (quit must be prompt).
            self._server.stop(grace_s=1.0)
            self._children.kill_all()
            if self._action_server is not None:
                self._action_server.stop()
            self._rundir.remove()
        self._watchdog.join(timeout=2.0)

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
            if self._client.is_open:  # fresh connections to the new server
                self._client.open()
            self._server.stop()
            assert self.model_path is not None
            self._spawn(self.model_path, timeout)
            self._generation += 1

    def _recover(self, observed_generation: int, reason: str, timeout: float = 120.0) -> None:
        """Restart after a failure seen at ``observed_generation`` unless another thread
        already did. Publishes :class:`NLURestarting` before and :class:`NLUReady` after."""
        with self._lock:
            self._require_running()
            if self._generation != observed_generation and self.ready:
                return
            log.warning("Rasa sidecar failed (%s); restarting it", reason)
            if self.bus is not None:  # typed: the pipeline says "one moment", the UI shows a banner
                self.bus.publish(NLURestarting(message=RESTART_NOTICE, reason=reason))
            self.restarts += 1
            self.restart(timeout)
            if self.bus is not None:  # clears the banner
                self.bus.publish(NLUReady(restarted=True))

    def check_process(self) -> None:
        """Watchdog tick (every 0.5 s, from :class:`~assistant.nlu.process.Watchdog`): notice
        a server that died since it was healthy and, if :attr:`auto_restart`, restart it
        (at most 3 times in 10 minutes; then, or if the restart fails, an error
        :class:`~assistant.events.Notice`). Never raises :class:`NLUError`."""
        if not self._running:
            return
        gen = self._generation
        exited = self._server.exit_status()
        if exited is None or not self._server.healthy:
            return
        self._server.healthy = False
        log.warning("Rasa server (pid %d) exited with code %s", *exited)
        if not self.auto_restart:
            return
        now = time.monotonic()
        self._auto_restarts = [t for t in self._auto_restarts if now - t < 600]
        if len(self._auto_restarts) >= 3:
            self._notice("error", "The language engine keeps stopping.", _log_hint(self._models))
            return
        self._auto_restarts.append(now)
        try:
            self._recover(gen, f"process exited with code {exited[1]}")
        except NLUError as exc:
            log.error("could not restart Rasa: %s", exc)
            self._notice("error", exc.message, exc.hint)

    # -- talking -----------------------------------------------------------------------
    def _require_running(self) -> None:
        if not self._running:
            raise NLUError(*_NOT_RUNNING)

    def _with_retry(self, call: Callable[[], T]) -> T:
        """``call()``; if Rasa is dead or the connection fails, restart Rasa (blocking, same
        model, :meth:`_recover`) and call once more."""
        self._require_running()
        gen = self._generation
        recovered = False
        if not self.ready:
            self._recover(gen, "process not running")
            recovered = True
        try:
            return call()
        except httpx.TransportError as exc:
            if recovered:
                raise NLUError(f"The language engine did not answer: {exc}.", _log_hint(self._models)) from exc
            self._recover(gen, f"{type(exc).__name__}: {exc}")
        try:
            return call()
        except httpx.TransportError as exc2:
            raise NLUError(f"The language engine did not answer after a restart: {exc2}.",
                           _log_hint(self._models)) from exc2

    def message(self, sender_id: str, text: str, *, interaction: str = "") -> DialogueResult:
        """Send one user utterance through Rasa's dialogue and collect the outcome.

        Posts to ``/webhooks/rest/webhook?token=…`` (runs NLU, policies and any custom actions),
        then reads ``/conversations/<sender_id>/tracker`` for intent, entities, active form
        and slots. If Rasa is dead or the connection fails, publishes
        :class:`~assistant.events.NLURestarting` (a Notice: "The language engine stopped;
        restarting it."), restarts Rasa (blocking, same model), publishes
        :class:`~assistant.events.NLUReady` and retries once. Note that Rasa's conversation
        state is lost on a restart.

        Args:
            sender_id: conversation id (one per user/session).
            text: the user's utterance.
            interaction: interaction id stamped on ``ActionStarted``/``ActionFinished``; it
                travels with this request (the user message's metadata), so concurrent
                turns never mix their ids.

        Returns:
            A :class:`DialogueResult`.

        Raises:
            NLUError: not started, the restart failed, the retry failed too, or Rasa
                answered with an HTTP error.
        """
        self._require_running()
        t0 = time.monotonic()
        result = self._with_retry(lambda: self._client.turn(sender_id, text, interaction))
        result.elapsed_ms = (time.monotonic() - t0) * 1000
        return result

    def parse(self, text: str) -> tuple[str, float, list[dict]]:
        """NLU only (no dialogue, no actions) via ``/model/parse``: for evaluation.

        Returns:
            ``(intent name, confidence in [0, 1], entities)`` with entities as in
            :class:`DialogueResult`.

        Raises:
            NLUError: not started, unreachable (after one restart-and-retry) or an HTTP error.
        """
        return self._with_retry(lambda: self._client.parse(text))

    def parse_full(self, text: str) -> dict:
        """Rasa's whole ``/model/parse`` answer (``intent``, ``intent_ranking`` — which keeps
        the classifier's ranking under an ``nlu_fallback`` — ``entities``, ``text``): for
        evaluating thresholds offline and for the ASR's domain pass. No restart-and-retry
        (the turn's own message does that).

        Raises:
            NLUError: not started, unreachable or an HTTP error.
        """
        self._require_running()
        try:
            return self._client.parse_raw(text)
        except httpx.TransportError as exc:
            raise NLUError(f"The language engine did not answer: {exc}.") from exc

    def resolved_entities(self, text: str, parse: dict) -> list[dict]:
        """The entities of ``parse`` (:meth:`parse_full`'s answer for ``text``) after entity
        resolution (one per span, declared values; as :meth:`parse` and a turn give them).
        Local: no request."""
        return self._client.resolved(text, parse)

    def forget(self, sender_id: str) -> None:
        """Drop a conversation's dialogue state (slots, active form, history) in Rasa.

        Rasa sends a conversation's *whole* event history to the action server with every
        custom action call, so a long-lived ``sender_id`` makes turns slowly heavier; call
        this (or switch ids) when a dialogue is over. The next message starts a new session.

        Raises:
            NLUError: not started, unreachable or an HTTP error.
        """
        self._client.forget(sender_id)

    # -- helpers -----------------------------------------------------------------------
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


def _as_parsed(text: str, entities: list[dict], intent: Optional[str] = None) -> list[dict]:
    """No entity resolution: the entities as Rasa extracted them."""
    return entities
