"""Spoken formatting and editing for dictation: committed words in, edit operations out.

Pure text functions (no audio, no display): :class:`Formatter` takes the committed text of
:class:`assistant.dictation.committer.Committer` chunk by chunk and returns
:data:`EditOp` values (:class:`TypeText`, :class:`Backspace`, :class:`Key`) for a
:class:`assistant.dictation.typing.Typist`.

Spoken commands (case-insensitive; punctuation Whisper attaches to a command word —
"Period.", "new line," — is ignored; hyphenated or joined forms such as "full-stop",
"newline" are accepted):

=========================================  ==============================================
"period" / "full stop"                     ``.`` (and the next word is capitalised)
"comma", "colon", "semicolon"              ``,`` ``:`` ``;``
"question mark", "exclamation mark/point"  ``?`` ``!`` (next word capitalised)
"new line", "new paragraph"                ``\\n``, ``\\n\\n`` (next word capitalised)
"open quote", "close quote"                ``"`` (or “ ” with ``smart_quotes``)
"tab key"                                  the Tab key
"cap <word>", "all caps <word>"            Word, WORD
"no space"                                 the next word is joined to the previous one
"spell <letters>"                          letters (single letters, "C-A-T" or the NATO
                                           alphabet: "charlie alpha tango"; "cap" before
                                           a letter makes it upper case) joined as one word
"literal <word>"                           the word itself ("literal period" → period)
"scratch that"                             removes exactly what the current phrase typed,
                                           or, if it typed nothing yet, the last phrase
"undo" / "undo that"                       reverses the last "scratch that"; otherwise
                                           the same as "scratch that"
=========================================  ==============================================

A user vocabulary of "say X → type Y" replacements (``replacements={"my email":
"jane@example.org"}``) is matched on whole words, longest first, before the commands.

Whisper's own punctuation: with ``auto_punctuation=False`` (the default: spoken
punctuation rules) the punctuation Whisper attaches to words (``. , ? ! ; :``) is removed
and a capital Whisper put after its own sentence end is lowered ("I" and "I'm" … stay);
a proper noun right after such a sentence end is lowered too (say "cap <word>").
With ``auto_punctuation=True`` Whisper's punctuation is kept; a spoken mark right after
it replaces it instead of doubling it ("world, period" → "world.").

Phrases: :meth:`Formatter.end_phrase` (called at every pause, when the committer flushes)
closes a phrase; "scratch that" works on phrases. Words that may begin a multi-word
command ("new", "all", "spell …") are held back until the next word or the end of the
phrase decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Union


@dataclass(frozen=True)
class TypeText:
    """Type ``text`` (Unicode; ``"\\n"`` is the Return key, ``"\\t"`` Tab)."""

    text: str


@dataclass(frozen=True)
class Backspace:
    """Press BackSpace ``count`` times (one character of typed text each)."""

    count: int


@dataclass(frozen=True)
class Key:
    """Press and release one key, named by its X keysym name (``"Return"``, ``"Tab"``)."""

    name: str


EditOp = Union[TypeText, Backspace, Key]
"""One edit operation for a :class:`assistant.dictation.typing.Typist`."""

NATO = {
    "alpha": "a", "alfa": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e", "foxtrot": "f",
    "golf": "g", "hotel": "h", "india": "i", "juliet": "j", "juliett": "j", "kilo": "k", "lima": "l",
    "mike": "m", "november": "n", "oscar": "o", "papa": "p", "quebec": "q", "romeo": "r", "sierra": "s",
    "tango": "t", "uniform": "u", "victor": "v", "whiskey": "w", "whisky": "w", "x-ray": "x", "xray": "x",
    "yankee": "y", "zulu": "z",
}
"""The NATO spelling alphabet (and common spellings) → letter."""

SENTENCE_END = ".?!"
PUNCT = {
    "period": ".", "full stop": ".", "comma": ",", "colon": ":", "semicolon": ";", "semi colon": ";",
    "question mark": "?", "exclamation mark": "!", "exclamation point": "!",
}
LAYOUT = {"new line": "\n", "new paragraph": "\n\n"}
SIMPLE = {"open quote": "open", "open quotes": "open", "close quote": "close", "close quotes": "close",
          "no space": "nospace", "scratch that": "scratch", "undo": "undo", "undo that": "undo",
          "tab key": "tab", "stop dictation": "stop", "stop dictating": "stop", "end dictation": "stop"}
WITH_ARG = {"cap": "cap", "all caps": "caps", "literal": "literal", "spell": "spell"}

_STRIP = re.compile(r"^[\"'“”‘’«»(\[]+|[\"'“”‘’»)\].,?!;:…]+$")
_WHISPER_PUNCT = re.compile(r"[.,?!;:…]+$")


def normalize_word(token: str) -> str:
    """A token as a command key: lower case, without the punctuation and quotes Whisper
    attaches around it ("Period." → "period", "“Open" → "open")."""
    return _STRIP.sub("", token.lower())


def _variants(phrase: str) -> list[tuple[str, ...]]:
    """Word tuples a spoken phrase may come as: "new line", "new-line", "newline"."""
    words = tuple(phrase.split())
    out = [words]
    if len(words) > 1:
        out += [("-".join(words),), ("".join(words),)]
    return out


def _letter(key: str) -> Optional[str]:
    """The letter a spelled token stands for ("c", "charlie", "C."), or None."""
    if len(key) == 1 and key.isalnum():
        return key
    return NATO.get(key)


def apply_ops(text: str, ops: Sequence[EditOp]) -> str:
    """What ``ops`` turn ``text`` into (the end of ``text`` is the cursor): for tests and
    previews. ``Key("Return")`` adds ``"\\n"``, ``Key("Tab")`` ``"\\t"``, other keys nothing."""
    for op in ops:
        if isinstance(op, TypeText):
            text += op.text
        elif isinstance(op, Backspace):
            text = text[: max(0, len(text) - op.count)]
        elif op.name in ("Return", "Tab"):
            text += "\n" if op.name == "Return" else "\t"
    return text


class Formatter:
    """Turn committed dictation text into edit operations (see the module doc).

    Args:
        replacements: user vocabulary, spoken phrase → text typed ("say X → type Y");
            matched case-insensitively on whole words, before the commands.
        auto_punctuation: keep the punctuation Whisper writes itself (default ``False``:
            only spoken punctuation is typed).
        smart_quotes: "open/close quote" type “ ” instead of ``"``.
        capitalize_first: capitalise the first word of the dictation (the text before the
            cursor is not known; set ``False`` when dictating into the middle of a sentence).

    Attributes:
        typed: the text this formatter believes it has typed since :meth:`reset` (what
            the focused field gained), after every backspace.
        stop_requested: "stop dictation" (or "stop dictating", "end dictation") was said;
            the words after it are dropped and the session should end.
    """

    def __init__(self, replacements: Optional[Mapping[str, str]] = None, *, auto_punctuation: bool = False,
                 smart_quotes: bool = False, capitalize_first: bool = True) -> None:
        self.auto_punctuation = bool(auto_punctuation)
        self.smart_quotes = bool(smart_quotes)
        self.capitalize_first = bool(capitalize_first)
        self._table: dict[tuple[str, ...], tuple[str, str]] = {}
        for group, kind in ((PUNCT, "punct"), (LAYOUT, "layout"), (SIMPLE, "simple"), (WITH_ARG, "arg")):
            for phrase, value in group.items():
                for v in _variants(phrase):
                    self._table[v] = (kind, value)
        for spoken, text in (replacements or {}).items():
            key = tuple(normalize_word(w) for w in spoken.split())
            if not key or not all(key):
                raise ValueError(f"empty spoken phrase in replacements: {spoken!r}")
            self._table[key] = ("replace", text)
        self._longest = max(len(k) for k in self._table)
        self.reset()

    def reset(self) -> None:
        """Start a new dictation: nothing typed, the next word capitalised (if
        ``capitalize_first``)."""
        self.typed = ""
        self.stop_requested = False  # "stop dictation" was said: the session ends
        self._pending: list[str] = []  # raw tokens not decided yet
        self._phrase_start = 0  # index in typed where the current phrase began
        self._phrases: list[int] = []  # start indices of earlier phrases still on screen
        self._scratched: list[tuple[int, str]] = []  # (index, text) removed by scratch that
        self._cap_next = self.capitalize_first
        self._no_space = False
        self._upper_next = False
        self._auto_punct = ""  # Whisper punctuation ending `typed` (auto_punctuation mode)
        self._whisper_sentence_end = False  # the previous raw token ended a Whisper sentence

    # -- public ----------------------------------------------------------------------------

    def process(self, text: str) -> list[EditOp]:
        """Take newly committed text (any chunk of words; a chunk may end in the middle of
        a command) and return the edit operations to apply now."""
        self._pending += text.split()
        return self._run(final=False)

    @property
    def holding(self) -> bool:
        """Whether words are held back, waiting to see if they begin a command ("scratch",
        "new", "all"); :meth:`end_phrase` decides them."""
        return bool(self._pending)

    def end_phrase(self) -> list[EditOp]:
        """A pause: decide the words held back and close the phrase ("scratch that"
        removes phrases). Returns the operations for the held-back words."""
        ops = self._run(final=True)
        if len(self.typed) > self._phrase_start:
            self._phrases.append(self._phrase_start)
            self._phrase_start = len(self.typed)
        return ops

    # -- the machine -----------------------------------------------------------------------

    def _match(self, keys: list[str], final: bool) -> Optional[tuple[int, tuple[str, str]]]:
        """The longest table entry at the start of ``keys`` as (length, action), or None;
        raises _Wait when more words could still make a longer entry."""
        if not final:
            n = len(keys)
            for k in self._table:
                if len(k) > n and list(k[:n]) == keys[:n]:
                    raise _Wait
        for n in range(min(self._longest, len(keys)), 0, -1):
            action = self._table.get(tuple(keys[:n]))
            if action is not None:
                return n, action
        return None

    def _run(self, final: bool) -> list[EditOp]:
        ops: list[EditOp] = []
        while self._pending:
            keys = [normalize_word(t) for t in self._pending]
            try:
                m = self._match(keys, final)
                if m is None:
                    self._word(self._pending.pop(0), ops)
                    continue
                n, (kind, value) = m
                if kind == "arg":
                    used = self._with_arg(value, self._pending[n:], keys[n:], final, ops)
                    del self._pending[: n + used]
                    continue
                raw = self._pending[n - 1]
                del self._pending[:n]
                self._command(kind, value, ops)
                if self.stop_requested:  # "stop dictation": nothing after it is typed
                    self._pending.clear()
                    break
                if kind != "replace":
                    self._whisper_sentence_end = bool(_WHISPER_PUNCT.search(raw)) and raw.rstrip()[-1] in SENTENCE_END
            except _Wait:
                break
        return _merge(ops)

    def _with_arg(self, what: str, raw: list[str], keys: list[str], final: bool, ops: list[EditOp]) -> int:
        """Run "cap"/"all caps"/"literal"/"spell" on the following tokens; returns how many
        it used. Raises _Wait when the argument has not arrived yet."""
        if what == "spell":
            letters, used, upper, skip = [], 0, False, False
            for i, (tok, key) in enumerate(zip(raw, keys)):
                if skip:
                    skip, used = False, used + 1
                    continue
                if key in ("cap", "capital"):
                    upper, used = True, used + 1
                    continue
                if key == "x" and keys[i + 1 : i + 2] == ["ray"]:
                    skip = True  # "x ray": the NATO X in two words
                bare = _STRIP.sub("", tok)
                if key in NATO:
                    parts = [key]
                elif len(bare) > 1 and bare.isalpha() and bare.isupper():
                    parts = list(key)  # Whisper wrote the letters as one word: "CAT"
                else:
                    parts = [p for p in re.split(r"[-.]", key) if p]  # "C-A-T", "c.a.t"
                got = [_letter(p) for p in parts]
                if not got or None in got:
                    break
                for g in got:
                    letters.append(g.upper() if upper else g)
                    upper = False
                used += 1
            else:
                if not final:
                    raise _Wait
            if letters:
                self._emit_word("".join(letters), ops, keep_case=True)
            return used
        if not raw:
            if not final:
                raise _Wait
            return 0
        word = raw[0] if what == "literal" else self._clean(raw[0])
        if what == "literal":
            word = normalize_word(word) if not self.auto_punctuation else word
        elif what == "cap":
            word = word[:1].upper() + word[1:]
        else:
            word = word.upper()
        self._emit_word(word, ops, keep_case=True)
        return 1

    def _clean(self, token: str) -> str:
        """A dictated token without Whisper's punctuation (unless ``auto_punctuation``) and
        without the capital Whisper put after its own sentence end."""
        word = token
        if not self.auto_punctuation:
            word = _WHISPER_PUNCT.sub("", word) or word
            if (self._whisper_sentence_end and word[:1].isupper() and word[1:] == word[1:].lower()
                    and word != "I" and not word.startswith("I'")):
                word = word[:1].lower() + word[1:]
        return word

    def _word(self, token: str, ops: list[EditOp]) -> None:
        word = self._clean(token)
        ends = token.rstrip()[-1:] in SENTENCE_END and bool(_WHISPER_PUNCT.search(token))
        self._whisper_sentence_end = ends
        if not word:
            return
        self._emit_word(word, ops)
        if self.auto_punctuation:
            m = _WHISPER_PUNCT.search(word)
            self._auto_punct = m.group(0) if m else ""
            if ends:
                self._cap_next = True

    def _emit_word(self, word: str, ops: list[EditOp], keep_case: bool = False) -> None:
        if self._cap_next and not keep_case:
            word = word[:1].upper() + word[1:]
        elif self._cap_next and word[:1].islower():
            word = word[:1].upper() + word[1:]
        self._type(self._space() + word, ops)
        self._cap_next = False
        self._no_space = False

    def _space(self) -> str:
        last = self.typed[-1:]
        if not last or self._no_space or last in "\n\t" or last in ('"', "“") and self._quote_open():
            return ""
        return " "

    def _quote_open(self) -> bool:
        """Whether the last quote typed opened a quotation (straight quotes alternate)."""
        if self.smart_quotes:
            return self.typed[-1:] == "“"
        return self.typed.count('"') % 2 == 1

    def _type(self, text: str, ops: list[EditOp]) -> None:
        if text:
            ops.append(TypeText(text))
            self.typed += text
            self._auto_punct = ""

    def _backspace(self, n: int, ops: list[EditOp]) -> str:
        n = min(n, len(self.typed))
        if n <= 0:
            return ""
        removed = self.typed[-n:]
        ops.append(Backspace(n))
        self.typed = self.typed[:-n]
        self._phrase_start = min(self._phrase_start, len(self.typed))
        while self._phrases and self._phrases[-1] >= len(self.typed):
            self._phrases.pop()
        return removed

    def _command(self, kind: str, value: str, ops: list[EditOp]) -> None:
        if kind == "replace":
            self._emit_word(value, ops, keep_case=True)
        elif kind in ("punct", "layout"):
            auto = self._auto_punct
            if auto and (kind == "layout" and auto == "," or kind == "punct"):
                if auto == value:
                    value = ""
                else:
                    self._backspace(len(auto), ops)
            if kind == "layout":
                self._type(value, ops)
                self._cap_next = True
            elif value:
                self._type(value, ops)
                self._cap_next = value in SENTENCE_END or self._cap_next
            elif auto in SENTENCE_END:
                self._cap_next = True
            self._no_space = False
        elif value == "open":
            q = "“" if self.smart_quotes else '"'
            self._type(self._space() + q, ops)
            self._no_space = True
        elif value == "close":
            self._type("”" if self.smart_quotes else '"', ops)
            self._no_space = False
        elif value == "nospace":
            self._no_space = True
        elif value == "tab":
            ops.append(Key("Tab"))
            self.typed += "\t"
        elif value == "scratch":
            self._scratch(ops)
        elif value == "stop":
            self.stop_requested = True
        elif value == "undo":
            if self._scratched and self._scratched[-1][0] == len(self.typed):
                _, text = self._scratched.pop()
                self._type(text, ops)
            else:
                self._scratch(ops)

    def _scratch(self, ops: list[EditOp]) -> None:
        """Remove what the current phrase typed, or (if nothing) the last phrase."""
        if len(self.typed) > self._phrase_start:
            start = self._phrase_start
        elif self._phrases:
            start = self._phrases.pop()
        else:
            return
        removed = self._backspace(len(self.typed) - start, ops)
        self._phrase_start = len(self.typed)
        self._scratched.append((len(self.typed), removed))
        last = self.typed.rstrip(" \t\"”")[-1:]
        self._cap_next = (self.capitalize_first if not self.typed else last in ("\n", ".", "?", "!"))


class _Wait(Exception):
    """More words are needed to decide (a command may continue in the next chunk)."""


def _merge(ops: list[EditOp]) -> list[EditOp]:
    """Join consecutive TypeText and consecutive Backspace operations."""
    out: list[EditOp] = []
    for op in ops:
        if out and isinstance(op, TypeText) and isinstance(out[-1], TypeText):
            out[-1] = TypeText(out[-1].text + op.text)
        elif out and isinstance(op, Backspace) and isinstance(out[-1], Backspace):
            out[-1] = Backspace(out[-1].count + op.count)
        else:
            out.append(op)
    return out
