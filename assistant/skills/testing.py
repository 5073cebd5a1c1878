"""Example conversations for skills: ``assistant skill test PATH`` and
:func:`run_conversations` (for a skill's own pytest file).

A skill keeps them in ``conversations.yml`` beside its ``skill.yml``::

    conversations:
      - name: roll a twenty sided die
        turns:
          - user: roll a twenty sided die     # typed text in
            intent: roll                      # local (this skill) or global intent name
            entities: {sides: "20"}           # local entity name → value (optional)
            slots: {sides: null}              # local slot name → value after the turn (optional)
            reply: "You rolled \\d+ .*"       # regular expression for the whole reply (optional)

The skill is loaded from its folder together with the installed built-in skills, Rasa is
trained (cached by content hash) and started, and each conversation is played as one
Rasa conversation with a fresh sender id. Settings and data files the skill writes go to a
temporary folder, not the user's.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from assistant.errors import SkillError
from assistant.events import EventBus, Progress
from assistant.settings import NLUSettings, SkillsSettings
from assistant.skills.host import SkillHost
from assistant.skills.loader import ENTRY_POINT_GROUP, compose_project, load_skills
from assistant.skills.sdk import DATA_FILE, Skill

CONVERSATIONS_FILE = "conversations.yml"


def find_package(path: str | Path) -> Path:
    """The skill package folder (the one holding ``skill.yml``) at or just below ``path``.

    Raises:
        SkillError: none or several found.
    """
    path = Path(path).resolve()
    if (path / DATA_FILE).is_file():
        return path
    found = sorted(p.parent for p in path.glob(f"*/{DATA_FILE}") if (p.parent / "__init__.py").is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise SkillError(f"No skill package (a folder with {DATA_FILE} and __init__.py) in {path}",
                         "Pass the project folder made by 'assistant skill new' or the package folder.")
    raise SkillError(f"Several skill packages in {path}: {', '.join(p.name for p in found)}",
                     "Pass the package folder you mean.")


def import_skill(path: str | Path) -> tuple[Skill, importlib.metadata.EntryPoint]:
    """Import the skill package at ``path`` (its parent goes on ``sys.path``).

    Returns:
        ``(skill, entry point)`` — the entry point can be passed to ``load_skills``.

    Raises:
        SkillError: no package, its module has no ``skill`` object, or importing it raised
            (a :class:`~assistant.skills.sdk.SkillLoadError` naming the file and line).
    """
    pkg_dir = find_package(path)
    parent = str(pkg_dir.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    try:
        module = importlib.import_module(pkg_dir.name)
    except Exception as exc:  # a skill's own bug: the loader's message (file:line), not a crash
        from assistant.skills.loader import import_error

        ep = importlib.metadata.EntryPoint(name=pkg_dir.name, value=f"{pkg_dir.name}:skill", group=ENTRY_POINT_GROUP)
        raise import_error(ep, exc) from exc
    skill = getattr(module, "skill", None)
    if not isinstance(skill, Skill):
        raise SkillError(f"{pkg_dir}/__init__.py has no module-level 'skill = Skill.from_package(__name__)'")
    ep = importlib.metadata.EntryPoint(name=skill.id, value=f"{pkg_dir.name}:skill", group=ENTRY_POINT_GROUP)
    return skill, ep


@dataclass
class TurnResult:
    """One checked turn."""

    conversation: str
    user: str
    ok: bool
    problems: list[str]
    intent: str = ""
    replies: list[str] = field(default_factory=list)


@dataclass
class ConversationReport:
    """What :func:`run_conversations` found."""

    skill: str
    turns: list[TurnResult] = field(default_factory=list)
    load_errors: list[str] = field(default_factory=list)
    train_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True if the skill loaded and every turn matched."""
        return not self.load_errors and bool(self.turns) and all(t.ok for t in self.turns)

    def summary(self) -> str:
        """Human-readable result, one line per turn."""
        lines = [f"Skill '{self.skill}':"]
        lines += [f"  load error: {e}" for e in self.load_errors]
        current = None
        for t in self.turns:
            if t.conversation != current:
                current = t.conversation
                lines.append(f"  {current}")
            mark = "ok  " if t.ok else "FAIL"
            lines.append(f"    {mark} {t.user!r} → {t.intent or '-'}: {' '.join(t.replies)!r}")
            lines += [f"         {p}" for p in t.problems]
        passed = sum(t.ok for t in self.turns)
        lines.append(f"{passed}/{len(self.turns)} turns passed")
        return "\n".join(lines)


def _global(skill: Skill, kind: str, name: str) -> str:
    return name if "__" in name or name in ("out_of_scope", "nlu_fallback") else skill.global_name(kind, name)


def check_turn(skill: Skill, turn: dict, result: Any) -> list[str]:
    """Compare one turn's expectations with a :class:`~assistant.nlu.sidecar.DialogueResult`.

    ``entities: {name: value}`` passes when one entity ``name`` has that value;
    ``{name: [v1, v2]}`` when its values are exactly those, in that order (duplicates
    ignored). ``slots: {name: value}`` compares the slot with ``value`` (a list for a list
    slot). Returns the problems found (empty: the turn passed)."""
    problems = []
    if "intent" in turn and result.intent != _global(skill, "intent", str(turn["intent"])):
        problems.append(f"intent {result.intent!r} ({result.confidence:.2f}), expected "
                        f"{_global(skill, 'intent', str(turn['intent']))!r}")
    for name, value in (turn.get("entities") or {}).items():
        g = _global(skill, "entity", name)
        got = [str(e.get("value")) for e in result.entities if e.get("entity") == g]
        if isinstance(value, list):  # every value, in this order: [pepperoni, onions]
            if list(dict.fromkeys(got)) != [str(v) for v in value]:
                problems.append(f"entity {name}: {got or 'none'}, expected {[str(v) for v in value]}")
        elif str(value) not in got:
            problems.append(f"entity {name}={value!r} not found (got {got or 'none'})")
    for name, value in (turn.get("slots") or {}).items():
        g = _global(skill, "slot", name)
        if result.slots.get(g) != value:
            problems.append(f"slot {name}={result.slots.get(g)!r}, expected {value!r}")
    if "reply" in turn:
        reply = " ".join(result.replies)
        if not re.fullmatch(str(turn["reply"]), reply, re.S):
            problems.append(f"reply {reply!r} does not match {turn['reply']!r}")
    return problems


def load_conversations(pkg_dir: Path) -> list[dict]:
    """The conversations of ``pkg_dir/conversations.yml``.

    Raises:
        SkillError: missing or malformed file.
    """
    path = pkg_dir / CONVERSATIONS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        raise SkillError(f"No example conversations: {path} is missing",
                         "Write conversations.yml (see 'assistant skill new' for the format).") from None
    except yaml.YAMLError as exc:
        raise SkillError(f"{path}: malformed YAML: {exc}") from None
    convs = data.get("conversations") if isinstance(data, dict) else None
    if not isinstance(convs, list) or not all(isinstance(c, dict) and isinstance(c.get("turns"), list) for c in convs):
        raise SkillError(f"{path}: expected 'conversations:' with items that have 'turns:'")
    for conv in convs:
        for turn in conv["turns"]:
            said = turn.get("user") if isinstance(turn, dict) else None
            if not isinstance(said, str) or not said.strip():
                # YAML reads a bare yes/no/on/off as true/false, a bare 42 as a number
                hint = (f"Quote it: user: \"{'yes' if said else 'no'}\" (YAML reads a bare yes/no as true/false)."
                        if isinstance(said, bool) else "Give every turn a 'user:' line with the words said, quoted if "
                        "they could be read as a number or yes/no.")
                raise SkillError(f"{path}: conversation {conv.get('name') or '?'!r}: a turn's 'user' is "
                                 f"{said!r}, not words", hint)
    return convs


def run_conversations(path: str | Path, *, settings=None,
                      progress: Callable[[str], None] | None = None) -> ConversationReport:
    """Train Rasa with the skill at ``path`` plus the installed built-ins and play its
    example conversations.

    Args:
        path: the skill's project folder or package folder.
        settings: ``NLUSettings`` (default: the defaults).
        progress: called with training/start-up messages.

    Returns:
        A :class:`ConversationReport` (``.ok``, ``.summary()``).

    Raises:
        SkillError: no package / no conversations file. NLUError: Rasa cannot train/start.
    """
    from assistant.nlu.sidecar import RasaSidecar  # heavy (HTTP client, processes): only when conversations run
    from assistant.skills.resolve import ProjectResolution

    pkg_dir = find_package(path)
    convs = load_conversations(pkg_dir)
    tmp = tempfile.mkdtemp(prefix="skill-test-")
    saved = {k: os.environ.get(k) for k in ("ASSISTANT_CONFIG_DIR", "ASSISTANT_DATA_DIR")}
    os.environ["ASSISTANT_CONFIG_DIR"] = str(Path(tmp) / "config")
    os.environ["ASSISTANT_DATA_DIR"] = str(Path(tmp) / "data")
    try:
        skill, ep = import_skill(pkg_dir)
        report = ConversationReport(skill=skill.id)
        builtin = sorted({(e.name, e.value): e for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
                          if getattr(getattr(e, "dist", None), "name", "").replace("_", "-").lower()
                          == "offline-assistant"}.values(), key=lambda e: (e.name, e.value))
        result = load_skills(extra_entry_points=[*builtin, ep], discover=False)
        report.load_errors = [e.message for e in result.errors]
        if skill.id not in result.by_id():
            return report
        bus = EventBus()
        if progress is not None:
            bus.subscribe(lambda e: progress(e.message), Progress)
        host = SkillHost(bus, SkillsSettings())
        project = compose_project(result.skills)
        sidecar = RasaSidecar(project, host.actions(result.skills), settings or NLUSettings(), bus=bus,
                              resolve=ProjectResolution(project))
        try:
            sidecar.start(timeout=300)
            report.train_seconds = sidecar.train_seconds
            for conv in convs:
                sender = f"test-{uuid.uuid4().hex[:8]}"
                name = str(conv.get("name") or conv["turns"][0].get("user"))
                for turn in conv["turns"]:
                    r = sidecar.message(sender, str(turn["user"]))
                    problems = check_turn(skill, turn, r)
                    report.turns.append(TurnResult(name, str(turn["user"]), not problems, problems, r.intent,
                                                   list(r.replies)))
        finally:
            sidecar.stop()
            host.close()
        return report
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
