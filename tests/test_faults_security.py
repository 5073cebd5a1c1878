"""Fault and abuse tests for issue 8 (items 1, 2 and 4): no open door, no call home, no
cross-talk between two running instances. Every case runs the real thing: the real
``assistant`` CLI in a subprocess (real models, real Rasa, real PortAudio on the virtual
PulseAudio of ``conftest.py``), real ``strace`` / network namespaces, real HTTP requests
from outside the process, real ``RasaSidecar`` pairs. Nothing is mocked.

Each test's docstring names the defect it covers and how it failed before the fix.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from audio_factory import piper_say
from test_pipeline import near_now, spoken_times

pytestmark = [pytest.mark.rasa]

ASSISTANT = str(Path(sys.executable).with_name("assistant"))
TRACED = "connect,sendto,sendmsg"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def network_offences(strace_log: str) -> list[str]:
    """Lines of an ``strace -f -e trace=connect,sendto,sendmsg`` log that reach beyond
    this machine: any DNS traffic (port 53, whatever the address), any IPv4 address
    outside 127.0.0.0/8, any IPv6 address but ``::1`` (or a v4-mapped loopback). Unix
    sockets (PulseAudio, D-Bus, nscd) and netlink are local by definition."""
    bad = []
    for line in strace_log.splitlines():
        if not re.search(r"\b(connect|sendto|sendmsg)\(", line):
            continue
        if "htons(53)" in line:
            bad.append(line)
            continue
        for addr in re.findall(r'sa_family=AF_INET, sin_port=htons\(\d+\), sin_addr=inet_addr\("([^"]+)"\)', line):
            if not addr.startswith("127."):
                bad.append(line)
        for addr in re.findall(r'inet_pton\(AF_INET6, "([^"]+)"', line):
            if addr not in ("::1",) and not re.fullmatch(r"::ffff:127\.[\d.]+", addr):
                bad.append(line)
    return bad


def test_network_offences_parser_catches_dns_and_foreign_addresses():
    """The strace parser itself: the exact lines the unfixed app produced (onnxruntime's
    telemetry DNS query, issue 8 item 2) are offences; loopback and Unix sockets are not."""
    log = "\n".join([
        '7433  connect(9, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0',
        '7433  sendto(9, "\\23\'\\1\\0\\0\\1\\0\\6mobile\\6events\\4data\\t"..., 50, MSG_NOSIGNAL, NULL, 0) = 50',
        '7337  connect(7, {sa_family=AF_INET, sin_port=htons(53673), sin_addr=inet_addr("127.0.0.1")}, 16) = -1',
        '7340  connect(5, {sa_family=AF_UNIX, sun_path="/run/user/0/pulse/native"}, 110) = 0',
        '7341  connect(5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2620:1ec:c11::200", &sin6_addr), sin6_scope_id=0}, 28) = -1',
        '7342  connect(5, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("13.69.109.130")}, 16) = -1',
    ])
    bad = network_offences(log)
    assert len(bad) == 3
    assert "htons(53)" in bad[0] and "2620:" in bad[1] and "13.69" in bad[2]


def _strace(cmd: list[str], log: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    if not shutil.which("strace"):
        pytest.fail("strace is not installed: run scripts/setup.sh (APT_PACKAGES has it)")
    return subprocess.run(["strace", "-f", "-qq", "-e", f"trace={TRACED}", "-o", str(log), *cmd],
                          capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def _reply_time_ok(stdout: str) -> bool:
    line = next((ln for ln in stdout.splitlines() if ln.strip().startswith("reply:")), "")
    return near_now(spoken_times(line))


# --------------------------------------------------------------------------------------
# Issue 8 item 2: it calls home
# --------------------------------------------------------------------------------------
def test_ask_makes_no_dns_query_and_no_foreign_connection(pulseaudio, tmp_path):
    """Issue 8 item 2 ("It calls home"): `assistant ask "what time is it"` under
    ``strace -f`` (every thread and child process: Rasa too) makes no DNS query and
    connects to nothing but loopback. Before the fix onnxruntime's native 1DS telemetry
    (loaded with the Piper voice) queried mobile.events.data.microsoft.com a few seconds
    after start-up: two DNS queries to the resolver on port 53 in every run."""
    log = tmp_path / "ask.strace"
    env = {**os.environ, **pulseaudio.env}
    for key in ("ORT_DISABLE_TELEMETRY", "DO_NOT_TRACK"):  # the app must set these itself
        env.pop(key, None)
    r = _strace([ASSISTANT, "ask", "what time is it"], log, env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _reply_time_ok(r.stdout), r.stdout
    text = log.read_text(errors="replace")
    assert re.search(r'inet_addr\("127\.0\.0\.1"\)', text), "strace saw no loopback call to Rasa: tracing broken?"
    assert network_offences(text) == []


def test_run_on_a_recording_makes_no_dns_query_and_no_foreign_connection(pulseaudio, tmp_path):
    """Issue 8 item 2, the voice path: `assistant run --push-to-talk --input <recording>`
    (wake word model, VAD, Whisper, Rasa, Piper) under ``strace -f``: no DNS query, no
    connection beyond loopback. Before the fix: the onnxruntime telemetry DNS queries."""
    wav = piper_say("What time is it?", tmp_path / "ask_time.wav")
    log = tmp_path / "run.strace"
    env = {**os.environ, **pulseaudio.env}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    r = _strace([ASSISTANT, "run", "--push-to-talk", "--input", str(wav)], log, env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "clock__ask_time" in r.stdout and _reply_time_ok(r.stdout), r.stdout
    text = log.read_text(errors="replace")
    assert re.search(r'inet_addr\("127\.0\.0\.1"\)', text), "strace saw no loopback call to Rasa: tracing broken?"
    assert network_offences(text) == []


def test_ask_answers_with_no_network_at_all(pulseaudio, tmp_path):
    """Issue 8 item 2, the other half of "nothing leaves the machine": in a network
    namespace that has only a loopback interface (``unshare -n``; ``-rn`` when not root)
    `assistant ask "what time is it"` still answers with the time, i.e. nothing the
    assistant needs is on the network (no model download, no licence check)."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.fail("unshare and ip (util-linux, iproute2) are needed for this test")
    flags = "-n" if os.geteuid() == 0 else "-rn"
    env = {**os.environ, **pulseaudio.env}
    r = subprocess.run(["unshare", flags, "sh", "-c", 'ip link set lo up && exec "$0" ask "what time is it"', ASSISTANT],
                       capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _reply_time_ok(r.stdout), r.stdout + r.stderr


# --------------------------------------------------------------------------------------
# Issue 8 item 1: the open doors
# --------------------------------------------------------------------------------------
class LiveApp:
    """`assistant run` (live, on the virtual microphone) in a subprocess."""

    def __init__(self, env: dict) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([ASSISTANT, "run", "--max-interactions", "50"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env, stdin=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(needle in ln for ln in self.lines):
                return
            time.sleep(0.1)
        raise AssertionError(f"'{needle}' not printed; output:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(self.proc.pid).children(recursive=True):
                    child.kill()
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(2)


def listening_ports(pid: int) -> dict[int, psutil.Process]:
    """TCP ports in LISTEN state of ``pid`` and all its descendants → the owning process,
    found from the outside (psutil / /proc), as an attacker on the machine would."""
    out: dict[int, psutil.Process] = {}
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN:
                out[c.laddr.port] = proc
    return out


#: Every route Rasa 3.6 (server.py, the REST channel) and the action server
#: (rasa_sdk endpoint.py routes) define, plus a few that exist nowhere.
PROBES: list[tuple[str, str]] = [
    ("GET", "/"), ("GET", "/version"), ("GET", "/status"), ("GET", "/domain"),
    ("GET", "/conversations/evil/tracker"), ("POST", "/conversations/evil/tracker/events"),
    ("PUT", "/conversations/evil/tracker/events"), ("GET", "/conversations/evil/story"),
    ("POST", "/conversations/evil/execute"), ("POST", "/conversations/evil/trigger_intent"),
    ("POST", "/conversations/evil/predict"), ("POST", "/conversations/evil/messages"),
    ("POST", "/model/train"), ("POST", "/model/test/stories"), ("POST", "/model/test/intents"),
    ("POST", "/model/predict"), ("POST", "/model/parse"), ("PUT", "/model"), ("DELETE", "/model"),
    ("GET", "/webhooks/rest/"), ("POST", "/webhooks/rest/webhook"), ("GET", "/webhooks/rest/webhook"),
    ("OPTIONS", "/webhooks/rest/webhook"), ("POST", "/webhooks/rest/webhook/"),
    ("GET", "/health"), ("GET", "/actions"), ("POST", "/webhook"), ("PUT", "/webhook"), ("HEAD", "/webhook"),
    ("GET", "/no/such/route"), ("POST", "/"),
]


def _body(path: str, text: str) -> bytes:
    import json

    if path.endswith("/messages"):
        return json.dumps({"text": text, "sender": "user"}).encode()
    if path.endswith("/trigger_intent") or path.endswith("/execute"):
        return json.dumps({"name": "notes__delete_notes"}).encode()
    if path == "/webhook":
        return json.dumps({"next_action": "action_notes__delete_notes", "sender_id": "evil",
                           "tracker": {"sender_id": "evil", "slots": {}, "latest_message": {}, "events": []},
                           "domain": {}, "version": "3.6.21"}).encode()
    return json.dumps({"sender": "evil", "message": text, "text": text}).encode()


def test_every_port_of_a_running_assistant_refuses_callers_without_the_token(pulseaudio, isolated_config, tmp_path):
    """Issue 8 item 1 ("The Rasa REST channel runs skill actions without the token"):
    every endpoint on every TCP port the running assistant (`assistant run`) and its Rasa
    child listen on, found from outside with psutil, asked without a token and with a
    wrong one — as a web page would (``Origin: http://evil.example``, ``Content-Type:
    text/plain``) — answers 401/403/404, grants no CORS origin, and runs nothing: a note
    survives "delete all my notes" + "yes" sent to each of them.

    Before the fix: ``POST /webhooks/rest/webhook`` answered 200 and the two messages
    deleted the note; ``/`` and ``/version`` answered 200; the action server's
    ``GET /actions`` listed every action and ``/health`` answered, without a token.
    The last step is the control: the same two messages *with* Rasa's token (read from
    the Rasa process's initial environment, as only the same user can) do delete it."""
    notes = isolated_config.parent / "data" / "notes"
    notes.mkdir(parents=True)
    note = notes / "2026-01-01_09-00-00.txt"
    note.write_text("the spare key is under the blue pot\n", encoding="utf-8")

    app = LiveApp({**os.environ, **pulseaudio.env})
    try:
        app.wait_for("Listening", timeout=300)
        ports = listening_ports(app.proc.pid)
        rasa = [p for p, proc in ports.items() if any("rasa_boot.py" in a for a in proc.cmdline())]
        assert len(rasa) == 1 and len(ports) >= 2, {p: proc.cmdline()[:3] for p, proc in ports.items()}
        assert all(c.laddr.ip == "127.0.0.1" for proc in set(ports.values())
                   for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN)

        seen: list[tuple] = []
        wrong: list[tuple] = []
        with httpx.Client(timeout=30, trust_env=False) as client:
            for port in sorted(ports, key=lambda p: p not in rasa):  # Rasa first
                for token in (None, "wrong-token"):
                    for text in ("delete all my notes", "yes"):
                        for method, path in PROBES:
                            r = client.request(
                                method, f"http://127.0.0.1:{port}{path}",
                                params={"token": token} if token else None,
                                headers={"Origin": "http://evil.example", "Content-Type": "text/plain",
                                         "Access-Control-Request-Method": "POST"},
                                content=_body(path, text) if method in ("POST", "PUT") else None)
                            seen.append((port, method, path, token, r.status_code))
                            cors = [k for k in r.headers if k.lower().startswith("access-control-allow")]
                            if r.status_code not in (401, 403, 404) or cors:
                                wrong.append((port, method, path, token, r.status_code, cors, r.text[:80]))
            assert note.exists() and "blue pot" in note.read_text(encoding="utf-8"), \
                f"a probe without the token ran the notes skill; answered: {wrong[:12]}"
            assert wrong == []
            assert app.proc.poll() is None

            # Control: with the token the very same messages do run the skill.
            environ = Path(f"/proc/{ports[rasa[0]].pid}/environ").read_bytes().split(b"\0")
            token = next(e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"ASSISTANT_RASA_TOKEN="))
            for text in ("delete all my notes", "yes"):
                r = client.post(f"http://127.0.0.1:{rasa[0]}/webhooks/rest/webhook", params={"token": token},
                                json={"sender": "control", "message": text})
                assert r.status_code == 200, r.text
        assert not note.exists(), "control failed: the token-carrying request did not delete the note"
        print(f"probed {len(seen)} requests on ports {sorted(ports)}: all refused")
    finally:
        app.stop()


# --------------------------------------------------------------------------------------
# Issue 8 item 4: two instances share one endpoints.yml
# --------------------------------------------------------------------------------------
def _instance(settings):
    from assistant.events import ActionStarted, EventBus
    from assistant.components import build_sidecar
    from assistant.skills import SkillHost, load_skills

    skills = load_skills().skills
    bus = EventBus()
    started: list[str] = []
    bus.subscribe(lambda e: started.append(e.action), ActionStarted)
    sc = build_sidecar(skills, SkillHost(bus, settings.skills), settings.nlu, bus)
    return sc, started


def test_two_instances_keep_their_own_action_server_across_a_rasa_kill(isolated_config):
    """Issue 8 item 4 ("Two running instances share one endpoints.yml"): two sidecars
    over the same model cache side by side; instance A's Rasa is killed (SIGKILL) and
    restarts. A's "what time is it" must still be answered by *A's* clock action (A's
    bus sees the action, B's does not), also after B has stopped; B answers too.

    Before the fix ``endpoints.yml`` (action server URL + token) lived in the shared model
    folder, last writer wins: A's restarted Rasa called B's action server (the action ran
    in the wrong process), and once B had quit, every reply that needed an action was
    empty. Now each sidecar writes its per-run files to its own 0700 folder, removed at
    stop."""
    from assistant.settings import Settings

    settings = Settings()
    a, a_started = _instance(settings)
    b, b_started = _instance(settings)
    try:
        a.start(timeout=300)
        b.start(timeout=300)
        assert a.workdir == b.workdir  # the trained model is shared

        os.kill(a.pid, signal.SIGKILL)
        time.sleep(1.0)
        b_before = len(b_started)
        r = a.message("a", "what time is it")
        assert near_now(spoken_times(" ".join(r.replies))), r
        assert len(b_started) == b_before, f"A's turn ran in B's action server: {b_started[b_before:]}"
        assert any(x.startswith("action_clock__") for x in a_started), a_started

        # The per-run files: one owner-only folder per instance, outside the model cache.
        assert a.rundir != b.rundir
        for sc in (a, b):
            assert sc.rundir.stat().st_mode & 0o777 == 0o700
            assert (sc.rundir / "endpoints.yml").stat().st_mode & 0o777 == 0o600
            assert sc.workdir not in sc.rundir.parents
            assert sc.action_server.url in (sc.rundir / "endpoints.yml").read_text()

        r = b.message("b", "what time is it")
        assert near_now(spoken_times(" ".join(r.replies))), r
        b_dir = b.rundir
        b.stop()
        assert not b_dir.exists()

        os.kill(a.pid, signal.SIGKILL)
        time.sleep(1.0)
        r = a.message("a2", "what time is it")
        assert near_now(spoken_times(" ".join(r.replies))), r
    finally:
        a.stop()
        b.stop()
