"""Shared fixtures: isolated config/data dirs, a persistent model cache, the test audio
folder, and a user-level PulseAudio server with a virtual microphone and speaker.

The PulseAudio recipe is the one in DESIGN.md: null sinks ``spk`` and ``micfeed``, a remapped
source ``vmic`` (the app's microphone) fed by playing into ``micfeed``, and two loopbacks
from a null source that keep the sinks' clocks running. PortAudio reaches it through ALSA's
pulse plugin, so the app uses real PortAudio exactly as on a desktop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = ROOT / "artifacts"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["ASSISTANT_STRICT_STATES"] = "1"  # an illegal state-machine transition raises (assistant/machine.py)
# Joined Whisper base and trained Rasa models persist across test runs in .cache/.
os.environ.setdefault("ASSISTANT_CACHE_DIR", str(ROOT / ".cache"))
_session_home = Path(tempfile.mkdtemp(prefix="assistant-tests-"))
os.environ["ASSISTANT_CONFIG_DIR"] = str(_session_home / "config")
os.environ["ASSISTANT_DATA_DIR"] = str(_session_home / "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of real test recordings (see tests/data/SOURCES.md)."""
    return DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for screenshots, traces and WAVs a test run leaves for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture()
def isolated_config(tmp_path, monkeypatch) -> Path:
    """A fresh, empty settings folder for one test."""
    cfg = tmp_path / "config"
    monkeypatch.setenv("ASSISTANT_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    return cfg


class PulseAudio:
    """Handle on the virtual PulseAudio server: ``env`` to pass to subprocesses,
    ``play_into_mic(wav)`` and ``record_speaker(seconds)``."""

    def __init__(self, runtime: Path) -> None:
        self.runtime = runtime
        self.env = {
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_SERVER": f"unix:{runtime}/pulse/native",
        }

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` against this server and return its stdout."""
        return subprocess.run(["pactl", *args], env={**os.environ, **self.env}, check=True,
                              capture_output=True, text=True, timeout=20).stdout

    def play_into_mic(self, wav: Path) -> subprocess.Popen:
        """Start playing ``wav`` into the virtual microphone; returns the ``paplay`` process."""
        return subprocess.Popen(["paplay", "--device=micfeed", str(wav)], env={**os.environ, **self.env})

    def record_speaker(self, out: Path) -> subprocess.Popen:
        """Start recording what the app plays (monitor of sink ``spk``) into ``out`` (WAV,
        16 kHz mono int16). Stop it with ``terminate()``. Returns once the server lists the
        new recording stream, so that nothing played afterwards is missed (on a loaded
        machine ``parecord`` took up to half a second to connect)."""
        before = set(self.pactl("list", "short", "source-outputs").splitlines())
        proc = subprocess.Popen(
            ["parecord", "--device=spk.monitor", "--rate=16000", "--channels=1", "--format=s16le",
             "--file-format=wav", str(out)],
            env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + 20
        while not set(self.pactl("list", "short", "source-outputs").splitlines()) - before:
            assert proc.poll() is None and time.monotonic() < deadline, "parecord did not connect"
            time.sleep(0.02)
        return proc


@pytest.fixture(scope="session")
def pulseaudio():
    """Start a private PulseAudio with virtual mic ``vmic`` and speaker ``spk``; set the
    process environment so PortAudio (via ALSA's pulse plugin) uses it."""
    if not shutil.which("pulseaudio"):
        pytest.fail("pulseaudio is not installed: run scripts/setup.sh")
    runtime = Path(tempfile.mkdtemp(prefix="pa-"))
    pa = PulseAudio(runtime)
    env = {**os.environ, **pa.env, "HOME": str(runtime)}
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disable-shm=yes", "--log-target=stderr",
         "-L", f"module-native-protocol-unix socket={runtime}/pulse/native auth-anonymous=1",
         "-L", "module-null-sink sink_name=spk rate=48000",
         "-L", "module-null-sink sink_name=micfeed rate=48000",
         "-L", "module-remap-source source_name=vmic master=micfeed.monitor",
         "-L", "module-null-source source_name=silence rate=48000",
         "-L", "module-loopback source=silence sink=micfeed latency_msec=30",
         "-L", "module-loopback source=silence sink=spk latency_msec=30"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not (runtime / "pulse" / "native").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail("could not start the virtual PulseAudio server")
        time.sleep(0.05)
    old = {k: os.environ.get(k) for k in pa.env}
    os.environ.update(pa.env)
    pa.pactl("set-default-sink", "spk")
    pa.pactl("set-default-source", "vmic")
    yield pa
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def no_microphone(tmp_path, monkeypatch):
    """PortAudio with no reachable sound server, as on a machine without a sound card, even
    when the session's virtual PulseAudio is running: ``PULSE_SERVER`` points at a socket
    that does not exist and PortAudio enumerates its devices again (and again afterwards)."""
    from assistant.audio import reinit_portaudio

    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/no-such-server")
    reinit_portaudio()
    yield
    monkeypatch.undo()
    reinit_portaudio()


@pytest.fixture(autouse=True)
def _no_illegal_transitions():
    """Fail any test during which the engine's state machine met a pair missing from its
    transition table, even when a worker thread swallowed the IllegalTransition."""
    from assistant.machine import ILLEGAL_SEEN

    ILLEGAL_SEEN.clear()
    yield
    assert not ILLEGAL_SEEN, f"illegal state-machine transitions: {ILLEGAL_SEEN}"
