"""Audio devices through PortAudio (``sounddevice``): listing, choosing, stream formats.

PortAudio enumerates devices once, when ``sounddevice`` is imported. Call
:func:`reinit_portaudio` after the audio server changed (hot-plug, a PulseAudio started
after import: tests do this) to see the new device list.

``sd`` is the ``sounddevice`` module, or ``None`` when the PortAudio library cannot be
loaded (reading files must still work then); :func:`require_portaudio` turns that into a
:class:`~assistant.errors.DeviceError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import numpy as np

from assistant.errors import DeviceError

try:  # PortAudio is a system library: reading files must work without it.
    import sounddevice as sd

    _SD_ERROR: Optional[str] = None
except OSError as _exc:  # pragma: no cover - depends on the machine
    sd = None  # type: ignore[assignment]
    _SD_ERROR = str(_exc)

log = logging.getLogger(__name__)

#: The hint every device error carries.
DEVICES_HINT = "Run `assistant devices` to list the audio devices and pick one by index or name."


def require_portaudio() -> None:
    """Check that the PortAudio library was loaded.

    Raises:
        DeviceError: PortAudio is not installed (the message says how to install it).
    """
    if sd is None:
        raise DeviceError(
            f"The PortAudio library could not be loaded ({_SD_ERROR}).",
            "Install PortAudio (Debian/Ubuntu: apt install libportaudio2; macOS: brew install portaudio).",
        )


def _restart_portaudio() -> None:
    """Terminate and initialise PortAudio again (it re-enumerates the devices).

    The one place that uses ``sounddevice``'s private ``_terminate``/``_initialize``:
    ``sounddevice`` has no public call for this. Written and tested against
    ``sounddevice==0.5.6`` (the installed version; pyproject.toml asks for ``>=0.5``):
    check these two names when upgrading it.
    """
    sd._terminate()
    sd._initialize()


def reinit_portaudio() -> None:
    """Re-initialise PortAudio so that it enumerates the devices again.

    PortAudio builds its device list once, at initialisation (``sounddevice`` does that at
    import). Call this after a device was plugged in or removed, or after the audio server
    (PulseAudio, PipeWire) changed, e.g. after setting ``PULSE_SERVER``. Streams that are
    still open become invalid: close every :class:`MicrophoneSource` and
    :class:`AudioPlayer` first.

    Raises:
        DeviceError: PortAudio is not installed or cannot be initialised.
    """
    require_portaudio()
    try:
        _restart_portaudio()
    except sd.PortAudioError as exc:
        raise DeviceError(f"PortAudio could not be re-initialised ({exc}).", DEVICES_HINT) from exc


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device.

    Attributes:
        index: PortAudio device index (valid until the next :func:`reinit_portaudio`).
        name: device name as PortAudio reports it.
        hostapi: name of the host API (``"ALSA"``, ``"Windows WASAPI"``, ``"Core Audio"``...).
        max_input_channels: capture channels (0 for an output-only device).
        max_output_channels: playback channels (0 for an input-only device).
        default_samplerate: the device's default sample rate, Hz.
        is_default_input: PortAudio's default input device.
        is_default_output: PortAudio's default output device.
    """

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    def describe(self) -> str:
        """One line for listings: ``"3: USB Mic (ALSA, 1 in / 0 out, 48000 Hz) [default input]"``."""
        marks = [m for m, on in (("default input", self.is_default_input), ("default output", self.is_default_output)) if on]
        tail = f" [{', '.join(marks)}]" if marks else ""
        return (
            f"{self.index}: {self.name} ({self.hostapi}, {self.max_input_channels} in / "
            f"{self.max_output_channels} out, {self.default_samplerate:.0f} Hz){tail}"
        )


def _default_indices() -> tuple[int, int]:
    try:
        din, dout = sd.default.device
    except Exception:  # sounddevice raises various things for an unset default
        return -1, -1
    din = -1 if din is None else int(din)
    dout = -1 if dout is None else int(dout)
    if din < 0 or dout < 0:
        # ``sd.default.device`` is (-1, -1) unless the user set it: ask PortAudio.
        try:
            apis = sd.query_hostapis()
            api0 = apis[0] if apis else {}
            din = din if din >= 0 else int(api0.get("default_input_device", -1))
            dout = dout if dout >= 0 else int(api0.get("default_output_device", -1))
        except Exception:
            pass
        try:
            din = din if din >= 0 else int(sd.query_devices(kind="input")["index"])
        except Exception:
            pass
        try:
            dout = dout if dout >= 0 else int(sd.query_devices(kind="output")["index"])
        except Exception:
            pass
    return din, dout


def list_devices() -> list[DeviceInfo]:
    """List the audio devices PortAudio knows.

    Returns:
        Every device, in PortAudio index order (empty if there are none).

    Raises:
        DeviceError: PortAudio is not installed.
    """
    require_portaudio()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"The audio devices could not be listed ({exc}).", DEVICES_HINT) from exc
    din, dout = _default_indices()
    out = []
    for d in devices:
        idx = int(d["index"])
        api = apis[d["hostapi"]]["name"] if 0 <= d["hostapi"] < len(apis) else str(d["hostapi"])
        out.append(
            DeviceInfo(
                index=idx,
                name=str(d["name"]),
                hostapi=str(api),
                max_input_channels=int(d["max_input_channels"]),
                max_output_channels=int(d["max_output_channels"]),
                default_samplerate=float(d["default_samplerate"]),
                is_default_input=idx == din,
                is_default_output=idx == dout,
            )
        )
    return out


def _channels_key(kind: str) -> str:
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', not {kind!r}")
    return "max_input_channels" if kind == "input" else "max_output_channels"


def find_device(spec: Union[str, int, None], kind: str = "input") -> Optional[int]:
    """Resolve a device setting to a PortAudio index.

    Args:
        spec: ``None``/``""``/``"default"`` for the system default; an ``int`` (or a string
            of digits) for a device index; otherwise a case-insensitive substring of the
            device name (an exact name match wins over a substring match; among several
            substring matches the lowest index is used).
        kind: ``"input"`` (capture) or ``"output"`` (playback); the device must have
            channels of that kind.

    Returns:
        The device index, or ``None`` meaning "the system default" (which exists).

    Raises:
        DeviceError: no device of that kind exists, or none matches ``spec``; the message
            lists the available devices of that kind.
        ValueError: ``kind`` is not ``"input"``/``"output"`` (a programming error).
    """
    key = _channels_key(kind)
    devices = [d for d in list_devices() if getattr(d, key) > 0]
    available = "; ".join(d.describe() for d in devices) or "none"
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "default")):
        din, dout = _default_indices()
        default = din if kind == "input" else dout
        if not devices or default < 0:
            raise DeviceError(
                f"No audio {kind} device was found (available {kind} devices: {available}).",
                f"Connect a {'microphone' if kind == 'input' else 'speaker or headphones'}, check that the sound server is running, then {DEVICES_HINT[0].lower()}{DEVICES_HINT[1:]}",
            )
        return None
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        for d in devices:
            if d.index == index:
                return index
        raise DeviceError(f"There is no audio {kind} device with index {index} (available {kind} devices: {available}).", DEVICES_HINT)
    needle = str(spec).strip().lower()
    exact = [d for d in devices if d.name.lower() == needle]
    if exact:
        return exact[0].index
    partial = [d for d in devices if needle in d.name.lower()]
    if partial:
        if len(partial) > 1:
            log.info("audio %s %r matches %d devices; using %s", kind, spec, len(partial), partial[0].describe())
        return partial[0].index
    raise DeviceError(f"No audio {kind} device matches {str(spec)!r} (available {kind} devices: {available}).", DEVICES_HINT)


def query_device(index: Optional[int], kind: str) -> dict:
    """PortAudio's description of one device (``sounddevice.query_devices``).

    Args:
        index: a device index, or ``None`` for the default device of that kind.
        kind: ``"input"`` or ``"output"``.

    Returns:
        A dict with at least ``name``, ``default_samplerate``, ``max_input_channels``,
        ``max_output_channels``.

    Raises:
        DeviceError: the device cannot be queried.
    """
    try:
        return dict(sd.query_devices(index, kind=kind) if index is None else sd.query_devices(index))
    except (sd.PortAudioError, ValueError) as exc:
        raise DeviceError(f"The audio {kind} device {index if index is not None else '(default)'} cannot be queried ({exc}).", DEVICES_HINT) from exc


def pick_stream_format(index: Optional[int], kind: str, rate: float, max_channels: int) -> tuple[int, int]:
    """Find ``(samplerate, channels)`` the device accepts: its default rate first, then
    48/44.1/16 kHz; mono first, then stereo, then its maximum channel count.

    Args:
        index: a device index, or ``None`` for the default device.
        kind: ``"input"`` (checked with int16 samples) or ``"output"`` (float32).
        rate: the device's default sample rate, Hz.
        max_channels: the device's channel count of that kind.

    Returns:
        ``(samplerate_hz, channels)``.

    Raises:
        DeviceError: the device accepts none of those formats.
    """
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    rates = [int(round(rate))] + [r for r in (48000, 44100, 32000, 22050, 16000) if r != int(round(rate))]
    chans = [c for c in dict.fromkeys((1, 2, max_channels)) if 0 < c <= max(max_channels, 1)]
    last: Exception | None = None
    for r in rates:
        for c in chans:
            try:
                check(device=index, samplerate=r, channels=c, dtype="int16" if kind == "input" else "float32")
                return r, c
            except Exception as exc:  # PortAudioError or ValueError from sounddevice
                last = exc
    raise DeviceError(f"The audio {kind} device {index if index is not None else '(default)'} accepts none of the usual formats ({last}).", DEVICES_HINT)


@dataclass(frozen=True)
class StreamFormat:
    """The device and format a capture or playback stream opens with.

    Attributes:
        index: PortAudio device index, or ``None`` for the system default.
        name: the device's name (``"default"`` if PortAudio gives none).
        rate: sample rate the stream opens at, Hz.
        channels: channel count the stream opens with.
    """

    index: Optional[int]
    name: str
    rate: int
    channels: int


def resolve_stream(device: Union[str, int, None], kind: str) -> StreamFormat:
    """Pick the device for a setting and a format it accepts (its default rate, mono first).

    Args:
        device: ``None`` for the system default, an index, or a name substring
            (see :func:`find_device`).
        kind: ``"input"`` or ``"output"``.

    Returns:
        The :class:`StreamFormat` to open.

    Raises:
        DeviceError: PortAudio is missing, no such device exists, or it accepts no usual format.
    """
    require_portaudio()
    index = find_device(device, kind)
    info = query_device(index, kind)
    rate, channels = pick_stream_format(
        index, kind, float(info.get("default_samplerate") or 48000), int(info.get(_channels_key(kind)) or 1)
    )
    return StreamFormat(index=index, name=str(info.get("name", "default")), rate=rate, channels=channels)


def open_stream(fmt: StreamFormat, kind: str, *, blocksize: int, callback: Callable[..., None],
                finished_callback: Callable[[], None]) -> Any:
    """Open (not start) a callback stream on a resolved device, ``latency="high"``.

    Args:
        fmt: the device and format from :func:`resolve_stream`.
        kind: ``"input"`` (a ``sounddevice.InputStream`` of int16 samples) or ``"output"``
            (a ``sounddevice.OutputStream`` of float32 samples).
        blocksize: frames per callback, at ``fmt.rate``.
        callback: PortAudio's audio callback, called on PortAudio's thread.
        finished_callback: called once the stream stopped or failed.

    Returns:
        The unstarted ``sounddevice`` stream.

    Raises:
        DeviceError: the device cannot be opened with that format.
    """
    stream_class, dtype = (sd.InputStream, "int16") if kind == "input" else (sd.OutputStream, "float32")
    try:
        return stream_class(device=fmt.index, samplerate=fmt.rate, channels=fmt.channels, dtype=dtype, latency="high",
                            blocksize=blocksize, callback=callback, finished_callback=finished_callback)
    except (sd.PortAudioError, ValueError) as exc:
        what = "microphone" if kind == "input" else "speaker"
        raise DeviceError(f"The {what} {fmt.name!r} cannot be opened ({exc}).", DEVICES_HINT) from exc
