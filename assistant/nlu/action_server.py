"""The skills' custom actions, served to Rasa from the app's own Python.

Rasa (in its own Python 3.10 process) runs a custom action by POSTing the rasa_sdk
"action server" webhook request to ``action_endpoint.url`` from ``endpoints.yml``: JSON
with ``next_action``, ``sender_id``, ``tracker``, ``domain`` and ``version``. The reply is
``{"events": [...], "responses": [...]}``. :class:`ActionServer` answers that protocol in
this process with rasa_sdk's own :class:`rasa_sdk.executor.ActionExecutor`, so skills are
ordinary ``rasa_sdk.Action`` subclasses and keep access to the app's state.

Why not ``python -m rasa_sdk`` or ``rasa_sdk.endpoint.create_app``: those run Sanic, which
installs signal handlers and so must own the main thread (and, from rasa-sdk 3.21, may
spawn worker processes that cannot see the app's objects). The app's main thread belongs
to Qt / the audio pipeline, so here a stdlib :class:`http.server.ThreadingHTTPServer`
runs on a daemon thread instead, with the same routes and status codes as
``rasa_sdk/endpoint.py``: ``POST /webhook``, ``GET /health``, ``GET /actions``.

A skill must never take the assistant down: each action runs on its own worker thread
under a time budget (``asyncio.wait_for`` for coroutine actions; the request thread also
stops waiting after the budget, which covers synchronous actions that block). An action
that raises or runs over budget gets a normal 200 reply whose only response is a short
spoken apology, and the error goes to the log and to ``on_error``.

Unlike ``endpoint.py`` this does not call ``rasa_sdk.utils.check_version_compatibility``:
Rasa 3.6 calling rasa-sdk 3.21 is the intended (and tested) combination, and that check
would warn on every call.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import threading
import time
import traceback
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Optional

from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from assistant.events import ActionFinished, ActionStarted, EventBus

log = logging.getLogger(__name__)

ErrorCallback = Callable[[str, str], None]


def skill_of(action_name: str) -> str:
    """The skill a namespaced action belongs to, in words.

    ``action_timer__start`` → ``"timer"``; ``action_smart_home__on`` → ``"smart home"``;
    an action without the ``<skill>__`` prefix gives its own name (``action_hello`` →
    ``"hello"``).
    """
    name = action_name[len("action_"):] if action_name.startswith("action_") else action_name
    name = name.split("__", 1)[0] if "__" in name else name
    return name.replace("_", " ").strip() or action_name


def apology_for(action_name: str) -> str:
    """The sentence spoken when ``action_name`` fails: ``"Sorry, the <skill> skill ran into
    a problem."``"""
    return f"Sorry, the {skill_of(action_name)} skill ran into a problem."


def warn_unmatched_actions(domain: dict, served: Iterable[str]) -> None:
    """Log a warning for each custom action of ``domain`` (not ``utter_``/``validate_``)
    that no served action answers (Rasa will get a 404), and for each served action the
    domain does not list (Rasa will never call it)."""
    domain_actions = {a for a in (domain.get("actions") or []) if isinstance(a, str)}
    custom = {a for a in domain_actions if not a.startswith("utter_")}
    served = set(served)
    for missing in sorted(custom - served):
        if not missing.startswith("validate_"):
            log.warning("domain action %s has no registered rasa_sdk Action; Rasa will get a 404", missing)
    for extra in sorted(served - domain_actions):
        log.warning("registered action %s is not listed in the domain; Rasa will never call it", extra)


def interaction_of(action_call: Any) -> str:
    """The interaction id a custom action call belongs to: ``metadata["interaction"]`` of
    the user message that triggered it (the tracker's ``latest_message``, as
    :meth:`RasaClient.turn <assistant.nlu.client.RasaClient.turn>` sends it); "" if absent."""
    tracker = action_call.get("tracker") if isinstance(action_call, dict) else None
    latest = (tracker or {}).get("latest_message") if isinstance(tracker, dict) else None
    metadata = (latest or {}).get("metadata") if isinstance(latest, dict) else None
    value = metadata.get("interaction") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else ""


class ActionServer:
    """Serve rasa_sdk ``Action`` instances to Rasa over HTTP from a daemon thread.

    Sanic (rasa_sdk's own server) cannot run off the main thread, so this uses the standard
    library's ``ThreadingHTTPServer``; the action code itself still runs through rasa_sdk's
    ``ActionExecutor`` (tracker parsing, dispatcher messages, event validation).

    Args:
        actions: ``rasa_sdk.Action`` instances (or subclasses, instantiated here) to register
            explicitly; no package scanning.
        host: interface to bind, ``127.0.0.1`` by default (never expose this).
        port: TCP port; 0 picks a free one (read :attr:`port` / :attr:`url` after
            :meth:`start`).
        timeout_s: time budget of one action call, seconds.
        on_error: called as ``on_error(action_name, error_text)`` when an action raises or
            runs over budget (from the request thread; exceptions in it are logged).
        bus: if given, :class:`~assistant.events.ActionStarted` and
            :class:`~assistant.events.ActionFinished` are published for every call, stamped
            with the call's interaction id (:func:`interaction_of`).
        token: shared secret every request (``POST /webhook``, and ``GET /health`` and
            ``/actions`` too) must carry as its ``?token=`` query parameter (what Rasa's
            ``EndpointConfig`` sends when ``action_endpoint`` in ``endpoints.yml`` has
            ``token:``); a request without it gets 401 and runs nothing, so another local
            process cannot launch apps, write notes or list the actions through the
            skills. ``None`` generates a random one (read :attr:`token`).

    Raises:
        ValueError: two actions share a name, or ``timeout_s`` is not positive.
        Exception: rasa_sdk's own error for something that is not an ``Action``.
    """

    def __init__(
        self,
        actions: Iterable[Action],
        host: str = "127.0.0.1",
        port: int = 0,
        timeout_s: float = 5.0,
        on_error: Optional[ErrorCallback] = None,
        *,
        bus: Optional[EventBus] = None,
        token: Optional[str] = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.executor = ActionExecutor()
        for action in actions:
            name = action.name() if isinstance(action, Action) else action().name()
            if name in self.executor.actions:
                raise ValueError(f"two custom actions are named {name!r}")
            self.executor.register_action(action)
        self.host = host
        self._port = port
        self.timeout_s = float(timeout_s)
        self.on_error = on_error
        self.bus = bus
        #: Shared secret of ``POST /webhook`` (``?token=``); write it into ``endpoints.yml``.
        self.token = token if token is not None else secrets.token_urlsafe(24)
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def action_names(self) -> list[str]:
        """Names of the registered actions."""
        return list(self.executor.actions)

    @property
    def port(self) -> int:
        """The bound TCP port (the requested one before :meth:`start`)."""
        return self._server.server_address[1] if self._server else self._port

    @property
    def url(self) -> str:
        """Webhook URL for ``endpoints.yml`` (``http://host:port/webhook``); valid after
        :meth:`start`."""
        return f"http://{self.host}:{self.port}/webhook"

    @property
    def running(self) -> bool:
        """True while the HTTP server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "ActionServer":
        """Bind the socket and serve on a daemon thread. Idempotent.

        Returns:
            ``self``.

        Raises:
            OSError: the port cannot be bound.
        """
        if self.running:
            return self
        server = ThreadingHTTPServer((self.host, self._port), _Handler)
        server.daemon_threads = True
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"action-server:{self.port}", daemon=True)
        self._thread.start()
        log.info("action server on %s with %d actions", self.url, len(self.executor.actions))
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (waits at most ~1 s). Idempotent. Actions still
        running on worker threads finish in the background; their results are dropped."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=1.0)
        self._thread = None
        self._port = server.server_address[1]
        self._server = None

    def __enter__(self) -> "ActionServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the protocol ------------------------------------------------------------------
    def handle(self, action_call: Any) -> tuple[int, Any]:
        """Run one action call (the JSON body of ``POST /webhook``) and build the reply.

        Mirrors ``rasa_sdk/endpoint.py``: 200 with ``{"events", "responses"}``; 400
        ``{"error", "action_name"}`` for :class:`ActionExecutionRejection` (Rasa then lets
        another policy predict); 404 for an unknown action; 449 when the domain is missing;
        ``null`` body when the call names no action. An action that raises (anything else)
        or exceeds :attr:`timeout_s` gives 200 with the apology as its only response.

        Args:
            action_call: the decoded request body.

        Returns:
            ``(HTTP status, JSON-serialisable body)``.
        """
        if not isinstance(action_call, dict):
            return 400, {"error": "Invalid body request"}
        name = action_call.get("next_action")
        if not name:
            log.warning("received an action call without an action")
            return 200, None
        if name not in self.executor.actions:
            exc = ActionNotFoundException(name)
            log.error("%s", exc)
            return 404, {"error": exc.message, "action_name": name}

        interaction = interaction_of(action_call)
        self._publish(ActionStarted(interaction=interaction, action=name))
        started = time.monotonic()
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["result"] = asyncio.run(asyncio.wait_for(self.executor.run(action_call), self.timeout_s))
            except BaseException as exc:  # noqa: BLE001 - reported below, never re-raised
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=work, name=f"action:{name}", daemon=True)
        worker.start()
        # Coroutine actions are cancelled by wait_for; a synchronous action that blocks
        # cannot be interrupted, so stop waiting a little after the budget.
        finished = done.wait(self.timeout_s + 0.25)
        elapsed = time.monotonic() - started

        if not finished:
            log.warning("action %s is still running after its %.1f s budget; its result will be dropped",
                        name, self.timeout_s)
            return self._failed(name, f"timed out after {self.timeout_s:g} s", interaction)
        exc = box.get("error")
        if exc is None:
            result = box.get("result")
            self._publish(ActionFinished(interaction=interaction, action=name))
            return 200, (result.model_dump() if result is not None else None)
        if isinstance(exc, ActionExecutionRejection):
            log.debug("action %s rejected execution: %s", name, exc)
            self._publish(ActionFinished(interaction=interaction, action=name, error=f"rejected: {exc.message}"))
            return 400, {"error": exc.message, "action_name": exc.action_name}
        if isinstance(exc, ActionNotFoundException):
            log.error("%s", exc)
            self._publish(ActionFinished(interaction=interaction, action=name, error=exc.message))
            return 404, {"error": exc.message, "action_name": exc.action_name}
        if isinstance(exc, ActionMissingDomainException):
            log.debug("%s", exc)
            self._publish(ActionFinished(interaction=interaction, action=name, error=exc.message))
            return 449, {"error": exc.message, "action_name": exc.action_name}
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) and elapsed >= self.timeout_s * 0.98:
            return self._failed(name, f"timed out after {self.timeout_s:g} s", interaction)
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        log.error("skill action %s failed: %s", name, text,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return self._failed(name, text, interaction, logged=True)

    def _failed(self, name: str, error: str, interaction: str, logged: bool = False) -> tuple[int, dict]:
        if not logged:
            log.error("skill action %s failed: %s", name, error)
        self._publish(ActionFinished(interaction=interaction, action=name, error=error))
        if self.on_error is not None:
            try:
                self.on_error(name, error)
            except Exception:  # a broken callback must not break the reply
                log.exception("on_error callback failed for %s", name)
        return 200, {"events": [], "responses": [{"text": apology_for(name)}]}

    def _publish(self, event: Any) -> None:
        if self.bus is not None:
            self.bus.publish(event)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 front end of :class:`ActionServer` (routes of ``rasa_sdk/endpoint.py``)."""

    protocol_version = "HTTP/1.1"
    server_version = "assistant-actions/1"

    @property
    def owner(self) -> ActionServer:
        return self.server.owner  # type: ignore[attr-defined]

    def _send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _authorized(self) -> bool:
        """Answer 401 (and return False) unless the request carries ``?token=``."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        given = (query.get("token") or [""])[0]
        if hmac.compare_digest(given.encode("utf-8"), self.owner.token.encode("utf-8")):
            return True
        log.warning("action server: refused a %s %s without the right token from %s", self.command,
                    self.path.split("?", 1)[0], self.client_address[0])
        self._send_json(401, {"error": "missing or wrong token"})
        return False

    def _drain(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        """``/health`` and ``/actions`` (rasa_sdk's routes), both behind the token like
        everything here: nothing on this port answers a caller without it."""
        if not self._authorized():
            return
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/actions":
            self._send_json(200, [{"name": n} for n in self.owner.action_names])
        else:
            self._send_json(404, {"error": f"no route {path}"})

    def _refuse(self) -> None:
        """Any other method (PUT, DELETE, PATCH, OPTIONS, HEAD): 401 without the token,
        else 404 (never http.server's 501 page)."""
        self._drain()
        if self._authorized():
            self._send_json(404, {"error": f"no route {self.command} {self.path.split('?', 1)[0]}"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _refuse  # noqa: N815 - http.server API

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        """``POST /webhook?token=…``: run one action call (see :meth:`ActionServer.handle`)."""
        path = self.path.split("?", 1)[0]
        body = self._drain()
        if not self._authorized():
            return
        if path != "/webhook":
            self._send_json(404, {"error": f"no route {path}"})
            return
        try:
            if self.headers.get("Content-Encoding") == "deflate":
                body = zlib.decompress(body)
            call = json.loads(body) if body else None
        except (ValueError, zlib.error):
            call = None
        if call is None:
            self._send_json(400, {"error": "Invalid body request"})
            return
        try:
            status, reply = self.owner.handle(call)
        except Exception as exc:  # a bug here, not in a skill: answer like endpoint.py does
            log.exception("action server failed on a request")
            status, reply = 500, {"error": str(exc), "request_body": call}
        self._send_json(status, reply)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
        log.debug("action server: " + format, *args)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
        log.warning("action server: " + format, *args)

