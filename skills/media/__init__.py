"""Media control over MPRIS D-Bus: play, pause, next, previous and the player's volume.

Every Linux media player (VLC, Rhythmbox, Spotify, Firefox, Chromium, mpv with mpv-mpris …)
publishes ``org.mpris.MediaPlayer2.<name>`` on the session bus with the interface
``org.mpris.MediaPlayer2.Player`` at ``/org/mpris/MediaPlayer2``. This skill talks to it
with ``jeepney`` (pure Python D-Bus). With several players it picks the one playing, else a
paused one, else the first. With no session bus or no player it says "No media player is
running."
"""

from __future__ import annotations

import os
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator

from assistant.skills import ActionContext, Skill
from skills.volume import direction

skill = Skill.from_package(__name__)

MPRIS_PREFIX = "org.mpris.MediaPlayer2."
MPRIS_PATH = "/org/mpris/MediaPlayer2"
PLAYER_IFACE = "org.mpris.MediaPlayer2.Player"
NO_PLAYER = "No media player is running."
TIMEOUT_S = 2.0


class NoPlayer(Exception):
    """No session bus, or no MPRIS player on it."""


def session_bus_address() -> str | None:
    """``$DBUS_SESSION_BUS_ADDRESS``, or systemd's ``$XDG_RUNTIME_DIR/bus`` if it exists."""
    addr = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if addr:
        return addr
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime, "bus").exists():
        return f"unix:path={runtime}/bus"
    return None


def _connect():
    from jeepney.io.blocking import open_dbus_connection

    addr = session_bus_address()
    if not addr:
        raise NoPlayer("no session bus")
    try:
        return open_dbus_connection(addr, auth_timeout=TIMEOUT_S)
    except (OSError, ValueError, Exception) as exc:  # refused, stale socket, auth failure
        raise NoPlayer(f"cannot connect to the session bus: {exc}") from None


def _call(conn, msg):
    from jeepney.wrappers import unwrap_msg

    return unwrap_msg(conn.send_and_get_reply(msg, timeout=TIMEOUT_S))


def _player(name: str):
    from jeepney import DBusAddress

    return DBusAddress(MPRIS_PATH, bus_name=name, interface=PLAYER_IFACE)


def _status(conn, name: str) -> str:
    """The ``PlaybackStatus`` of player ``name`` ("Playing", "Paused", "Stopped"), or ""
    when it does not answer."""
    from jeepney import Properties

    try:
        return _call(conn, Properties(_player(name)).get("PlaybackStatus"))[0][1]
    except Exception:
        return ""


def players(conn) -> list[str]:
    """Bus names of the MPRIS players on ``conn``, best first (playing, paused, others,
    players that do not answer last)."""
    from jeepney.bus_messages import message_bus

    names = [n for n in _call(conn, message_bus.ListNames())[0] if n.startswith(MPRIS_PREFIX)]
    rank = {"Playing": 0, "Paused": 1, "": 3}
    return sorted(names, key=lambda n: (rank.get(_status(conn, n), 2), n))


@contextmanager
def _players() -> Iterator[tuple[Any, list[str]]]:
    """The open session bus connection and its players, best first (closed afterwards).

    Raises:
        NoPlayer: no bus or no player.
    """
    with closing(_connect()) as conn:
        found = players(conn)
        if not found:
            raise NoPlayer("no MPRIS player on the bus")
        yield conn, found


def control(method: str, *, prefer_paused: bool = False) -> str:
    """Call ``method`` (``Play``, ``Pause``, ``Next``, ``Previous``) on the best player.

    Returns:
        The player's name (``vlc`` for ``org.mpris.MediaPlayer2.vlc``).

    Raises:
        NoPlayer: no bus or no player.
    """
    from jeepney import new_method_call

    with _players() as (conn, found):
        name = found[0]
        if prefer_paused:
            name = next((n for n in found if _status(conn, n) == "Paused"), name)
        _call(conn, new_method_call(_player(name), method))
        return name[len(MPRIS_PREFIX):]


def change_volume(text: str) -> int:
    """Apply "louder" / "quieter" / "to 40 percent" to the best player's ``Volume``.

    Returns:
        The new volume in percent.

    Raises:
        NoPlayer: no bus or no player.
    """
    from jeepney import Properties

    with _players() as (conn, found):
        props = Properties(_player(found[0]))
        current = float(_call(conn, props.get("Volume"))[0][1])
        kind, amount = direction(text)
        if kind == "set":
            new = amount / 100
        elif kind == "down":
            new = current - amount / 100
        else:
            new = current + amount / 100
        new = min(1.0, max(0.0, new))
        _call(conn, props.set("Volume", "d", new))
        return round(new * 100)


def _do(ctx: ActionContext, method: str, done: str, **kw) -> None:
    try:
        control(method, **kw)
    except NoPlayer:
        ctx.say(NO_PLAYER)
        return
    if done:
        ctx.say(done)


@skill.action("play")
def play(ctx: ActionContext) -> None:
    """Resume playback (a paused player first)."""
    _do(ctx, "Play", "Playing.", prefer_paused=True)


@skill.action("pause")
def pause(ctx: ActionContext) -> None:
    """Pause playback."""
    _do(ctx, "Pause", "Paused.")


@skill.action("next_track")
def next_track(ctx: ActionContext) -> None:
    """Skip to the next track."""
    _do(ctx, "Next", "Next track.")


@skill.action("previous_track")
def previous_track(ctx: ActionContext) -> None:
    """Go back to the previous track."""
    _do(ctx, "Previous", "Previous track.")


@skill.action("player_volume")
def player_volume(ctx: ActionContext) -> None:
    """Set the player's own volume (MPRIS ``Volume``), not the system's."""
    try:
        percent = change_volume(ctx.text)
    except NoPlayer:
        ctx.say(NO_PLAYER)
        return
    ctx.say(f"Music volume {percent} percent.")


