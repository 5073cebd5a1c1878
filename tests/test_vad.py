"""assistant.vad: Silero VAD and the endpointer on real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import audio
from assistant.errors import ModelError
from assistant.settings import VADSettings
from assistant.vad import CHUNK_SAMPLES, Endpointer, SileroVAD, VADEvent

SR = 16000


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    return SileroVAD()


def feed(ep: Endpointer, x: np.ndarray, block: int = 1280, tail_s: float = 1.5) -> list[VADEvent]:
    ep.reset()
    x = np.concatenate([x, np.zeros(int(tail_s * SR), np.int16)])
    events: list[VADEvent] = []
    for i in range(0, len(x), block):
        events += ep.process(x[i : i + block])
    return events


def test_silero_probabilities_on_speech_and_silence(vad, data_dir):
    x = audio.read_audio(data_dir / "jfk.flac")
    vad.reset()
    probs = vad.process(x)
    assert len(probs) == len(x) // CHUNK_SAMPLES
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert np.mean(np.array(probs) > 0.5) > 0.5  # mostly speech
    vad.reset()
    silence = vad.process(np.zeros(SR, np.int16))
    assert max(silence) < 0.1
    with pytest.raises(ValueError):
        vad.prob(np.zeros(100, np.int16))
    # arbitrary block sizes are buffered into 512-sample chunks
    vad.reset()
    pieces = [vad.process(x[i : i + 777]) for i in range(0, SR * 2, 777)]
    vad.reset()
    assert [p for ps in pieces for p in ps] == pytest.approx(vad.process(x[: (SR * 2 // 777 + 1) * 777]), abs=1e-6)


def test_endpointer_on_jfk_whole_sentence(vad, data_dir):
    x = audio.read_audio(data_dir / "jfk.flac")
    ep = Endpointer(vad, end_silence_ms=1500, pre_roll_ms=300)
    events = feed(ep, x, tail_s=2.0)
    assert [e.kind for e in events] == ["speech_start", "speech_end"]
    start, end = events
    assert 0.1 <= start.audio_time <= 0.8  # "And so..." begins ~0.35 s in
    assert 10.0 <= end.audio_time <= 11.1  # "...your country." ends at the end of the file
    assert not end.timeout and end.silence_ms >= 1500
    assert ep.done and not ep.in_speech
    utt = ep.utterance()
    first = int(round(start.audio_time * SR)) - int(0.3 * SR)
    assert len(utt) >= (end.audio_time - start.audio_time + 0.3 + 1.5) * SR - 2 * CHUNK_SAMPLES
    np.testing.assert_array_equal(utt[: SR], x[first : first + SR])  # pre-roll included, exact audio
    assert ep.process(x[:SR]) == []  # nothing after the end until reset()


def test_endpointer_default_700ms_ends_at_first_long_pause(vad, data_dir):
    # JFK pauses ~1 s after "And so, my fellow Americans": 700 ms of silence ends it there.
    x = audio.read_audio(data_dir / "jfk.flac")
    ep = Endpointer.from_settings(vad, VADSettings())  # the settings the app uses
    events = feed(ep, x)
    assert [e.kind for e in events] == ["speech_start", "speech_end"]
    assert 1.5 <= events[1].audio_time <= 3.2
    assert 700 <= events[1].silence_ms < 800


def test_endpointer_on_command_followed_by_silence(vad, data_dir):
    x = audio.read_audio(data_dir / "hey_jane.wav")  # "Hey Jane, turn the lights off." 2.4 s
    ep = Endpointer.from_settings(vad, VADSettings(end_silence_ms=700))
    events = feed(ep, x, tail_s=1.5)
    assert [e.kind for e in events] == ["speech_start", "speech_end"]
    assert events[0].audio_time < 0.5
    assert 1.6 <= events[1].audio_time <= len(x) / SR
    assert not events[1].timeout
    utt = ep.utterance()
    assert len(utt) / SR > events[1].audio_time - events[0].audio_time


def test_end_now_ends_in_speech_or_before_it(vad, data_dir):
    """Push-to-talk release: ``end_now`` ends the utterance where the VAD would not have."""
    x = audio.read_audio(data_dir / "hey_jane.wav")
    ep = Endpointer.from_settings(vad, VADSettings(end_silence_ms=3000))
    ep.reset()
    cut = int(1.6 * SR)  # mid-command, speech still going on
    events = []
    for i in range(0, cut, 1280):
        events += ep.process(x[i : min(i + 1280, cut)])
    assert [e.kind for e in events] == ["speech_start"]
    (end,) = ep.end_now()
    assert end.kind == "speech_end" and end.forced and not end.timeout
    assert events[0].audio_time < end.audio_time <= cut / SR + 0.05
    assert ep.done and ep.end_now() == [] and ep.process(x[cut:]) == []
    assert abs(len(ep.utterance()) / SR - (cut / SR - events[0].audio_time)) < 0.5  # pre-roll + up to the cut

    ep.reset()
    ep.process(np.zeros(SR, np.int16))
    (end,) = ep.end_now()  # released before anything was said
    assert end.forced and end.timeout and not ep.had_speech


def test_utterance_at_start_plus_later_blocks_is_the_gapless_stream(vad, data_dir):
    """How the pipeline streams an utterance to ASR: ``utterance()`` at ``speech_start``,
    then every following block while speech goes on."""
    x = np.concatenate([audio.read_audio(data_dir / "jfk.flac"), np.zeros(2 * SR, np.int16)])
    ep = Endpointer(vad, end_silence_ms=1500, pre_roll_ms=300)
    streamed, start = None, None
    for i in range(0, len(x), 1280):
        block = x[i : i + 1280]
        in_speech_before = ep.in_speech
        events = ep.process(block)
        kinds = [e.kind for e in events]
        if "speech_start" in kinds:
            start = events[0]
            streamed = [ep.utterance()]
        elif in_speech_before and "speech_end" not in kinds:
            streamed.append(block)
        if "speech_end" in kinds:
            break
    assert start is not None and ep.done
    joined = np.concatenate(streamed)
    first = int(round(start.audio_time * SR)) - int(0.3 * SR)
    np.testing.assert_array_equal(joined, x[first : first + len(joined)])
    assert len(joined) / SR > 10


@pytest.mark.parametrize("block", [160, 512, 1280, 4096])
def test_endpointer_block_size_does_not_matter(vad, data_dir, block):
    x = audio.read_audio(data_dir / "hey_jane.wav")
    ref = feed(Endpointer(vad), x, block=1280)
    got = feed(Endpointer(vad), x, block=block)
    assert got == ref


def test_endpointer_times_out_on_pure_silence(vad):
    ep = Endpointer(vad, start_timeout_s=3.0)
    events = feed(ep, np.zeros(5 * SR, np.int16), tail_s=0)
    assert len(events) == 1
    e = events[0]
    assert e.kind == "speech_end" and e.timeout
    assert abs(e.audio_time - 3.0) <= CHUNK_SAMPLES / SR
    assert e.silence_ms >= 3000
    assert len(ep.utterance()) == 0
    assert not ep.had_speech


def test_endpointer_max_utterance(vad, data_dir):
    x = audio.read_audio(data_dir / "jfk.flac")
    ep = Endpointer(vad, end_silence_ms=1500, max_utterance_s=3.0)
    events = feed(ep, x)
    assert [e.kind for e in events] == ["speech_start", "speech_end"]
    assert events[1].timeout and ep.had_speech  # cut, not silent
    assert abs(events[1].audio_time - events[0].audio_time - 3.0) <= CHUNK_SAMPLES / SR
    assert abs(len(ep.utterance()) / SR - 3.3) <= 2 * CHUNK_SAMPLES / SR


def test_endpointer_ignores_a_short_burst(vad, data_dir):
    x = audio.read_audio(data_dir / "jfk.flac")
    # 96 ms of the loudest real speech (a "click"), surrounded by silence: Silero scores
    # two chunks of it >= 0.5, which is speech only if one chunk suffices.
    loud = int(np.argmax(np.convolve(np.abs(x.astype(np.float32)), np.ones(1024), "valid")))
    burst = np.concatenate([np.zeros(SR, np.int16), x[loud : loud + 1536], np.zeros(SR, np.int16)])
    events = feed(Endpointer(vad, min_speech_ms=96, start_timeout_s=2.0), burst, tail_s=0.5)
    assert [e.kind for e in events] == ["speech_end"] and events[0].timeout
    events = feed(Endpointer(vad, min_speech_ms=32, start_timeout_s=2.0), burst, tail_s=0.5)
    assert [e.kind for e in events] == ["speech_start", "speech_end"]


def test_shipped_vad_model_is_checked_and_bad_models_raise(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        SileroVAD(tmp_path / "missing.bin")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00" * 5000)
    with pytest.raises(ModelError, match="cannot be loaded"):
        SileroVAD(bad)
    # the shipped models come from the registry, checksum-verified
    from models.registry import VAD_MODELS, resolve_vad_model

    assert SileroVAD().model_path == resolve_vad_model("silero")
    assert resolve_vad_model("silero-onnx").name == "silero_vad_v6.onnx"
    assert set(VAD_MODELS) == {"silero", "silero-onnx"}
    with pytest.raises(ModelError, match="Unknown VAD model"):
        resolve_vad_model("webrtc")


def test_early_end_permission_holds_only_while_no_speech_follows(vad, data_dir):
    """UtteranceFeed (capture) with the real endpointer on "Hey Jane, turn the lights off."
    said twice, 0.3 s apart (0.65 s of silence with the clip's own tail): the turn worker's permission to end early is refused
    while audio it has not checked is queued or the VAD hears speech, granted in the pause,
    lapses when the second phrase starts, and once granted again in the final silence ends
    the utterance after ``early_end_ms`` (0.8 s here, longer than the gap) instead of the
    2 s endpoint."""
    import queue

    from assistant.capture import UtteranceFeed
    from assistant.events import EventBus
    from assistant.turn import SPECULATE

    x = audio.read_audio(data_dir / "hey_jane.wav")
    gap = np.zeros(int(0.3 * SR), np.int16)
    stream = np.concatenate([x, gap, x, np.zeros(int(2.5 * SR), np.int16)])
    ep = Endpointer.from_settings(vad, VADSettings(end_silence_ms=2000))
    feed_ = UtteranceFeed(ep, queue.Queue(), EventBus(), "t", speculate_after_ms=150, early_end_ms=800)
    first_pause = len(x) + int(0.1 * SR)  # ~0.45 s after the last word, ~0.2 s before the next
    second_phrase = len(x) + len(gap) + int(1.5 * SR)  # in "turn the lights"
    final_pause = 2 * len(x) + len(gap) + int(0.35 * SR)
    end = None
    grants = {}
    for i in range(0, len(stream), 1280):
        ev = feed_.feed(stream[i : i + 1280])
        if ev is not None:
            end = (i + 1280, ev)
            break
        for name, at in (("pause", first_pause), ("speech", second_phrase), ("final", final_pause)):
            if name not in grants and i + 1280 >= at:
                assert not feed_.allow_early_end(feed_.queued_samples - 1), name  # unseen audio queued
                grants[name] = feed_.allow_early_end(feed_.queued_samples)
    assert grants == {"pause": True, "speech": False, "final": True}, grants
    markers = []
    while not feed_.audio_q.empty():
        item = feed_.audio_q.get()
        if item is SPECULATE:
            markers.append(item)
    assert len(markers) >= 2  # a speculative decode at each pause (also after "Hey Jane,")
    assert end is not None and feed_.ended_early, end
    assert 800 <= end[1].silence_ms < 2000, end
    # the pause's permission lapsed: the first phrase did not end the utterance
    assert end[0] > 2 * len(x) + len(gap)


def test_a_late_permission_ends_the_utterance_on_the_workers_thread(vad, data_dir):
    """A permission that comes after the early-end silence has passed (the decode was slow)
    ends the utterance at once through ``on_early_end`` — not at the next 80 ms block — and
    the audio loop's next ``feed`` returns that same end event; a permission that comes
    before it ends the utterance from ``feed`` as before, with no callback. Real endpointer
    on "Hey Jane, turn the lights off." + 2 s of silence."""
    import queue

    from assistant.capture import UtteranceFeed
    from assistant.events import EventBus

    x = audio.read_audio(data_dir / "hey_jane.wav")
    stream = np.concatenate([x, np.zeros(2 * SR, np.int16)])

    def run(permission_after_ms: float):
        handed: list = []
        ep = Endpointer.from_settings(vad, VADSettings(end_silence_ms=1500))
        feed_ = UtteranceFeed(ep, queue.Queue(), EventBus(), "t", speculate_after_ms=64, early_end_ms=300,
                              on_early_end=lambda f, ev: handed.append((f, ev)))
        granted = False
        for i in range(0, len(stream), 1280):
            ev = feed_.feed(stream[i : i + 1280])
            if ev is not None:
                return feed_, handed, ev
            if i >= len(x) * 3 // 4 and ep.silence_ms >= permission_after_ms and not granted:
                granted = feed_.allow_early_end(feed_.queued_samples)
                assert granted
        return feed_, handed, None

    feed_, handed, ev = run(permission_after_ms=400)  # late: the silence is past 300 ms
    assert len(handed) == 1 and handed[0][0] is feed_, handed
    assert ev is handed[0][1] is feed_.ended_by_worker and feed_.ended_early, (ev, handed)
    assert 400 <= ev.silence_ms < 1500 and not ev.timeout, ev
    assert feed_.end_now() == [] and not feed_.hold(feed_.queued_samples)
    assert not feed_.allow_early_end(feed_.queued_samples)  # once

    feed_, handed, ev = run(permission_after_ms=64)  # in time: the block that reaches 300 ms ends it
    assert handed == [] and feed_.ended_by_worker is None, handed
    assert ev is not None and feed_.ended_early and 300 <= ev.silence_ms < 400, ev


def test_hold_lengthens_only_the_pause_it_was_given_in(vad, data_dir):
    """``Endpointer.hold`` on "Hey Jane, turn the lights off." said twice, 1.0 s apart: with
    the app's 700 ms endpoint the first pause ends the utterance; held to 1.5 s in that
    pause, the utterance goes on into the second phrase — and the hold lapsed there, so the
    final silence ends it after 700 ms again, not 1.5 s. Refused outside a pause."""
    x = audio.read_audio(data_dir / "hey_jane.wav")
    stream = np.concatenate([x, np.zeros(int(1.0 * SR), np.int16), x, np.zeros(int(2.5 * SR), np.int16)])
    ep = Endpointer.from_settings(vad, VADSettings(end_silence_ms=700))
    assert [e.kind for e in feed(ep, stream[: len(x) + SR], tail_s=0)] == ["speech_start", "speech_end"]

    ep.reset()
    assert not ep.hold(1500)  # no speech yet
    events, held = [], []
    for i in range(0, len(stream), 1280):
        events += ep.process(stream[i : i + 1280])
        if not held and i >= len(x) and ep.silence_ms >= 200:  # the pause between the two
            held.append(ep.hold(1500))
        if ep.done:
            break
    assert held == [True]
    assert [e.kind for e in events] == ["speech_start", "speech_end"], events
    assert events[1].audio_time > len(x) / SR + 1.0  # in or after the second phrase
    assert 700 <= events[1].silence_ms < 800, events[1]


def test_ends_mid_phrase():
    """A pause after an article, preposition, conjunction or filler is mid-phrase, whatever
    Whisper's punctuation; a verb particle ("on", "off") or a content word ends a sentence."""
    from assistant.nlu.complete import ends_mid_phrase

    for text in ("Set a timer for.", "Can I get a large latte with?", "Um.", "play something by the", "I'd like a..."):
        assert ends_mid_phrase(text), text
    for text in ("Turn the lights on.", "Switch it off", "What can you help me?", "", "Set a timer for five minutes."):
        assert not ends_mid_phrase(text), text
