"""Calculator and unit conversions: "what is 12 times 7" → "12 times 7 is 84.",
"convert 5 miles to kilometers" → "5 miles is 8.047 kilometers.".

Arithmetic is read and computed by :mod:`skills.calculator.mathparse` (a whitelist over
Python's ``ast``, never ``eval``); units are converted by ``pint``.
"""

from __future__ import annotations

import threading

from assistant.skills import ActionContext, Skill
from assistant.skills.sdk import SkillContext
from skills.calculator.mathparse import (
    MathError,
    convert as convert_units,
    evaluate,
    parse_conversion,
    registry,
    spoken_expression,
    spoken_number,
    to_expression,
)

skill = Skill.from_package(__name__)


@skill.on_load
def warm_up(ctx: SkillContext) -> None:
    """Build pint's unit registry in the background (about 1 s), not in the first request."""
    threading.Thread(target=registry, name="pint-registry", daemon=True).start()


@skill.action("calculate")
def calculate(ctx: ActionContext) -> None:
    """Say the result of the calculation in the request."""
    try:
        expression = to_expression(ctx.text)
        value = evaluate(expression)
    except MathError as exc:
        ctx.say(str(exc))
        return
    ctx.say(f"{spoken_expression(expression)} is {spoken_number(value)}.".capitalize())


@skill.action("convert")
def convert(ctx: ActionContext) -> None:
    """Say the converted amount."""
    try:
        conv = parse_conversion(ctx.text)
        value = convert_units(conv)
    except MathError as exc:
        ctx.say(str(exc))
        return
    ctx.say(f"{spoken_number(conv.amount)} {conv.source_words} is {spoken_number(value)} {conv.target_words}.")
