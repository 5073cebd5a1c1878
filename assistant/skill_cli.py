"""``assistant skill …``: write, test, list, install and switch skills.

::

    assistant skill new NAME [--dir D]        a ready-to-install skill project (with a test)
    assistant skill test PATH                 train with that skill + the built-ins, run its conversations
    assistant skill list                      installed skills: id, version, status, intents
    assistant skill install WHEEL|FOLDER      pip install into the app's environment, then retrain
    assistant skill uninstall ID              pip uninstall the skill's distribution, then retrain
    assistant skill enable ID / disable ID    switch a skill on/off in settings.toml, then retrain

Retraining shows Rasa's progress and is cached by content hash: switching back to a set of
skills that was trained before costs nothing. ``register(subparsers)`` is called by
:func:`assistant.cli.build_parser`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
from pathlib import Path

from assistant.errors import SkillError


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load_settings():
    """Load settings.toml and print each notice (bad value, unknown key, file moved aside)
    as one ``warning:`` line on stderr. Returns the settings."""
    from assistant.settings import load_settings

    settings, notice = load_settings()
    for line in (notice or "").splitlines():
        _err(f"warning: {line}")
    return settings


def retrain(settings=None, *, quiet: bool = False) -> int:
    """Load the enabled skills, compose the Rasa project and train it (cached), printing
    progress and any skill that was refused. Returns the number of refused skills."""
    from assistant.events import EventBus, Progress
    from assistant.nlu.sidecar import RasaSidecar
    from assistant.skills import compose_project, load_skills

    if settings is None:
        settings = _load_settings()
    result = load_skills(disabled=settings.skills.disabled)
    for err in result.errors:
        _err(f"warning: {err.message}")
        if err.hint:
            _err(f"hint: {err.hint}")
    bus = EventBus()
    if not quiet:
        bus.subscribe(lambda e: print(f"[training] {e.message}", flush=True), Progress)
    sidecar = RasaSidecar(compose_project(result.skills), [], settings.nlu, bus=bus)
    sidecar.ensure_trained()
    if not quiet:
        state = f"trained in {sidecar.train_seconds:.0f} s" if sidecar.trained else "already trained (cached)"
        print(f"Language model for {len(result.skills)} skills {state}.", flush=True)
    return len(result.errors)


def cmd_new(args) -> int:
    from assistant.skills.scaffold import create

    root = create(args.name, args.dir)
    pkg = next(p for p in root.iterdir() if p.is_dir() and (p / "skill.yml").exists())
    print(f"Created {root}", flush=True)
    for p in sorted(root.rglob("*")):
        if p.is_file():
            print(f"  {p.relative_to(root)}", flush=True)
    print(f"\nNext: edit {pkg.name}/skill.yml and {pkg.name}/__init__.py, then\n"
          f"  assistant skill test {root}\n  assistant skill install {root}", flush=True)
    return 0


def cmd_test(args) -> int:
    from assistant.skills.testing import run_conversations

    settings = _load_settings()
    report = run_conversations(args.path, settings=settings.nlu,
                               progress=(lambda m: print(f"[training] {m}", flush=True)) if getattr(args, "verbose", False) else None)
    print(report.summary(), flush=True)
    return 0 if report.ok else 1


def cmd_list(args) -> int:
    from assistant.skills import ENTRY_POINT_GROUP, load_skills

    settings = _load_settings()
    result = load_skills(disabled=settings.skills.disabled)
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    rows = []
    for s in result.skills:
        dist = next((getattr(ep.dist, "name", "") for ep in eps.values() if ep.value.split(":")[0] == s.package), "")
        intents = [i for i in s.data.intents]
        rows.append((s.id, s.manifest.version, "enabled", dist or "-",
                     f"{len(intents)} intents" + (", needs internet" if s.manifest.requires_internet else ""),
                     s.name))
    for name in result.disabled:
        rows.append((name, "", "disabled", "", "", ""))
    for err in result.errors:
        rows.append((err.skill or "?", "", "error", "", err.message, ""))
    heads = ("id", "version", "status", "package")
    w = [max([len(str(r[i])) for r in rows] + [len(heads[i])]) for i in range(4)]
    print(f"{'id':<{w[0]}}  {'version':<{w[1]}}  {'status':<{w[2]}}  {'package':<{w[3]}}  details", flush=True)
    for r in rows:
        print(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:<{w[3]}}  {r[4]}"
              + (f" — {r[5]}" if r[5] else ""), flush=True)
    return 0


def _pip(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], text=True)
    if proc.returncode != 0:
        raise SkillError(f"pip {' '.join(args)} failed (exit code {proc.returncode})",
                         "See pip's output above.")


def cmd_install(args) -> int:
    target = Path(args.source)
    if not target.exists():
        raise SkillError(f"{target} does not exist", "Pass a wheel (.whl) or a skill project folder.")
    _pip("install", "--no-deps", "--no-build-isolation", str(target)) if target.is_dir() else \
        _pip("install", "--no-deps", str(target))
    importlib.invalidate_caches()
    if not args.no_train:
        retrain()
    return 0


def cmd_uninstall(args) -> int:
    from assistant.skills import ENTRY_POINT_GROUP, load_skills

    eps = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    by_id = {s.id: s for s in load_skills().skills}
    ep = next((e for e in eps if e.name == args.id or (args.id in by_id and e.value.split(":")[0] == by_id[args.id].package)),
              None)
    dist = getattr(getattr(ep, "dist", None), "name", None) if ep is not None else None
    if not dist:
        raise SkillError(f"No installed skill {args.id!r}", "See 'assistant skill list'.")
    if dist.replace("_", "-").lower() == "offline-assistant":
        raise SkillError(f"'{args.id}' is a built-in skill", f"Use 'assistant skill disable {args.id}'.")
    _pip("uninstall", "-y", dist)
    if not args.no_train:
        retrain()
    return 0


def _known_skill_id(name: str, disabled: list[str]) -> str:
    """The skill id ``name`` refers to (a skill id or an entry point name of an installed
    skill, or an id already in the disabled list).

    Raises:
        SkillError: (exit code 2) no such skill; the message lists the known ones.
    """
    import difflib

    from assistant.skills import ENTRY_POINT_GROUP, load_skills

    result = load_skills()
    ids = {s.id for s in result.skills} | {e.skill for e in result.errors if e.skill}
    eps = {ep.name: ep.value.split(":")[0] for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in ids or name in disabled:
        return name
    if name in eps:
        return next((s.id for s in result.skills if s.package == eps[name]), name)
    known = sorted(ids | set(eps) | set(disabled))
    close = difflib.get_close_matches(name, known, n=1)
    raise SkillError(f"No installed skill {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                     + "; settings.toml was not changed.",
                     "Known skills: " + ", ".join(known) + ". See 'assistant skill list'.")


def _switch(args, enable: bool) -> int:
    from assistant.settings import save_settings

    settings = _load_settings()
    skill_id = _known_skill_id(args.id, settings.skills.disabled)
    disabled = [d for d in settings.skills.disabled if d not in (args.id, skill_id)]
    if not enable:
        disabled.append(skill_id)
    settings.skills.disabled = disabled
    path = save_settings(settings)
    print(f"Skill '{args.id}' {'enabled' if enable else 'disabled'} ({path}).", flush=True)
    if not args.no_train:
        retrain(settings)
    return 0


def register(subparsers) -> None:
    """Add ``assistant skill …`` to the CLI's subparsers."""
    sk = subparsers.add_parser("skill", help="write, test, list, install and switch skills")
    sk.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    sk.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    sub = sk.add_subparsers(dest="skill_command", required=True)

    n = sub.add_parser("new", help="create a ready-to-install skill project with a test")
    n.add_argument("name", help="the skill's name; its id is the name in lower case with underscores")
    n.add_argument("--dir", default=".", help="parent folder of the project (default: here)")
    n.set_defaults(func=cmd_new)

    t = sub.add_parser("test", help="train with the skill + the built-ins and run its example conversations")
    t.add_argument("path", help="the skill's project or package folder")
    t.set_defaults(func=cmd_test)

    ls = sub.add_parser("list", help="list the installed skills")
    ls.set_defaults(func=cmd_list)

    i = sub.add_parser("install", help="pip install a skill wheel or project folder, then retrain")
    i.add_argument("source", help="a .whl file or a skill project folder")
    i.add_argument("--no-train", action="store_true", help="do not retrain now (the app retrains at start)")
    i.set_defaults(func=cmd_install)

    u = sub.add_parser("uninstall", help="pip uninstall a skill, then retrain")
    u.add_argument("id", help="skill id or entry point name")
    u.add_argument("--no-train", action="store_true")
    u.set_defaults(func=cmd_uninstall)

    for name, enable in (("enable", True), ("disable", False)):
        e = sub.add_parser(name, help=f"{name} a skill, then retrain")
        e.add_argument("id", help="skill id or entry point name")
        e.add_argument("--no-train", action="store_true")
        e.set_defaults(func=lambda a, _en=enable: _switch(a, _en))
