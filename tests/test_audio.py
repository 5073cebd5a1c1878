"""assistant.audio: decoding real recordings, resampling, sources and sinks, and real
capture/playback through PortAudio on the virtual PulseAudio devices of conftest.py."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from assistant import audio
from assistant.errors import AssistantError, AudioInputError, DeviceError, SettingsError

SR = 16000


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def aligned_correlation(reference: np.ndarray, recording: np.ndarray) -> tuple[float, int]:
    """Pearson correlation of ``reference`` with the best-aligned stretch of ``recording``
    (lag found by FFT cross-correlation; the reference may start before or end after the
    recording, the missing part counting as zeros). Returns ``(correlation, lag_samples)``,
    the lag being where ``reference[0]`` falls in ``recording``."""
    ref = reference.astype(np.float64)
    pad = np.zeros(len(ref))
    rec = np.concatenate([pad, recording.astype(np.float64), pad])
    n = 1 << int(math.ceil(math.log2(len(ref) + len(rec))))
    xc = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(xc[: len(rec) - len(ref) + 1]))
    seg = rec[lag : lag + len(ref)]
    return float(np.corrcoef(ref, seg)[0, 1]), lag - len(ref)


def encode_with_ffmpeg(x: np.ndarray, path: Path, codec: str, rate: int = SR) -> Path:
    """Encode 16 kHz int16 mono audio with a real FFmpeg encoder through PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        for i in range(0, len(x), 1024):
            frame = av.AudioFrame.from_ndarray(x[i : i + 1024].reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = SR
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture()
def live(pulseaudio):
    """The virtual PulseAudio, with PortAudio re-initialised to see it."""
    audio.reinit_portaudio()
    return pulseaudio


@pytest.fixture(scope="module")
def jfk(data_dir) -> np.ndarray:
    return audio.read_audio(data_dir / "jfk.flac")


# --------------------------------------------------------------------------------------
# read_audio
# --------------------------------------------------------------------------------------


def test_read_audio_jfk_flac_44k_stereo_to_16k_mono(data_dir, jfk):
    info = sf.info(str(data_dir / "jfk.flac"))
    assert (info.samplerate, info.channels) == (44100, 2)
    assert jfk.dtype == np.int16 and jfk.ndim == 1
    assert abs(len(jfk) / SR - info.frames / info.samplerate) < 0.01
    assert 10.9 < len(jfk) / SR < 11.1
    assert audio.dbfs(jfk) > -30  # real speech, not silence


def test_read_audio_16k_wav_is_bit_exact(data_dir):
    raw, sr = sf.read(str(data_dir / "wyoming_hey_jarvis.wav"), dtype="int16")
    assert sr == SR
    np.testing.assert_array_equal(audio.read_audio(data_dir / "wyoming_hey_jarvis.wav"), raw)


@pytest.mark.parametrize("codec,suffix,rate", [("libmp3lame", ".mp3", SR), ("libopus", ".opus", 48000), ("aac", ".m4a", SR)])
def test_read_audio_compressed_formats(tmp_path, jfk, codec, suffix, rate):
    path = encode_with_ffmpeg(jfk, tmp_path / f"jfk{suffix}", codec, rate)
    y = audio.read_audio(path)
    assert y.dtype == np.int16
    assert abs(len(y) - len(jfk)) < 0.1 * SR  # encoder priming/padding only
    corr, _ = aligned_correlation(jfk[SR : 9 * SR], y)
    assert corr > 0.9


def test_read_audio_truncated_mp3_decodes_what_is_there(tmp_path, jfk):
    full = encode_with_ffmpeg(jfk, tmp_path / "full.mp3", "libmp3lame")
    cut = tmp_path / "cut.mp3"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    y = audio.read_audio(cut)
    assert 4.0 < len(y) / SR < 7.0
    corr, lag = aligned_correlation(jfk[SR : 3 * SR], y)
    assert corr > 0.9 and abs(lag - SR) < 0.05 * SR


def test_read_audio_wav_cut_mid_data_decodes_the_part_there(tmp_path, data_dir):
    src = (data_dir / "wyoming_hey_jarvis.wav").read_bytes()
    raw, _ = sf.read(str(data_dir / "wyoming_hey_jarvis.wav"), dtype="int16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(src[:20001])  # header promises 64,000 bytes; odd length cuts a sample
    y = audio.read_audio(cut)
    assert 0 < len(y) < len(raw)
    np.testing.assert_array_equal(y, raw[: len(y)])
    assert len(y) >= (20001 - 44) // 2 - 1


def _assert_clear(exc: AudioInputError, path: Path) -> None:
    assert str(path.name) in exc.message
    assert "Traceback" not in str(exc)
    assert exc.message.count("\n") == 0
    assert exc.hint


@pytest.mark.parametrize(
    "name,make",
    [
        ("empty.wav", lambda src: b""),
        ("header_only.wav", lambda src: src[:44]),
        ("cut_in_header.wav", lambda src: src[:20]),
        ("notes.wav", lambda src: b"This is a text file, not a recording.\n" * 20),
    ],
)
def test_read_audio_bad_files_raise_audio_input_error(tmp_path, data_dir, name, make):
    src = (data_dir / "wyoming_hey_jarvis.wav").read_bytes()
    path = tmp_path / name
    path.write_bytes(make(src))
    with pytest.raises(AudioInputError) as ei:
        audio.read_audio(path)
    _assert_clear(ei.value, path)


def test_read_audio_missing_file_and_folder(tmp_path):
    with pytest.raises(AudioInputError) as ei:
        audio.read_audio(tmp_path / "nowhere.wav")
    _assert_clear(ei.value, tmp_path / "nowhere.wav")
    assert "not found" in ei.value.message
    with pytest.raises(AudioInputError, match="folder"):
        audio.read_audio(tmp_path)


def test_file_source_rejects_bad_file_at_construction(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_text("nope")
    with pytest.raises(AudioInputError):
        audio.FileSource(bad)


# --------------------------------------------------------------------------------------
# resample, dbfs, write_wav
# --------------------------------------------------------------------------------------


def test_resample_keeps_dtype_length_and_pitch(jfk):
    up = audio.resample(jfk, 16000, 48000)
    assert up.dtype == np.int16 and len(up) == 3 * len(jfk)
    f = jfk.astype(np.float32) / 32768
    down = audio.resample(f, 16000, 8000)
    assert down.dtype == np.float32 and len(down) == len(jfk) // 2
    # a 1 kHz component survives 48 kHz -> 16 kHz at 1 kHz
    t = np.arange(48000) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    y = audio.resample(tone, 48000, 16000)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 1000) < 2
    assert audio.resample(jfk, 16000, 16000) is jfk


def test_dbfs():
    assert audio.dbfs(np.zeros(1280, np.int16)) == -100.0
    assert audio.dbfs(np.array([], np.int16)) == -100.0
    square = np.tile(np.array([32767, -32768], np.int16), 640)
    assert audio.dbfs(square) > -0.01
    t = np.arange(16000) / 16000
    half_sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert abs(audio.dbfs(half_sine) - (20 * math.log10(0.5) - 3.0103)) < 0.05


def test_write_wav_roundtrip_and_error(tmp_path, jfk):
    out = audio.write_wav(tmp_path / "x.wav", jfk, SR)
    np.testing.assert_array_equal(audio.read_audio(out), jfk)
    with pytest.raises(AssistantError, match="Cannot write"):
        audio.write_wav(tmp_path / "missing" / "x.wav", jfk, SR)


# --------------------------------------------------------------------------------------
# FileSource and BufferSink
# --------------------------------------------------------------------------------------


def test_file_source_blocks_and_silence_padding(data_dir, jfk):
    with audio.FileSource(data_dir / "jfk.flac", block_ms=80, pad_silence_s=1.0) as src:
        blocks = list(src.blocks())
    assert src.sample_rate == 16000
    assert all(b.dtype == np.int16 and b.shape == (1280,) for b in blocks)
    n_audio = math.ceil(len(jfk) / 1280)
    assert len(blocks) == n_audio + math.ceil(16000 / 1280)
    joined = np.concatenate(blocks)
    np.testing.assert_array_equal(joined[: len(jfk)], jfk)
    assert not joined[len(jfk) :].any()  # zero padding and the silence tail


def test_file_source_realtime_yields_same_blocks_and_close_stops(data_dir):
    fast = list(audio.FileSource(data_dir / "alexa_test.wav", block_ms=32, pad_silence_s=0.1).blocks())
    src = audio.FileSource(data_dir / "alexa_test.wav", block_ms=32, realtime=True, pad_silence_s=0.1)
    slow = list(src.blocks())
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    src2 = audio.FileSource(data_dir / "jfk.flac", realtime=True)
    got = []
    for b in src2.blocks():
        got.append(b)
        if len(got) == 3:
            src2.close()
    assert len(got) == 3


@pytest.mark.parametrize("end_silence_ms, pad_s", [(500, 1.5), (700, 1.5), (1200, 2.0)])
def test_file_source_for_recording_pads_for_the_endpointer(data_dir, jfk, end_silence_ms, pad_s):
    src = audio.FileSource.for_recording(data_dir / "jfk.flac", block_ms=80, end_silence_ms=end_silence_ms)
    assert isinstance(src, audio.AudioSource)
    assert not src.realtime and src.block_ms == 80 and src.sample_rate == 16000
    assert src.pad_silence_s == pytest.approx(pad_s)
    blocks = list(src.blocks())
    assert len(blocks) == math.ceil(len(jfk) / 1280) + math.ceil(pad_s * 16000 / 1280 - 1e-9)


def test_normalize_level_raises_quiet_audio_only(jfk):
    """A quiet recording is raised to a -6 dBFS robust peak, by at most 30 dB; loud, silent
    and empty audio is left as it is; the result is int16 and never clipped beyond the
    loudest 0.1 % of samples."""
    loud = audio.normalize_level(jfk)
    assert loud[0] is jfk and loud[1] == 0.0  # jfk.flac's robust peak: -3.4 dBFS
    for quiet_db, want_gain in [(-20, 17.4), (-40, 30.0)]:
        x = (jfk.astype(np.float32) * 10 ** (quiet_db / 20)).round().astype(np.int16)
        y, gain = audio.normalize_level(x)
        assert y.dtype == np.int16 and y.shape == x.shape
        before = audio.peak_dbfs(x)
        assert gain == pytest.approx(min(-6.0 - before, 30.0), abs=1e-6)
        assert gain == pytest.approx(want_gain, abs=1.5), (quiet_db, before, gain)
        assert audio.peak_dbfs(y) == pytest.approx(before + gain, abs=0.2)
        assert np.mean(np.abs(y.astype(np.int32)) >= 32767) < 0.001
    for nothing in (np.zeros(16000, np.int16), np.zeros(0, np.int16)):
        assert audio.normalize_level(nothing)[1] == 0.0


def test_file_source_for_recording_normalizes_a_quiet_file(tmp_path, jfk):
    """``FileSource.for_recording`` raises a quiet file (``gain_db``) unless told not to."""
    path = audio.write_wav(tmp_path / "quiet.wav", (jfk * 0.03).astype(np.int16), 16000)  # -30 dB
    src = audio.FileSource.for_recording(path, block_ms=80, end_silence_ms=700)
    raw = audio.FileSource.for_recording(path, block_ms=80, end_silence_ms=700, normalize=False)
    assert raw.gain_db == 0.0 and audio.peak_dbfs(raw.audio) < -30
    assert 25 < src.gain_db < 30 and audio.peak_dbfs(src.audio) == pytest.approx(-6.0, abs=0.2)
    assert np.corrcoef(src.audio[:16000 * 5], raw.audio[:16000 * 5])[0, 1] > 0.999


def test_sinks_implement_the_audio_sink_protocol():
    assert isinstance(audio.BufferSink(), audio.AudioSink)
    assert isinstance(audio.NullSink(), audio.AudioSink)
    from assistant.tts import AudioSink  # still importable from the speaker's module

    assert AudioSink is audio.AudioSink


def test_buffer_sink_collects_and_resamples_to_first_rate(tmp_path):
    t1 = np.arange(22050) / 22050
    tone1 = (0.3 * np.sin(2 * np.pi * 440 * t1) * 32767).astype(np.int16)
    t2 = np.arange(8000) / 16000
    tone2 = (0.3 * np.sin(2 * np.pi * 440 * t2) * 32767).astype(np.int16)
    sink = audio.BufferSink()
    with pytest.raises(AssistantError):
        sink.to_wav(tmp_path / "none.wav")
    with pytest.raises(AssistantError):
        sink.write(tone1)
    sink.start(22050)
    for i in range(0, len(tone1), 1000):
        sink.write(tone1[i : i + 1000])
    sink.start(16000)  # a second voice at another rate
    sink.write(tone2)
    sink.drain()
    assert sink.sample_rate == 22050 and not sink.is_playing
    assert abs(sink.duration - 1.5) < 0.01
    np.testing.assert_array_equal(sink.samples[:22050], tone1)
    second = sink.samples[22050:].astype(np.float32)
    freq = np.argmax(np.abs(np.fft.rfft(second))) * 22050 / len(second)
    assert abs(freq - 440) < 5
    out = sink.to_wav(tmp_path / "reply.wav")
    y, sr = sf.read(str(out), dtype="int16")
    assert sr == 22050 and len(y) == len(sink.samples)


# --------------------------------------------------------------------------------------
# devices (virtual PulseAudio)
# --------------------------------------------------------------------------------------


@pytest.mark.live
def test_list_and_find_devices(live):
    devices = audio.list_devices()
    assert devices, "PortAudio sees no device"
    assert any(d.is_default_input and d.max_input_channels > 0 for d in devices)
    assert any(d.is_default_output and d.max_output_channels > 0 for d in devices)
    assert audio.find_device(None, "input") is None
    pulse = next(d for d in devices if "pulse" in d.name.lower())
    assert audio.find_device("PULSE", "input") == pulse.index
    assert audio.find_device(pulse.index, "output") == pulse.index
    assert audio.find_device(str(pulse.index), "output") == pulse.index
    with pytest.raises(DeviceError) as ei:
        audio.find_device("no such microphone", "input")
    assert "no such microphone" in ei.value.message and "pulse" in ei.value.message
    assert "assistant devices" in ei.value.hint
    with pytest.raises(DeviceError):
        audio.find_device(999, "output")
    with pytest.raises(DeviceError):
        audio.MicrophoneSource("no such microphone")
    with pytest.raises(DeviceError):
        audio.AudioPlayer("no such speaker")


def capture_clip(live, wav: Path, gain_db: float = 0.0) -> np.ndarray:
    """Play ``wav`` into the virtual microphone and capture it through PortAudio with
    ``MicrophoneSource(gain_db=...)``; returns the 16 kHz int16 capture (clip + ~2.5 s)."""
    ref = audio.read_audio(wav)
    with audio.MicrophoneSource(block_ms=80, gain_db=gain_db) as mic:
        assert mic.sample_rate == 16000
        blocks = mic.blocks()
        first = next(blocks)  # the stream is running: now play into the virtual mic
        player = live.play_into_mic(wav)
        n_blocks = int((len(ref) / SR + 2.5) * SR / mic.block_samples)
        got = [first]
        for block in blocks:
            assert block.dtype == np.int16 and block.shape == (mic.block_samples,)
            got.append(block)
            if len(got) >= n_blocks:
                break
        player.wait(20)
    return np.concatenate(got)


@pytest.mark.live
def test_microphone_captures_what_is_played_into_vmic(live, data_dir):
    wav = data_dir / "wyoming_hey_jarvis.wav"
    ref = audio.read_audio(wav)
    rec = capture_clip(live, wav)
    corr, lag = aligned_correlation(ref, rec)
    assert corr >= 0.9, f"correlation {corr:.3f} at lag {lag}"
    assert -0.05 * SR <= lag < len(rec) - len(ref) // 2  # the clip was captured, not just its tail


@pytest.mark.live
def test_microphone_input_gain_scales_the_capture(live, data_dir):
    """audio.input_gain_db: -12 dB through the real virtual microphone gives a quarter of
    the amplitude (10^(-12/20) = 0.251) of the same clip at 0 dB, same waveform."""
    wav = data_dir / "wyoming_hey_jarvis.wav"
    ref = audio.read_audio(wav).astype(np.float64)
    levels = []
    for gain in (0.0, -12.0):
        rec = capture_clip(live, wav, gain_db=gain)
        corr, lag = aligned_correlation(ref, rec)
        assert corr >= 0.9, (gain, corr)
        seg = rec[max(0, lag): max(0, lag) + len(ref)].astype(np.float64)
        levels.append(float(np.sqrt(np.mean(seg ** 2))))
    ratio = levels[1] / levels[0]
    assert 0.21 <= ratio <= 0.30, f"RMS ratio {ratio:.3f} for -12 dB (expected 0.251)"
    with pytest.raises(SettingsError):
        audio.MicrophoneSource(gain_db=float("nan"))


@pytest.mark.live
def test_player_plays_into_speaker_and_stop_cuts(live, tmp_path):
    sr = 22050  # Piper joe-medium's rate; the player resamples to the device rate
    t = np.arange(3 * sr) / sr
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)

    # 1. a one-second tone is played completely
    rec_path = tmp_path / "full.wav"
    rec = live.record_speaker(rec_path)
    time.sleep(0.7)
    with audio.AudioPlayer() as player:
        player.start(sr)
        player.write(tone[:sr])
        assert player.is_playing
        assert player.drain(timeout=20)
        assert not player.is_playing
        time.sleep(0.5)
        rec.terminate()
        rec.wait(10)
        y = audio.read_audio(rec_path)
        levels = np.array([audio.dbfs(y[i : i + 1600]) for i in range(0, len(y) - 1599, 1600)])
        loud = levels > -20  # the tone is at -9 dBFS
        assert 0.7 <= loud.sum() / 10 <= 1.3, levels
        freq = np.argmax(np.abs(np.fft.rfft(y.astype(np.float32)))) * SR / len(y)
        assert abs(freq - 440) < 5

        # 2. stop() during a 3 s tone silences the output at once
        rec_path2 = tmp_path / "stopped.wav"
        rec = live.record_speaker(rec_path2)
        time.sleep(0.7)
        player.start(sr)
        for i in range(0, len(tone), 2205):
            player.write(tone[i : i + 2205])
        time.sleep(1.0)
        player.stop()
        assert not player.is_playing
        player.write(tone[:sr])  # a late TTS chunk after barge-in is dropped
        assert player.drain(timeout=5) and not player.is_playing
        time.sleep(1.5)
        rec.terminate()
        rec.wait(10)
    y = audio.read_audio(rec_path2)
    levels = np.array([audio.dbfs(y[i : i + 1600]) for i in range(0, len(y) - 1599, 1600)])
    loud = levels > -20
    assert loud.sum() >= 3, levels  # the tone did play before stop()
    last_loud = int(np.nonzero(loud)[0][-1])
    tail = levels[last_loud + 2 :]  # 100-200 ms after the cut on
    assert len(tail) >= 10, levels  # ≥ 1 s recorded after the cut
    assert (tail < -60).all(), levels  # silence: the rest of the 3 s tone never played
    assert loud.sum() / 10 < 2.0, levels  # well short of the 3 s written


@pytest.mark.live
def test_microphone_that_disappears_raises_device_error(live, monkeypatch):
    """A second, private PulseAudio is killed while the microphone reads from it."""
    runtime = Path(tempfile.mkdtemp(prefix="pa-gone-"))
    env = {"XDG_RUNTIME_DIR": str(runtime), "PULSE_SERVER": f"unix:{runtime}/pulse/native"}
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disable-shm=yes",
         "-L", f"module-native-protocol-unix socket={runtime}/pulse/native auth-anonymous=1",
         "-L", "module-null-sink sink_name=out rate=48000",
         "-L", "module-null-source source_name=gone rate=48000"],
        # no session bus: the fixture's server already owns the D-Bus name org.PulseAudio1
        env={**os.environ, **env, "HOME": str(runtime), "DBUS_SESSION_BUS_ADDRESS": f"unix:path={runtime}/no-bus"},
        stdout=subprocess.DEVNULL, stderr=(pa_log := open(runtime / "pa.log", "wb")),
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            ok = subprocess.run(["pactl", "set-default-source", "gone"], env={**os.environ, **env},
                                capture_output=True, timeout=10).returncode == 0
            if ok:
                break
            assert proc.poll() is None and time.monotonic() < deadline, (runtime / "pa.log").read_text()
            time.sleep(0.1)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        audio.reinit_portaudio()
        mic = audio.MicrophoneSource(stall_timeout_s=5.0)
        try:
            with pytest.raises(DeviceError) as ei:
                for i, _block in enumerate(mic.blocks()):
                    if i == 3:
                        proc.send_signal(signal.SIGKILL)
                    assert i < 1000, "blocks kept coming from a dead server"
            assert "microphone" in ei.value.message.lower()
            assert ei.value.hint
        finally:
            mic.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        pa_log.close()
        monkeypatch.undo()  # the session's PulseAudio again
        audio.reinit_portaudio()
        shutil.rmtree(runtime, ignore_errors=True)
