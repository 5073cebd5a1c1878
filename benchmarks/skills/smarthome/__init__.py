"""Smart Home: a third-party-style test skill (benchmarks and entity-resolution tests only).

Written only against the public API in docs/skills.md: the actions read canonical entity
values with ``ctx.entity`` and say what they would do; nothing is switched.
"""

from rasa_sdk.events import SlotSet

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)


def _where(ctx: ActionContext) -> str:
    device = ctx.entity("device", "lights")
    room = ctx.entity("room")
    return f"the {room} {device}" if room else f"the {device}"


@skill.action("turn_on")
def turn_on(ctx: ActionContext) -> None:
    """Say which device would be switched on."""
    ctx.say(f"Turning on {_where(ctx)}.")


@skill.action("turn_off")
def turn_off(ctx: ActionContext) -> None:
    """Say which device would be switched off."""
    ctx.say(f"Turning off {_where(ctx)}.")


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
