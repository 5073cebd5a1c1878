"""The pure-Python parts of the built-in skills and the SDK's dialogue helpers: spoken
times, reminder tasks, note text, arithmetic without eval, unit conversion with pint,
volume requests, yes/no answers, .desktop entries. No Rasa, no audio."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from assistant.skills.dialogue import parse_yesno
from assistant.skills.when import parse_when, spoken_when

NOW = dt.datetime(2026, 11, 22, 14, 5)  # a Sunday afternoon


@pytest.mark.parametrize("text, at, rest", [
    ("remind me to call mum at 6 pm", "2026-11-22 18:00", "remind me to call mum"),
    ("Remind me to call mum at 6 p.m.", "2026-11-22 18:00", "remind me to call mum"),
    ("remind me at six thirty to feed the cat", "2026-11-22 18:30", "remind me to feed the cat"),
    ("remind me in ten minutes to stretch", "2026-11-22 14:15", "remind me to stretch"),
    ("tomorrow at 9", "2026-11-23 09:00", ""),
    ("at 7", "2026-11-22 19:00", ""),          # the next 7 o'clock
    ("at 11 am", "2026-11-23 11:00", ""),      # already past today
    ("half past six", "2026-11-22 18:30", ""),
    ("quarter to seven", "2026-11-22 18:45", ""),
    ("at 18:00", "2026-11-22 18:00", ""),
    ("tonight at 9", "2026-11-22 21:00", ""),
    ("on monday", "2026-11-23 09:00", ""),
    ("this evening", "2026-11-22 19:00", ""),
    ("at noon", "2026-11-23 12:00", ""),
])
def test_parse_when(text, at, rest):
    w = parse_when(text, NOW)
    assert w is not None and w.at.strftime("%Y-%m-%d %H:%M") == at and w.rest == rest, w


@pytest.mark.parametrize("text", ["remind me to buy 2 apples", "remind me to call mum", "for 5 minutes", "hello"])
def test_no_time_is_no_time(text):
    assert parse_when(text, NOW) is None


def test_spoken_when():
    assert spoken_when(dt.datetime(2026, 11, 22, 18, 0), NOW) == "at 6 PM"
    assert spoken_when(dt.datetime(2026, 11, 23, 9, 30), NOW) == "tomorrow at 9:30 AM"
    assert spoken_when(dt.datetime(2026, 11, 25, 9, 0), NOW) == "on Wednesday at 9 AM"
    assert spoken_when(NOW, NOW, relative_s=600) == "in 10 minutes"


@pytest.mark.parametrize("text, yes", [
    ("yes", True), ("Yes, please.", True), ("yeah sure", True), ("go ahead", True), ("okay", True),
    ("no", False), ("No thanks.", False), ("nope", False), ("don't", False),
    ("banana", None), ("what time is it", None), ("", None),
])
def test_parse_yesno(text, yes):
    assert parse_yesno(text) is yes


def test_reminder_task_and_pronouns():
    from skills.reminders import remind_phrase, task_from
    from assistant.skills.when import normalize

    def task(t):
        w = parse_when(t, NOW)
        return task_from(w.rest if w else normalize(t))

    assert task("remind me to call mum at 6 pm") == "call mum"
    assert task("set a reminder for 9 am to call the bank") == "call the bank"
    assert task("can you remind me to buy milk") == "buy milk"
    assert task("don't let me forget to send the invoice tomorrow") == "send the invoice"
    assert task("set a reminder") == "" and task("remind me") == ""
    assert remind_phrase("call my mum") == "to call your mum"
    assert remind_phrase("the dentist appointment") == "about the dentist appointment"


@pytest.mark.parametrize("text, content", [
    ("take a note", ""), ("Take a note that the meeting moved to Tuesday.", "the meeting moved to Tuesday"),
    ("make a note to buy more coffee", "buy more coffee"), ("write down buy milk and eggs", "buy milk and eggs"),
    ("Make a note: call the bank.", "call the bank"), ("can you take a note for me", ""),
    ("put this in my notes", ""), ("jot this down", ""),
])
def test_note_content(text, content):
    from skills.notes import content_of

    assert content_of(text) == content


@pytest.mark.parametrize("text, answer", [
    ("what is 5 plus 3", "5 plus 3 is 8."), ("What's 12 x 7?", "12 times 7 is 84."),
    ("what is twelve times seven", "12 times 7 is 84."), ("calculate 100 divided by 4", "100 divided by 4 is 25."),
    ("what is the square root of 144", "The square root of 144 is 12."), ("15 percent of 80", "15 percent of 80 is 12."),
    ("what is 2 to the power of 10", "2 to the power of 10 is 1,024."),
    ("how much is 10 divided by 3", "10 divided by 3 is 3.333."),
])
def test_calculator_reads_speech(text, answer):
    from skills.calculator.mathparse import evaluate, spoken_expression, spoken_number, to_expression

    e = to_expression(text)
    assert f"{spoken_expression(e)} is {spoken_number(evaluate(e))}.".capitalize() == answer


@pytest.mark.parametrize("expression", [
    "__import__('os').system('true')", "open('/etc/passwd')", "(1).__class__", "[1, 2]", "x + 1", "lambda: 1",
    "9 ** 99999", "1 / 0", "sqrt(-1)",
])
def test_calculator_refuses_anything_but_arithmetic(expression):
    from skills.calculator.mathparse import MathError, evaluate

    with pytest.raises(MathError):
        evaluate(expression)


@pytest.mark.parametrize("text, amount, result", [
    ("convert 5 miles to kilometers", 5, 8.04672), ("how many grams are in a pound", 1, 453.59237),
    ("what is 20 degrees celsius in fahrenheit", 20, 68.0), ("How many feet are in 3 meters?", 3, 9.84252),
    ("10 kg in pounds", 10, 22.0462), ("convert 60 miles per hour to kilometers per hour", 60, 96.5606),
])
def test_unit_conversion_with_pint(text, amount, result):
    from skills.calculator.mathparse import convert, parse_conversion

    c = parse_conversion(text)
    assert c.amount == amount and convert(c) == pytest.approx(result, rel=1e-4)


def test_unit_conversion_refuses_mismatched_units():
    from skills.calculator.mathparse import MathError, convert, parse_conversion

    with pytest.raises(MathError, match="can't convert miles to kilograms"):
        convert(parse_conversion("convert 5 miles to kilograms"))


@pytest.mark.parametrize("text, expected", [
    ("turn the volume up", ("up", 10)), ("quieter", ("down", 10)), ("set the volume to fifty percent", ("set", 50)),
    ("volume 30%", ("set", 30)), ("it's too loud", ("down", 10)), ("the music is too quiet", ("up", 10)),
    ("a bit quieter please", ("down", 5)), ("turn the sound up a lot", ("up", 20)),
])
def test_volume_requests(text, expected):
    from skills.volume import direction

    assert direction(text) == expected


def test_desktop_entries_and_launch(tmp_path, monkeypatch):
    from skills.apps.desktop import command_line, find_apps, launch, match

    apps = tmp_path / "share" / "applications"
    (apps / "kde").mkdir(parents=True)
    marker = tmp_path / "ran"
    (apps / "kde" / "painter.desktop").write_text(
        f"[Desktop Entry]\nType=Application\nName=Tux Painter\nGenericName=Drawing\nExec=touch {marker} %F\n")
    (apps / "hidden.desktop").write_text("[Desktop Entry]\nType=Application\nName=Ghost\nExec=true\nNoDisplay=true\n")
    (apps / "link.desktop").write_text("[Desktop Entry]\nType=Link\nName=Web\nURL=x\n")
    (apps / "missing.desktop").write_text("[Desktop Entry]\nName=Gone\nExec=gone\nTryExec=/no/such/program\n")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "empty"))
    found = {a.id: a for a in find_apps()}
    assert set(found) - {a.id for a in found.values() if "flatpak" in str(a.path) or "snap" in str(a.path)} \
        == {"kde-painter.desktop"}
    app = found["kde-painter.desktop"]
    assert match("tux painter", [app]) is app and match("Tuxpainter", [app]) is app
    assert match("tux paynter", [app]) is app  # an ASR slip
    assert match("drawing", [app]) is app and match("spreadsheet", [app]) is None
    assert command_line(app) == ["touch", str(marker)]
    launch(app).wait(10)
    assert marker.exists()


# ---------------------------------------------------------------------------- ASR variants
# Whisper's int8 decode differs by the CPU kernels CTranslate2 selects (AVX2 hears "12 time
# 7" where GENERIC hears "12 times 7"), and people say the same thing many ways. Every
# parser that reads numbers and operators accepts the variants a reasonable ASR writes.
from assistant.skills.duration import parse_duration  # noqa: E402
from skills.calculator.mathparse import evaluate, parse_conversion, to_expression  # noqa: E402
from skills.volume import direction  # noqa: E402


@pytest.mark.parametrize("text", [
    "What is twelve times seven?", "What is 12 times 7?", "What is 12 time 7?", "what's 12 x 7",
    "12x7", "12 X 7", "12 × 7 =", "12*7", "twelve into seven", "12 by 7", "multiply 12 by 7",
    "12 multiplied by 7", "12 multiplied with 7", "What is 12. Times 7.", "what is 12, times 7?",
    "What is twelve times seven equals?",
])
def test_calculator_multiplication_variants(text):
    assert evaluate(to_expression(text)) == 84


@pytest.mark.parametrize("text, answer", [
    ("what is 2 plus to", 4), ("what is to plus two", 4), ("12 times to", 24), ("what is for plus for", 8),
    ("what is 4 times for?", 16), ("add 5 and 3", 8), ("subtract 3 from 10", 7), ("divide 12 by 4", 3),
    ("What is 15 % of 80?", 12), ("what is 15 percent of 80", 12), ("what is 15 per cent of 80", 12),
    ("what is 1,000 divided by 8", 125), ("what is twenty-five times four", 100), ("100 - 1", 99),
])
def test_calculator_number_and_operator_variants(text, answer):
    assert evaluate(to_expression(text)) == pytest.approx(answer)


@pytest.mark.parametrize("text", ["set a timer to go", "what time is it", "for you"])
def test_calculator_homophones_only_where_a_number_must_be(text):
    from skills.calculator.mathparse import MathError

    with pytest.raises(MathError):
        to_expression(text)


@pytest.mark.parametrize("text, seconds", [
    ("set a timer for five minutes", 300), ("Set a timer for 5 minutes.", 300), ("timer for 5min", 300),
    ("set a timer for for minutes", 240), ("a timer for to minutes", 120), ("twenty-five minutes", 1500),
    ("a 5-minute timer", 300), ("5 minutes,", 300), ("timer for 3 minute", 180), ("1,000 seconds", 1000),
    ("set a timer to 10 minutes", 600), ("an hour and a half", 5400), ("Ten seconds.", 10),
])
def test_duration_variants(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["set a timer", "set a timer for", "for you to see"])
def test_duration_needs_a_unit(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize("text, at", [
    ("remind me in for minutes to stretch", "2026-11-22 14:09"),
    ("remind me at for pm to call mum", "2026-11-22 16:00"),
    ("remind me to go in to hours", "2026-11-22 16:05"),
    ("Remind me to call mum at six P.M.", "2026-11-22 18:00"),
    ("remind me at 6pm.", "2026-11-22 18:00"),
    ("remind me at 7.30 pm", "2026-11-22 19:30"),
])
def test_reminder_time_variants(text, at):
    w = parse_when(text, NOW)
    assert w is not None and w.at.strftime("%Y-%m-%d %H:%M") == at, w


@pytest.mark.parametrize("text, expected", [
    ("Set the volume to forty percent.", ("set", 40)), ("set the volume to forty-percent", ("set", 40)),
    ("Set the volume to 40 %.", ("set", 40)), ("set the volume to 40 per cent", ("set", 40)),
    ("set the volume two forty", ("set", 40)), ("volume 40", ("set", 40)), ("volume 2 percent", ("set", 2)),
])
def test_volume_variants(text, expected):
    assert direction(text) == expected


@pytest.mark.parametrize("text", [
    "Convert five miles to kilometers.", "convert 5 miles two kilometers", "Convert 5 miles, to kilometers?",
    "five miles in kilometers", "convert 5 miles into kilometers",
])
def test_conversion_variants(text):
    c = parse_conversion(text)
    assert (c.amount, c.source, c.target) == (5.0, "miles", "kilometers"), c
