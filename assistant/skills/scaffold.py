"""``assistant skill new NAME``: write a ready-to-install skill project.

The project is the worked example of ``docs/skills.md`` (a coin-and-dice skill) with the
skill id set to NAME, so every SDK helper appears once in working code::

    <dir>/<id>/
      pyproject.toml            # entry point offline_assistant.skills: <id> = "<id>_skill:skill"
      README.md
      <id>_skill/__init__.py    # the actions
      <id>_skill/skill.yml      # manifest + Rasa training data (local names)
      <id>_skill/conversations.yml   # example conversations: `assistant skill test .`
      tests/test_conversations.py    # the same, under pytest
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.errors import SkillError
from assistant.skills.manifest import ID_RE

PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{title}: a skill for the offline voice assistant"
requires-python = ">=3.11"
# The assistant provides the SDK (assistant.skills) and rasa-sdk at run time.
dependencies = []

[project.entry-points."offline_assistant.skills"]
{id} = "{pkg}:skill"

[tool.setuptools]
packages = ["{pkg}"]

[tool.setuptools.package-data]
{pkg} = ["*.yml"]
'''

SKILL_YML = '''# {title}: the worked example of docs/skills.md. Names here are LOCAL: the loader turns
# "flip" into "{id}__flip", "sides" into "{id}__sides", "action_flip" into "action_{id}__flip".
skill:
  id: {id}
  name: {title}
  version: 0.1.0
  description: Flips coins, rolls dice and picks between choices.
  languages: [en]
  requires_internet: false
  examples:
    - flip a coin
    - roll a twenty sided die
  settings:
    - key: coin_answers
      type: choice
      choices: [heads-tails, yes-no]
      default: heads-tails
      label: Coin answers
      help: Answer "heads"/"tails" or "yes"/"no".
    - key: flips
      type: int
      default: 0
      min: 0
      label: Coins flipped so far
      help: Counted by the skill itself (it writes this setting).

entities:
  - sides

slots:
  sides:
    type: text
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: sides         # filled from this skill's requests only (never another skill's)

nlu:
  - intent: flip
    examples: |
      - flip a coin
      - toss a coin
      - heads or tails
      - can you flip a coin for me
      - coin toss
      - throw a coin
      - flip a coin please
  - intent: flip_later
    examples: |
      - flip a coin in ten seconds
      - toss a coin in a minute
      - flip a coin in 30 seconds
      - flip a coin later
      - toss a coin in two minutes
  - intent: roll
    examples: |
      - roll a die
      - roll the dice
      - roll a [six](sides) sided die
      - roll a [twenty](sides) sided die
      - roll a [d20](sides)
      - throw a [d6](sides)
      - roll a die with [eight](sides) sides
      - roll a [twelve](sides) sided dice
      - roll a [20](sides)-sided die
  - intent: pick
    examples: |
      - help me choose
      - pick one for me
      - i can't decide
      - choose for me
      - help me decide
      - make a choice for me
  - intent: reset
    examples: |
      - reset the coin counter
      - start counting flips again
      - forget how many coins you flipped
      - set the coin count to zero
  - lookup: sides          # as said and as the speech recogniser writes them ("a 20-sided die")
    examples: |
      - four
      - six
      - eight
      - ten
      - twelve
      - twenty
      - 4
      - 6
      - 8
      - 10
      - 12
      - 20
      - d4
      - d6
      - d8
      - d10
      - d12
      - d20
  - synonym: "20"
    examples: |
      - twenty
      - d20
  - synonym: "12"
    examples: |
      - twelve
      - d12
  - synonym: "8"
    examples: |
      - eight
      - d8
  - synonym: "6"
    examples: |
      - six
      - d6

rules:
  - rule: flip a coin
    steps:
      - intent: flip
      - action: action_flip
  - rule: flip a coin later
    steps:
      - intent: flip_later
      - action: action_flip_later
  - rule: roll a die
    steps:
      - intent: roll
      - action: action_roll
  - rule: pick between choices
    steps:
      - intent: pick
      - action: action_pick
  - rule: reset the counter
    steps:
      - intent: reset
      - action: action_reset
'''

INIT_PY = '''"""{title}: written by ``assistant skill new`` as a working example (it flips coins,
rolls dice and picks between choices): replace it with your skill.

Every helper of the skill SDK once: ``ctx.say``, entities and slots, ``ctx.settings`` and
``ctx.set_setting``, ``ctx.ask(..., then=...)``, ``ctx.confirm(...)`` and ``ctx.schedule``.
"""

from __future__ import annotations

import random
import re

from rasa_sdk.events import SlotSet

from assistant.skills import ActionContext, Skill, format_duration, parse_duration

skill = Skill.from_package(__name__)   # reads skill.yml next to this file


def _coin(ctx: ActionContext) -> str:
    return random.choice(ctx.settings["coin_answers"].split("-"))   # read a setting


@skill.action("flip")                   # served to Rasa as action_{id}__flip
def flip(ctx: ActionContext) -> None:
    """Flip a coin and count it (the count is a setting the skill writes)."""
    flips = ctx.set_setting("flips", ctx.settings["flips"] + 1)     # write a setting
    ctx.say(f"It's {{_coin(ctx)}}. That was coin number {{flips}}.")


@skill.action("flip_later")
def flip_later(ctx: ActionContext) -> None:
    """Flip a coin after a delay: a scheduled callback speaks outside the dialogue."""
    delay = parse_duration(ctx.text) or 10.0
    result = _coin(ctx)
    ctx.schedule(delay, lambda: ctx.announce(f"The coin says {{result}}."))
    ctx.say(f"I'll flip it in {{format_duration(delay)}}.")


@skill.action("roll")
def roll(ctx: ActionContext) -> list[dict]:
    """Roll a die; the synonyms in skill.yml turn "twenty" and "d20" into "20"."""
    sides = ctx.entity("sides") or ctx.slot("sides") or "6"
    sides = int(sides) if str(sides).isdigit() else 6
    ctx.say(f"You rolled {{random.randint(1, sides)}} on a {{sides}} sided die.")
    return [SlotSet("sides", None)]     # local slot name: namespaced for you


@skill.action("pick")
def pick(ctx: ActionContext) -> None:
    """Ask for the choices and wait for the answer (the next thing the user says)."""
    ctx.ask("What are the choices?", then=choose)


def choose(ctx: ActionContext, answer: str) -> None:
    """Called with the answer to "What are the choices?"."""
    options = [o.strip(" .") for o in re.split(r",|\\bor\\b", answer) if o.strip(" .")]
    if len(options) < 2:
        ctx.say("I need at least two choices, like: pizza or pasta.")
        return
    ctx.say(f"I pick {{random.choice(options)}}.")


@skill.action("reset")
def reset(ctx: ActionContext) -> None:
    """Reset the counter after a yes."""
    ctx.confirm(f"Forget the {{ctx.settings['flips']}} coins flipped so far?", then=do_reset,
                no="Okay, I kept the count.")


def do_reset(ctx: ActionContext) -> None:
    """Yes to "Forget the N coins flipped so far?"."""
    ctx.set_setting("flips", 0)
    ctx.say("Done, the counter is back to zero.")
'''

CONVERSATIONS_YML = '''# Example conversations: `assistant skill test .` trains Rasa with this skill plus the
# assistant's built-in skills and plays each conversation as typed text.
#   user:     what the user says
#   intent:   the expected intent (local name of this skill, or a global one)
#   entities: expected entity values (local names), optional
#   reply:    a regular expression the whole reply must match, optional
conversations:
  - name: flip a coin
    turns:
      - user: flip a coin
        intent: flip
        reply: "It's (heads|tails)\\\\. That was coin number \\\\d+\\\\."
  - name: roll a twenty sided die
    turns:
      - user: roll a twenty sided die
        intent: roll
        entities: {{sides: "20"}}
        reply: "You rolled \\\\d+ on a 20 sided die\\\\."
  - name: pick asks for the choices and waits for them
    turns:
      - user: help me choose
        intent: pick
        reply: "What are the choices\\\\?"
      - user: pizza or pasta
        reply: "I pick (pizza|pasta)\\\\."
  - name: reset asks first
    turns:
      - user: reset the coin counter
        intent: reset
        reply: "Forget the \\\\d+ coins flipped so far\\\\?"
      - user: yes please
        reply: "Done, the counter is back to zero\\\\."
  - name: flip later schedules a callback
    turns:
      - user: flip a coin in ten seconds
        intent: flip_later
        reply: "I'll flip it in 10 seconds\\\\."
'''

TEST_PY = '''"""The skill's example conversations (``{pkg}/conversations.yml``) through a real Rasa
model trained with this skill plus the assistant's built-in skills — the same as running
``assistant skill test .`` in this folder. Needs the assistant's environment."""

from pathlib import Path

from assistant.skills.testing import run_conversations


def test_example_conversations():
    report = run_conversations(Path(__file__).resolve().parents[1])
    assert report.ok, report.summary()
'''

README = '''# {title}

A skill for the offline voice assistant (see the assistant's `docs/skills.md`).

```sh
assistant skill test .          # train with the built-in skills, run conversations.yml
pip wheel --no-deps -w dist .   # build the wheel
assistant skill install dist/{dist_file}-0.1.0-py3-none-any.whl
assistant skill list
```
'''


def skill_id(name: str) -> str:
    """A valid skill id from a free name: ``"Coin Flipper"`` → ``"coin_flipper"``.

    Raises:
        SkillError: nothing usable is left, or the id starts with ``ask_``.
    """
    sid = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    sid = re.sub(r"^[0-9_]+", "", sid)
    if not sid or not ID_RE.match(sid) or sid.startswith("ask_"):
        raise SkillError(f"{name!r} cannot be a skill id",
                         "Use letters and digits, starting with a letter (e.g. 'coin_flipper').")
    return sid


def create(name: str, folder: str | Path = ".") -> Path:
    """Write the project for skill ``name`` into ``folder/<id>/``.

    Returns:
        The project folder.

    Raises:
        SkillError: invalid name, or the project folder exists and is not empty.
    """
    sid = skill_id(name)
    root = Path(folder) / sid
    if root.exists() and any(root.iterdir()):
        raise SkillError(f"{root} already exists and is not empty", "Choose another name or --dir.")
    pkg = f"{sid}_skill"
    fmt = {"id": sid, "pkg": pkg, "title": sid.replace("_", " ").title(), "dist": f"assistant-skill-{sid.replace('_', '-')}",
           "dist_file": f"assistant_skill_{sid}"}
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README, f"{pkg}/__init__.py": INIT_PY,
        f"{pkg}/skill.yml": SKILL_YML, f"{pkg}/conversations.yml": CONVERSATIONS_YML,
        "tests/test_conversations.py": TEST_PY,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(**fmt), encoding="utf-8")
    return root
