"""The skill SDK as a skill author meets it, end to end:

* ``assistant skill new`` writes a project; ``assistant skill test`` trains Rasa with it plus
  the built-ins and passes its example conversations;
* the project is built into a wheel (``pip wheel``), installed into a temporary folder
  (``pip install --target``) that is put on the app's ``PYTHONPATH``, and
  ``assistant run --push-to-talk --input flip.wav`` understands and answers the skill's
  sample request from a recording; ``assistant skill list`` shows it; removing it from the
  folder removes its intents after the retraining the app does at start;
* a wheel of broken skills (a syntax error, a clashing name, an action that raises, an
  action that hangs): each gives the documented message while the built-in skills still
  answer in the same run.

Everything runs as real subprocesses of the app's command; the ``ask``/``ask_yesno``/
``confirm`` helpers are also checked through a real Rasa server (the scaffold's
conversations use all three).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from audio_factory import concat, espeak_say, piper_say
from expected import CLOCK_REPLY

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[1]
ASSISTANT = ROOT / ".venv" / "bin" / "assistant"
PY = ROOT / ".venv" / "bin" / "python"


def run(args: list[str], *, extra_path: list[Path] = (), timeout: float = 900, cwd: Path | None = None,
        env_extra: dict | None = None):
    """Run a command with the app's environment (plus ``extra_path`` on PYTHONPATH)."""
    env = {**os.environ, **(env_extra or {})}
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in extra_path)
    else:
        env.pop("PYTHONPATH", None)
    return subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or ROOT)


def wheel(project: Path, out: Path) -> Path:
    """Build ``project`` into a wheel in ``out`` (pip wheel, no network)."""
    p = run([PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", out, project])
    assert p.returncode == 0, p.stdout + p.stderr
    (whl,) = out.glob("*.whl")
    return whl


def install(whl: Path, target: Path) -> None:
    """``pip install --target`` (the app's environment, in a temporary location)."""
    p = run([PY, "-m", "pip", "install", "--no-deps", "--target", target, whl])
    assert p.returncode == 0, p.stdout + p.stderr


def speak(text: str, path: Path, voice: str = "piper") -> Path:
    """A recording of ``text`` with half a second of silence before it and 1.5 s after."""
    raw = path.with_name(path.stem + ".raw.wav")
    piper_say(text, raw) if voice == "piper" else espeak_say(text, raw, speed=150)
    return concat([raw], path, lead_s=0.5, tail_s=1.5)


def turns(stdout: str) -> list[dict]:
    """The turns ``assistant run`` printed: transcript, intent, reply."""
    out: list[dict] = []
    for line in stdout.splitlines():
        if line.startswith("transcript:"):
            out.append({"transcript": line.split(":", 1)[1].strip(), "intent": "", "reply": ""})
        elif line.startswith("intent:") and out:
            out[-1]["intent"] = line.split()[1]
        elif line.startswith("reply:") and out:
            out[-1]["reply"] = line.split(":", 1)[1].strip()
    return out


# ---------------------------------------------------------------------------- the scaffold
@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """``assistant skill new "Coin Flipper"``."""
    d = tmp_path_factory.mktemp("skillnew")
    p = run([ASSISTANT, "skill", "new", "Coin Flipper", "--dir", d])
    assert p.returncode == 0, p.stdout + p.stderr
    root = d / "coin_flipper"
    for rel in ("pyproject.toml", "README.md", "coin_flipper_skill/__init__.py", "coin_flipper_skill/skill.yml",
                "coin_flipper_skill/conversations.yml", "tests/test_conversations.py"):
        assert (root / rel).is_file(), rel
    assert 'coin_flipper = "coin_flipper_skill:skill"' in (root / "pyproject.toml").read_text()
    return root


def test_new_refuses_an_existing_project(project):
    p = run([ASSISTANT, "skill", "new", "coin flipper", "--dir", project.parent])
    assert p.returncode == 2
    assert "already exists" in p.stderr and "hint:" in p.stderr


def test_skill_test_runs_the_example_conversations(project):
    """Typed conversations through a real Rasa trained with the skill + the built-ins:
    intents, a synonym-mapped entity, ctx.ask + answer, ctx.confirm + yes, ctx.schedule."""
    p = run([ASSISTANT, "skill", "test", project])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "7/7 turns passed" in p.stdout, p.stdout
    assert "'pizza or pasta' → " in p.stdout  # the answer went to the question, whatever its intent


def test_a_bare_yes_in_conversations_yml_is_a_clear_error(tmp_path):
    """Found by a docs-only skill: ``- user: no`` (unquoted) is the boolean false in YAML;
    the runner sent "False" to the NLU and reported a baffling nlu_fallback. Now it stops
    with the conversation's name and how to quote it."""
    from assistant.errors import SkillError
    from assistant.skills.testing import load_conversations

    (tmp_path / "conversations.yml").write_text(
        "conversations:\n  - name: confirm\n    turns:\n      - user: book it\n      - user: no\n", encoding="utf-8")
    with pytest.raises(SkillError) as info:
        load_conversations(tmp_path)
    assert "'confirm'" in info.value.message and "False" in info.value.message, info.value.message
    assert 'user: "no"' in info.value.hint, info.value.hint
    (tmp_path / "conversations.yml").write_text(
        "conversations:\n  - name: confirm\n    turns:\n      - user: book it\n      - user: 'no'\n", encoding="utf-8")
    assert [t["user"] for t in load_conversations(tmp_path)[0]["turns"]] == ["book it", "no"]


def test_conversation_turns_can_expect_several_values_of_one_entity():
    """``entities: {topping: [pepperoni, onions]}`` in conversations.yml: every value, in
    order (it used to compare the list's text with each value and always failed)."""
    from assistant.nlu.client import DialogueResult
    from assistant.skills import Skill
    from assistant.skills.testing import check_turn

    skill = Skill.from_text("skill:\n  id: pizza\n  name: Pizza\n  version: 0.1.0\n")
    ents = [{"entity": "pizza__topping", "value": "pepperoni"}, {"entity": "pizza__topping", "value": "onions"},
            {"entity": "pizza__size", "value": "large"}]
    result = DialogueResult("pizza__order", 0.9, ents, [], False, None, {})
    assert check_turn(skill, {"entities": {"topping": ["pepperoni", "onions"], "size": "large"}}, result) == []
    assert check_turn(skill, {"entities": {"topping": ["onions", "pepperoni"]}}, result)
    assert check_turn(skill, {"entities": {"topping": ["pepperoni"]}}, result)
    assert check_turn(skill, {"entities": {"size": "small"}}, result)


def test_a_list_slot_gets_every_value_canonical_through_a_form(tmp_path):
    """Found by writing a skill from docs/skills.md only (tests/data/skills/pizza_order): a
    ``type: list`` form slot kept only the values the NLU tagged, uncanonical — "green pepper
    and extra cheese" gave only "extra cheese". Now every value of the turn, near misses
    resolved ("green pepper" → "green peppers"), reaches the slot, whether it came with the
    request or as the answer to the form's question."""
    shutil.copytree(ROOT / "tests" / "data" / "skills" / "pizza_order", tmp_path / "pizza_order")
    p = run([ASSISTANT, "skill", "test", tmp_path / "pizza_order"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "'green pepper and extra cheese' → " in p.stdout and "turns passed" in p.stdout, p.stdout


SKILL_HEADER = """\
from rasa_sdk.events import SlotSet
from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)


"""


def write_skill(project: Path, skill_yml: str, code: str, conversations: str) -> Path:
    """A skill project ``project/<name>_skill/`` (``name`` = the folder's name): skill.yml,
    ``__init__.py`` (:data:`SKILL_HEADER` + ``code``) and conversations.yml, each text
    dedented. Returns the package folder."""
    pkg = project / f"{project.name}_skill"
    pkg.mkdir(parents=True)
    (pkg / "skill.yml").write_text(textwrap.dedent(skill_yml), encoding="utf-8")
    (pkg / "__init__.py").write_text(SKILL_HEADER + textwrap.dedent(code), encoding="utf-8")
    (pkg / "conversations.yml").write_text(textwrap.dedent(conversations), encoding="utf-8")
    return pkg


def test_a_clear_request_of_the_skill_while_its_form_waits_is_carried_out(tmp_path):
    """A docs-only skill (train tickets) saw a clear request of the same skill swallowed while
    its form waited. With plain slot mappings Rasa's rules carry it out — once — and the form
    asks again and completes. (The train skill's form has ``@skill.extract`` slots: when its
    extractor found nothing the form asked again and the request was lost — see
    ``FormValidationAction._other_request``.)"""
    shutil.copytree(ROOT / "tests" / "data" / "skills" / "pizza_order", tmp_path / "pizza_order")
    conv = tmp_path / "pizza_order" / "pizza_order_skill" / "conversations.yml"
    conv.write_text(textwrap.dedent("""\
        conversations:
          - name: the menu in the middle of an order
            turns:
              - user: order a large thin crust pizza
                reply: 'Which toppings would you like\\?'
              - user: what toppings do you have
                reply: 'We have small, medium, large [^W]*Toppings: pepperoni[^W]*Which toppings would you like\\?'
              - user: mushrooms
                reply: 'Ordering a large thin crust pizza with mushrooms\\..*'
        """), encoding="utf-8")
    p = run([ASSISTANT, "skill", "test", tmp_path / "pizza_order"])
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_clear_request_is_carried_out_while_a_form_with_an_extractor_waits(tmp_path):
    """Found by a docs-only skill (train tickets): while a form whose slot is filled by
    ``@skill.extract`` waited, "cancel my train ticket" (0.99) was swallowed — the extractor
    found no station, the form asked again and the cancel never ran. Now the request's rule
    runs, then the form asks again; an answer that is no request still fills the slot."""
    write_skill(tmp_path / "trips", """\
        skill:
          id: trips
          name: Trips
          version: 0.1.0
          description: Books a trip to a city.
          languages: [en]
          examples:
            - book a trip
        slots:
          city:
            type: text
            influence_conversation: false
            mappings:
              - type: custom
        forms:
          trip_form:
            required_slots: [city]
        responses:
          utter_ask_city:
            - text: Which city?
        nlu:
          - intent: book
            examples: |
              - book a trip
              - i want to book a trip
              - book me a journey
              - plan a trip for me
              - i'd like to travel somewhere
          - intent: cancel_trip
            examples: |
              - cancel my trip
              - cancel the trip i booked
              - call off my journey
              - drop my trip booking
              - i want to cancel my trip
          - intent: where
            examples: |
              - [paris](city)
              - [rome](city) please
              - to [berlin](city)
              - [madrid](city)
          - lookup: city
            examples: |
              - paris
              - rome
              - berlin
              - madrid
        rules:
          - rule: book
            steps:
              - intent: book
              - action: trip_form
              - active_loop: trip_form
          - rule: booked
            condition:
              - active_loop: trip_form
            steps:
              - action: trip_form
              - active_loop: null
              - slot_was_set:
                  - requested_slot: null
              - action: action_booked
          - rule: cancel
            steps:
              - intent: cancel_trip
              - action: action_cancel
        """, """\
        @skill.extract("trip_form", "city")
        def city(ctx: ActionContext):
            return ctx.entity("city")


        @skill.action("booked")
        def booked(ctx: ActionContext) -> list:
            ctx.say(f"Booked a trip to {ctx.slot('city')}.")
            return [SlotSet("city", None)]


        @skill.action("cancel")
        def cancel(ctx: ActionContext) -> list:
            ctx.say("You have no trips to cancel.")
            return []
        """, """\
        conversations:
          - name: a cancel while the form waits
            turns:
              - user: book a trip
                reply: 'Which city\\?'
              - user: cancel my trip
                reply: 'You have no trips to cancel\\. Which city\\?'
              - user: rome
                reply: 'Booked a trip to rome\\.'
        """)
    p = run([ASSISTANT, "skill", "test", tmp_path / "trips"])
    assert p.returncode == 0, p.stdout + p.stderr


def test_an_action_reads_a_list_slot_once_per_value_and_canonical(tmp_path):
    """Found by a second docs-only skill (train tickets): a ``type: list`` slot filled by
    ``from_entity`` outside a form held each value twice — the CRF and the lookup-table
    extractor both tag it and Rasa keeps both — and the action read it so ("with a senior
    railcard and a senior railcard"); the canonical values were only set after the action.
    Now the action reads the slot canonical: each value once, synonyms mapped."""
    write_skill(tmp_path / "extras", """\
        skill:
          id: extras
          name: Extras
          version: 0.1.0
          description: Orders a sandwich with extras.
          languages: [en]
          examples:
            - a sandwich with pickles and cheese
        slots:
          extra:
            type: list
            influence_conversation: false
            mappings:
              - type: from_entity
                entity: extra
        nlu:
          - intent: order
            examples: |
              - a sandwich with [pickles](extra)
              - a sandwich with [cheese](extra) and [tomato](extra)
              - i want a sandwich with [lettuce](extra) and [pickles](extra)
              - order a sandwich with [red onion](extra)
              - can i have a sandwich with [cheese](extra)
              - get me a sandwich with [tomato](extra) and [red onion](extra) and [lettuce](extra)
          - lookup: extra
            examples: |
              - pickles
              - cheese
              - tomato
              - lettuce
              - red onion
          - synonym: red onion
            examples: |
              - red onions
        rules:
          - rule: order
            steps:
              - intent: order
              - action: action_order
        """, """\
        @skill.action("order")
        def order(ctx: ActionContext) -> list:
            ctx.say("A sandwich with " + " and ".join(ctx.slot("extra") or []) + ".")
            return [SlotSet("extra", None)]
        """, """\
        conversations:
          - name: extras once each
            turns:
              - user: a sandwich with pickles and red onions
                reply: 'A sandwich with pickles and red onion\\.'
              - user: a sandwich with cheese
                reply: 'A sandwich with cheese\\.'
        """)
    p = run([ASSISTANT, "skill", "test", tmp_path / "extras"])
    assert p.returncode == 0, p.stdout + p.stderr


def test_slots_hold_what_resolution_found_and_only_this_skills_requests_fill_them(tmp_path):
    """Found by writing a drinks skill from docs/skills.md only: (1) a value the NLU did not
    tag but entity resolution found — a synonym's variant, which is in no lookup table nor
    annotated example ("rye" for "rye bread") — reached ``ctx.entity`` but not ``ctx.slot``;
    (2) Rasa fills a slot from its entity in *any* message, so the "5" of the timer's "set a
    timer for 5 minutes" became this skill's ``count`` and the next order was for 5
    sandwiches. Now resolution's values fill the skill's empty slots, and a ``from_entity``
    mapping without an intent condition applies to every intent but other skills' ones."""
    write_skill(tmp_path / "deli", """\
        skill:
          id: deli
          name: Deli
          version: 0.1.0
          description: Orders sandwiches.
          languages: [en]
          examples:
            - two sandwiches on white bread with cheese
        slots:
          extra:
            type: list
            influence_conversation: false
            mappings:
              - type: from_entity
                entity: extra
          bread:
            type: text
            influence_conversation: false
            mappings:
              - type: from_entity
                entity: bread
          count:
            type: text
            influence_conversation: false
            mappings:
              - type: from_entity
                entity: count
        nlu:
          - intent: order
            examples: |
              - a sandwich with [pickles](extra)
              - [2](count) sandwiches on [white bread](bread) with [cheese](extra)
              - i want a sandwich on [sourdough](bread) with [lettuce](extra) and [pickles](extra)
              - order [3](count) sandwiches with [tomato](extra)
              - can i have a sandwich with [cheese](extra)
              - a [white bread](bread) sandwich with [tomato](extra) and [lettuce](extra)
              - get me [4](count) sandwiches on [sourdough](bread)
          - lookup: extra
            examples: |
              - pickles
              - cheese
              - tomato
              - lettuce
          - lookup: bread
            examples: |
              - white bread
              - sourdough
              - rye bread
          - synonym: rye bread
            examples: |
              - pumpernickel
          - lookup: count
            examples: |
              - 1
              - 2
              - 3
              - 4
              - 5
        rules:
          - rule: order
            steps:
              - intent: order
              - action: action_order
        """, """\
        @skill.action("order")
        def order(ctx: ActionContext) -> list:
            count, bread = ctx.slot("count"), ctx.slot("bread")
            ctx.say(f"{count or 'One'} on {bread or 'any bread'} with " + " and ".join(ctx.slot("extra") or []) + ".")
            return [SlotSet("extra", None), SlotSet("bread", None), SlotSet("count", None)]
        """, """\
        conversations:
          - name: a synonym's variant only resolution finds fills the slot
            turns:
              - user: a sandwich on pumpernickel with cheese
                reply: 'One on rye bread with cheese\\.'
          - name: another skill's request does not fill this skill's slots
            turns:
              - user: set a timer for 5 minutes
                reply: '.*'
              - user: can i have a sandwich with cheese
                reply: 'One on any bread with cheese\\.'
        """)
    p = run([ASSISTANT, "skill", "test", tmp_path / "deli"])
    assert p.returncode == 0, p.stdout + p.stderr


def test_skill_test_names_the_file_and_line_of_an_import_error(tmp_path):
    """docs/skills.md promises "cannot be imported (…): SyntaxError: …" with the file and
    line; ``assistant skill test`` on a project whose package does not import crashed as an
    internal error (exit 70) instead."""
    pkg = tmp_path / "broken" / "broken_skill"
    pkg.mkdir(parents=True)
    (pkg / "skill.yml").write_text("skill:\n  id: broken\n  name: Broken\n  version: 0.1.0\n", encoding="utf-8")
    (pkg / "__init__.py").write_text("from assistant.skills import Skill\n\ndef oops(:\n    pass\n", encoding="utf-8")
    (pkg / "conversations.yml").write_text("conversations:\n  - name: x\n    turns:\n      - user: hello\n",
                                           encoding="utf-8")
    p = run([ASSISTANT, "skill", "test", tmp_path / "broken"])
    assert p.returncode == 2, p.stdout + p.stderr
    assert re.search(r"broken_skill/__init__\.py:3\): cannot be imported \(broken_skill:skill\): SyntaxError", p.stderr), p.stderr


def test_the_form_example_of_docs_skills_md_works_as_written(tmp_path):
    """docs/skills.md "A form, whole": the skill.yml and __init__.py shown there, copied
    from the page as they are (plus a manifest), pass ``assistant skill test``: the form asks
    only for what is missing, a synonym fills a slot with its declared value ("big" →
    large), and the next order starts empty."""
    doc = (ROOT / "docs" / "skills.md").read_text(encoding="utf-8")
    sec = doc[doc.index("### A form, whole"):doc.index("## Testing a skill")]
    yml = re.search(r"```yaml\n# pizza_skill/skill.yml[^\n]*\n(.*?)```", sec, re.S).group(1)
    code = re.search(r"```python\n# pizza_skill/__init__.py\n(.*?)```", sec, re.S).group(1)
    pkg = tmp_path / "pizza" / "pizza_skill"
    pkg.mkdir(parents=True)
    manifest = ("skill:\n  id: pizza\n  name: Pizza\n  version: 0.1.0\n  description: Orders pizza.\n"
                "  languages: [en]\n  examples:\n    - order a large thin crust pizza\n\n")
    (pkg / "skill.yml").write_text(manifest + yml, encoding="utf-8")
    (pkg / "__init__.py").write_text(code, encoding="utf-8")
    (pkg / "conversations.yml").write_text(textwrap.dedent(r"""
        conversations:
          - name: all at once
            turns:
              - user: i want a small thin crust pizza
                intent: order
                reply: 'Ordering a small thin crust pizza\.'
          - name: the form asks for what is missing
            turns:
              - user: order a pizza
                reply: 'What size would you like\? Small, medium or large\?'
              - user: big
                reply: 'Which crust\? Thin crust or deep dish\?'
              - user: deep dish
                reply: 'Ordering a large deep dish pizza\.'
          - name: the next order starts empty
            turns:
              - user: order a medium deep dish pizza
                reply: 'Ordering a medium deep dish pizza\.'
              - user: order a pizza
                reply: 'What size would you like\? Small, medium or large\?'
        """), encoding="utf-8")
    p = run([ASSISTANT, "skill", "test", tmp_path / "pizza"])
    assert p.returncode == 0 and "6/6 turns passed" in p.stdout, p.stdout + p.stderr


def test_installed_wheel_answers_from_a_recording_and_uninstall_removes_it(project, tmp_path):
    whl = wheel(project, tmp_path / "dist")
    assert whl.name.startswith("assistant_skill_coin_flipper-0.1.0-")
    target = tmp_path / "site"
    install(whl, target)
    assert (target / "coin_flipper_skill" / "skill.yml").is_file()

    listed = run([ASSISTANT, "skill", "list"], extra_path=[target])
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^coin_flipper\s+0\.1\.0\s+enabled\s+assistant-skill-coin-flipper", listed.stdout, re.M), \
        listed.stdout

    flip = speak("Flip a coin.", tmp_path / "flip.wav", "espeak")
    roll = speak("Roll a twenty sided die.", tmp_path / "roll.wav")
    p = run([ASSISTANT, "run", "--push-to-talk", "--input", flip, "--input", roll], extra_path=[target])
    assert p.returncode == 0, p.stdout + p.stderr
    got = turns(p.stdout)
    assert [t["intent"] for t in got] == ["coin_flipper__flip", "coin_flipper__roll"], p.stdout
    assert re.fullmatch(r"It's (heads|tails)\. That was coin number \d+\.", got[0]["reply"]), got
    assert re.fullmatch(r"You rolled \d+ on a 20 sided die\.", got[1]["reply"]), got

    # uninstall (from the target folder) → the next start retrains without its intents
    shutil.rmtree(target)
    target.mkdir()
    listed = run([ASSISTANT, "skill", "list"], extra_path=[target])
    assert "coin_flipper" not in listed.stdout
    p = run([ASSISTANT, "run", "--push-to-talk", "--input", flip], extra_path=[target])
    got = turns(p.stdout)
    assert len(got) == 1 and not got[0]["intent"].startswith("coin_flipper__"), p.stdout
    assert "coin number" not in got[0]["reply"], got


# ---------------------------------------------------------------------------- enable / disable
def test_disable_and_enable_retrain_with_progress_and_cache(tmp_path):
    """Switching a skill off retrains (progress printed); switching it back on finds the
    model trained before in the cache."""
    env = {"ASSISTANT_CONFIG_DIR": str(tmp_path / "config")}
    p = run([ASSISTANT, "skill", "disable", "help"], env_extra=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Skill 'help' disabled" in p.stdout
    assert "[training] " in p.stdout and "Language model for 9 skills" in p.stdout, p.stdout
    assert 'disabled = [\n    "help",\n]' in (tmp_path / "config" / "settings.toml").read_text()
    listed = run([ASSISTANT, "skill", "list"], env_extra=env)
    assert re.search(r"^help\s+disabled", listed.stdout, re.M), listed.stdout
    p = run([ASSISTANT, "skill", "enable", "help"], env_extra=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Language model for 10 skills already trained (cached)." in p.stdout, p.stdout


# ---------------------------------------------------------------------------- broken skills
BROKEN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "broken-skills"
version = "0.1.0"

[project.entry-points."offline_assistant.skills"]
broken_syntax = "broken_syntax:skill"
timer_again = "timer_again:skill"
grumpy = "grumpy:skill"
sleepy = "sleepy:skill"

[tool.setuptools]
packages = ["broken_syntax", "timer_again", "grumpy", "sleepy"]

[tool.setuptools.package-data]
"*" = ["*.yml"]
"""

SKILL_YML = """\
skill:
  id: {id}
  name: {id}
nlu:
  - intent: {intent}
    examples: |
{examples}
rules:
  - rule: go
    steps:
      - intent: {intent}
      - action: action_{intent}
"""

HEADER = "from assistant.skills import Skill\n\nskill = Skill.from_package(__name__)\n\n"


def _package(root: Path, name: str, skill_id: str, intent: str, examples: list[str], code: str) -> None:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "skill.yml").write_text(SKILL_YML.format(id=skill_id, intent=intent, examples="".join(
        f"      - {e}\n" for e in examples)), encoding="utf-8")
    (pkg / "__init__.py").write_text(code, encoding="utf-8")


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    """A wheel with four broken skills, installed into a temporary folder."""
    src = tmp_path_factory.mktemp("broken-src")
    (src / "pyproject.toml").write_text(BROKEN_PYPROJECT, encoding="utf-8")
    _package(src, "broken_syntax", "broken_syntax", "hello", ["hello broken"],
             HEADER + "@skill.action('hello')\ndef hello(ctx:\n    ctx.say('never')\n")
    _package(src, "timer_again", "timer", "set_timer", ["set a timer please"],
             HEADER + "@skill.action('set_timer')\ndef set_timer(ctx):\n    ctx.say('mine')\n")
    _package(src, "grumpy", "grumpy", "grumble", [
        "grumble for me", "be grumpy", "complain about something", "tell me something grumpy", "start grumbling",
        "moan about the weather", "grumble a bit"],
        HEADER + "@skill.action('grumble')\ndef grumble(ctx):\n    raise RuntimeError('grumpy on purpose')\n")
    _package(src, "sleepy", "sleepy", "daydream", [
        "start daydreaming", "daydream for me", "go and daydream", "let's daydream", "daydream a little",
        "have a daydream", "begin a daydream"],
        HEADER + "import time\n\n@skill.action('daydream')\ndef daydream(ctx):\n    time.sleep(60)\n"
        "    ctx.say('too late')\n")
    target = tmp_path_factory.mktemp("broken-site")
    install(wheel(src, tmp_path_factory.mktemp("broken-dist")), target)
    return target


def test_broken_skills_give_their_message_and_the_rest_still_answers(broken, tmp_path):
    recs = [speak(text, tmp_path / f"{i}.wav")
            for i, text in enumerate(["Tell me something grumpy.", "Start daydreaming.", "What time is it?"])]
    p = run([ASSISTANT, "run", "--push-to-talk", *[x for r in recs for x in ("--input", r)]], extra_path=[broken])
    out, err = p.stdout, p.stderr
    assert p.returncode == 0, out + err
    # load errors: skill, file and line
    assert re.search(r"Skill 'broken_syntax' \(\S*broken_syntax/__init__\.py:\d+\): cannot be imported "
                     r"\(broken_syntax:skill\): SyntaxError", err), err
    assert re.search(r"Skill 'timer' \(\S*timer_again/skill\.yml, entry point timer_again:skill\) clashes with "
                     r"skill 'timer' \(\S*skills/timer/skill\.yml, entry point skills\.timer:skill\): both use the "
                     r"id 'timer'\. 'timer' was not loaded\.", err), err
    got = turns(out)
    assert [t["intent"] for t in got] == ["grumpy__grumble", "sleepy__daydream", "clock__ask_time"], out
    # an action that raises, an action that runs over its 5 s budget: a short apology each…
    assert got[0]["reply"] == "Sorry, the grumpy skill ran into a problem.", got
    assert got[1]["reply"] == "Sorry, the sleepy skill ran into a problem.", got
    # …the error in the log with the skill's action name (skill id) …
    assert re.search(r"skill action action_grumpy__grumble failed: RuntimeError: grumpy on purpose", err), err
    assert re.search(r"skill action action_sleepy__daydream failed: timed out after 5 s", err), err
    # …and the assistant keeps running: the built-in clock answers in the same process
    assert CLOCK_REPLY.fullmatch(got[2]["reply"]), got
    # the built-in timer is the one that was kept
    assert "mine" not in out
