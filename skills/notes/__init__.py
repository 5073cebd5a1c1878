"""Notes: "take a note that the meeting moved to Tuesday" writes one text file in
``<data_dir>/notes/`` (``2026-11-22_14-05-09.txt``); "take a note" alone asks "What should
the note say?" and writes the answer (``ctx.ask(..., then=...)``); "read my notes" reads
the latest ones; "delete my notes" asks for confirmation first (``ctx.confirm``).

Notes are private: the folder is ``0700`` and each note is written atomically with mode
``0600`` (:func:`assistant.private_files.write_private`). If a note cannot be saved (disk
full), the assistant says so and no partial note is left.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from assistant.private_files import PrivateWriteError, private_dir, write_private
from assistant.settings import data_dir
from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)

_TRIGGER = re.compile(
    r"^(?:(?:hey|ok|okay|so|please|can you|could you|would you|will you)\s+)*"
    r"(?:(?:take|make|add|create|start|write|jot|dictate|put)\s+(?:a |an |the |this |it )?(?:new )?"
    r"(?:note|notes|down|this down|memo)?|new note|note(?: this)?(?: down)?)"
    r"(?:\s+(?:for me|please))?(?:\s*[:,-]\s*|\s+(?:that|saying|to say|which says|to|in my notes|down)\b)?\s*", re.I)


def notes_dir() -> Path:
    """``data_dir()/notes`` (created, mode 0700)."""
    return private_dir(data_dir() / "notes")


def content_of(text: str) -> str:
    """What to write down from a request: "take a note that X" → "X" ("" if nothing)."""
    t = " ".join(text.split()).strip()
    rest = _TRIGGER.sub("", t, count=1).strip(" .,:;-")
    rest = re.sub(r"^(?:that|saying|down|this|for me|please)\b\s*", "", rest, flags=re.I).strip(" .,:;-")
    if re.fullmatch(r"(?:for me|please|down|this|it|now|(?:in|into|to) (?:my |the )?notes?)?", rest, re.I):
        return ""
    return rest


def write_note(text: str) -> Path:
    """Write one note file (atomically, mode 0600); returns its path.

    Raises:
        PrivateWriteError: it could not be written (e.g. the disk is full); nothing is left.
    """
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    folder = notes_dir()
    path = folder / f"{stamp}.txt"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}_{n}.txt"
    body = text.strip()
    return write_private(path, body[0].upper() + body[1:] + "\n" if body else "\n", what="the note")


def _save(ctx: ActionContext, content: str) -> None:
    try:
        write_note(content)
    except PrivateWriteError as exc:
        ctx.say(f"Sorry, I couldn't save the note: {exc.reason}. {exc.hint}")
        return
    ctx.say(f"Noted: {content}.")


def all_notes() -> list[Path]:
    """Note files, oldest first."""
    return sorted(notes_dir().glob("*.txt"))


@skill.action("take_note")
def take_note(ctx: ActionContext) -> None:
    """Write down the dictated text, or ask for it."""
    content = content_of(ctx.text)
    if not content:
        ctx.ask("What should the note say?", then=note_answer)
        return
    _save(ctx, content)


def note_answer(ctx: ActionContext, answer: str) -> None:
    """The answer to "What should the note say?"."""
    content = answer.strip().strip(".")
    if not content:
        ctx.say("The note is empty, so I didn't save it.")
        return
    _save(ctx, content)


@skill.action("read_notes")
def read_notes(ctx: ActionContext) -> None:
    """Read the latest notes, newest first."""
    notes = all_notes()
    if not notes:
        ctx.say("You have no notes.")
        return
    latest = list(reversed(notes))[: ctx.settings["read_count"]]
    texts = [p.read_text(encoding="utf-8").strip().rstrip(".") for p in latest]
    head = "You have one note: " if len(notes) == 1 else f"You have {len(notes)} notes. The latest: "
    ctx.say(head + ". ".join(texts) + ".")


@skill.action("delete_notes")
def delete_notes(ctx: ActionContext) -> None:
    """Delete every note after the user says yes."""
    notes = all_notes()
    if not notes:
        ctx.say("You have no notes.")
        return
    ctx.confirm(f"Delete all {len(notes)} notes?" if len(notes) > 1 else "Delete your note?", then=delete_all,
                no="Okay, I kept your notes.")


def delete_all(ctx: ActionContext) -> None:
    """Yes to "Delete all N notes?"."""
    notes = all_notes()
    for p in notes:
        p.unlink(missing_ok=True)
    ctx.say(f"Deleted {len(notes)} notes." if len(notes) != 1 else "Deleted your note.")
