"""Launch applications: "open firefox", "start the text editor".

The names of the ``.desktop`` entries found through the XDG data folders (see
:mod:`skills.apps.desktop`) are listed each time the skills are loaded
(``@skill.lookup_provider(..., train=False)``): the ASR vocabulary and entity resolution know
them, while Rasa is trained only on the common names in skill.yml, so the trained model is the
same on every computer (the package's pre-trained model is used as it is). When asked, the skill
scans the entries again (an app installed since start-up is found too), matches the
requested name (exact, then the closest spelling), and runs the entry's ``Exec`` line.
"""

from __future__ import annotations

import re

from assistant.skills import ActionContext, Skill
from skills.apps.desktop import find_apps, launch, match

skill = Skill.from_package(__name__)


@skill.lookup_provider("app", train=False)
def installed_names() -> list[str]:
    """Names of the installed applications, for the lookup table (computed at each load;
    names with brackets or symbols, like "ImageMagick (color depth=q16)", are also listed
    without them and only that way)."""
    try:
        return [n.lower() for app in find_apps() for n in app.names() if re.fullmatch(r"[\w .+'&-]+", n)]
    except OSError:  # an unreadable folder must not stop the skill from loading
        return []


_TRIGGER = re.compile(r"^(?:(?:hey|ok|okay|please|can you|could you|would you|will you|i want to|i'd like to)\s+)*"
                      r"(?:open(?: up)?|launch|start(?: up)?|run|fire up|bring up|load|use|show)\s+"
                      r"(?:the |my |a )?(?:program |app |application )?", re.I)
_TAIL = re.compile(r"\s+(?:app|application|program|for me|please|now)$", re.I)


def app_name_in(text: str) -> str:
    """The application name in a request by its words alone: what follows "open" /
    "launch" / "start" …, without "app" / "please" / "for me" … at the end and without
    punctuation (``"Open the Firefox app, please."`` → ``"Firefox"``); "" when ``text``
    does not start with such a verb."""
    text = re.sub(r"[.!?,]", "", text).strip()
    rest = _TRIGGER.sub("", text, count=1)
    while True:
        shorter = _TAIL.sub("", rest)
        if shorter == rest:
            break
        rest = shorter
    return rest.strip() if rest != text else ""


def requested_name(ctx: ActionContext) -> str:
    """The application named in the request: the ``app`` entity, else the words after
    "open"/"launch"/"start" (:func:`app_name_in`)."""
    name = ctx.entity("app")
    if name:
        return str(name)
    return app_name_in(ctx.text)


def _open(ctx: ActionContext, name: str) -> None:
    app = match(name, find_apps())
    if app is None:
        ctx.say(f"I couldn't find an application called {name}.")
        return
    try:
        launch(app)
    except (OSError, ValueError) as exc:
        ctx.say(f"I couldn't start {app.name}: {exc}.")
        return
    ctx.say(f"Opening {app.name}.")


@skill.action("open_app")
def open_app(ctx: ActionContext) -> None:
    """Open the named application, or ask which one."""
    name = requested_name(ctx)
    if not name:
        ctx.ask("Which application?", then=open_answer)
        return
    _open(ctx, name)


def open_answer(ctx: ActionContext, answer: str) -> None:
    """The answer to "Which application?"."""
    _open(ctx, re.sub(r"[.!?,]", "", answer).strip())
