"""Audio I/O: devices, file decoding, resampling, capture sources and playback sinks.

Conventions (docs/architecture.md): inside the engine audio is **16 kHz mono int16**
(``np.ndarray`` of dtype ``int16``, shape ``(n,)``) in equal blocks of ``block_ms``
milliseconds (80 ms = 1280 samples by default, the openWakeWord frame). Float audio, where
a model wants it, is float32 in [-1, 1) obtained as ``x.astype(np.float32) / 32768``.

One module per job:

* :mod:`assistant.audio.devices`: PortAudio (``sounddevice``) devices: listing, choosing,
  stream formats, :func:`reinit_portaudio` after the audio server changed.
* :mod:`assistant.audio.decode`: levels, resampling (libsoxr), decoding recordings
  (libsndfile, then FFmpeg through PyAV) and writing WAV files.
* :mod:`assistant.audio.sources`: the :class:`AudioSource` protocol, :class:`MicrophoneSource`
  and :class:`FileSource`.
* :mod:`assistant.audio.playback`: the :class:`AudioSink` protocol, :class:`AudioPlayer`
  (speakers), :class:`BufferSink` and :class:`NullSink`.

Every name is re-exported here, so ``from assistant.audio import read_audio`` keeps working.
"""

from assistant.audio.decode import (
    MAX_STDIN_BYTES,
    SAMPLE_RATE,
    PathLike,
    dbfs,
    float_to_int16,
    normalize_level,
    peak_dbfs,
    read_audio,
    resample,
    write_wav,
)
from assistant.audio.devices import (
    DEVICES_HINT,
    DeviceInfo,
    StreamFormat,
    find_device,
    list_devices,
    open_stream,
    pick_stream_format,
    query_device,
    reinit_portaudio,
    require_portaudio,
    resolve_stream,
)
from assistant.audio.playback import AudioPlayer, AudioSink, BufferSink, NullSink
from assistant.audio.sources import AudioSource, FileSource, MicrophoneSource, recording_padding_s

__all__ = [
    "AudioPlayer",
    "AudioSink",
    "AudioSource",
    "BufferSink",
    "DEVICES_HINT",
    "DeviceInfo",
    "FileSource",
    "MAX_STDIN_BYTES",
    "MicrophoneSource",
    "NullSink",
    "PathLike",
    "SAMPLE_RATE",
    "StreamFormat",
    "dbfs",
    "find_device",
    "float_to_int16",
    "list_devices",
    "normalize_level",
    "open_stream",
    "peak_dbfs",
    "pick_stream_format",
    "query_device",
    "read_audio",
    "recording_padding_s",
    "reinit_portaudio",
    "require_portaudio",
    "resample",
    "resolve_stream",
    "write_wav",
]
