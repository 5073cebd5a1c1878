"""The skill SDK and loader.

Write a skill (see :mod:`assistant.skills.sdk` for a full example)::

    from assistant.skills import Skill

    skill = Skill.from_package(__name__)   # manifest + Rasa-like data from skill.yml

    @skill.action("tell_time")
    def tell_time(ctx):                    # ctx: ActionContext
        ctx.say("It's 5:10 in the afternoon.")

Helpers for the common cases: ``ctx.say``, ``ctx.ask(text, then=fn)`` (wait for the answer),
``ctx.ask_yesno``, ``ctx.confirm``, ``ctx.settings`` / ``ctx.set_setting``, ``ctx.schedule``,
``ctx.speak_later``; hooks ``@skill.on_load``, ``@skill.on_settings_changed``,
``@skill.extract`` (custom form slots), ``@skill.lookup_provider``. See docs/skills.md.

Run skills (what the pipeline does)::

    host = SkillHost(bus, settings.skills)
    loaded = load_skills(disabled=settings.skills.disabled)   # LoadResult(skills, errors, disabled)
    project = compose_project(loaded.skills)                  # RasaProject with global names
    actions = host.actions(loaded.skills)                     # rasa_sdk.Action instances
    hotwords = vocabulary(loaded.skills)                      # for faster-whisper

Every intent, entity, slot, form, response and action of a skill is namespaced with its
id and :data:`SEP` (``"__"``): ``ask_time`` → ``clock__ask_time``, ``action_set_timer`` →
``action_timer__set_timer``, ``utter_ask_duration`` → ``utter_ask_timer__duration``.
"""

from assistant.skills.data import SEP
from assistant.skills.duration import duration_adjective, format_duration, parse_duration
from assistant.skills.host import SkillHost
from assistant.skills.hostapi import TimerHandle
from assistant.skills.loader import ENTRY_POINT_GROUP, LoadResult, compose_project, load_skills, vocabulary
from assistant.skills.manifest import Manifest, SettingField
from assistant.skills.sdk import ActionContext, Skill, SkillContext, SkillLoadError
from assistant.skills.when import parse_when, spoken_when

__all__ = [
    "SEP",
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "LoadResult",
    "Manifest",
    "SettingField",
    "Skill",
    "SkillContext",
    "SkillHost",
    "SkillLoadError",
    "TimerHandle",
    "compose_project",
    "duration_adjective",
    "format_duration",
    "load_skills",
    "parse_duration",
    "parse_when",
    "spoken_when",
    "vocabulary",
]
