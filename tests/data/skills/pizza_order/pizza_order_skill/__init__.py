"""Pizza Order: order a pizza (a form asks for size, crust and toppings) and read the menu.

Test data: a third-party-style skill written from docs/skills.md only (by a helper that did
not read the engine), kept to check list slots filled through a form (tests/test_skill_sdk.py)."""
from __future__ import annotations

from rasa_sdk.events import SlotSet

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@skill.action("place_order")
def place_order(ctx: ActionContext) -> list:
    size = ctx.entity("size") or ctx.slot("size")
    crust = ctx.entity("crust") or ctx.slot("crust")
    toppings = ctx.slot("topping") or ctx.entities("topping") or []
    if isinstance(toppings, str):
        toppings = [toppings]
    n = ctx.set_setting("orders", ctx.settings["orders"] + 1)
    ctx.say(f"Ordering a {size} {crust} pizza with {_join(toppings)}. That is order number {n}.")
    return [SlotSet("size", None), SlotSet("crust", None), SlotSet("topping", None)]
