"""Smart Home: a third-party-style test skill (benchmarks and entity-resolution tests only).

Written only against the public API in docs/skills.md: the actions read canonical entity
values with ``ctx.entity`` and say what they would do; nothing is switched.
"""

from typing import Callable

from rasa_sdk.events import SlotSet

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)


def _where(ctx: ActionContext) -> str:
    device = ctx.entity("device", "lights")
    room = ctx.entity("room")
    return f"the {room} {device}" if room else f"the {device}"


def _switch(state: str) -> Callable[[ActionContext], None]:
    """The action saying which device would be switched ``state`` ("on" / "off")."""

    def switch(ctx: ActionContext) -> None:
        ctx.say(f"Turning {state} {_where(ctx)}.")

    switch.__doc__ = f"Say which device would be switched {state}."
    return switch


turn_on = skill.action("turn_on")(_switch("on"))
turn_off = skill.action("turn_off")(_switch("off"))


@skill.action("set_level")
def set_level(ctx: ActionContext) -> None:
    """Say the level a device would be set to."""
    level = ctx.entity("level")
    ctx.say(f"Setting {_where(ctx)} to {level}." if level else f"What level for {_where(ctx)}?")


@skill.action("set_colour")
def set_colour(ctx: ActionContext) -> None:
    """Say the colour a light would get."""
    colour = ctx.entity("colour")
    ctx.say(f"Making {_where(ctx)} {colour}." if colour else f"Which colour for {_where(ctx)}?")


@skill.action("start_scene")
def start_scene(ctx: ActionContext) -> list:
    """Say which scene would start (the form collected it)."""
    ctx.say(f"Starting the {ctx.slot('scene')} scene.")
    return [SlotSet("scene", None)]
