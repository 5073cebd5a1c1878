""""What can you do?": lists the installed skills by name and reads a few example requests,
all taken from the loaded skills' manifests (``name``, ``examples``) or, for a skill with no
``examples``, from its first training example. A newly installed skill shows up without
touching this one.
"""

from __future__ import annotations

import re

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)

#: Skills not worth listing (they are how you talk to the assistant, not what it does).
QUIET = {"help", "control"}


def _plain(example: str) -> str:
    return re.sub(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})", r"\1", example).strip()


def examples_of(s: Skill) -> list[str]:
    """Example requests of a skill: its manifest's ``examples``, else its first training
    example."""
    if s.manifest.examples:
        return list(s.manifest.examples)
    first = next((item for item in s.data.nlu if "intent" in item and item["examples"]), None)
    return [_plain(first["examples"][0])] if first else []


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe(skills: list[Skill], n_examples: int = 3) -> str:
    """The spoken answer for ``skills``."""
    shown = [s for s in skills if s.id not in QUIET]
    if not shown:
        return "I have no skills installed yet."
    text = f"I can help with {len(shown)} things: {_join([s.name.lower() for s in shown])}."
    picks = []
    round_ = 0
    while len(picks) < n_examples and round_ < 3:
        for s in shown:
            ex = examples_of(s)
            if round_ < len(ex) and len(picks) < n_examples:
                picks.append(ex[round_])
        round_ += 1
    if picks:
        text += " For example, say: " + _join([f"{p}" for p in picks]) + "."
    return text


@skill.action("what_can_you_do")
def what_can_you_do(ctx: ActionContext) -> None:
    """Answer from the installed skills."""
    ctx.say(describe(ctx.installed_skills(), ctx.settings["examples"]))
