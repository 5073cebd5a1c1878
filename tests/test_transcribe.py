"""``assistant transcribe FILE... --format txt|srt|vtt|json`` (issue 11, item 6): the real
Whisper model on real recordings, run as a user runs it (subprocesses), the subtitles parsed
back with ``srt`` and ``webvtt-py``. Whisper's int8 output differs slightly between CPU
instruction sets, so only what any reasonable transcript gives is asserted: words of the
speech, cue counts within a range, and the timing invariants this module guarantees."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_factory import concat

ASSISTANT = str(Path(sys.executable).with_name("assistant"))
JFK_S = 11.0
GAP_S = 20.0  # digital silence between the two jfk clips of the long recording
LEAD_S = 0.5


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``assistant ARGS`` with stderr a pipe (not a terminal: no progress bar)."""
    return subprocess.run([ASSISTANT, *args], capture_output=True, text=True, timeout=timeout)


def words_of(text: str) -> str:
    """Lower case, punctuation and line breaks as single spaces (tolerant comparison)."""
    return " ".join(re.sub(r"[^a-z0-9']+", " ", text.lower()).split())


def vtt_seconds(stamp: str) -> float:
    """``HH:MM:SS.mmm`` (or ``MM:SS.mmm``) → seconds."""
    parts = [float(p) for p in stamp.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def assert_cue_times(times: list[tuple[float, float]], duration: float) -> None:
    """Each cue lasts > 0, starts no earlier than the previous one ended, ends within the audio."""
    assert times, "no cues"
    prev_end = 0.0
    for start, end in times:
        assert 0.0 <= start < end <= duration + 1e-3, (start, end, duration)
        assert start >= prev_end - 1e-3, (prev_end, start, times)
        prev_end = end


@pytest.fixture(scope="module")
def long_wav(data_dir, tmp_path_factory) -> Path:
    """jfk.flac, 20 s of digital silence, jfk.flac again: 44 s, more than one Whisper window."""
    jfk = data_dir / "jfk.flac"
    return concat([jfk, jfk], tmp_path_factory.mktemp("long") / "long.wav", gap_s=GAP_S, lead_s=LEAD_S, tail_s=1.5)


def duration(path: Path) -> float:
    return sf.info(str(path)).duration


def test_srt_jfk_and_long_recording_into_folder(data_dir, long_wav, tmp_path):
    """Two recordings → FOLDER/jfk.srt and FOLDER/long.srt; parsed back with ``srt``: cue
    counts in range, times monotonic, non-overlapping, within the audio; no cue in the long
    silence (VAD: nothing hallucinated there); the speech's words present."""
    import srt

    out = tmp_path / "subs"
    out.mkdir()
    p = run("transcribe", str(data_dir / "jfk.flac"), str(long_wav), "--format", "srt", "--output", str(out))
    assert p.returncode == 0, p.stderr
    assert "━" not in p.stderr and "\r" not in p.stderr, "a progress bar on a non-terminal stderr"
    assert p.stdout == ""

    jfk = list(srt.parse((out / "jfk.srt").read_text(encoding="utf-8")))
    assert 2 <= len(jfk) <= 6, jfk
    assert [c.index for c in jfk] == list(range(1, len(jfk) + 1))
    assert_cue_times([(c.start.total_seconds(), c.end.total_seconds()) for c in jfk], duration(data_dir / "jfk.flac"))
    text = words_of(" ".join(c.content for c in jfk))
    assert "ask not" in text and "country" in text, text
    for c in jfk:  # ≤ 2 lines of ≤ 42 characters, ≤ 7 s (one word could exceed: jfk has none)
        assert len(c.content.splitlines()) <= 2 and all(len(line) <= 42 for line in c.content.splitlines()), c
        assert (c.end - c.start).total_seconds() <= 7.0 + 1e-3, c

    long = list(srt.parse((out / "long.srt").read_text(encoding="utf-8")))
    assert 4 <= len(long) <= 12, long
    times = [(c.start.total_seconds(), c.end.total_seconds()) for c in long]
    assert_cue_times(times, duration(long_wav))
    silence = (LEAD_S + JFK_S + 1.0, LEAD_S + JFK_S + GAP_S - 0.5)
    assert not [t for t in times if t[0] >= silence[0] and t[1] <= silence[1]], ("cue in the silence", times)
    assert any(t[0] >= silence[1] - 1.0 for t in times), ("nothing after the silence", times)
    text = words_of(" ".join(c.content for c in long))
    assert text.count("ask not") == 2 and text.count("country") >= 2, text


def test_vtt_long_recording_to_file(long_wav, tmp_path):
    """--format vtt --output FILE; parsed back with webvtt-py: the same invariants."""
    import html

    import webvtt

    target = tmp_path / "long.vtt"
    p = run("transcribe", str(long_wav), "-f", "vtt", "-o", str(target), "--language", "en")
    assert p.returncode == 0, p.stderr
    content = target.read_text(encoding="utf-8")
    assert content.startswith("WEBVTT")
    captions = list(webvtt.from_string(content))
    assert 4 <= len(captions) <= 12, content
    assert_cue_times([(vtt_seconds(c.start), vtt_seconds(c.end)) for c in captions], duration(long_wav))
    text = words_of(html.unescape(" ".join(c.text for c in captions)))
    assert text.count("ask not") == 2 and text.count("country") >= 2, text


def test_json_words_monotonic(data_dir):
    """--format json on standard output: segments with words; every word starts no later
    than it ends, no earlier than the previous word ended, within the recording."""
    p = run("transcribe", str(data_dir / "jfk.flac"), "--format", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["language"] == "en" and abs(doc["duration"] - JFK_S) < 0.1
    assert 1 <= len(doc["segments"]) <= 6
    words = [w for seg in doc["segments"] for w in seg["words"]]
    assert len(words) >= 15, words
    prev_end = 0.0
    for w in words:
        assert prev_end <= w["start"] <= w["end"] <= doc["duration"], (prev_end, w)
        assert 0.0 <= w["probability"] <= 1.0
        prev_end = w["end"]
    for seg in doc["segments"]:
        assert seg["start"] <= seg["words"][0]["start"] and seg["words"][-1]["end"] <= seg["end"] + 1e-3, seg
    assert "ask not" in words_of(doc["text"]) and "ask not" in words_of(" ".join(w["word"] for w in words))


def test_unreadable_files_reported_others_transcribed(data_dir, tmp_path):
    """A missing and a non-audio file: an error and a hint line naming each, no traceback,
    exit status 2; the readable recording between them is still transcribed."""
    missing = tmp_path / "missing.wav"
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    p = run("transcribe", str(missing), str(data_dir / "jfk.flac"), str(text))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "missing.wav" in errors[0] and "notes.wav" in errors[1], p.stderr
    assert p.stderr.count("hint:") == 2, p.stderr
    assert f"==> {data_dir / 'jfk.flac'} <==" in p.stdout
    assert "ask not" in words_of(p.stdout) and "country" in words_of(p.stdout), p.stdout


def test_usage_errors_before_loading_the_model(data_dir, tmp_path):
    """Several SRT files for standard output, a file --output for several recordings, an
    output over a recording: one error line, exit status 2, nothing decoded."""
    jfk = str(data_dir / "jfk.flac")
    for args, needle in [(["-f", "srt"], "--output FOLDER"),
                         (["-f", "vtt", "-o", str(tmp_path / "one.vtt")], "folder"),
                         ]:
        p = run("transcribe", jfk, jfk, *args)
        assert p.returncode == 2 and "Traceback" not in p.stderr and needle in p.stderr, p.stderr
    p = run("transcribe", jfk, "-o", jfk)
    assert p.returncode == 2 and "overwrite" in p.stderr, p.stderr


def test_silence_gives_empty_subtitles_and_status_3(tmp_path):
    """A recording of silence: an SRT with no cues, one line saying so, exit status 3."""
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(16000 * 3, np.int16), 16000, subtype="PCM_16")
    target = tmp_path / "quiet.srt"
    p = run("transcribe", str(quiet), "-f", "srt", "-o", str(target))
    assert p.returncode == 3, p.stderr
    assert "No speech heard" in p.stderr and target.read_text() == ""


# ------------------------------------------------------------ no model: cues and the bar


def test_make_cues_limits_and_tidy_times():
    """A 20 s, 300-character segment → cues ≤ 7 s and ≤ 84 characters, balanced, split at
    the sentence end; overlapping word times and words past the end are tidied."""
    from assistant.asr.files import make_cues
    from assistant.asr.transcript import Segment, Word

    texts = ("one two three four five six seven eight nine ten. " * 6).split()
    words = tuple(Word(i * 0.33, i * 0.33 + 0.4, t, 0.9) for i, t in enumerate(texts))  # each overlaps the next
    seg = Segment(0.0, words[-1].end_s, " ".join(texts), words)
    cues = make_cues([seg], duration_s=19.5)
    assert all(c.end_s - c.start_s <= 7.0 and len(c.text.replace("\n", " ")) <= 84 for c in cues), cues
    assert all(len(line) <= 42 for c in cues for line in c.text.split("\n"))
    assert " ".join(c.text.replace("\n", " ") for c in cues) == seg.text
    assert_cue_times([(c.start_s, c.end_s) for c in cues], 19.5)
    assert sum(c.text.endswith("ten.") for c in cues) >= len(cues) - 1, cues
    # no aligned words: times interpolated over the segment
    bare = make_cues([Segment(1.0, 3.0, "hello there")], duration_s=5.0)
    assert [(c.start_s, c.end_s, c.text) for c in bare] == [(1.0, 3.0, "hello there")]


def test_formats_escape_and_parse():
    """WebVTT escapes & < > and never writes "-->" in a cue; both formats parse back."""
    import html

    import srt
    import webvtt

    from assistant.asr.files import Cue, to_srt, to_vtt

    cues = [Cue(0.0, 1.5, "R&D <said> --> yes"), Cue(1.5, 3600.25, "an hour")]
    vtt = list(webvtt.from_string(to_vtt(cues)))
    assert html.unescape(vtt[0].raw_text) == "R&D <said> -> yes" and vtt[1].end == "01:00:00.250"
    subs = list(srt.parse(to_srt(cues)))
    assert subs[0].content == "R&D <said> -> yes" and subs[1].end.total_seconds() == 3600.25


def test_progress_bar_on_a_terminal_only_for_long_files():
    from assistant.asr.files import progress_bar

    buf = io.StringIO()
    with progress_bar("talk.wav", 120.0, True, file=buf) as advance:
        for t in (10.0, 60.0, 119.0):
            advance(t)
    assert "talk.wav" in buf.getvalue()
    for enabled, seconds in ((False, 120.0), (True, 5.0)):
        buf = io.StringIO()
        with progress_bar("talk.wav", seconds, enabled, file=buf) as advance:
            advance(1.0)
        assert buf.getvalue() == ""
