"""Calculator and unit conversions: "what is 12 times 7" → "12 times 7 is 84.",
"convert 5 miles to kilometers" → "5 miles is 8.047 kilometers.".

Arithmetic is read and computed by :mod:`skills.calculator.mathparse` (a whitelist over
Python's ``ast``, never ``eval``); units are converted by ``pint``.
"""

from __future__ import annotations

import threading
from typing import Callable

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


def _answer(ctx: ActionContext, reply: Callable[[str], str]) -> None:
    """Say ``reply(ctx.text)``, or the :class:`MathError`'s message when it cannot."""
    try:
        text = reply(ctx.text)
    except MathError as exc:
        text = str(exc)
    ctx.say(text)


def calculation_reply(text: str) -> str:
    """The reply ("12 times 7 is 84.") for the calculation in ``text``.

    Raises:
        MathError: no calculation found, or it cannot be evaluated.
    """
    expression = to_expression(text)
    value = evaluate(expression)
    return f"{spoken_expression(expression)} is {spoken_number(value)}.".capitalize()


def conversion_reply(text: str) -> str:
    """"The reply ("5 miles is 8.047 kilometers.") for the conversion in ``text``.

    Raises:
        MathError: no conversion found, or the units do not convert.
    """
    conv = parse_conversion(text)
    value = convert_units(conv)
    return f"{spoken_number(conv.amount)} {conv.source_words} is {spoken_number(value)} {conv.target_words}."


@skill.action("calculate")
def calculate(ctx: ActionContext) -> None:
    """Say the result of the calculation in the request."""
    _answer(ctx, calculation_reply)


@skill.action("convert")
def convert(ctx: ActionContext) -> None:
    """Say the converted amount."""
    _answer(ctx, conversion_reply)
