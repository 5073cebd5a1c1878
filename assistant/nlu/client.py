"""The HTTP client to a running Rasa server, and what one user turn yields.

Uses ``httpx`` (keep-alive, no proxies from the environment). Every request carries the
server's auth token (``?token=``); only the routes in
:data:`~assistant.nlu.children.API_ROUTES` are used. Transport errors
(:class:`httpx.TransportError`) are left to the caller, which restarts Rasa and retries;
HTTP errors and unreadable answers become :class:`~assistant.errors.NLUError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional
from urllib.parse import quote

import httpx

from assistant.errors import NLUError
from assistant.nlu.project import RasaProject

#: ``resolve(text, entities, intent)`` → the entities after entity resolution (e.g.
#: :class:`assistant.skills.resolve.ProjectResolution`, given by whoever builds the sidecar).
ResolveFn = Callable[[str, list[dict], Optional[str]], list[dict]]


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


class RasaClient:
    """Talks to one Rasa server over HTTP (after :meth:`open`, until :meth:`close`).

    Args:
        base_url: returns the server's current base URL (``http://host:port``); read on
            every request, so a restarted server on a new port is found.
        token: the server's auth token.
        action_timeout_s: the budget of one custom action, seconds; a turn may run a few,
            so requests time out after ``15 + 3 * action_timeout_s`` seconds.
        resolve: entity resolution applied to every turn's and parse's entities.
        log_hint: returns the hint for HTTP errors (where Rasa's log is).
    """

    def __init__(self, base_url: Callable[[], str], token: str, action_timeout_s: float,
                 resolve: ResolveFn, log_hint: Callable[[], str]) -> None:
        self._base_url = base_url
        self._token = token
        self._action_timeout_s = action_timeout_s
        self._resolve = resolve
        self._log_hint = log_hint
        self._http: Optional[httpx.Client] = None

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._http is not None

    def open(self) -> None:
        """(Re)connect: drop any keep-alive connections and make a new HTTP client."""
        self.close()
        t = self._action_timeout_s  # a turn may run a few custom actions, each with its own budget
        self._http = httpx.Client(timeout=httpx.Timeout(15.0 + 3 * t, connect=5.0), trust_env=False)

    def close(self) -> None:
        """Drop the keep-alive connections (Sanic waits for them when stopping). Idempotent."""
        http, self._http = self._http, None
        if http is not None:
            http.close()

    def _request(self, method: str, route: str, what: str, *, params: Optional[dict] = None,
                 json: Any = None) -> Any:
        """One request with the token; the decoded JSON answer.

        Raises:
            NLUError: not open, an HTTP error, or an unreadable answer.
            httpx.TransportError: the server is unreachable.
        """
        http = self._http
        if http is None:
            raise NLUError("The language engine is not running.", "Start it first (RasaSidecar.start()).")
        r = http.request(method, f"{self._base_url()}{route}", params={"token": self._token, **(params or {})},
                         json=json)
        if r.status_code >= 400:
            raise NLUError(f"The language engine failed on {what} (HTTP {r.status_code}): {r.text[:300]}",
                           self._log_hint())
        try:
            return r.json()
        except ValueError as exc:
            raise NLUError(f"The language engine sent an unreadable answer to {what}.") from exc

    def turn(self, sender_id: str, text: str, interaction: str = "") -> DialogueResult:
        """One user turn through Rasa's dialogue (NLU, policies, custom actions).

        Posts to the REST channel with ``metadata={"interaction": interaction}`` (custom
        actions find it in the tracker's latest message and stamp it on their events),
        then reads the tracker for intent, entities, active form and slots.

        Returns:
            A :class:`DialogueResult` (``elapsed_ms`` left at 0).

        Raises:
            NLUError: not open, an HTTP error, or an unreadable answer.
            httpx.TransportError: the server is unreachable.
        """
        msgs = self._request("POST", "/webhooks/rest/webhook", "a message",
                             json={"sender": sender_id, "message": text,
                                   "metadata": {"interaction": interaction}}) or []
        tracker = self._request("GET", f"/conversations/{quote(sender_id, safe='')}/tracker", "the tracker",
                                params={"include_events": "NONE"}) or {}
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
            name, conf, ents = self.parse(text)
        ents = self._resolve(text, ents, name)
        loop = (tracker.get("active_loop") or {}).get("name") or None
        expects = bool(loop) or any(c.get("expect_answer") is True for c in custom)
        return DialogueResult(intent=name, confidence=conf, entities=ents, replies=replies,
                              expects_answer=expects, active_loop=loop, slots=dict(tracker.get("slots") or {}),
                              custom=custom, text=text)

    def parse_raw(self, text: str) -> dict:
        """Rasa's whole ``/model/parse`` answer for ``text``; for blank text (an empty
        transcript) no intent and no entities, without asking Rasa (its logistic-regression
        classifier fails on text without features: HTTP 500).

        Raises:
            NLUError: not open or an HTTP error.
            httpx.TransportError: the server is unreachable.
        """
        if not text.strip():
            return {"text": text, "intent": {}, "entities": [], "intent_ranking": []}
        return self._request("POST", "/model/parse", "parsing", json={"text": text}) or {}

    def parse(self, text: str) -> tuple[str, float, list[dict]]:
        """NLU only: ``(intent name, confidence in [0, 1], resolved entities)``.

        Raises:
            NLUError: not open or an HTTP error.
            httpx.TransportError: the server is unreachable.
        """
        data = self.parse_raw(text)
        intent = data.get("intent") or {}
        return intent.get("name") or "", float(intent.get("confidence") or 0.0), self.resolved(text, data)

    def resolved(self, text: str, data: dict) -> list[dict]:
        """The entities of ``data`` (a ``/model/parse`` answer for ``text``) after entity
        resolution, as :meth:`parse` gives them. Never raises for a malformed answer (no
        entities)."""
        intent = data.get("intent") or {}
        return self._resolve(text, normalize_entities(data.get("entities")), intent.get("name"))

    def forget(self, sender_id: str) -> None:
        """Drop a conversation's dialogue state in Rasa (an empty event list).

        Raises:
            NLUError: not open, unreachable or an HTTP error.
        """
        try:
            self._request("PUT", f"/conversations/{quote(sender_id, safe='')}/tracker/events",
                          "forgetting a conversation", json=[])
        except httpx.TransportError as exc:
            raise NLUError(f"The language engine did not answer: {exc}.") from exc
