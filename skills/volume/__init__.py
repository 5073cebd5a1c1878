"""System volume through ``pactl`` (PulseAudio, or PipeWire with pipewire-pulse):
"turn the volume up", "quieter", "set the volume to 50 percent", "mute", "unmute".

The default sink (``@DEFAULT_SINK@``) is changed. "Louder"/"quieter" move by the ``step``
setting (10 %; "a lot" doubles it); the level never goes above 100 %. Without ``pactl`` or
without a running sound server the skill says so instead of failing.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from text_to_num import alpha2digit

from assistant.skills import ActionContext, Skill

skill = Skill.from_package(__name__)

SINK = "@DEFAULT_SINK@"
_UP = re.compile(r"\b(up|louder|raise|increase|higher|more|boost|too quiet|too soft|too low|can't hear|cannot hear|"
                 r"speak up|turn it up)\b")
_DOWN = re.compile(r"\b(down|quieter|lower|decrease|reduce|softer|less|too loud|too high|turn it down)\b")


def direction(text: str, step: int = 10) -> tuple[str, int]:
    """What a volume request asks for.

    Returns:
        ``("set", percent)`` for "to 40 percent" / "40%" / "volume 40", ``("down", step)``
        for "quieter", "too loud", ``("up", step)`` otherwise (Whisper's variants are
        accepted: "forty-percent", "40 %", "per cent", "two forty" for "to forty"); "a lot" / "much" doubles
        the step, "a bit" / "a little" halves it.
    """
    t = alpha2digit((text or "").lower().replace("-", " "), "en")
    t = re.sub(r"\b(?:2|too)\s+(?=\d)", "to ", t)  # Whisper's "two forty" / "too 40" for "to 40"
    t = re.sub(r"(\d)\s*(?:pc|pct)\b", r"\1 %", t)
    m = re.search(r"(\d{1,3})\s*(?:%|percent|per cent)", t) or re.search(r"\b(?:to|at|volume)\s+(\d{1,3})\b", t)
    if m:
        return "set", max(0, min(100, int(m.group(1))))
    if re.search(r"\b(a lot|much|way)\b", t):
        step *= 2
    elif re.search(r"\b(a bit|a little|slightly|a touch)\b", t):
        step = max(1, step // 2)
    if re.search(r"\btoo (loud|high)\b", t):
        return "down", step
    if _DOWN.search(t) and not re.search(r"\btoo (quiet|soft|low)\b", t):
        return "down", step
    return "up", step


class VolumeError(Exception):
    """pactl is missing or no sound server answers; ``str()`` is what to say."""


def pactl(*args: str) -> str:
    """Run ``pactl ARGS`` and return its output.

    Raises:
        VolumeError: pactl is not installed, or the sound server is not running.
    """
    exe = shutil.which("pactl")
    if exe is None:
        raise VolumeError("I can't change the volume: pactl is not installed.")
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VolumeError(f"I can't change the volume: pactl failed ({exc}).") from None
    if proc.returncode != 0:
        raise VolumeError("I can't change the volume: no PulseAudio or PipeWire sound server is running.")
    return proc.stdout


def get_volume() -> int:
    """The default sink's volume in percent (the first channel)."""
    m = re.search(r"(\d+)%", pactl("get-sink-volume", SINK))
    if not m:
        raise VolumeError("I can't read the volume.")
    return int(m.group(1))


def set_volume(percent: int) -> int:
    """Set the default sink to ``percent`` (0–100) and return the level read back."""
    pactl("set-sink-volume", SINK, f"{max(0, min(100, int(percent)))}%")
    return get_volume()


def is_muted() -> bool:
    """True if the default sink is muted."""
    return "yes" in pactl("get-sink-mute", SINK).lower()


@skill.action("change_volume")
def change_volume(ctx: ActionContext) -> None:
    """Louder, quieter, or a level."""
    kind, amount = direction(ctx.text, ctx.settings["step"])
    try:
        if kind == "set":
            new = set_volume(amount)
        else:
            current = get_volume()
            new = set_volume(current + amount if kind == "up" else current - amount)
        if is_muted() and kind != "down":
            pactl("set-sink-mute", SINK, "0")
    except VolumeError as exc:
        ctx.say(str(exc))
        return
    ctx.say(f"Volume {new} percent.")


@skill.action("mute")
def mute(ctx: ActionContext) -> None:
    """Mute, or unmute when the request says so ("unmute", "sound back on", "sound on")."""
    unmute = bool(re.search(r"\bun-?mute\b|\bback on\b|\bsound on\b|\baudio on\b", ctx.text.lower()))
    try:
        pactl("set-sink-mute", SINK, "0" if unmute else "1")
    except VolumeError as exc:
        ctx.say(str(exc))
        return
    ctx.say("Sound is back on." if unmute else "Muted.")
