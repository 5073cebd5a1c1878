"""Control skill: "stop" / "cancel" / "never mind" / "be quiet".

Deactivates any active form (of any skill) and clears its slots, so a question like "For
how long?" is dropped, and asks the host to stop (``StopRequested``), which interrupts
speech. Replies "Okay." unless the ``acknowledge`` setting is off.
"""

from __future__ import annotations

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)


@skill.action("stop")
def stop(ctx: ActionContext) -> None:
    """End the dialogue, interrupt speech, acknowledge briefly."""
    ctx.end_dialogue()
    if ctx.host is not None:
        ctx.stop("control:stop")
    if ctx.settings["acknowledge"]:
        ctx.say("Okay.")
