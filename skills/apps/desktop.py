"""Desktop entries (``.desktop`` files, freedesktop.org Desktop Entry Specification): find
the installed applications and launch one.

Search path: ``$XDG_DATA_HOME/applications`` (default ``~/.local/share``) first, then
``applications`` under each of ``$XDG_DATA_DIRS`` (default ``/usr/local/share:/usr/share``)
and the Flatpak/Snap export folders; the first file with a given desktop-file id wins
(``kde/okular.desktop`` has the id ``kde-okular.desktop``). Entries that are not
``Type=Application``, are ``Hidden`` or ``NoDisplay``, or whose ``TryExec`` is missing are
left out.

Launching runs the ``Exec`` line directly (field codes like ``%U`` removed, quoting per the
spec), detached in its own session, with no terminal attached; ``Terminal=true`` entries
run in ``x-terminal-emulator`` when there is one. This needs neither a running desktop
(``gtk-launch``) nor GLib (``gio launch``).
"""

from __future__ import annotations

import configparser
import difflib
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_FIELD_CODES = re.compile(r"%[fFuUdDnNickvm]")


@dataclass
class DesktopApp:
    """One launchable application.

    Attributes:
        id: desktop-file id (``org.gnome.gedit.desktop``).
        name: ``Name`` (``Text Editor``).
        exec: the ``Exec`` line as written.
        path: the file.
        generic_name: ``GenericName`` ("Web Browser"), may be "".
        terminal: ``Terminal=true``.
        aliases: other names it answers to (generic name, the command's name, the name
            without parentheses).
    """

    id: str
    name: str
    exec: str
    path: Path
    generic_name: str = ""
    terminal: bool = False
    aliases: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        """Every name this app can be asked for, the ``Name`` first."""
        return list(dict.fromkeys([self.name, *self.aliases]))


def data_dirs() -> list[Path]:
    """The XDG data folders, most important first."""
    home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    dirs = [home]
    for d in (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":"):
        if d:
            dirs.append(Path(d))
    dirs += [home / "flatpak" / "exports" / "share", Path("/var/lib/flatpak/exports/share"),
             Path("/var/lib/snapd/desktop")]
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _read(path: Path) -> dict[str, str] | None:
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, configparser.Error):
        return None
    if not parser.has_section("Desktop Entry"):
        return None
    return dict(parser.items("Desktop Entry"))


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _exists(cmd: str) -> bool:
    return bool(shutil.which(cmd)) if "/" not in cmd else os.access(cmd, os.X_OK)


def find_apps() -> list[DesktopApp]:
    """Every launchable application, sorted by name."""
    seen: dict[str, DesktopApp | None] = {}
    for base in data_dirs():
        folder = base / "applications"
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.desktop")):
            app_id = str(path.relative_to(folder)).replace(os.sep, "-")
            if app_id in seen:
                continue
            entry = _read(path)
            if entry is None:
                continue
            if (entry.get("Type", "Application") != "Application" or _true(entry.get("Hidden"))
                    or _true(entry.get("NoDisplay")) or not entry.get("Exec") or not entry.get("Name")):
                seen[app_id] = None  # hides the same id further down the path, as the spec says
                continue
            if entry.get("TryExec") and not _exists(entry["TryExec"]):
                seen[app_id] = None
                continue
            name = entry["Name"].strip()
            aliases = []
            bare = re.sub(r"\s*\([^)]*\)", "", name).strip()
            if bare and bare != name:
                aliases.append(bare)
            generic = entry.get("GenericName", "").strip()
            if generic:
                aliases.append(generic)
            try:
                cmd = Path(shlex.split(entry["Exec"])[0]).name
            except (ValueError, IndexError):
                cmd = ""
            if cmd and re.fullmatch(r"[A-Za-z][A-Za-z0-9+_-]{2,}", cmd) and cmd.lower() != name.lower() \
                    and cmd not in ("env", "sh", "bash", "flatpak", "snap", "python3", "java"):
                aliases.append(cmd)
            seen[app_id] = DesktopApp(id=app_id, name=name, exec=entry["Exec"], path=path, generic_name=generic,
                                      terminal=_true(entry.get("Terminal")), aliases=aliases)
    return sorted((a for a in seen.values() if a is not None), key=lambda a: a.name.lower())


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def match(query: str, apps: list[DesktopApp], cutoff: float = 0.75) -> DesktopApp | None:
    """The app whose name (or alias) best matches ``query``: the same letters and digits
    ignoring case, spaces and punctuation first, then the closest name at or above
    ``cutoff`` (difflib ratio), which absorbs small ASR spelling slips."""
    q = _norm(query)
    if not q:
        return None
    table: dict[str, DesktopApp] = {}
    for app in apps:
        for n in app.names():
            table.setdefault(_norm(n), app)
    if q in table:
        return table[q]
    best = difflib.get_close_matches(q, list(table), n=1, cutoff=cutoff)
    return table[best[0]] if best else None


def command_line(app: DesktopApp) -> list[str]:
    """The ``Exec`` line as an argument list, field codes removed.

    Raises:
        ValueError: the line cannot be split (unbalanced quotes).
    """
    line = app.exec.replace("%%", "\0")
    args = [_FIELD_CODES.sub("", a).replace("\0", "%") for a in shlex.split(line)]
    args = [a for a in args if a]
    if app.terminal:
        term = shutil.which("x-terminal-emulator")
        if term:
            args = [term, "-e", *args]
    return args


def launch(app: DesktopApp) -> subprocess.Popen:
    """Start ``app`` detached (own session, no stdin/stdout, in the home folder).

    Raises:
        OSError: the program cannot be started. ValueError: a malformed ``Exec`` line.
    """
    return subprocess.Popen(command_line(app), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=str(Path.home()),
                            close_fds=True)
