"""The ``assistant`` command.

::

    assistant run [--push-to-talk] [--device MIC] [--output-device SPK]     live microphone
    assistant run --input FILE [--input FILE2 ...] [--output reply.wav] [--trace t.json]
    assistant ask "what time is it" [--output reply.wav]                   typed request
    assistant transcribe FILE [--model base|tiny.en|DIR]
    assistant say TEXT [--output f.wav] [--voice joe|VOICE.onnx] [--speed 1.0]
    assistant devices
    assistant models [--verify]

User mistakes (unreadable file, missing model, no microphone, no Python 3.10 for Rasa) print
one ``error:`` line and one ``hint:`` line and exit with status 2; nothing prints a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # backstop: nothing is ever downloaded
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from assistant.errors import AssistantError  # noqa: E402
from assistant.settings import Settings, load_settings  # noqa: E402


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _settings(args) -> Settings:
    settings, notice = load_settings()
    if notice:
        _err(f"warning: {notice}")
    if getattr(args, "asr_model", None):
        settings.asr.model = args.asr_model
    if getattr(args, "voice", None):
        settings.tts.voice = args.voice
    if getattr(args, "speed", None):
        settings.tts.speed = args.speed
    if getattr(args, "wake_model", None):
        settings.wake.model = args.wake_model
    if getattr(args, "device", None) is not None:
        settings.audio.input_device = args.device
    if getattr(args, "output_device", None) is not None:
        settings.audio.output_device = args.output_device
    if getattr(args, "end_silence_ms", None):
        settings.vad.end_silence_ms = args.end_silence_ms
    return settings


def _print_events(bus, verbose: bool) -> None:
    """Print progress, partial transcripts and notices as they happen (stderr)."""
    from assistant.events import Notice, PartialTranscript, Progress, WakeWordDetected

    def on(ev) -> None:
        if isinstance(ev, Notice):
            _err(f"{ev.level}: {ev.message}" + (f"\nhint: {ev.hint}" if ev.hint else ""))
        elif isinstance(ev, Progress) and verbose:
            _err(f"[{ev.task}] {ev.message}")
        elif isinstance(ev, WakeWordDetected):
            _err(f"(wake word '{ev.model}' {ev.score:.2f})")
        elif isinstance(ev, PartialTranscript) and verbose:
            _err(f"… {ev.text}")

    bus.subscribe(on, Notice, Progress, PartialTranscript, WakeWordDetected)


def cmd_run(args) -> int:
    from assistant.audio import BufferSink, MicrophoneSource, read_audio
    from assistant.events import EventBus
    from assistant.pipeline import Assistant, iter_results

    settings = _settings(args)
    files = [Path(f) for f in (args.input or [])]
    for f in files:  # fail fast, before loading models, on unreadable input
        read_audio(f)
    sink = BufferSink() if (files or args.output) else None
    bus = EventBus()
    _print_events(bus, args.verbose)
    wake = not args.push_to_talk
    app = Assistant(settings, bus, sink=sink, use_wake_word=wake)
    try:
        app.start()
        results = []
        if files:
            for f in files:
                got = app.process_file(f, push_to_talk=args.push_to_talk or app.state.value == "listening")
                if not got and wake and not app._listen_request:
                    _err(f"No wake word ('{settings.wake.model}') heard in {f}. "
                         "Use --push-to-talk to treat the recording as a command.")
                results.extend(got)
        else:
            print(f"Listening. Say '{settings.wake.model.replace('_', ' ')}'" if wake else "Listening (push-to-talk).",
                  "Ctrl+C to quit.", flush=True)
            stop = threading.Event()
            source = MicrophoneSource(settings.audio.input_device, block_ms=settings.audio.block_ms,
                                      gain_db=settings.audio.input_gain_db)

            def show(r) -> None:
                print("\n".join(iter_results([r])), flush=True)
                if args.once:
                    stop.set()

            app.on_result = show
            try:
                results = app.run(source, push_to_talk=args.push_to_talk, stop_event=stop,
                                  max_interactions=args.max_interactions)
            except KeyboardInterrupt:
                results = list(app.results)
            finally:
                source.close()
        if files:
            for line in iter_results(results):
                print(line, flush=True)
        if args.output and sink is not None:
            sink.to_wav(args.output)
            print(f"reply audio: {args.output}", flush=True)
        if args.trace:
            last = next((r.trace for r in reversed(results) if r.trace is not None), None)
            if last is not None:
                trace_path = Path(args.trace)
                last.write(trace_path, chrome=False)
                last.write(trace_path.with_name(trace_path.stem + ".chrome.json"), chrome=True)
                print(f"trace: {trace_path} (+ {trace_path.stem}.chrome.json)", flush=True)
        if files and not results:
            return 1
        return 0 if all(not r.error for r in results) else 1
    finally:
        app.close()


def cmd_ask(args) -> int:
    from assistant.audio import BufferSink
    from assistant.events import EventBus
    from assistant.pipeline import Assistant, iter_results

    settings = _settings(args)
    sink = BufferSink() if args.output else None
    bus = EventBus()
    _print_events(bus, args.verbose)
    app = Assistant(settings, bus, sink=sink, use_wake_word=False)
    try:
        app.start()
        results = [app.handle_text(t) for t in args.text]
        for line in iter_results(results):
            print(line, flush=True)
        if args.output and sink is not None:
            sink.to_wav(args.output)
        return 0 if all(not r.error for r in results) else 1
    finally:
        app.close()


def cmd_transcribe(args) -> int:
    from assistant.asr import WhisperASR
    from assistant.audio import read_audio

    audio = read_audio(args.file)
    settings = _settings(args)
    asr = WhisperASR(args.model or settings.asr.model, compute_type=settings.asr.compute_type,
                     beam_size=args.beam_size or settings.asr.beam_size, language=settings.asr.language)
    result = asr.transcribe(audio)
    print(result.text, flush=True)
    if args.verbose:
        _err(f"{result.audio_seconds:.2f} s of audio decoded in {result.decode_ms:.0f} ms "
             f"(RTF {result.decode_ms / 1000 / max(result.audio_seconds, 1e-9):.3f})")
    return 0


def cmd_say(args) -> int:
    from assistant.audio import AudioPlayer, write_wav
    from assistant.tts import PiperTTS

    settings = _settings(args)
    tts = PiperTTS(settings.tts.voice, speed=settings.tts.speed, volume=settings.tts.volume)
    text = " ".join(args.text)
    if args.output:
        write_wav(args.output, tts.synthesize(text), tts.sample_rate)
        print(args.output, flush=True)
        return 0
    player = AudioPlayer(settings.audio.output_device)
    try:
        player.start(tts.sample_rate)
        for chunk in tts.stream(text):
            player.write(chunk)
        player.drain()
    finally:
        player.close()
    return 0


def cmd_devices(args) -> int:
    from assistant.audio import list_devices

    devices = list_devices()
    if not devices:
        _err("No audio devices found. Check that PulseAudio/PipeWire is running and libportaudio2 is installed.")
        return 2
    for d in devices:
        marks = ("*in " if d.is_default_input else "") + ("*out" if d.is_default_output else "")
        print(f"{d.index:3d}  in:{d.max_input_channels:<2d} out:{d.max_output_channels:<2d} "
              f"{d.default_samplerate:>7.0f} Hz  {d.name} ({d.hostapi}) {marks}".rstrip(), flush=True)
    return 0


def cmd_models(args) -> int:
    from models import registry

    rows = [("asr", n, m) for n, m in registry.ASR_MODELS.items()]
    rows += [("wake", n, m) for n, m in registry.WAKE_MODELS.items()]
    rows += [("vad", n, m) for n, m in registry.VAD_MODELS.items()]
    rows += [("tts", n, m) for n, m in registry.TTS_VOICES.items()]
    for role, name, model in rows:
        status = ""
        if args.verify:
            if role == "asr":
                status = str(registry.resolve_asr_model(name))
            elif role == "wake":
                status = str(registry.resolve_wake_model(name))
            elif role == "vad":
                status = str(registry.resolve_vad_model(name))
            else:
                status = str(registry.resolve_tts_voice(name)[0])
        print(f"{role:5s} {name:12s} {model.pip:60s} {model.licence}  {status}".rstrip(), flush=True)
    if args.verify:
        registry.resolve_wake_features()
        print("all model checksums verified", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``assistant`` command."""
    p = argparse.ArgumentParser(prog="assistant", description="Offline voice assistant")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress and partial transcripts")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--asr-model", help="base, tiny.en or a CTranslate2 Whisper folder")
        sp.add_argument("--voice", help="joe or a Piper .onnx voice")
        sp.add_argument("--speed", type=float, help="speech speed (1.0 = normal)")
        sp.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

    r = sub.add_parser("run", help="run the assistant on the microphone or on recordings")
    common(r)
    r.add_argument("--input", action="append", metavar="FILE", help="process a recording instead of the microphone (repeatable: one conversation)")
    r.add_argument("--output", metavar="WAV", help="write the spoken replies to a WAV file")
    r.add_argument("--trace", metavar="JSON", help="write the last interaction's trace (and .chrome.json)")
    r.add_argument("--push-to-talk", action="store_true", help="no wake word: listen at once")
    r.add_argument("--device", help="input device index or name (see 'assistant devices')")
    r.add_argument("--output-device", help="output device index or name")
    r.add_argument("--wake-model", help="hey_jarvis, alexa, hey_mycroft, hey_rhasspy, okay_nabu or a .tflite file")
    r.add_argument("--end-silence-ms", type=int, help="silence that ends an utterance (ms)")
    r.add_argument("--once", action="store_true", help="live: exit after the first interaction")
    r.add_argument("--max-interactions", type=int, help="live: exit after N interactions")
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("ask", help="send a typed request and speak the answer")
    common(a)
    a.add_argument("text", nargs="+", help="one request per argument (one conversation)")
    a.add_argument("--output", metavar="WAV")
    a.set_defaults(func=cmd_ask)

    t = sub.add_parser("transcribe", help="transcribe a recording")
    t.add_argument("file")
    t.add_argument("--model", help="base, tiny.en or a CTranslate2 Whisper folder")
    t.add_argument("--beam-size", type=int)
    t.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    t.set_defaults(func=cmd_transcribe)

    s = sub.add_parser("say", help="speak text with the Piper voice")
    common(s)
    s.add_argument("text", nargs="+")
    s.add_argument("--output", metavar="WAV")
    s.set_defaults(func=cmd_say)

    d = sub.add_parser("devices", help="list audio devices")
    d.set_defaults(func=cmd_devices)

    m = sub.add_parser("models", help="list shipped models")
    m.add_argument("--verify", action="store_true", help="verify checksums (joins Whisper base into the cache)")
    m.set_defaults(func=cmd_models)
    __import__("assistant.skill_cli", fromlist=["register"]).register(sub)  # assistant skill ... (skills issue)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``assistant`` console script. Returns the exit status."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except AssistantError as exc:
        if debug:
            raise
        _err(f"error: {exc.message}")
        if exc.hint:
            _err(f"hint: {exc.hint}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
