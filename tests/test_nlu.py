"""The Rasa sidecar against a real Rasa 3.6 server (from .venv-rasa) and real rasa_sdk
actions served in this process. No mocks.

One tiny project is trained once (cached by hash in ``.cache/rasa/``) and one server is
started for the whole module; the tests then talk to it turn by turn.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from rasa_sdk import Action
from rasa_sdk.events import SlotSet
from rasa_sdk.interfaces import ActionExecutionRejection

from assistant.errors import NLUError
from assistant.events import ActionFinished, ActionStarted, EventBus, Notice, Progress
from assistant.nlu import (
    FALLBACK_TEXT,
    ActionServer,
    DialogueResult,
    RasaProject,
    RasaSidecar,
    build_config,
    find_rasa_python,
    log_excerpt,
    with_fallback,
)
from assistant.settings import NLUSettings

pytestmark = pytest.mark.rasa


def ex(*examples: str) -> str:
    """Rasa's ``examples`` block from plain strings."""
    return "".join(f"- {e}\n" for e in examples)


def tiny_project() -> RasaProject:
    """greet/goodbye, an entity with a lookup table, a one-slot form, custom actions."""
    return RasaProject(
        domain={
            "intents": ["greet", "goodbye", "order_coffee", "inform", "check_status", "break_it", "hang"],
            "entities": ["drink_size"],
            "slots": {
                "drink_size": {"type": "text", "influence_conversation": False,
                               "mappings": [{"type": "from_entity", "entity": "drink_size"}]},
                "last_status": {"type": "text", "influence_conversation": False,
                                "mappings": [{"type": "custom"}]},
            },
            "forms": {"coffee_form": {"required_slots": ["drink_size"]}},
            "responses": {
                "utter_greet": [{"text": "Hello! What can I do for you?", "custom": {"expect_answer": True}}],
                "utter_goodbye": [{"text": "Goodbye."}],
                "utter_ask_drink_size": [{"text": "What size would you like?"}],
            },
            "actions": ["action_demo__confirm_order", "action_demo__status", "action_demo__crash",
                        "action_demo__hang"],
            "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
        },
        nlu=[
            {"intent": "greet", "examples": ex(
                "hi", "hello", "hey", "hey there", "good morning", "good evening", "hello assistant",
                "hi there", "howdy", "greetings")},
            {"intent": "goodbye", "examples": ex(
                "bye", "goodbye", "see you later", "good night", "bye bye", "see you", "talk to you later",
                "that's all, bye", "farewell", "catch you later")},
            {"intent": "order_coffee", "examples": ex(
                "I want a coffee", "order a coffee", "get me a coffee", "coffee please", "I'd like a coffee",
                "make me a coffee", "get me a [large](drink_size) coffee", "a [small](drink_size) coffee please",
                "order a [medium](drink_size) coffee", "can I have a [large](drink_size) coffee",
                "brew me a coffee", "one coffee please")},
            {"intent": "inform", "examples": ex(
                "[large](drink_size)", "[medium](drink_size) please", "a [small](drink_size) one",
                "make it [large](drink_size)", "[small](drink_size)", "[medium](drink_size)",
                "the [large](drink_size) one", "I'll take a [small](drink_size)", "[large](drink_size) please")},
            {"intent": "check_status", "examples": ex(
                "check the status", "system status", "how is the system", "are all systems fine",
                "status report", "run a status check", "give me the status", "what's the status")},
            {"intent": "break_it", "examples": ex(
                "break the skill", "crash the skill", "make it crash", "run the broken skill",
                "trigger the bug", "break it", "please crash", "do the crashing thing")},
            {"intent": "hang", "examples": ex(
                "hang forever", "freeze the skill", "make it hang", "run the slow skill", "do the slow thing",
                "block forever", "stall the skill", "take forever")},
            {"lookup": "drink_size", "examples": ex("small", "medium", "large")},
        ],
        rules=[
            {"rule": "greet", "steps": [{"intent": "greet"}, {"action": "utter_greet"}]},
            {"rule": "goodbye", "steps": [{"intent": "goodbye"}, {"action": "utter_goodbye"}]},
            {"rule": "status", "steps": [{"intent": "check_status"}, {"action": "action_demo__status"}]},
            {"rule": "crash", "steps": [{"intent": "break_it"}, {"action": "action_demo__crash"}]},
            {"rule": "hang", "steps": [{"intent": "hang"}, {"action": "action_demo__hang"}]},
            {"rule": "start the coffee form", "steps": [
                {"intent": "order_coffee"}, {"action": "coffee_form"}, {"active_loop": "coffee_form"}]},
            {"rule": "submit the coffee form", "condition": [{"active_loop": "coffee_form"}], "steps": [
                {"action": "coffee_form"}, {"active_loop": None}, {"slot_was_set": [{"requested_slot": None}]},
                {"action": "action_demo__confirm_order"}]},
        ],
    )


class ConfirmOrder(Action):
    def name(self) -> str:
        return "action_demo__confirm_order"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text=f"One {tracker.get_slot('drink_size')} coffee coming up.")
        return []


class Status(Action):
    def name(self) -> str:
        return "action_demo__status"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="All systems are fine.")
        return [SlotSet("last_status", "fine")]


class Crash(Action):
    def name(self) -> str:
        return "action_demo__crash"

    def run(self, dispatcher, tracker, domain):
        raise RuntimeError("boom")


class Hang(Action):
    """Blocks (synchronously) well past the 1 s budget the tests use."""

    def name(self) -> str:
        return "action_demo__hang"

    def run(self, dispatcher, tracker, domain):
        time.sleep(4)
        dispatcher.utter_message(text="finally done")
        return []


ACTIONS = [ConfirmOrder(), Status(), Crash(), Hang()]
SETTINGS = NLUSettings(pipeline="logreg", action_timeout_s=1.0)


@pytest.fixture(scope="module")
def bus_events():
    bus = EventBus()
    events: list = []
    bus.subscribe(events.append)
    return bus, events


@pytest.fixture(scope="module")
def sidecar(bus_events):
    bus, events = bus_events
    errors: list[tuple[str, str]] = []
    sc = RasaSidecar(tiny_project(), ACTIONS, SETTINGS, bus=bus, on_action_error=lambda a, e: errors.append((a, e)))
    sc.action_errors = errors  # type: ignore[attr-defined]
    sc.ensure_trained()
    sc.start(timeout=180)
    yield sc
    sc.stop()


# -- pure parts (no Rasa process) -------------------------------------------------------
def test_config_pipelines_and_fallback_rule():
    logreg = build_config("logreg", 0.45)
    names = [c["name"] for c in logreg["pipeline"]]
    assert names[:5] == ["WhitespaceTokenizer", "RegexFeaturizer", "LexicalSyntacticFeaturizer",
                         "CountVectorsFeaturizer", "CountVectorsFeaturizer"]
    assert {"LogisticRegressionClassifier", "CRFEntityExtractor", "RegexEntityExtractor",
            "EntitySynonymMapper", "FallbackClassifier"} <= set(names)
    assert logreg["pipeline"][-1]["threshold"] == 0.45 and logreg["assistant_id"]
    rule = next(p for p in logreg["policies"] if p["name"] == "RulePolicy")
    assert rule["enable_fallback_prediction"] is True and "core_fallback_threshold" in rule
    diet = build_config("diet", 0.3)
    dietc = next(c for c in diet["pipeline"] if c["name"] == "DIETClassifier")
    assert dietc["number_of_transformer_layers"] == 0
    with pytest.raises(ValueError):
        build_config("bert")  # type: ignore[arg-type]

    project = tiny_project()
    fixed = with_fallback(project)
    assert "utter_default" not in project.domain["responses"]  # input untouched
    assert fixed.domain["responses"]["utter_default"] == [{"text": FALLBACK_TEXT}]
    assert sum(1 for r in fixed.rules if r["steps"][0].get("intent") == "nlu_fallback") == 1
    assert with_fallback(fixed).rules == fixed.rules  # idempotent
    files = fixed.yaml_files()
    assert set(files) == {"domain.yml", "data/nlu.yml", "data/rules.yml", "data/stories.yml"}
    assert "examples: |\n" in files["data/nlu.yml"] and files["domain.yml"].startswith("version: '3.1'")


def test_log_excerpt_keeps_the_error_and_drops_noise():
    text = ("/x/rasa/io.py:100: UserWarning: The intent 'inform' is not used\n"
            "  declare_namespace(pkg)\n"
            "2026-01-01 INFO rasa.validator - Validating intents...\n"
            "\x1b[91mActionNotFoundException: Cannot access action 'utter_nope'\x1b[0m\n"
            "\t - action_listen\n")
    out = log_excerpt(text)
    assert out.startswith("ActionNotFoundException: Cannot access action 'utter_nope'")
    assert "UserWarning" not in out and "\x1b" not in out
    usage = ("usage: rasa run [-h] [-v]\n                [--connector CONNECTOR]\n"
             "rasa run: error: argument -t/--auth-token: expected one argument\n"
             "  SANIC_VERSION = LooseVersion(sanic_version)\n")
    assert log_excerpt(usage) == "rasa run: error: argument -t/--auth-token: expected one argument"


def test_bad_python_path_is_a_clear_error(tmp_path):
    with pytest.raises(NLUError) as info:
        find_rasa_python(tmp_path / "no-such-python")
    assert "Rasa needs Python 3.10 with rasa 3.6 installed; not found at" in info.value.message
    assert str(tmp_path / "no-such-python") in info.value.message
    assert "scripts/setup.sh" in info.value.hint
    # A real Python, but the app's 3.11 one without rasa.
    with pytest.raises(NLUError) as info:
        find_rasa_python(sys.executable)
    assert "without rasa" in info.value.message
    sc = RasaSidecar(tiny_project(), [], NLUSettings(python=str(tmp_path / "nope")), workdir=tmp_path)
    with pytest.raises(NLUError, match="not found at"):
        sc.ensure_trained()
    assert find_rasa_python().name.startswith("python")


def test_action_server_protocol_without_rasa():
    """The webhook protocol of rasa_sdk's endpoint.py, spoken to the stdlib server."""

    class Reject(Action):
        def name(self):
            return "action_demo__reject"

        def run(self, dispatcher, tracker, domain):
            raise ActionExecutionRejection(self.name(), "not now")

    class SlowAsync(Action):
        def name(self):
            return "action_slow__wait"

        async def run(self, dispatcher, tracker, domain):
            await asyncio.sleep(30)
            return []

    errors: list = []
    bus = EventBus()
    finished: list = []
    bus.subscribe(finished.append, ActionFinished)
    tracker = {"sender_id": "t", "slots": {}, "latest_message": {}, "events": [], "paused": False,
               "followup_action": None, "active_loop": {}, "latest_action_name": None}

    def call(name):
        return {"next_action": name, "sender_id": "t", "tracker": tracker, "domain": {}, "version": "3.6.21"}

    with ActionServer([Status(), Reject(), SlowAsync()], timeout_s=0.5, on_error=lambda a, e: errors.append((a, e)),
                      bus=bus) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/webhook")
        base = server.url.rsplit("/", 1)[0]
        auth = {"token": server.token}
        # Issue 8 (1): every route needs the token, /health and /actions too.
        for path in ("/health", "/actions", "/nowhere"):
            assert httpx.get(f"{base}{path}").status_code == 401
            assert httpx.get(f"{base}{path}", params={"token": "guess"}).status_code == 401
        assert httpx.put(server.url, params=auth).status_code == 404  # not http.server's 501 page
        assert httpx.request("OPTIONS", server.url).status_code == 401
        assert httpx.get(f"{base}/health", params=auth).json() == {"status": "ok"}
        assert {a["name"] for a in httpx.get(f"{base}/actions", params=auth).json()} == {
            "action_demo__status", "action_demo__reject", "action_slow__wait"}
        r = httpx.post(server.url, json=call("action_demo__status"))
        assert r.status_code == 401 and not finished  # no token: refused, nothing ran
        r = httpx.post(server.url, json=call("action_demo__status"), params={"token": "guess"})
        assert r.status_code == 401 and not finished
        r = httpx.post(server.url, json=call("action_demo__status"), params={"token": server.token})
        assert r.status_code == 200
        body = r.json()
        assert body["events"][0]["event"] == "slot" and body["events"][0]["name"] == "last_status"
        assert body["responses"][0]["text"] == "All systems are fine."
        r = httpx.post(server.url, json=call("action_demo__reject"), params=auth)
        assert r.status_code == 400 and r.json() == {"error": "not now", "action_name": "action_demo__reject"}
        r = httpx.post(server.url, json=call("action_nobody"), params=auth)
        assert r.status_code == 404 and r.json()["action_name"] == "action_nobody"
        r = httpx.post(server.url, content=b"not json", params=auth)
        assert r.status_code == 400
        t0 = time.monotonic()
        r = httpx.post(server.url, json=call("action_slow__wait"), timeout=10, params=auth)
        assert time.monotonic() - t0 < 2.0
        assert r.status_code == 200
        assert r.json() == {"events": [], "responses": [{"text": "Sorry, the slow skill ran into a problem."}]}
        assert errors and errors[-1][0] == "action_slow__wait" and "timed out" in errors[-1][1]
        assert [e.action for e in finished if e.error] == ["action_demo__reject", "action_slow__wait"]
    with pytest.raises(ValueError):
        ActionServer([Status(), Status()])


# -- against the real Rasa server -------------------------------------------------------
def test_started_and_progress_published(sidecar, bus_events):
    _, events = bus_events
    assert sidecar.ready and sidecar.is_alive() and sidecar.pid
    assert sidecar.model_path.exists() and sidecar.model_path.parent == sidecar.workdir
    assert (sidecar.workdir / "server.log").exists()
    tasks = {(e.task, e.fraction) for e in events if isinstance(e, Progress)}
    assert ("nlu-start", 1.0) in tasks and ("nlu-train", 1.0) in tasks


def test_intent_and_entity(sidecar):
    r = sidecar.message("entity-user", "can I have a large coffee")
    assert isinstance(r, DialogueResult)
    assert r.intent == "order_coffee" and 0.45 <= r.confidence <= 1.0
    sizes = [e for e in r.entities if e["entity"] == "drink_size"]
    assert len(sizes) == 1 and sizes[0]["value"] == "large"
    assert r.text[sizes[0]["start"]:sizes[0]["end"]] == "large"
    # the slot came from the entity, so the form completed at once
    assert r.slots["drink_size"] == "large" and r.active_loop is None and not r.expects_answer
    assert r.replies == ["One large coffee coming up."]
    name, conf, ents = sidecar.parse("hello there")
    assert name == "greet" and conf > 0.45 and ents == []


def test_blank_text_parses_to_no_intent(sidecar):
    """An empty or blank transcript parses to no intent and no entities (the real server's
    logistic-regression classifier answers HTTP 500 for it), and the server keeps answering."""
    for blank in ("", "  "):
        assert sidecar.parse(blank) == ("", 0.0, [])
        assert sidecar.parse_full(blank)["intent"] == {}
    assert sidecar.parse("hello there")[0]


def test_greeting_custom_payload_expects_answer(sidecar):
    r = sidecar.message("greet-user", "hello")
    assert r.intent == "greet"
    assert r.replies == ["Hello! What can I do for you?"]
    assert r.custom == [{"expect_answer": True}] and r.expects_answer


def test_two_turn_form(sidecar):
    first = sidecar.message("form-user", "I'd like a coffee")
    assert first.intent == "order_coffee"
    assert first.active_loop == "coffee_form" and first.expects_answer
    assert first.replies == ["What size would you like?"]
    assert first.slots.get("drink_size") is None
    second = sidecar.message("form-user", "medium please")
    assert second.slots["drink_size"] == "medium"
    assert second.active_loop is None and not second.expects_answer
    assert second.replies == ["One medium coffee coming up."]


def test_forget_drops_the_dialogue_state(sidecar):
    first = sidecar.message("forget-user", "order a coffee")
    assert first.active_loop == "coffee_form"
    sidecar.forget("forget-user")
    r = sidecar.message("forget-user", "hello")
    assert r.active_loop is None and r.replies == ["Hello! What can I do for you?"]


def test_custom_action_reply_and_slot(sidecar):
    r = sidecar.message("status-user", "give me a status report")
    assert r.intent == "check_status"
    assert r.replies == ["All systems are fine."]
    assert r.slots["last_status"] == "fine"


def test_action_events_carry_the_interaction_of_their_message(sidecar, bus_events):
    """The interaction id travels with each message (the user message's metadata), not
    through state set on the action server, so each turn's action events carry its own."""
    _, events = bus_events
    start = len(events)
    for iid in ("turn-a", "turn-b"):
        assert sidecar.message(f"iid-{iid}", "give me a status report", interaction=iid).replies == [
            "All systems are fine."]
    stamped = [(type(e).__name__, e.interaction) for e in events[start:]
               if isinstance(e, (ActionStarted, ActionFinished))]
    assert stamped == [("ActionStarted", "turn-a"), ("ActionFinished", "turn-a"),
                       ("ActionStarted", "turn-b"), ("ActionFinished", "turn-b")]


def test_failing_actions_apologise_and_the_server_keeps_answering(sidecar):
    r = sidecar.message("crash-user", "crash the skill")
    assert r.intent == "break_it"
    assert r.replies == ["Sorry, the demo skill ran into a problem."]
    assert ("action_demo__crash", "RuntimeError: boom") in sidecar.action_errors
    t0 = time.monotonic()
    r = sidecar.message("hang-user", "make it hang")
    took = time.monotonic() - t0
    assert r.intent == "hang"
    assert r.replies == ["Sorry, the demo skill ran into a problem."]
    assert took < 3.5, f"the 1 s action budget was not enforced ({took:.1f} s)"
    assert any(a == "action_demo__hang" and "timed out" in e for a, e in sidecar.action_errors)
    assert sidecar.message("crash-user", "goodbye").replies == ["Goodbye."]


def test_not_understood_gets_the_fallback(sidecar):
    r = sidecar.message("fallback-user", "quantum spreadsheet banana")
    assert r.intent == "nlu_fallback", r
    assert r.replies == [FALLBACK_TEXT]


def test_training_is_cached_by_hash(sidecar):
    model = sidecar.model_path
    mtime = model.stat().st_mtime_ns
    again = RasaSidecar(tiny_project(), ACTIONS, SETTINGS)
    assert again.ensure_trained() == model
    assert again.trained is False and again.train_seconds == 0.0
    assert model.stat().st_mtime_ns == mtime
    assert not (sidecar.workdir / "models-tmp").exists()
    # A different threshold is a different config, hence a different cache folder.
    other = RasaSidecar(tiny_project(), ACTIONS, NLUSettings(pipeline="logreg", fallback_threshold=0.5))
    assert other.project_hash() != again.project_hash()


def test_logreg_server_runs_without_tensorflow(sidecar):
    """Issue 13, item 5: Rasa 3.6 imports TensorFlow (~370 MB, ~2 s) whatever the pipeline.
    The default logreg pipeline runs no TensorFlow code, so the boot script replaces it
    with stand-ins: the running server has no TensorFlow library mapped and stays small,
    and it still parses and runs the dialogue (the other tests of this module). DIET keeps
    the real TensorFlow."""
    from assistant.nlu.children import boot_env, tensorflow_free

    assert tensorflow_free(build_config("logreg")) and not tensorflow_free(build_config("diet"))
    assert "tensorflow" in boot_env(build_config("logreg"))["ASSISTANT_RASA_STUB"]
    assert boot_env(build_config("diet"))["ASSISTANT_RASA_STUB"] == ""
    maps = Path(f"/proc/{sidecar.pid}/maps").read_text()
    assert "tensorflow" not in maps, [line for line in maps.splitlines() if "tensorflow" in line][:3]
    rss_mb = psutil.Process(sidecar.pid).memory_info().rss / 2**20
    assert rss_mb < 400, f"Rasa server RSS {rss_mb:.0f} MB (with TensorFlow it is ~560 MB)"
    assert sidecar.parse_full("hello there")["intent"]["name"]


def test_training_failure_quotes_rasa(tmp_path):
    project = tiny_project()
    project.rules.append({"rule": "broken", "steps": [{"intent": "goodbye"}, {"action": "utter_no_such_response"}]})
    sc = RasaSidecar(project, [], SETTINGS, workdir=tmp_path)
    with pytest.raises(NLUError) as info:
        sc.ensure_trained()
    assert "Training the language model failed" in info.value.message
    assert "utter_no_such_response" in info.value.message
    assert "train.log" in info.value.hint
    assert not sc.model_path.exists()


_CHILD_APP = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from tests.test_nlu import ACTIONS, SETTINGS, tiny_project
from assistant.nlu import RasaSidecar
sc = RasaSidecar(tiny_project(), ACTIONS, SETTINGS)
sc.start(timeout=300)
print(sc.pid, flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)  # no stop(): the finalizer has to stop Rasa at interpreter exit
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_no_orphan_rasa_when_the_app_exits_or_is_killed(sidecar):
    """An app that exits without stop(), and one killed with SIGKILL, leave no Rasa behind.
    (The model is already cached by the module fixture; both apps start in parallel.)"""
    import subprocess

    root = str(Path(__file__).resolve().parents[1])
    apps = {how: subprocess.Popen([sys.executable, "-c", _CHILD_APP, how, root], stdout=subprocess.PIPE,
                                  text=True) for how in ("exit", "sigkill")}
    rasa_pids = {}
    for how, app in apps.items():
        line = app.stdout.readline().strip()
        assert line.isdigit(), f"the {how} app did not start Rasa (exit code {app.poll()})"
        rasa_pids[how] = int(line)
        assert psutil.pid_exists(rasa_pids[how])
    os.kill(apps["sigkill"].pid, signal.SIGKILL)
    assert apps["exit"].wait(60) == 0
    apps["sigkill"].wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(_gone(p) for p in rasa_pids.values()):
        time.sleep(0.2)
    assert all(_gone(p) for p in rasa_pids.values()), f"orphaned Rasa processes: {rasa_pids}"


def test_killed_rasa_is_restarted_on_the_next_message(sidecar, bus_events):
    _, events = bus_events
    old_pid = sidecar.pid
    os.kill(old_pid, signal.SIGKILL)
    r = sidecar.message("after-kill", "hello")
    assert r.intent == "greet" and r.replies == ["Hello! What can I do for you?"]
    notices = [e for e in events if isinstance(e, Notice)]
    assert any(n.stage == "nlu" and n.level == "warning" and n.message == "The language engine stopped; restarting it."
               for n in notices)
    assert sidecar.pid and sidecar.pid != old_pid
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    assert sidecar.restarts >= 1


def test_every_rasa_route_needs_the_token_and_unused_ones_are_closed(sidecar, bus_events):
    """Issue 8 item 1: Rasa answers nothing without the token — the REST channel (which
    runs custom actions), ``/`` and ``/version`` included — grants no CORS origin, and
    routes the app does not use answer 404 even with the token. (Before: the REST channel,
    ``/`` and ``/version`` answered anyone.)"""
    _, events = bus_events
    actions_before = sum(isinstance(e, ActionStarted) for e in events)
    base, tok = sidecar.url, {"token": sidecar.token}
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    body = b'{"sender": "evil", "message": "check the status"}'
    with httpx.Client(trust_env=False, timeout=30) as c:
        for method, path in [("GET", "/"), ("GET", "/version"), ("POST", "/webhooks/rest/webhook"),
                             ("GET", "/webhooks/rest/"), ("OPTIONS", "/webhooks/rest/webhook"), ("GET", "/status"),
                             ("POST", "/model/parse"), ("POST", "/conversations/evil/messages"), ("GET", "/nowhere")]:
            for params in (None, {"token": "wrong"}):
                r = c.request(method, base + path, params=params, headers=evil, content=body)
                assert r.status_code == 401, (method, path, params, r.status_code, r.text[:100])
                assert not [k for k in r.headers if k.lower().startswith("access-control")], dict(r.headers)
        for method, path in [("GET", "/"), ("GET", "/version"), ("GET", "/domain"), ("DELETE", "/model"),
                             ("POST", "/conversations/evil/execute"), ("GET", "/webhooks/rest/webhook")]:
            assert c.request(method, base + path, params=tok).status_code == 404, (method, path)
        assert c.get(base + "/status", params=tok).status_code == 200
    assert sum(isinstance(e, ActionStarted) for e in events) == actions_before  # nothing ran


def test_stop_leaves_no_process(sidecar):
    pid = sidecar.pid
    proc = psutil.Process(pid)
    family = [proc, *proc.children(recursive=True)]
    rundir = sidecar.rundir
    assert rundir is not None and rundir.stat().st_mode & 0o777 == 0o700
    assert (rundir / "endpoints.yml").stat().st_mode & 0o777 == 0o600
    sidecar.stop()
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive
    assert not rundir.exists() and sidecar.rundir is None  # per-run files (with the token) removed
    assert not sidecar.ready and sidecar.pid is None
    with pytest.raises(NLUError, match="not running"):
        sidecar.message("x", "hello")
    sidecar.stop()  # idempotent
