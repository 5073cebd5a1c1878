"""Whole recordings to subtitles and transcripts: ``assistant transcribe FILE... --format``.

A recording is decoded in one go by :meth:`WhisperASR.iter_segments
<assistant.asr.model.WhisperASR.iter_segments>` (word timestamps, Silero VAD so long
silences are skipped rather than hallucinated over, the hallucination guard), then cut into
cues (:func:`make_cues`: one per Whisper segment, split further so that no cue lasts more
than :data:`MAX_CUE_S` seconds or holds more than :data:`MAX_CUE_CHARS` characters) and
written as SRT (composed by the ``srt`` library), WebVTT (``webvtt-py``), JSON (segments and
words with times and probabilities) or plain text (one segment per line).

Times are seconds from the start of the recording, as ``float``; in SRT and WebVTT they are
rounded to milliseconds. Cues never overlap, never go backwards and never end after the
recording. Nothing this module handles is logged: transcripts go only to the output chosen.
"""

from __future__ import annotations

import html
import json
import os
import sys
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, TextIO

import numpy as np

from assistant.asr.samples import SAMPLE_RATE
from assistant.asr.transcript import Segment, Word, join_words, segment_words
from assistant.errors import AssistantError

#: Output formats of ``assistant transcribe --format``.
FORMATS = ("txt", "srt", "vtt", "json")
#: Longest cue, seconds (a segment longer than this is split between words).
MAX_CUE_S = 7.0
#: Most characters in one cue (two subtitle lines of :data:`LINE_CHARS`).
MAX_CUE_CHARS = 84
#: Longest subtitle line, characters; longer cue texts are wrapped on two lines.
LINE_CHARS = 42
#: The progress bar is shown for recordings at least this long, seconds (one Whisper window:
#: shorter ones are decoded in one step, a bar would jump from 0 to 100 %).
PROGRESS_MIN_S = 30.0
#: ``--output`` value meaning standard output.
STDOUT = "-"
_TIME_EPS = 0.001  # SRT/WebVTT resolution, seconds
_CLAUSE_END = (".", ",", ";", ":", "!", "?")


@dataclass(frozen=True)
class Cue:
    """One subtitle.

    Attributes:
        start_s: start, seconds from the start of the recording (``float``, ms-rounded).
        end_s: end, seconds (``> start_s``).
        text: the words shown, on one line or two (``"\\n"``) of at most :data:`LINE_CHARS`
            characters where the words allow it.
    """

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class FileTranscript:
    """The transcript of one recording.

    Attributes:
        name: the file as given on the command line (``"-"``: standard input).
        duration_s: length of the decoded audio, seconds.
        language: ISO code decoded, or ``None`` when the model detected it.
        segments: the Whisper segments kept, in time order.
    """

    name: str
    duration_s: float
    language: Optional[str]
    segments: tuple[Segment, ...] = field(default=())

    @property
    def text(self) -> str:
        """The whole transcript, segments joined by single spaces (``""``: nothing heard)."""
        return " ".join(s.text for s in self.segments if s.text).strip()


def transcribe_audio(asr, audio: np.ndarray, name: str = "",
                     on_progress: Optional[Callable[[float], None]] = None) -> FileTranscript:
    """Transcribe a whole recording with word timestamps.

    Args:
        asr: a loaded :class:`~assistant.asr.model.WhisperASR`.
        audio: 16 kHz mono int16 (or float32 in [-1, 1]), shape ``(n,)``.
        name: how the recording is named in the result (``FileTranscript.name``).
        on_progress: called after each segment with its end time in seconds (drives a
            progress bar; the recording's length is ``len(audio) / 16000``).

    Returns:
        :class:`FileTranscript` (no segments for silence or noise).

    Raises:
        TypeError, ValueError: audio of the wrong dtype or shape.
    """
    segments = []
    with closing(asr.iter_segments(audio, word_timestamps=True)) as it:  # releases the model's lock
        for seg in it:
            segments.append(seg)
            if on_progress is not None:
                on_progress(seg.end_s)
    return FileTranscript(name, len(audio) / SAMPLE_RATE, asr.language, tuple(segments))


# ---------------------------------------------------------------------------------- cues


def _clean(text: str) -> str:
    """Text safe in any subtitle format: single spaces, no ``-->`` (a cue timing arrow)."""
    return " ".join(text.replace("-->", "->").split())


def wrap_cue_text(text: str, width: int = LINE_CHARS) -> str:
    """Put ``text`` on one line, or on two balanced lines when it is longer than ``width``
    characters (the break at the space nearest the middle). Returns the text with ``"\\n"``
    between the lines; a text without spaces stays on one line."""
    text = _clean(text)
    if len(text) <= width or " " not in text:
        return text
    middle = len(text) / 2
    spaces = [i for i, c in enumerate(text) if c == " "]
    cut = min(spaces, key=lambda i: (max(i, len(text) - i - 1) > width, abs(i - middle)))
    return text[:cut] + "\n" + text[cut + 1:]


def _split_cost(words: Sequence[Word], i: int, total: int) -> float:
    """Cost of ending a cue after ``words[i - 1]``: distance from the middle (fraction of
    the characters), less a bonus after punctuation and before a pause."""
    left = len(join_words(words[:i]))
    cost = abs(left - total / 2) / max(total, 1)
    if words[i - 1].text.endswith((".", "!", "?")):
        cost -= 0.35
    elif words[i - 1].text.endswith(_CLAUSE_END):
        cost -= 0.25
    if words[i].start_s - words[i - 1].end_s >= 0.3:
        cost -= 0.2
    return cost


def _split_words(words: Sequence[Word], max_s: float, max_chars: int) -> list[list[Word]]:
    """Split one segment's words into cues of ≤ ``max_s`` seconds and ≤ ``max_chars``
    characters: recursively in two at the best word boundary (:func:`_split_cost`: near the
    middle, preferably at a clause end or a pause), so the pieces come out balanced. A
    single word longer than the limits is a cue of its own."""
    words = list(words)
    if len(words) <= 1 or (words[-1].end_s - words[0].start_s <= max_s and len(join_words(words)) <= max_chars):
        return [words] if words else []
    total = len(join_words(words))
    cut = min(range(1, len(words)), key=lambda i: _split_cost(words, i, total))
    return _split_words(words[:cut], max_s, max_chars) + _split_words(words[cut:], max_s, max_chars)


def make_cues(segments: Sequence[Segment], duration_s: float, *, max_s: float = MAX_CUE_S,
              max_chars: int = MAX_CUE_CHARS) -> list[Cue]:
    """Subtitle cues for a recording's segments.

    One cue per segment, split between words into balanced pieces (at a clause end or a
    pause where one is near the middle) until no cue lasts more than ``max_s`` seconds or holds more than ``max_chars`` characters. Cue
    times are those of its first and last word (Whisper's word alignment); a segment
    without aligned words gets word times interpolated over the segment.

    Args:
        segments: the segments, in time order (times in seconds).
        duration_s: length of the recording, seconds; no cue ends after it.
        max_s: longest cue, seconds.
        max_chars: most characters in a cue (before wrapping on two lines).

    Returns:
        Cues rounded to milliseconds, in time order, each at least 1 ms long, none
        overlapping the next, all within ``[0, duration_s]``.
    """
    cues: list[Cue] = []
    end_limit = round(max(0.0, float(duration_s)), 3)
    for seg in segments:
        words = [w for w in seg.words if w.text] or segment_words([(seg.start_s, seg.end_s, seg.text)])
        for group in _split_words(words, max_s, max_chars):
            text = _clean(join_words(group))
            if not text:
                continue
            prev_end = cues[-1].end_s if cues else 0.0
            start = max(round(group[0].start_s, 3), prev_end)
            end = min(max(round(group[-1].end_s, 3), start), end_limit)
            if end - start < _TIME_EPS:
                if start + _TIME_EPS <= end_limit:
                    end = round(start + _TIME_EPS, 3)
                elif cues:  # no room left at the very end: show it with the cue before
                    last = cues.pop()
                    text = _clean(f"{last.text} {text}")
                    start, end = last.start_s, last.end_s
                else:
                    continue
            cues.append(Cue(start, end, text))
    return [Cue(c.start_s, c.end_s, wrap_cue_text(c.text)) for c in cues]


# ------------------------------------------------------------------------------- formats


def _lines(text: str) -> list[str]:
    """A cue's lines, each :func:`_clean`, no empty ones (a blank line ends a cue)."""
    return [line for line in map(_clean, text.split("\n")) if line]


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text of ``cues`` (numbered from 1, ``HH:MM:SS,mmm``), composed by ``srt``;
    ``""`` for no cues. ``-->`` in a text becomes ``->``, blank lines are dropped."""
    import srt

    subs = [srt.Subtitle(i, timedelta(seconds=c.start_s), timedelta(seconds=c.end_s), "\n".join(_lines(c.text)))
            for i, c in enumerate(cues, 1)]
    return srt.compose(subs, reindex=False)


def _vtt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text of ``cues`` (``WEBVTT`` header, cue identifiers from 1,
    ``HH:MM:SS.mmm``), written by ``webvtt-py``; ``&``, ``<`` and ``>`` are escaped as
    WebVTT requires, ``-->`` becomes ``->``, blank lines are dropped."""
    from webvtt import Caption, WebVTT

    captions = [Caption(start=_vtt_time(c.start_s), end=_vtt_time(c.end_s), identifier=str(i),
                        text=[html.escape(line, quote=False) for line in _lines(c.text)])
                for i, c in enumerate(cues, 1)]
    return WebVTT(captions=captions).content


def _json_words(words: Sequence[Word], floor: float, limit: float) -> tuple[list[dict], float]:
    """Words as JSON objects with times made monotonic (each starts no earlier than the
    previous one ended, ends no earlier than it starts, and no later than ``limit``)."""
    out = []
    for w in words:
        start = min(max(round(w.start_s, 3), floor), limit)
        end = min(max(round(w.end_s, 3), start), limit)
        prob = w.probability if w.probability == w.probability else None  # NaN → null
        out.append({"start": start, "end": end, "word": w.text,
                    "probability": None if prob is None else round(prob, 4)})
        floor = end
    return out, floor


def to_json_dict(ft: FileTranscript) -> dict:
    """The JSON document of a transcript::

        {"file": str, "duration": s, "language": "en" | null, "text": str,
         "segments": [{"start": s, "end": s, "text": str,
                       "words": [{"start": s, "end": s, "word": str, "probability": 0..1}]}]}

    Times are seconds (3 decimals), monotonic across words, within ``[0, duration]``.
    """
    limit = round(ft.duration_s, 3)
    floor = 0.0
    segments = []
    for seg in ft.segments:
        words, last = _json_words(seg.words, floor, limit)
        start = min(max(round(seg.start_s, 3), floor), limit)
        end = min(max(round(seg.end_s, 3), start, last), limit)
        if words:
            start = min(start, words[0]["start"])
        segments.append({"start": start, "end": end, "text": seg.text, "words": words})
        floor = max(last, floor)
    return {"file": ft.name, "duration": limit, "language": ft.language, "text": ft.text, "segments": segments}


def render(ft: FileTranscript, fmt: str, *, compact: bool = False) -> str:
    """A transcript in one of :data:`FORMATS`.

    Args:
        ft: the transcript.
        fmt: ``"txt"`` (one segment per line), ``"srt"``, ``"vtt"`` or ``"json"``.
        compact: JSON on one line (JSON Lines, for several files on standard output).

    Returns:
        The text to write: for no speech, ``""`` (txt, srt), ``"WEBVTT\\n"`` or a JSON
        document with no segments.

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "txt":
        return "".join(seg.text + "\n" for seg in ft.segments if seg.text)
    if fmt == "srt":
        return to_srt(make_cues(ft.segments, ft.duration_s))
    if fmt == "vtt":
        return to_vtt(make_cues(ft.segments, ft.duration_s))
    if fmt == "json":
        return json.dumps(to_json_dict(ft), ensure_ascii=False, indent=None if compact else 2) + "\n"
    raise ValueError(f"unknown transcript format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------- files and output


def _stem(name: str) -> str:
    return "stdin" if name == STDOUT else Path(name).stem or "transcript"


def plan_outputs(names: Sequence[str], fmt: str, output: Optional[str]) -> list[Optional[Path]]:
    """Where each recording's transcript goes.

    Args:
        names: the recordings as given (``"-"``: standard input).
        fmt: one of :data:`FORMATS` (the extension of files written into a folder).
        output: ``None`` or ``"-"``: standard output; an existing folder, or a path ending
            in ``/``: ``FOLDER/<recording stem>.<fmt>`` for each; else a file (one recording).

    Returns:
        One target per recording; ``None`` = standard output.

    Raises:
        AssistantError: several SRT/WebVTT transcripts for standard output, a file
            ``--output`` for several recordings, two recordings with the same stem for one
            folder, or a target that is one of the recordings (exit status 2).
    """
    if output is None or output == STDOUT:
        if len(names) > 1 and fmt in ("srt", "vtt"):
            raise AssistantError(f"{len(names)} {fmt.upper()} files cannot all be written to standard output.",
                                 f"Give --output FOLDER to write one .{fmt} file per recording.")
        return [None] * len(names)
    out = Path(output).expanduser()
    if out.is_dir() or output.endswith(("/", os.sep)):
        targets = [out / f"{_stem(n)}.{fmt}" for n in names]
        seen: dict[Path, str] = {}
        for n, t in zip(names, targets):
            if t in seen:
                raise AssistantError(f"{seen[t]} and {n} would both be written to {t}.",
                                     "Transcribe them into different folders.")
            seen[t] = n
    elif len(names) > 1:
        raise AssistantError(f"--output {output} is a file, but {len(names)} recordings were given.",
                             "Give an existing folder (or a path ending in /) to write one file per recording.")
    else:
        targets = [out]
    inputs = {Path(n).expanduser().resolve() for n in names if n != STDOUT}
    for t in targets:
        if t.resolve() in inputs:
            raise AssistantError(f"--output would overwrite the recording {t}.", "Choose another output path.")
    return targets


def write_output(text: str, target: Optional[Path], stdout: Optional[TextIO] = None) -> None:
    """Write ``text`` (UTF-8) to ``target``, or to standard output when it is ``None``.

    A folder ending the path is created; the file is replaced if it exists.

    Raises:
        AssistantError: the file cannot be written (message names it; exit status 2).
    """
    if target is None:
        out = stdout or sys.stdout
        out.write(text)
        out.flush()
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AssistantError(f"Cannot write {target} ({exc.strerror or exc}).",
                             "Check that the folder exists and is writable, or choose another --output.") from None


@contextmanager
def progress_bar(name: str, duration_s: float, enabled: bool,
                 file: Optional[TextIO] = None) -> Iterator[Callable[[float], None]]:
    """A transient rich progress bar on standard error while one recording is decoded.

    Args:
        name: the recording (its base name is shown).
        duration_s: its length, seconds (the bar's total).
        enabled: show it at all (the CLI passes ``stderr is a TTY and not --quiet``); it is
            never shown for recordings shorter than :data:`PROGRESS_MIN_S`.
        file: where to draw it (default ``sys.stderr``; a terminal is assumed).

    Yields:
        ``advance(end_s)``: move the bar to ``end_s`` seconds of the recording.
    """
    if not enabled or duration_s < PROGRESS_MIN_S:
        yield lambda _end_s: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    label = "standard input" if name == STDOUT else Path(name).name
    console = Console(file=file or sys.stderr, force_terminal=file is not None or None)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed:>5.0f} / {task.total:.0f} s"), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(label, total=duration_s)
        yield lambda end_s: bar.update(task, completed=min(max(float(end_s), 0.0), duration_s))
        bar.update(task, completed=duration_s)


@dataclass
class RunSummary:
    """What :func:`transcribe_files` did: the recordings (as given) in each outcome."""

    written: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)


def transcribe_files(names: Sequence[str], fmt: str, load_asr: Callable[[], object], *,
                     output: Optional[str] = None, progress: bool = False, verbose: bool = False,
                     err: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
                     stdout: Optional[TextIO] = None) -> RunSummary:
    """Transcribe recordings one after the other and write each in ``fmt``.

    A recording that cannot be read, or whose transcript cannot be written, gets an
    ``error:`` and a ``hint:`` line on ``err`` and the others are still processed. The
    model is loaded (``load_asr()``) once, after the first recording is read, so an
    unreadable lone file fails before seconds of loading.

    Args:
        names: recordings (any format :func:`assistant.audio.read_audio` decodes; ``"-"``
            reads standard input).
        fmt: one of :data:`FORMATS`.
        load_asr: returns the loaded :class:`~assistant.asr.model.WhisperASR`.
        output: see :func:`plan_outputs`.
        progress: show a progress bar for long recordings (see :func:`progress_bar`).
        verbose: one line per recording on ``err`` with its duration and decoding speed.
        err: writes one line to the user (standard error).
        stdout: standard output (for tests; default ``sys.stdout``).

    Returns:
        :class:`RunSummary`: ``written``, ``failed`` (unreadable or unwritable) and
        ``silent`` (no speech heard: txt writes nothing, the other formats an empty
        document).

    Raises:
        AssistantError: a bad ``output`` (before anything is decoded); the model cannot
            be loaded (ModelError, SettingsError); ``ValueError`` for an unknown format.
    """
    import time

    from assistant.audio import read_audio
    from assistant.errors import AudioInputError

    if fmt not in FORMATS:
        raise ValueError(f"unknown transcript format {fmt!r}; expected one of {', '.join(FORMATS)}")
    targets = plan_outputs(names, fmt, output)
    several_to_stdout = len(names) > 1 and output in (None, STDOUT)
    summary = RunSummary()
    asr = None
    for name, target in zip(names, targets):
        shown = "standard input" if name == STDOUT else name
        try:
            audio = read_audio(name)
        except AudioInputError as exc:
            err(f"error: {exc.message}")
            if exc.hint:
                err(f"hint: {exc.hint}")
            summary.failed.append(name)
            continue
        if asr is None:
            asr = load_asr()
        seconds = len(audio) / SAMPLE_RATE
        t0 = time.perf_counter()
        with progress_bar(name, seconds, progress) as advance:
            ft = transcribe_audio(asr, audio, name, on_progress=advance)
        if verbose:
            took = time.perf_counter() - t0
            err(f"{shown}: {seconds:.2f} s of audio decoded in {took:.1f} s (RTF {took / max(seconds, 1e-9):.3f})")
        if not ft.segments:
            where = "on standard input" if name == STDOUT else f"in {name}"
            err(f"No speech heard {where}." + ("" if fmt == "txt" else
                f" The {fmt.upper()} written has no {'cues' if fmt in ('srt', 'vtt') else 'segments'}."))
            summary.silent.append(name)
            if fmt == "txt":
                continue
        text = render(ft, fmt, compact=several_to_stdout)
        if several_to_stdout and fmt == "txt":
            text = f"==> {shown} <==\n{text}"
        try:
            write_output(text, target, stdout)
        except AssistantError as exc:
            err(f"error: {exc.message}")
            err(f"hint: {exc.hint}")
            summary.failed.append(name)
            continue
        if name not in summary.silent:
            summary.written.append(name)
        if target is not None and verbose:
            err(f"{shown} → {target}")
    return summary
