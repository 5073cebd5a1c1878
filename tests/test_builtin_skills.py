"""Every built-in skill end to end from recordings: Piper (the shipped joe voice) and
espeak-ng speak the request, and the real pipeline runs it — push-to-talk → Silero VAD →
faster-whisper (with the skills' vocabulary as hotwords) → Rasa → skill action → Piper
reply into a BufferSink. One Assistant (one Rasa model, one Rasa server) serves the module.

Real peers, no mocks:

* apps: a ``.desktop`` entry in a temporary ``XDG_DATA_HOME`` whose ``Exec`` touches a
  file; the test waits for the file.
* media: a private ``dbus-daemon --session`` with a small MPRIS player served by jeepney
  in this process — a real D-Bus peer that records the calls it gets.
* volume: the virtual PulseAudio server of ``conftest.pulseaudio``; levels are read back
  with ``pactl``.
* reminders: the file in ``data_dir()`` is read by a second, fresh skill host (what a
  restart does) to show reminders survive it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from audio_factory import concat, espeak_say, piper_say

from assistant.audio import BufferSink
from assistant.events import EventBus, Reply
from assistant.pipeline import Assistant
from assistant.settings import Settings, data_dir

pytestmark = pytest.mark.rasa

VOICES = ["piper", "espeak"]
FAKE_APP = "Weather"


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fake_desktop(tmp_path_factory):
    """A temporary XDG_DATA_HOME with one application whose Exec touches a file."""
    root = tmp_path_factory.mktemp("xdg")
    marker = root / "launched.txt"
    apps = root / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / "org.example.Weather.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Weather\nGenericName=Forecast viewer\n"
        f"Exec=touch {marker} %U\nTerminal=false\n", encoding="utf-8")
    old = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(root / "share")
    yield marker
    if old is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = old


@pytest.fixture(scope="module")
def app(fake_desktop):
    """A started Assistant (push-to-talk, no wake word) speaking into a BufferSink."""
    a = Assistant(Settings(), EventBus(), sink=BufferSink(), use_wake_word=False)
    a.start()
    yield a
    a.close()


@pytest.fixture(autouse=True)
def fresh_conversation(request):
    """Each test is its own conversation; timers a test left behind are cancelled after it."""
    if "app" not in request.fixturenames:
        yield
        return
    a = request.getfixturevalue("app")
    a.sender_id = f"test-{next(_counter)}"
    yield
    a.host.cancel_all()
    a.wait_idle()


@pytest.fixture(scope="module")
def replies(app):
    """Every Reply published, including those of skills outside a turn (timers firing)."""
    got: list[Reply] = []
    unsub = app.bus.subscribe(got.append, Reply)
    yield got
    unsub()


_counter = iter(range(10_000))


def say(tmp: Path, text: str, voice: str = "piper", speed: int = 150) -> Path:
    """A recording of ``text`` in one of the two voices, with half a second of silence
    before it (a person presses the key, then speaks) and 1.5 s after."""
    n = next(_counter)
    raw = tmp / f"raw{n}_{voice}.wav"
    if voice == "piper":
        piper_say(text, raw)
    else:
        espeak_say(text, raw, voice="en-us", speed=speed)
    return concat([raw], tmp / f"utt{n}_{voice}.wav", lead_s=0.5, tail_s=1.5)


def turn(app: Assistant, tmp: Path, text: str, voice: str = "piper", speed: int = 150):
    """Run one spoken request through the pipeline; return its TurnResult (``speed``: the
    espeak-ng words per minute)."""
    results = app.process_file(say(tmp, text, voice, speed), push_to_talk=True)
    assert len(results) == 1, [(r.transcript, r.reply) for r in results]
    return results[0]


def wait_for(predicate, timeout: float = 15.0) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (not a timing assert)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---------------------------------------------------------------------------- clock, help, control
@pytest.mark.parametrize("voice", VOICES)
def test_clock_day(app, tmp_path, voice):
    r = turn(app, tmp_path, "What day is it today?", voice)
    assert r.intent == "clock__ask_day", r
    assert r.reply == f"It's {time.strftime('%A')}.", r


@pytest.mark.parametrize("voice", VOICES)
def test_help_lists_installed_skills(app, tmp_path, voice):
    r = turn(app, tmp_path, "What can you do?", voice)
    assert r.intent == "help__what_can_you_do", r
    for name in ("timers and alarms", "reminders", "calculator", "notes", "media player", "volume", "applications"):
        assert name in r.reply, r.reply
    assert "For example, say:" in r.reply


def test_never_mind_cancels_a_question(app, tmp_path):
    r1 = turn(app, tmp_path, "Set a timer.")
    assert r1.reply == "For how long?" and r1.expects_answer, r1
    r2 = turn(app, tmp_path, "Never mind.")
    assert r2.intent == "control__stop" and r2.reply == "Okay.", r2
    assert not r2.expects_answer


# ---------------------------------------------------------------------------- timers and alarms
@pytest.mark.parametrize("voice", VOICES)
def test_named_timer(app, tmp_path, voice):
    r = turn(app, tmp_path, "Set a pasta timer for eight minutes.", voice)
    assert r.intent == "timer__set_timer", r
    assert r.reply.startswith("Pasta timer set for 8 minutes."), r
    app.handle_text("cancel all timers")


def test_several_timers_list_and_cancel_one(app, tmp_path):
    assert turn(app, tmp_path, "Set a pasta timer for eight minutes.").reply == "Pasta timer set for 8 minutes."
    assert turn(app, tmp_path, "Set a tea timer for three minutes.").reply == "Tea timer set for 3 minutes."
    r = turn(app, tmp_path, "What timers do I have?")
    assert r.intent == "timer__timer_status", r
    assert re.search(r"tea timer has (2 minutes and \d+ seconds|3 minutes) left", r.reply), r.reply
    assert re.search(r"pasta timer has (7 minutes and \d+ seconds|8 minutes) left", r.reply), r.reply
    r = turn(app, tmp_path, "Cancel the timer.")
    assert r.reply == "You have 2 timers: tea timer and pasta timer. Which one?" and r.expects_answer, r
    r = turn(app, tmp_path, "The pasta one.")
    assert r.reply == "Cancelled your pasta timer.", r
    labels = [h.label for h in app.host.pending("timer")]
    assert labels == ["tea"], labels
    assert turn(app, tmp_path, "Cancel the tea timer.").reply == "Cancelled your tea timer."
    assert app.host.pending("timer") == []


def test_timer_without_duration_asks(app, tmp_path):
    r1 = turn(app, tmp_path, "Set a timer.", "espeak")
    assert r1.intent == "timer__set_timer" and r1.reply == "For how long?" and r1.expects_answer, r1
    r2 = turn(app, tmp_path, "Five minutes.")
    assert r2.reply == "Timer set for 5 minutes.", r2
    assert [h.data["seconds"] for h in app.host.pending("timer")] == [300]
    app.handle_text("cancel the timer")


def test_alarm_without_time_asks_then_lists_and_cancels(app, tmp_path):
    r1 = turn(app, tmp_path, "Set an alarm.")
    assert r1.intent == "timer__set_alarm" and r1.reply == "For what time?" and r1.expects_answer, r1
    r2 = turn(app, tmp_path, "Seven a.m.")
    assert re.fullmatch(r"Alarm set for (tomorrow at )?7 AM\.", r2.reply), r2
    saved = (data_dir() / "skills" / "timer" / "alarms.json").read_text()
    assert '"at"' in saved
    r3 = turn(app, tmp_path, "Cancel my alarm.", "espeak")
    assert r3.intent == "timer__cancel_timer" and r3.reply == "Cancelled your 7 AM alarm.", r3
    assert (data_dir() / "skills" / "timer" / "alarms.json").read_text().strip() == "[]"


# ---------------------------------------------------------------------------- reminders
@pytest.mark.parametrize("voice", VOICES)
def test_reminder_with_time(app, tmp_path, voice):
    # espeak-ng at its default 175 wpm: at 150 wpm Whisper base hears this clip as "remind me
    # to calm a matrix" once the push-to-talk block is kept (an 80 ms shift; an ASR miss on a
    # robotic voice, not a reminder-skill behaviour this test is about).
    r = turn(app, tmp_path, "Remind me to call mum at 6 p.m.", voice, speed=175)
    assert r.intent == "reminders__set_reminder", r
    assert re.fullmatch(r"Okay, I'll remind you to call (mum|mom) (tomorrow )?at 6 PM\.", r.reply), r.reply
    app.handle_text("delete the reminder to call mum")


def test_reminder_without_time_asks_and_survives_a_restart(app, tmp_path):
    r1 = turn(app, tmp_path, "Remind me to water the plants.")
    assert r1.intent == "reminders__set_reminder", r1
    assert r1.reply == "When should I remind you?" and r1.expects_answer, r1
    r2 = turn(app, tmp_path, "Tomorrow at nine a.m.")
    assert r2.reply == "Okay, I'll remind you to water the plants tomorrow at 9 AM.", r2
    r3 = turn(app, tmp_path, "What are my reminders?", "espeak")
    assert r3.intent == "reminders__list_reminders", r3
    assert "water the plants tomorrow at 9 AM" in r3.reply, r3

    # a restart: a new host loads the skill, which schedules the saved reminder again
    from assistant.skills import SkillHost, load_skills

    saved = data_dir() / "skills" / "reminders" / "reminders.json"
    assert "water the plants" in saved.read_text()
    host = SkillHost(EventBus())
    try:
        host.actions([load_skills().by_id()["reminders"]])
        assert [h.label for h in host.pending("reminders")] == ["water the plants"]
    finally:
        host.close()
    r4 = turn(app, tmp_path, "Cancel my reminders.")
    assert r4.reply == "Cancelled the reminder to water the plants.", r4
    assert "water the plants" not in saved.read_text()


def test_reminder_fires_and_is_spoken(app, tmp_path, replies):
    r = turn(app, tmp_path, "Remind me in three seconds to stretch.")
    assert r.reply == "Okay, I'll remind you to stretch in 3 seconds.", r
    assert wait_for(lambda: any(e.text == "Reminder: stretch." and e.source == "skill:reminders" for e in replies))
    assert wait_for(lambda: any(x.reply == "Reminder: stretch." for x in app.results))  # spoken as its own interaction
    app.wait_idle()


def test_several_reminders_cancel_all_after_yes(app, tmp_path):
    app.handle_text("remind me to buy bread at 5 pm")
    app.handle_text("remind me to call the bank tomorrow at 10 am")
    r1 = turn(app, tmp_path, "Cancel all my reminders.")
    assert r1.reply == "Cancel all 2 reminders?" and r1.expects_answer, r1
    r2 = turn(app, tmp_path, "Yes.")
    assert r2.reply == "Cancelled 2 reminders.", r2
    assert app.handle_text("what are my reminders").reply == "You have no reminders."


# ---------------------------------------------------------------------------- applications
@pytest.mark.parametrize("voice", VOICES)
def test_open_application_from_desktop_entry(app, tmp_path, fake_desktop, voice):
    fake_desktop.unlink(missing_ok=True)
    r = turn(app, tmp_path, f"Open {FAKE_APP}.", voice)
    assert r.intent == "apps__open_app", r
    assert r.reply == f"Opening {FAKE_APP}.", r
    assert wait_for(fake_desktop.exists), "the .desktop entry's Exec line did not run"


def test_installed_applications_do_not_change_the_trained_model(tmp_path, monkeypatch):
    """The apps skill's ``.desktop`` names bias the ASR and are resolvable values, but are
    not Rasa training data: the model's hash (the cache key, and the key of the package's
    pre-trained seed) is the same whatever is installed (issue 12)."""
    from assistant.components import build_sidecar
    from assistant.settings import NLUSettings, SkillsSettings
    from assistant.skills import SkillHost, load_skills

    def state(xdg: Path) -> tuple[str, list[str]]:
        monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
        skills = load_skills().skills
        host = SkillHost(EventBus(), SkillsSettings())
        try:
            apps = next(s for s in skills if s.id == "apps")
            return build_sidecar(skills, host, NLUSettings()).project_hash(), apps.vocabulary()
        finally:
            host.close()

    empty = tmp_path / "empty"
    (empty / "applications").mkdir(parents=True)
    full = tmp_path / "full"
    (full / "applications").mkdir(parents=True)
    (full / "applications" / "org.example.Zorblax.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Zorblax Studio\nExec=true\n", encoding="utf-8")
    h1, v1 = state(empty)
    h2, v2 = state(full)
    assert "zorblax studio" in v2 and "zorblax studio" not in v1  # the ASR hears about it
    assert h1 == h2  # but the model does not change


def test_unknown_application_is_named(app):
    r = app.handle_text("open frobnicator")
    assert r.intent == "apps__open_app"
    assert r.reply == "I couldn't find an application called frobnicator.", r


# ---------------------------------------------------------------------------- media (MPRIS)
class MprisPlayer:
    """A minimal MPRIS player on a real session bus, served by jeepney on a thread. It
    answers Play/Pause/Next/Previous and the PlaybackStatus/Volume properties, and keeps
    the calls it received in :attr:`calls`."""

    def __init__(self, address: str, name: str = "testplayer") -> None:
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.conn = open_dbus_connection(address)
        self.conn.send_and_get_reply(message_bus.RequestName(f"org.mpris.MediaPlayer2.{name}"), timeout=5)
        self.calls: list[str] = []
        self.status = "Playing"
        self.volume = 0.8
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="mpris-player", daemon=True)
        self._thread.start()

    def _prop(self, name: str):
        return {"PlaybackStatus": ("s", self.status), "Volume": ("d", self.volume), "CanPlay": ("b", True),
                "CanPause": ("b", True), "CanGoNext": ("b", True), "CanGoPrevious": ("b", True)}.get(name)

    def _serve(self) -> None:
        from jeepney import HeaderFields, MessageType, new_error, new_method_return

        while not self._stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:  # connection closed by stop()
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            iface = msg.header.fields.get(HeaderFields.interface)
            member = msg.header.fields.get(HeaderFields.member)
            reply = None
            if iface == "org.mpris.MediaPlayer2.Player" and member in ("Play", "Pause", "PlayPause", "Next", "Previous"):
                self.calls.append(member)
                self.status = {"Play": "Playing", "Pause": "Paused"}.get(member, self.status)
                reply = new_method_return(msg)
            elif iface == "org.freedesktop.DBus.Properties" and member == "Get":
                value = self._prop(msg.body[1])
                reply = new_method_return(msg, "v", (value,)) if value else \
                    new_error(msg, "org.freedesktop.DBus.Error.InvalidArgs", "s", (f"no property {msg.body[1]}",))
            elif iface == "org.freedesktop.DBus.Properties" and member == "Set":
                _iface, name, (_sig, value) = msg.body
                if name == "Volume":
                    self.volume = float(value)
                    self.calls.append(f"Volume={self.volume:.2f}")
                reply = new_method_return(msg)
            else:
                reply = new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"{iface}.{member}",))
            self.conn.send_message(reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.conn.close()


@pytest.fixture(scope="module")
def session_bus():
    """A private D-Bus session bus (``dbus-daemon --session``); yields its address."""
    exe = shutil.which("dbus-daemon")
    assert exe, "dbus-daemon is missing: run scripts/setup.sh (Debian package dbus)"
    proc = subprocess.Popen([exe, "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    address = proc.stdout.readline().strip()
    assert address.startswith("unix:"), address
    yield address
    proc.terminate()
    proc.wait(5)


def test_media_without_a_bus_or_player_says_so(app, tmp_path, session_bus, monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no $XDG_RUNTIME_DIR/bus either
    r = turn(app, tmp_path, "Pause the music.")
    assert r.intent == "media__pause" and r.reply == "No media player is running.", r
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)  # a bus, but no player on it
    r = turn(app, tmp_path, "Next song.", "espeak")
    assert r.intent == "media__next_track" and r.reply == "No media player is running.", r


@pytest.mark.parametrize("voice", VOICES)
def test_media_controls_an_mpris_player(app, tmp_path, session_bus, monkeypatch, voice):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    player = MprisPlayer(session_bus)
    try:
        r = turn(app, tmp_path, "Pause the music.", voice)
        assert r.intent == "media__pause" and r.reply == "Paused.", r
        assert player.status == "Paused"
        r = turn(app, tmp_path, "Skip to the next song.", voice)
        assert r.intent == "media__next_track" and r.reply == "Next track.", r
        r = turn(app, tmp_path, "Play the previous song.", voice)
        assert r.intent == "media__previous_track" and r.reply == "Previous track.", r
        r = turn(app, tmp_path, "Resume the music.", voice)
        assert r.intent == "media__play" and r.reply == "Playing.", r
        r = turn(app, tmp_path, "Turn the music down.", voice)
        assert r.intent == "media__player_volume" and r.reply == "Music volume 70 percent.", r
        assert player.calls == ["Pause", "Next", "Previous", "Play", "Volume=0.70"], player.calls
    finally:
        player.close()


# ---------------------------------------------------------------------------- system volume
def _sink_volume(pa) -> int:
    return int(re.search(r"(\d+)%", pa.pactl("get-sink-volume", "@DEFAULT_SINK@")).group(1))


@pytest.fixture
def restore_volume(pulseaudio):
    """Put the virtual speaker back to 100 %, unmuted: later tests measure what it plays."""
    yield
    pulseaudio.pactl("set-sink-volume", "@DEFAULT_SINK@", "100%")
    pulseaudio.pactl("set-sink-mute", "@DEFAULT_SINK@", "0")


@pytest.mark.parametrize("voice", VOICES)
def test_system_volume_with_pactl(app, tmp_path, pulseaudio, restore_volume, voice):
    r = turn(app, tmp_path, "Set the volume to forty percent.", voice)
    assert r.intent == "volume__change_volume" and r.reply == "Volume 40 percent.", r
    assert _sink_volume(pulseaudio) == 40
    # espeak-ng's "Turn the volume up." came out as "turn the milk," (GENERIC) and "turn the
    # mile you month" (AVX512) through the streaming path with the skills' hotwords, while
    # "Make it louder." is heard right on every ISA: the espeak turn uses that wording.
    r = turn(app, tmp_path, "Turn the volume up." if voice == "piper" else "Make it louder.", voice)
    assert r.reply == "Volume 50 percent.", r
    assert _sink_volume(pulseaudio) == 50
    r = turn(app, tmp_path, "Mute the sound.", voice)
    assert r.intent == "volume__mute" and r.reply == "Muted.", r
    assert "yes" in pulseaudio.pactl("get-sink-mute", "@DEFAULT_SINK@")
    # Whisper base hears the Piper voice's "Unmute the sound." as "and mute the sound."
    # (hotwords do not help), so the Piper turn uses the other wording the skill knows.
    r = turn(app, tmp_path, "Unmute the sound." if voice == "espeak" else "Turn the sound back on.", voice)
    assert r.reply == "Sound is back on.", r
    assert "no" in pulseaudio.pactl("get-sink-mute", "@DEFAULT_SINK@")


def test_volume_without_sound_server_says_so(app, tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/no-such-socket")
    r = app.handle_text("turn the volume down")
    assert r.reply == "I can't change the volume: no PulseAudio or PipeWire sound server is running.", r


# ---------------------------------------------------------------------------- calculator
@pytest.mark.parametrize("voice", VOICES)
def test_calculator(app, tmp_path, voice):
    r = turn(app, tmp_path, "What is twelve times seven?", voice)
    assert r.intent == "calculator__calculate" and r.reply == "12 times 7 is 84.", r


@pytest.mark.parametrize("voice", VOICES)
def test_unit_conversion(app, tmp_path, voice):
    r = turn(app, tmp_path, "Convert five miles to kilometers.", voice)
    assert r.intent == "calculator__convert", r
    assert r.reply == "5 miles is 8.047 kilometers.", r


# ---------------------------------------------------------------------------- notes
def test_note_dictated_after_a_question_read_and_deleted_after_yes(app, tmp_path):
    notes = data_dir() / "notes"
    before = set(notes.glob("*.txt")) if notes.exists() else set()
    r1 = turn(app, tmp_path, "Take a note.")
    assert r1.intent == "notes__take_note" and r1.reply == "What should the note say?" and r1.expects_answer, r1
    r2 = turn(app, tmp_path, "Call the plumber on Monday.")
    assert r2.reply.lower() == "noted: call the plumber on monday.", r2
    new = set(notes.glob("*.txt")) - before
    assert len(new) == 1 and new.pop().read_text().strip().lower().rstrip(".") == "call the plumber on monday"
    r3 = turn(app, tmp_path, "Take a note that the meeting moved to Tuesday.")
    assert r3.reply.lower() == "noted: the meeting moved to tuesday.", r3
    r4 = turn(app, tmp_path, "Read my notes.", "espeak")
    assert r4.intent == "notes__read_notes", r4
    assert r4.reply.lower().index("the meeting moved to tuesday") < r4.reply.lower().index("call the plumber")
    r5 = turn(app, tmp_path, "Delete my notes.")
    assert re.fullmatch(r"Delete all \d+ notes\?", r5.reply) and r5.expects_answer, r5
    r6 = turn(app, tmp_path, "No.")
    assert r6.reply == "Okay, I kept your notes.", r6
    assert list(notes.glob("*.txt"))
    turn(app, tmp_path, "Delete my notes.")
    r7 = turn(app, tmp_path, "Yes, please.")
    assert re.fullmatch(r"Deleted \d+ notes\.", r7.reply), r7
    assert list(notes.glob("*.txt")) == []
