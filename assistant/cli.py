"""The ``assistant`` command.

::

    assistant run [--push-to-talk] [--device MIC] [--output-device SPK]     live microphone
    assistant run --input FILE [--input FILE2 ...] [--output reply.wav] [--trace t.json]
    assistant ask "what time is it" [--output reply.wav] [--wait]          typed request
    assistant transcribe FILE... [--format txt|srt|vtt|json] [--output PATH|-] [--language en]
    assistant say TEXT [--output f.wav] [--voice joe|VOICE.onnx] [--speed 1.0]
    assistant devices
    assistant models [--verify]

User mistakes (unreadable file, missing model, no microphone, no Python 3.10 for Rasa) print
one ``error:`` line and one ``hint:`` line and exit with status 2; nothing prints a traceback
unless ``--debug`` is given, not even for a bug (an ``error: internal error`` line, a hint
to run again with ``--debug``, status 70) or for one logged by a worker thread. The exit
statuses are listed in :data:`EXIT_CODES` (and in ``assistant --help``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Iterable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # backstop: nothing is ever downloaded
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from assistant.errors import AssistantError  # noqa: E402
from assistant.settings import Settings, load_settings  # noqa: E402


#: Exit statuses of every ``assistant`` command (shown by ``assistant --help``).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING_HEARD, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 70, 130
EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_FAILED: "a request failed (the error is printed with its turn)",
    EXIT_USAGE: "bad input: wrong option or value, unreadable file, missing model or device, no Rasa Python",
    EXIT_NOTHING_HEARD: "nothing heard: no speech (or no wake word) in the recording",
    EXIT_INTERNAL: "internal error (a bug): run again with --debug for the traceback",
    EXIT_INTERRUPTED: "interrupted (Ctrl+C)",
}
#: A recording shorter than this cannot hold a spoken command (s).
MIN_COMMAND_S = 0.3
DEBUG_HINT = "hint: run the same command with --debug to see the details (traceback)."


def latency_line(result) -> str:
    """The CLI's one-line latency summary for a turn."""
    return result.trace.summary() if result.trace is not None else "no trace"


def iter_results(results: Iterable) -> Iterable[str]:
    """Human-readable lines for each turn (transcript, intent, entities, reply, latency)."""
    for r in results:
        yield f"transcript: {r.transcript}"
        if r.intent:
            ents = ", ".join(f"{e.get('entity')}={e.get('value')!r}" for e in r.entities) or "none"
            yield f"intent:     {r.intent} ({r.confidence:.2f})  entities: {ents}"
        yield f"reply:      {r.reply}"
        if r.error:
            yield f"error:      {r.error}"
        yield f"latency:    {latency_line(r)}"


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class _UserLogFormatter(logging.Formatter):
    """Log lines for users (no ``--debug``): the message only, never a traceback; a record
    that carried one says how to see it."""

    def format(self, record: logging.LogRecord) -> str:
        had_details = bool(record.exc_info or record.exc_text or record.stack_info)
        record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(record) + (" (run with --debug for details)" if had_details else "")


def _one_line_thread_errors(args) -> None:  # threading.excepthook without --debug
    if issubclass(args.exc_type, SystemExit):
        return
    name = getattr(args.thread, "name", "?")
    _err(f"error: internal error in thread {name!r}: {args.exc_type.__name__}: {args.exc_value}")
    _err(DEBUG_HINT)


def _set_option(section, field: str, value, flag: str) -> None:
    """Assign a command-line override to a settings section, turning pydantic's
    validation error into a one-line :class:`~assistant.errors.SettingsError` naming the
    option and its allowed range (from the field's ``ge``/``gt``/``le``/``lt`` constraints)."""
    from pydantic import ValidationError

    from assistant.errors import SettingsError

    try:
        setattr(section, field, value)
    except ValidationError as exc:
        info = type(section).model_fields[field]
        bounds = {}
        for m in info.metadata:
            for k in ("ge", "gt", "le", "lt"):
                if getattr(m, k, None) is not None:
                    bounds[k] = getattr(m, k)
        lo = bounds.get("ge", bounds.get("gt"))
        hi = bounds.get("le", bounds.get("lt"))
        if lo is not None and hi is not None:
            allowed = f"it must be from {lo:g} to {hi:g}"
        else:
            allowed = exc.errors()[0].get("msg", "invalid value").rstrip(".").lower()
        raise SettingsError(f"{flag} {value!r} is out of range: {allowed}.",
                            f"Run again with a value {'from %g to %g' % (lo, hi) if lo is not None and hi is not None else 'that fits'}.") from None


def _nothing_heard(path: Path, name: str | None = None, *, wake_model: str | None = None) -> str:
    """The one line for a recording in which nothing was heard (``name``: how to call it)."""
    from assistant.audio import read_audio

    seconds = len(read_audio(path)) / 16000
    path = name or path
    if seconds < MIN_COMMAND_S:
        return (f"Nothing was said in {path}: it is only {seconds:.2f} s long, too short for a command "
                f"(at least {MIN_COMMAND_S:g} s).")
    if wake_model:
        return (f"No wake word ('{wake_model}') heard in {path}. "
                "Use --push-to-talk to treat the recording as a command.")
    return f"No speech heard in {path}."


def _heard(r) -> bool:
    """False for an interaction that ended because nothing was said (endpointer timeout)."""
    return bool(r.transcript or r.reply or r.error)


def _settings(args) -> Settings:
    settings, notice = load_settings()
    for line in (notice or "").splitlines():  # one line per bad key / unknown key
        _err(f"warning: {line}")
    if getattr(args, "asr_model", None):
        settings.asr.model = args.asr_model
    if getattr(args, "voice", None):
        settings.tts.voice = args.voice
    if getattr(args, "speed", None) is not None:
        _set_option(settings.tts, "speed", args.speed, "--speed")
    if getattr(args, "wake_model", None):
        settings.wake.model = args.wake_model
    if getattr(args, "device", None) is not None:
        settings.audio.input_device = args.device
    if getattr(args, "output_device", None) is not None:
        settings.audio.output_device = args.output_device
    if getattr(args, "end_silence_ms", None) is not None:
        _set_option(settings.vad, "end_silence_ms", args.end_silence_ms, "--end-silence-ms")
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
    from assistant.events import EventBus, TurnFinished
    from assistant.pipeline import Assistant

    settings = _settings(args)
    files = [Path(f) for f in (args.input or [])]
    stdin_copy = None
    shown: dict[Path, str] = {}  # how a file is named in messages
    for i, f in enumerate(files):  # fail fast, before loading models, on unreadable input
        audio = read_audio(f)
        if str(f) == "-":  # standard input can be read once: keep a copy for the pipeline
            import tempfile

            from assistant.audio import write_wav

            stdin_copy = tempfile.TemporaryDirectory(prefix="assistant-stdin-")
            files[i] = write_wav(Path(stdin_copy.name) / "stdin.wav", audio, 16000)
            shown[files[i]] = "standard input"
    source = None
    if not files:  # no microphone: say so before seconds of model loading
        source = MicrophoneSource(settings.audio.input_device, block_ms=settings.audio.block_ms,
                                  gain_db=settings.audio.input_gain_db)
    sink = BufferSink() if (files or args.output) else None
    bus = EventBus()
    _print_events(bus, args.verbose)
    wake = not args.push_to_talk
    app = Assistant(settings, bus, sink=sink, use_wake_word=wake)
    nothing_heard = []
    try:
        app.start()
        results = []
        if files:
            for f in files:
                got = app.process_file(f, push_to_talk=args.push_to_talk or app.state.value == "listening")
                heard = [r for r in got if _heard(r)]  # not the endpointer's "nothing said" timeouts
                if not heard:
                    nothing_heard.append(f)
                    # listened: a wake word was heard (or an answer was awaited), then nothing said
                    listened = bool(got) or app.awaiting_answer
                    _err(_nothing_heard(f, shown.get(f), wake_model=None if args.push_to_talk or not wake or listened
                                        else settings.wake.model))
                results.extend(heard)
        else:
            print(f"Listening. Say '{settings.wake.model.replace('_', ' ')}'" if wake else "Listening (push-to-talk).",
                  "Ctrl+C to quit.", flush=True)
            stop = threading.Event()

            def show(r) -> None:
                if _heard(r):
                    print("\n".join(iter_results([r])), flush=True)
                else:
                    _err("(nothing heard)")
                if args.once:
                    stop.set()

            app.bus.subscribe(lambda ev: show(ev.result), TurnFinished)
            try:
                results = app.run(source, push_to_talk=args.push_to_talk, stop_event=stop,
                                  max_interactions=args.max_interactions)
            except KeyboardInterrupt:
                results = list(app.results)
            finally:
                source.close()
                source = None
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
        if any(r.error for r in results):
            return EXIT_FAILED
        if files and (nothing_heard or not results) or not files and results and not any(map(_heard, results)):
            return EXIT_NOTHING_HEARD
        return EXIT_OK
    finally:
        if source is not None:
            source.close()
        app.close()
        if stdin_copy is not None:
            stdin_copy.cleanup()


def cmd_dictate(args) -> int:
    """``assistant dictate``: type what is said into the focused window (or append it to
    ``--to-file``) until "stop dictation", the silence limit, Ctrl+C or the end of
    ``--input`` (a recording, paced as a microphone). Exit 0, or 1 when dictation could not
    start (the message says why)."""
    from assistant.audio import BufferSink, FileSource, MicrophoneSource
    from assistant.dictation.typing import FileTypist, TypingError, choose_typist
    from assistant.events import DictationHeard, DictationStopped, EventBus
    from assistant.pipeline import Assistant

    settings = _settings(args)
    if args.typing:
        settings.dictation.typing = args.typing
    try:
        typist = FileTypist(args.to_file) if args.to_file else choose_typist(settings.dictation.typing)
    except TypingError as exc:
        _err(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""))
        return EXIT_FAILED
    if args.input:
        source = FileSource.for_recording(args.input, block_ms=settings.audio.block_ms,
                                          end_silence_ms=int(settings.dictation.pause_s * 1000) + 500, realtime=True,
                                          normalize=settings.audio.normalize_recordings)
    else:
        source = MicrophoneSource(settings.audio.input_device, block_ms=settings.audio.block_ms,
                                  gain_db=settings.audio.input_gain_db)
    bus = EventBus()
    _print_events(bus, args.verbose)
    stopped = threading.Event()
    bus.subscribe(lambda ev: stopped.set(), DictationStopped)
    if args.verbose:  # the unstable tail, as the overlay shows it (stderr; nothing is logged)
        bus.subscribe(lambda ev: ev.tail and _err(f"… {ev.tail}"), DictationHeard)
    app = Assistant(settings, bus, sink=BufferSink(), use_wake_word=False)
    try:
        app.start(nlu=False)
        if not app.dictation.start("cli", typist=typist):
            return EXIT_FAILED
        _err(f"Dictating with {typist.name}. Say 'stop dictation' or press Ctrl+C.")
        try:
            app.run(source, stop_event=stopped)
        except KeyboardInterrupt:
            pass
        app.dictation.stop("user")
        return EXIT_OK
    finally:
        source.close()
        app.close()


def cmd_ask(args) -> int:
    from assistant.audio import BufferSink
    from assistant.events import EventBus
    from assistant.pipeline import Assistant

    settings = _settings(args)
    sink = BufferSink() if args.output else None
    bus = EventBus()
    _print_events(bus, args.verbose)
    app = Assistant(settings, bus, sink=sink, use_wake_word=False)
    try:
        app.start()
        before = {h.id for h in app.host.pending()} if app.host is not None else set()
        results = [app.handle_text(t) for t in args.text]
        for line in iter_results(results):
            print(line, flush=True)
        # Timers and reminders set by these requests live in this process, which is about to end.
        scheduled = [h for h in app.host.pending() if h.id not in before] if app.host is not None else []
        if scheduled and args.wait:
            _wait_for_scheduled(app, scheduled)
        elif scheduled:
            for h in scheduled:
                _err(_scheduled_note(h))
        if args.output and sink is not None:
            sink.to_wav(args.output)
        return EXIT_OK if all(not r.error for r in results) else EXIT_FAILED
    finally:
        app.close()


def _describe_scheduled(h) -> str:
    what = f"the {h.skill_id or 'scheduled announcement'}" + (f" '{h.label}'" if h.label else "")
    due = time.strftime("%H:%M:%S", time.localtime(h.wall_due))
    return f"{what} due at {due} (in {_duration(h.remaining())})"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _scheduled_note(h) -> str:
    """The line ``ask`` prints, when it ends, for a timer/reminder its requests scheduled.

    A handle whose ``data`` has an ``"id"`` is one a skill saved to disk (reminders,
    alarms: restored when the assistant starts again); the others (timers) exist only in
    this process."""
    if "id" in (h.data or {}):
        return (f"note: {_describe_scheduled(h)} is saved, but this command ends now: it will be "
                "announced only if the assistant is running then ('assistant run' or the app).")
    return (f"note: {_describe_scheduled(h)} will not go off: it runs inside this command, which ends now. "
            "Add --wait to wait for it, or set it in 'assistant run' or the app.")


def _wait_for_scheduled(app, handles) -> None:
    """``ask --wait``: stay until every handle has fired and its announcement was spoken,
    printing each announcement's reply as it comes."""
    from assistant.events import TurnFinished

    seen = []

    def show(ev: TurnFinished) -> None:
        seen.append(ev.result)
        print("\n".join(iter_results([ev.result])), flush=True)

    app.bus.subscribe(show, TurnFinished)
    last = max(handles, key=lambda h: h.due)
    _err(f"Waiting {_duration(last.remaining())} for {len(handles)} scheduled announcement(s) (Ctrl+C to stop).")
    while any(h.pending for h in handles):
        time.sleep(0.1)
    deadline = time.monotonic() + 5.0  # the callbacks run on the scheduler thread; let them publish
    while len(seen) < sum(1 for h in handles if h.fired) and time.monotonic() < deadline:
        time.sleep(0.05)
    app.wait_idle(120.0)


def cmd_transcribe(args) -> int:
    """``assistant transcribe FILE... [--format txt|srt|vtt|json] [--output PATH|-]``: the
    work is in :mod:`assistant.asr.files`. Exit status 2 if a recording could not be read
    (or its transcript written; the others are still done), else 3 if one had no speech."""
    from assistant.asr.files import transcribe_files
    from assistant.components import build_asr

    settings = _settings(args)
    if args.beam_size is not None:
        _set_option(settings.asr, "beam_size", args.beam_size, "--beam-size")
    if args.language:
        settings.asr.language = None if args.language == "auto" else args.language.lower()

    def load():
        asr = build_asr(settings.asr, model=args.model)
        if asr.language and asr.language not in asr.supported_languages:
            from assistant.errors import SettingsError

            raise SettingsError(f"--language {args.language!r} is not a language this Whisper model knows.",
                                "Give an ISO 639-1 code such as en, de or fr, or auto to detect it.")
        return asr

    summary = transcribe_files(args.files, args.format, load, output=args.output, verbose=args.verbose,
                               progress=not args.quiet and sys.stderr.isatty(), err=_err)
    if summary.failed:
        return EXIT_USAGE
    return EXIT_NOTHING_HEARD if summary.silent else EXIT_OK


def cmd_say(args) -> int:
    from assistant.audio import write_wav
    from assistant.components import build_output, build_voice

    settings = _settings(args)
    tts = build_voice(settings.tts)
    text = " ".join(args.text)
    if args.output:
        write_wav(args.output, tts.synthesize(text), tts.sample_rate)
        print(args.output, flush=True)
        return 0
    player = build_output(settings.audio)
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
    p = argparse.ArgumentParser(
        prog="assistant", description="Offline voice assistant",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status:\n" + "\n".join(f"  {code:<4d}{text}" for code, text in EXIT_CODES.items()))
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
    r.add_argument("--input", action="append", metavar="FILE", help="process a recording instead of the microphone (repeatable: one conversation; - reads standard input)")
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

    dc = sub.add_parser("dictate", help="type what you say into the focused window (dictation)")
    common(dc)
    dc.add_argument("--to-file", metavar="TXT", help="append the text to this file instead of typing it")
    dc.add_argument("--typing", choices=("auto", "xtest", "wtype", "clipboard"), help="typing backend (default: settings)")
    dc.add_argument("--input", metavar="FILE", help="dictate a recording (paced as a microphone) instead of the microphone")
    dc.add_argument("--device", help="input device index or name (see 'assistant devices')")
    dc.set_defaults(func=cmd_dictate)

    a = sub.add_parser("ask", help="send a typed request and speak the answer")
    common(a)
    a.add_argument("text", nargs="+", help="one request per argument (one conversation)")
    a.add_argument("--output", metavar="WAV")
    a.add_argument("--wait", action="store_true",
                   help="stay until the timers and reminders these requests set have gone off "
                        "(without it, ask says which ones will not go off when it ends)")
    a.set_defaults(func=cmd_ask)

    t = sub.add_parser("transcribe", help="transcribe recordings to text, SRT, WebVTT or JSON")
    t.add_argument("files", nargs="+", metavar="FILE", help="recordings in any common format (- reads standard input)")
    t.add_argument("-f", "--format", choices=("txt", "srt", "vtt", "json"), default="txt",
                   help="txt: one segment per line (default); srt/vtt: subtitles; json: segments and words with times")
    t.add_argument("-o", "--output", metavar="PATH",
                   help="a file (one recording), a folder (FOLDER/NAME.FORMAT per recording) or - for standard output (default)")
    t.add_argument("--language", help="language code of the speech (default: settings, en); auto to detect it")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.add_argument("--model", help="base, tiny.en or a CTranslate2 Whisper folder")
    t.add_argument("--beam-size", type=int)
    t.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    t.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
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
    if not debug:  # tracebacks only with --debug, from every thread and every logger
        for handler in logging.getLogger().handlers:
            handler.setFormatter(_UserLogFormatter("%(levelname)s %(name)s: %(message)s"))
        threading.excepthook = _one_line_thread_errors
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
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback only with --debug
        if debug:
            raise
        _err(f"error: internal error: {type(exc).__name__}: {exc}".splitlines()[0])
        _err(DEBUG_HINT)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
