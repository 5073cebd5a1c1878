"""Dictation engine code, text level: the spoken commands on text (no audio), and the
streaming committer on real and synthesised speech with the real Whisper model.

Typing into a window is tests/test_dictation_typing.py (Xvfb).
"""

from __future__ import annotations

import re

from pathlib import Path

import numpy as np
import pytest

from assistant.asr import SAMPLE_RATE, WhisperASR, normalize_text, wer
from assistant.audio import read_audio
from assistant.dictation.commands import Backspace, Formatter, Key, TypeText, apply_ops, normalize_word

DATA = Path(__file__).resolve().parent / "data"
BLOCK = 1280  # 80 ms at 16 kHz, the engine's block


def run(f: Formatter, *chunks: str, phrase_ends: bool = True) -> list:
    """Feed chunks (each its own phrase when ``phrase_ends``) and return all operations;
    checks that applying them gives ``f.typed``."""
    ops = []
    for c in chunks:
        ops += f.process(c)
        if phrase_ends:
            ops += f.end_phrase()
    if not phrase_ends:
        ops += f.end_phrase()
    assert apply_ops("", ops) == f.typed
    return ops


def typed(*chunks: str, **kw) -> str:
    f = Formatter(**{k: v for k, v in kw.items() if k != "phrase_ends"})
    run(f, *chunks, phrase_ends=kw.get("phrase_ends", True))
    return f.typed


# -- spoken punctuation and layout ----------------------------------------------------------


def test_spoken_punctuation_with_whisper_variants():
    assert typed("hello world comma how are you question mark") == "Hello world, how are you?"
    # Whisper's own punctuation, case, trailing "." after a command word, "full stop"
    assert typed("Hello world, comma, how are you? Question mark.") == "Hello world, how are you?"
    assert typed("it works full stop it really works period") == "It works. It really works."
    assert typed("It works. Full-stop. Yes, exclamation point.") == "It works. Yes!"
    assert typed("note colon buy milk semicolon bread") == "Note: buy milk; bread"


def test_new_line_and_paragraph():
    assert typed("Dear Anna, new line. Thank you. New paragraph. Bye.") == "Dear Anna\nThank you\n\nBye"
    assert typed("one newline two") == "One\nTwo"


def test_quotes_and_no_space():
    assert typed("she said open quote hello close quote and left") == 'She said "hello" and left'
    assert typed("she said open quote hello close quote period", smart_quotes=True) == "She said “hello”."
    assert typed("e no space mail") == "Email"


def test_cap_all_caps_literal():
    assert typed("I live in cap berlin and work at all caps nasa") == "I live in Berlin and work at NASA"
    assert typed("type the word literal period and literal comma") == "Type the word period and comma"


def test_spell_letters_and_nato():
    assert typed("my name is spell a n n a period") == "My name is anna."
    assert typed("code spell charlie alpha tango done") == "Code cat done"
    assert typed("spell C-A-T.") == "Cat"
    assert typed("the word spell cap x ray yankee zulu") == "The word Xyz"
    # the letters may arrive in later chunks: spelling goes on until a non-letter word
    assert typed("spell a", "b c end", phrase_ends=False) == "Abc end"


def test_scratch_that_removes_the_last_phrase_exactly():
    f = Formatter()
    ops = run(f, "hello world", "this is wrong", "scratch that", "this is right")
    assert f.typed == "Hello world this is right"
    assert Backspace(len(" this is wrong")) in ops
    # within one phrase it removes what that phrase typed so far
    assert typed("first part", "oops wrong words scratch that better words") == "First part better words"
    # twice: two phrases
    assert typed("one", "two", "scratch that", "scratch that", "three") == "Three"
    # nothing to remove: nothing happens
    assert typed("scratch that") == ""


def test_undo_reverses_scratch_that():
    assert typed("keep me", "scratch that", "undo") == "Keep me"
    assert typed("keep me", "remove me", "undo that") == "Keep me"


def test_scratch_that_after_sentence_restores_capitalisation():
    assert typed("It works period", "bad idea", "scratch that", "good one") == "It works. Good one"


def test_vocabulary_replacements():
    f = Formatter({"my email": "jane@example.org", "hash tag": "#"})
    run(f, "write to My email, please", "hash tag")
    assert f.typed == "Write to jane@example.org please #"


def test_command_split_across_chunks_is_held_back():
    f = Formatter()
    assert f.process("hello new") == [TypeText("Hello")]  # "new" may start "new line"
    assert f.process("line world") == [TypeText("\nWorld")]
    assert f.process("new") == []
    assert f.process("york") == [TypeText(" new york")]
    assert f.end_phrase() == []
    assert f.typed == "Hello\nWorld new york"


def test_auto_punctuation_keeps_whisper_marks_without_doubling():
    assert typed("Hello world. Period. How are you?", auto_punctuation=True) == "Hello world. How are you?"
    assert typed("Dear Anna, new line, thanks.", auto_punctuation=True) == "Dear Anna\nThanks."
    assert typed("Wait, period.", auto_punctuation=True) == "Wait."


def test_whisper_sentence_capitals_are_lowered_when_punctuation_is_spoken():
    # Whisper ended a sentence at a pause; without a spoken mark the sentence goes on
    assert typed("I think. So I am. I'm sure") == "I think so I am I'm sure"


def test_tab_key_and_non_ascii():
    f = Formatter()
    ops = run(f, "naïve tab key café comma Zürich")
    assert Key("Tab") in ops and f.typed == "Naïve\tcafé, Zürich"


def test_normalize_word():
    assert normalize_word("Period.") == "period"
    assert normalize_word("“Open") == "open"
    assert normalize_word("full-stop,") == "full-stop"


def test_bad_vocabulary_is_refused():
    with pytest.raises(ValueError):
        Formatter({"...": "x"})


# -- the streaming committer on real speech (real Whisper base) -------------------------------

from assistant.dictation.committer import Committer, DictationUpdate  # noqa: E402


@pytest.fixture(scope="module")
def base_asr() -> WhisperASR:
    return WhisperASR("base")


def stream(c: Committer, audio: np.ndarray) -> list[DictationUpdate]:
    """Feed 80 ms blocks, stepping after each (as the worker would, in audio time)."""
    out = []
    for i in range(0, len(audio), BLOCK):
        c.add(audio[i : i + BLOCK])
        u = c.step()
        if u is not None:
            out.append(u)
    return out


def check_stable(c: Committer, updates: list[DictationUpdate]) -> None:
    """Committed text is only ever appended to: the updates add up to the whole text, word
    by word. (Word times of short buffers are interpolated inside Whisper's segments, so
    they are not exact enough to order; a word committed twice shows in the WER.)"""
    assert "".join(u.committed for u in updates) == c.committed_text
    words = [w for u in updates for w in u.words]
    assert " ".join(w.text for w in words) == c.committed_text


def test_committer_jfk_commits_stable_prefix_and_flushes_at_pauses(base_asr):
    """jfk.flac twice with 1 s between: text appears while it is spoken, is never
    retracted, every word is committed once, and each pause flushes the tail."""
    jfk = read_audio(DATA / "jfk.flac")
    ref = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    gap = np.zeros(SAMPLE_RATE, np.int16)
    x = np.concatenate([jfk, gap, jfk, gap])
    c = Committer(base_asr)
    updates = stream(c, x)
    check_stable(c, updates)
    assert wer(ref + " " + ref, c.committed_text) <= 0.05, c.committed_text
    assert any(u.committed and not u.phrase_end for u in updates)  # committed by agreement, mid-phrase
    ends = [u for u in updates if u.phrase_end]
    assert len(ends) >= 2 and all(u.tail == "" for u in ends)
    assert updates[-1].phrase_end
    # word times are dictation time: the second recording's words come after the first
    second = [w for u in updates for w in u.words if w.start_s > 11.5]
    assert wer(ref, " ".join(w.text for w in second)) <= 0.1
    assert c.audio_seconds == pytest.approx(len(x) / SAMPLE_RATE)


def test_committer_with_spoken_commands_types_a_letter(base_asr, tmp_path):
    """Synthesised dictation (Piper) with pauses between phrases → Committer → Formatter:
    spoken punctuation, "new paragraph" and "scratch that" give exactly the letter."""
    from audio_factory import concat, piper_say, read_16k

    phrases = ["Dear Anna, comma.", "Thank you for the flowers. Period.", "New paragraph.",
               "See you soon. Scratch that.", "Best wishes."]
    clips = [piper_say(p, tmp_path / f"p{i}.wav") for i, p in enumerate(phrases)]
    x = read_16k(concat(clips, tmp_path / "letter.wav", gap_s=1.0, tail_s=1.5))
    c, f = Committer(base_asr), Formatter()
    ops = []
    updates = stream(c, x)
    for u in updates:
        ops += f.process(u.committed)
        if u.phrase_end:
            ops += f.end_phrase()
    check_stable(c, updates)
    # Whisper hears Piper's "Dear" as "Deer" with some CPU kernels (seen once under load): a
    # homophone of the ASR, not of the committer or the formatter under test.
    typed = re.sub(r"^Deer\b", "Dear", f.typed)
    assert typed == "Dear Anna, thank you for the flowers.\n\nBest wishes", c.committed_text
    assert apply_ops("", ops) == f.typed
    assert c.phrases == len(phrases)


def test_pause_decode_uses_the_30s_window_with_half_second_decodes(base_asr, tmp_path):
    """With 0.5 s decodes in a 15 s window, the decode at a pause — whose tail is committed
    without a second decode agreeing — runs in the 30 s window (``FLUSH_WINDOW_S``): in
    the 15 s window Whisper base heard Piper's "comma" as "Kama" on 7 of 12 kernel × length
    cases, and the letter came out "Deer Anna Kama"."""
    from audio_factory import concat, piper_say, read_16k

    from assistant.dictation.committer import FLUSH_WINDOW_S

    x = read_16k(concat([piper_say("Dear Anna, comma.", tmp_path / "p.wav")], tmp_path / "a.wav",
                        gap_s=1.0, tail_s=1.5))
    c = Committer(base_asr, interval_s=0.5, window_s=15.0)
    windows = []
    updates = []
    for i in range(0, len(x), BLOCK):
        c.add(x[i : i + BLOCK])
        n = c.transcriber.decodes
        u = c.step()
        if c.transcriber.decodes > n:
            windows.append((c.transcriber.last_window_s, u is not None and u.phrase_end))
        if u is not None:
            updates.append(u)
    check_stable(c, updates)
    assert FLUSH_WINDOW_S == 30.0 and c.phrases == 1
    assert [w for w, end in windows if end] == [30.0], windows  # the pause's decode
    assert all(w == 15.0 for w, end in windows if not end), windows
    assert normalize_text(c.committed_text) in ("dear anna comma", "deer anna comma"), c.committed_text


def test_decode_that_skips_the_committed_words_keeps_the_tail(base_asr):
    """A decode whose hypothesis does not contain the committed words still in the buffer
    (Whisper skipped them) neither commits nor wipes the tail: before, the time fallback
    found no word after the last committed one and the tail became empty, so the pause
    committed nothing and its words were lost. The skipping hypothesis here is Whisper's
    real decode of the audio after the committed words alone, dated from that audio's start
    (so before the committed end), put in place of the next decode's."""
    from assistant.asr.streaming import StreamingTranscriber
    from assistant.asr.transcript import segment_words

    class Skipping(StreamingTranscriber):
        skipped = None  # the hypothesis the next decodes return instead of decoding

        def _decode_once(self, hotwords, prompt, window_s=None):
            if self.skipped is None:
                return super()._decode_once(hotwords, prompt, window_s)
            self.decodes += 1
            return list(self.skipped), 0.0

    jfk = read_audio(DATA / "jfk.flac")
    sec = SAMPLE_RATE
    st = Skipping(base_asr, interval_s=0.5, window_s=30.0)
    st.add(jfk[: int(3.3 * sec)])
    st.maybe_partial(force=True)
    st.commit_pending()  # "And so my fellow Americans" (a pause's commit)
    committed = st.committed_text
    assert normalize_text(committed) == "and so my fellow americans", committed
    st.add(jfk[int(3.3 * sec) : int(5.0 * sec)])  # "ask not"
    st.maybe_partial(force=True)
    tail = st.pending_words
    assert tail and st.committed_text == committed, (st.committed_text, tail)
    later = segment_words(base_asr.transcribe(jfk[int(5.0 * sec) : int(6.5 * sec)]).segments)
    assert later and max(w.start_s for w in later) < st.committed_words[-1].end_s - 0.1, later
    st.skipped = later
    st.add(jfk[int(5.0 * sec) : int(6.5 * sec)])
    assert st.maybe_partial(force=True) == (committed, " ".join(w.text for w in tail))
    assert st.pending_words == tail and st.commit_pending() == tail


def test_committer_long_silence_restarts_buffer_and_never_decodes_silence(base_asr):
    """Silence alone is never decoded; after a long silence the buffer is dropped, and
    speech after it is still transcribed with dictation times past the silence."""
    jfk = read_audio(DATA / "jfk.flac")
    c = Committer(base_asr, restart_after_s=2.0)
    assert stream(c, np.zeros(4 * SAMPLE_RATE, np.int16)) == []
    assert c.transcriber.decodes == 0 and c.restarts >= 1
    first = jfk[: int(3.0 * SAMPLE_RATE)]  # "And so my fellow Americans"
    updates = stream(c, np.concatenate([first, np.zeros(3 * SAMPLE_RATE, np.int16), first,
                                        np.zeros(SAMPLE_RATE, np.int16)]))
    check_stable(c, updates)
    assert c.restarts >= 2
    assert normalize_text(c.committed_text) == "and so my fellow americans and so my fellow americans"
    assert min(w.start_s for u in updates for w in u.words) > 4.0 - 0.3  # PRE_SPEECH_KEEP_S
    assert max(w.start_s for u in updates for w in u.words) > 10.0


def test_committer_finds_pauses_in_audio_queued_behind_a_slow_decode(base_asr):
    """A slow decode (a loaded machine) lets seconds of audio queue up: the committer still
    ends the phrase at the pause, where it is in the audio, and leaves the next phrase for
    the next step (before, it checked only the last ``pause_s`` of all the queued audio, so
    two phrases ran into one and a later "scratch that" removed both)."""
    jfk = read_audio(DATA / "jfk.flac")
    ref = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    gap = np.zeros(SAMPLE_RATE, np.int16)
    c = Committer(base_asr)
    for x in (jfk, gap, jfk, gap):  # 24 s queued before the first step
        for i in range(0, len(x), BLOCK):
            c.add(x[i : i + BLOCK])
    first = c.step()
    assert first is not None and first.phrase_end, first
    # the first phrase ends at a pause of the first recording (jfk pauses after "Americans")
    assert first.words and max(w.end_s for w in first.words) < len(jfk) / SAMPLE_RATE, first
    assert normalize_text(ref).startswith(normalize_text(c.committed_text)), c.committed_text
    assert c.silence_seconds >= c.pause_s
    updates = [first]
    while (u := c.step()) is not None:
        updates.append(u)
    check_stable(c, updates)
    assert c.phrases >= 2 and wer(ref + " " + ref, c.committed_text) <= 0.05, c.committed_text


def test_dictation_session_two_seconds_behind_types_the_same_text(base_asr, tmp_path):
    """The live dictation of tests/test_dictation_live.py (Piper, 1.5 s pauses, "scratch
    that" after a sentence) through a :class:`DictationSession` whose worker runs 2 s
    behind the microphone (25 blocks arrive per step, as behind slow decodes on a loaded
    CI machine): the text is the same as on a quiet machine. A CI run once typed
    "Scratch that I bought a blue bike." — the phrase "scratch" was closed on the clock
    while "that I bought…" waited in the queue."""
    from audio_factory import concat, piper_say, read_16k

    from assistant.dictation.session import DictationSession
    from assistant.dictation.typing import FileTypist
    from assistant.events import EventBus
    from assistant.settings import DictationSettings

    phrases = ["Dear diary comma today was a good day period", "new line", "I bought a red car period",
               "scratch that", "I bought a blue bike period", "stop dictation"]
    x = read_16k(concat([piper_say(p, tmp_path / f"p{i}.wav") for i, p in enumerate(phrases)],
                        tmp_path / "d.wav", gap_s=1.5, lead_s=0.5, tail_s=2.0))
    out = tmp_path / "out.txt"
    session = DictationSession(base_asr, DictationSettings(), FileTypist(out), EventBus(), probe_focus=False)
    i = 0
    while i < len(x) and not session.formatter.stop_requested:
        for _ in range(25):  # 2 s of audio per step of the worker
            session.add(x[i : i + BLOCK])
            i += BLOCK
        session.step()
    typed = session.close(flush=False)
    assert typed == "Dear diary, today was a good day.\nI bought a blue bike.", typed
    assert out.read_text("utf-8") == typed


LIVE_PHRASES = ["Dear diary comma today was a good day period", "new line", "I bought a red car period",
                "scratch that", "I bought a blue bike period", "naive cafe comma Zurich period", "stop dictation"]
LIVE_EXPECTED = "Dear diary, today was a good day.\nI bought a blue bike. Naïve café, Zürich."
LIVE_REPLACEMENTS = {"naive": "naïve", "cafe": "café", "Zurich": "Zürich"}


@pytest.mark.parametrize("interval_s, window_s", [(0.5, 15.0), (1.0, 30.0)])
def test_dictation_types_the_live_text(base_asr, tmp_path, interval_s, window_s):
    """The live test's dictation (tests/test_dictation_live.py: Piper, 1.5 s pauses, "scratch
    that", user replacements as hotwords, "stop dictation"), the worker stepping after every
    block of 80 ms, with the default decode every 0.5 s of audio in a 15 s encoder window and
    with the slower 1.0 s / 30 s. At 0.5 s / 15 s three faults typed something else
    (``benchmarks/dictation_load_bench.py --interval 0.5 --asr-window 15 --seeds 3``, 12 of 20
    schedules wrong on an Intel AVX-512 machine, this one among them): the buffer was
    trimmed only after a commit, so when Whisper stopped short of a 12 s buffer's end it grew
    to 22 s and every later phrase was lost; with the replacements as hotwords Whisper looped
    ("I bought a blue bike, period. I bought a blue bike, period."), and two decodes agreed on
    the loop; and "Stopdictation." glued to the committed "Stop" lost "dictation", so
    dictation never stopped. A buffer that commits nothing for ``STALLED_DECODES`` decodes is
    now trimmed before the next one, so it stays within ``max_buffer_s + keep_s`` plus a few
    decode periods."""
    from audio_factory import concat, piper_say, read_16k

    from assistant.asr.streaming import STALLED_DECODES
    from assistant.dictation.session import DictationSession
    from assistant.dictation.typing import FileTypist
    from assistant.events import EventBus
    from assistant.settings import DictationSettings

    x = read_16k(concat([piper_say(p, tmp_path / f"p{i}.wav") for i, p in enumerate(LIVE_PHRASES)],
                        tmp_path / "d.wav", gap_s=1.5, lead_s=0.5, tail_s=2.0))
    settings = DictationSettings(replacements=LIVE_REPLACEMENTS, interval_s=interval_s, window_s=window_s)
    session = DictationSession(base_asr, settings, FileTypist(tmp_path / "out.txt"), EventBus(), probe_focus=False)
    longest, i = 0.0, 0
    while i < len(x) and not session.formatter.stop_requested:
        session.add(x[i : i + BLOCK])
        i += BLOCK
        session.step()
        longest = max(longest, session.committer.transcriber.buffer_seconds)
    assert session.formatter.stop_requested, "'stop dictation' was not heard"
    typed = session.close(flush=False)
    assert typed == LIVE_EXPECTED, typed
    st = session.committer.transcriber
    # trimmed before a decode once stalled: at most STALLED_DECODES + 1 decode periods past the bound
    assert longest <= st.max_buffer_s + st.keep_s + (STALLED_DECODES + 1) * st.interval_s, longest


def test_committed_words_found_when_whisper_glues_or_splits_them():
    """``after_glued``: the committed words matched letter by letter when a decode put the
    spaces elsewhere; a word glued across the boundary keeps its new rest."""
    from assistant.asr.alignment import after_glued
    from assistant.asr.transcript import Word

    def words(*t):
        return [Word(float(i), i + 0.5, x, 0.9) for i, x in enumerate(t)]

    rest = after_glued(["zurich", "period", "stop"], words("Zurich", "period.", "Stopdictation."))
    assert [(w.text, w.start_s) for w in rest] == [("dictation.", 2.0)]
    assert [w.text for w in after_glued(["stop", "dictation"], words("Stopdictation.", "Hello"))] == ["Hello"]
    assert [w.text for w in after_glued(["stopdictation"], words("Stop", "dictation.", "Hi"))] == ["Hi"]
    assert after_glued(["stop", "dictation"], words("Stopdictation.")) == []
    assert after_glued(["good", "day"], words("Good", "night")) is None
    assert after_glued(["good", "day"], words("Good")) is None
    assert after_glued(["scratch", "that"], words("scratch", "That's", "that.", "Best")) is None  # a contraction
    # the committed word heard again inflected is not a glued word: "ask" + "ed" typed "ask ed not"
    assert after_glued(["so", "ask"], words("so", "asked", "not")) is None
    assert after_glued(["ask"], words("asking", "not")) is None
    assert after_glued(["stop"], words("Stopno.")) is None  # a rest of 2 letters is no word
    assert [w.text for w in after_glued(["and", "ask"], words("and", "asknot", "what"))] == ["not", "what"]


def test_committed_words_found_when_whisper_respells_them():
    """``end_of_respelled``: the committed words placed by their letters when Whisper
    re-spelled more of them than word alignment (``end_of_committed``) accepts, so that the
    word after them is not dated by interpolated times and dropped ("thank" after "Deer Anna
    Kama" re-heard as "Dear Anna, comma."); ``after_by_time`` is the fallback after it."""
    from assistant.asr.alignment import after_by_time, end_of_committed, end_of_respelled
    from assistant.asr.transcript import Word

    committed, hyp = "deer anna kama".split(), "dear anna comma thank you".split()
    assert end_of_committed(committed, hyp) is None  # one word of three agrees
    assert end_of_respelled(committed, hyp) == 3  # "thank" is new
    assert end_of_respelled(committed, "dear anna comma".split()) == 3
    assert end_of_respelled("stop dictation".split(), "stopdic tation hello".split()) == 2  # re-split
    assert end_of_respelled("and so my fellow americans".split(), "and so my fellow american ask".split()) == 5
    assert end_of_respelled(committed, "thank you for the flowers".split()) is None  # not there
    assert end_of_respelled([], hyp) is None

    def w(t, s):
        return Word(s, s + 0.3, t, 0.9)

    hyp_w = [w("Dear", 0.0), w("Anna,", 0.3), w("comma.", 0.6), w("Thank", 0.9), w("you", 1.2)]
    assert [x.text for x in after_by_time(hyp_w, 0.85, ["kama"])] == ["Thank", "you"]
    assert [x.text for x in after_by_time(hyp_w, 0.5, ["anna", "comma"])] == ["Thank", "you"]  # repeats dropped
    assert after_by_time(hyp_w, 2.0, ["you"]) == []


def test_repetition_loops_are_recognised():
    """``repeats``: a group of ≥ 4 words said twice in a row, the second copy in the new
    words (the first may be committed); shorter repeats ("no no") are speech."""
    from assistant.asr.alignment import repeats

    assert repeats("i bought a blue bike period i bought a blue bike period".split(), [])
    assert repeats("i bought a blue bike period".split(), "so i bought a blue bike period".split())
    assert repeats("period i bought a blue bike period".split(), "scratch that i bought a blue bike".split())
    assert not repeats("i bought a blue bike period".split(), "so i bought a red car".split())
    assert not repeats("naive cafe".split(), "a blue bike period a blue bike period".split())  # old, not new
    assert not repeats("no no no no".split(), [])
    assert not repeats("ask not what your country can do for you ask what you can do".split(), [])


def test_committer_flush_and_input_checks(base_asr):
    c = Committer(base_asr)
    u = c.flush()  # nothing said: an empty phrase end
    assert u == DictationUpdate("", (), "", True)
    with pytest.raises(ValueError):
        Committer(base_asr, pause_s=0)
    with pytest.raises(ValueError):
        Committer(base_asr, pause_s=3.0, restart_after_s=2.0)
    with pytest.raises(TypeError):
        c.add(np.zeros(10, np.int32))


def test_replacements_bias_the_asr_towards_what_the_user_says(base_asr, tmp_path):
    """Issue 11: the user vocabulary biases the ASR — custom words *and* the spoken side of
    each "say X → type Y" replacement ("Zurich" for "Zürich"), in front of the command words
    and the skills' vocabulary. Without the replacements' spoken forms, "naive cafe comma
    Zurich" came out as "… commas or a" now and then in the live dictation tests."""
    from assistant.dictation.session import DictationSession
    from assistant.dictation.typing import FileTypist
    from assistant.events import EventBus
    from assistant.settings import DictationSettings

    settings = DictationSettings(words=["Anna"], replacements={"Zurich": "Zürich", "naive": "naïve"})
    session = DictationSession(base_asr, settings, FileTypist(tmp_path / "out.txt"), EventBus(), hotwords=["pasta"])
    try:
        hot = session.committer.transcriber.hotwords  # the formatted phrase list, best first
        assert hot.index("Anna") < hot.index("Zurich") < hot.index("comma") < hot.index("pasta"), hot
        assert "naive" in hot and "Zürich" not in hot, hot
    finally:
        session.close()
