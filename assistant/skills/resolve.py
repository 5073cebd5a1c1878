"""Entity resolution after the NLU: one entity per span, values mapped to what the skill declared.

Rasa's extractors overlap: the CRF and the lookup-table regex extractor both run, so "medium
roast" can come out as ``roast="medium roast"`` *and* ``size="medium"``; the CRF may keep a
stray word ("double shot of"); and a near miss of the speech recogniser ("light roasted",
"meaty roast") matches no lookup entry at all. :class:`EntityResolver` cleans the NLU's
entities the same way for every skill, from the data the skill already declares:

1. **Values.** For every entity, the *declared values* are its lookup entries, the values
   annotated in training examples (``[medium roast](roast)``), categorical slot values of a
   slot filled from it, and synonyms (``synonym: "20"`` with ``twenty``, ``d20``: the
   variants map to the canonical value). An entity with a lookup table or synonyms is
   *closed*: its values are resolved; others are *open* (values kept as heard). An entity
   that also has a ``regex:`` table is open-ended ("25 minutes"): only its exact declared
   values and synonyms are mapped.
2. **Edges.** Function words at the edges of a span ("of", "a", "the", "please" …) are cut
   when that makes the value match better (a declared value that itself starts with "a",
   like "a minute", is kept whole); any other words (at most 2 per edge) only when what
   remains is exactly a declared value ("open libreoffice calc" → "libreoffice calc").
3. **Matching.** The heard span is compared with every declared variant: exactly (after
   lower-casing, dropping punctuation and writing number words as digits, so the ASR's
   "8 ounce" is the declared "eight ounce"), with `RapidFuzz <https://github.com/rapidfuzz/RapidFuzz>`_
   ``fuzz.ratio`` (normalised Indel similarity), and with the same ratio over the
   `Metaphone <https://en.wikipedia.org/wiki/Metaphone>`_ keys of the words (Lawrence
   Philips, 1990; ``jellyfish.metaphone``), so "meaty roast" (``MT RST``) is close to
   "medium roast" (``MTM RST``). The confidence is
   ``max(fuzzy, (fuzzy + phonetic) / 2)`` in [0, 1]. Words that are numbers ("8",
   "eight", "twelve") that were heard must be in the declared value: "8 minutes" never becomes
   "five minutes" (but "a ounce" may be "eight ounce").
4. **Decision.** Confidence ≥ ``accept`` (0.8): the canonical value is used (status
   ``"exact"`` or ``"resolved"``). Between ``ask`` (0.6) and ``accept``, or when two
   different values are within 0.05 of each other: status ``"ask"``, the value stays what
   was heard and ``candidate`` holds the best guess — the skill's action does not run
   until the user confirmed it ("Did you mean a medium roast?", see
   :mod:`assistant.skills.sdk`). Below ``ask``: status ``"unknown"``, the value is kept as
   heard (it may be a legitimate new value, like a timer name nobody declared).
5. **Spans.** Overlapping entities keep one: the one with the better status (a declared
   value beats an unknown one), then the longer declared value matched (the longer span for
   undeclared values), then the higher confidence. The
   same span found by several extractors for different entity types thus goes to the
   type whose declared values match best.

Each resolved entity is the NLU's dict plus ``heard`` (the words of the span after edge
cleaning), ``raw_value`` (the NLU's value), ``resolution`` (status) and
``resolution_confidence``; ``candidate`` for ``"ask"``.

Nothing here talks to Rasa; the sidecar (``DialogueResult.entities``) and the skill SDK
(``ctx.entity``, form slots) both call :meth:`EntityResolver.resolve`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from assistant.nlu.project import annotations, example_lines
from assistant.skills.similarity import normalize, phonetic_key, similarity  # noqa: F401 (phonetic_key re-exported)

#: Default confidence at or above which the canonical value is used.
ACCEPT = 0.8
#: Default confidence at or above which (and below :data:`ACCEPT`) the user is asked.
ASK = 0.6
#: Two different values closer than this are ambiguous (asked about unless exact).
AMBIGUITY_MARGIN = 0.05
#: Confidence a run of words the NLU did not tag needs to become an entity (gap filling).
GAP = 0.85

#: Words cut from the edges of a span when that makes it match a declared value better.
EDGE_WORDS = frozenset({
    "a", "an", "the", "of", "and", "or", "to", "for", "with", "in", "on", "at", "please", "some", "my", "me",
    "uh", "um", "er", "erm", "like", "just", "is", "it", "its", "be", "then", "so", "that", "this",
})
#: Of those, the ones cut from open entities too (never changes a name's meaning).
OPEN_EDGE_WORDS = frozenset({"of", "and", "or", "to", "for", "with", "please", "uh", "um", "er", "erm", "the"})

STATUS_RANK = {"exact": 3, "resolved": 3, "free": 2, "ask": 1, "unknown": 0}


@dataclass
class Match:
    """One declared value compared with what was heard.

    Attributes:
        value: the canonical value.
        score: confidence in [0, 1].
        variant: the declared variant that matched best.
    """

    value: str
    score: float
    variant: str


@dataclass
class ValueTable:
    """The declared values of one entity.

    Attributes:
        entity: the entity name (global, e.g. ``coffee__roast``).
        variants: normalised variant → canonical value.
        closed: True if the entity has a lookup table or synonyms (its values are resolved).
        patterned: True if the entity also has a ``regex:`` table: its values are open-ended
            ("25 minutes"), so only exact declared values and synonyms are mapped.
    """

    entity: str
    variants: dict[str, str] = field(default_factory=dict)
    closed: bool = False
    patterned: bool = False

    def add(self, variant: str, canonical: str | None = None) -> None:
        """Declare ``variant`` (mapping to ``canonical``, itself by default)."""
        key = normalize(variant)
        if key and key not in self.variants:
            self.variants[key] = str(canonical if canonical is not None else variant).strip()

    def values(self) -> list[str]:
        """The canonical values, in declaration order, without duplicates."""
        return list(dict.fromkeys(self.variants.values()))

    def matches(self, heard: str) -> list[Match]:
        """Every canonical value with its best score against ``heard``, best first."""
        best: dict[str, Match] = {}
        key = normalize(heard)
        if key in self.variants:
            v = self.variants[key]
            best[v] = Match(v, 1.0, key)
        for variant, value in self.variants.items():
            if value in best and best[value].score >= 1.0:
                continue
            s = similarity(key, variant)
            if value not in best or s > best[value].score:
                best[value] = Match(value, s, variant)
        return sorted(best.values(), key=lambda m: -m.score)


@dataclass
class Resolution:
    """What :meth:`EntityResolver.resolve_value` made of one heard value.

    Attributes:
        status: ``exact``, ``resolved``, ``ask``, ``unknown`` or ``free`` (open entity).
        value: the value to use (canonical for exact/resolved, else as heard).
        confidence: in [0, 1].
        candidate: best declared value (for ``ask``/``unknown``), else None.
        heard: the words used (after edge cleaning).
        cut: words removed at the start and at the end.
    """

    status: str
    value: str
    confidence: float
    candidate: str | None
    heard: str
    cut: tuple[int, int] = (0, 0)


class EntityResolver:
    """Resolves NLU entities against the skills' declared values (see the module docstring).

    Args:
        tables: global entity name → :class:`ValueTable`.
        accept: confidence at or above which the canonical value is used, in [0, 1].
        ask: confidence at or above which (below ``accept``) the user is asked, in [0, 1].
        gap: confidence a run of words the NLU did not tag needs to become an entity.
        intent_entities: intent → entity names its examples annotate (for gap filling).

    Raises:
        ValueError: thresholds outside [0, 1] or ``ask > accept``.
    """

    def __init__(self, tables: Mapping[str, ValueTable] | None = None, *, accept: float = ACCEPT,
                 ask: float = ASK, gap: float = GAP,
                 intent_entities: Mapping[str, Iterable[str]] | None = None) -> None:
        if not (0.0 <= ask <= accept <= 1.0) or not 0.0 <= gap <= 1.0:
            raise ValueError(f"need 0 <= ask <= accept <= 1 and 0 <= gap <= 1, got ask={ask!r}, "
                             f"accept={accept!r}, gap={gap!r}")
        self.tables: dict[str, ValueTable] = dict(tables or {})
        self.accept = float(accept)
        self.ask = float(ask)
        self.gap = float(gap)
        #: intent → the entities annotated in its training examples (gap filling looks for these)
        self.intent_entities: dict[str, set[str]] = {k: set(v) for k, v in (intent_entities or {}).items()}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_nlu(cls, nlu: Iterable[Mapping[str, Any]], domain: Mapping[str, Any] | None = None,
                 **kw: Any) -> "EntityResolver":
        """Build from Rasa NLU items (``intent``/``lookup``/``synonym``/``regex`` with
        ``examples`` as a ``"- a\\n"`` block or a list) and optionally a domain (categorical
        slots filled from an entity add their values). Names are used as given (global in a
        composed project, local in a skill's own data).

        Args:
            nlu: the items.
            domain: ``domain.yml`` content, or None.
            **kw: ``accept`` / ``ask`` / ``gap`` thresholds.
        """
        tables: dict[str, ValueTable] = {}

        def table(name: str) -> ValueTable:
            return tables.setdefault(name, ValueTable(name))

        synonyms: list[tuple[str, list[str]]] = []
        used: dict[str, set[str]] = {}
        nlu = list(nlu)
        # lookup entries first: they are the canonical spelling of a value that examples may
        # annotate as heard ("[12 ounce](size)", "[cappuccinos](drink)")
        for item in nlu:
            if "lookup" in item:
                t = table(str(item["lookup"]))
                t.closed = True
                for v in example_lines(item.get("examples")):
                    t.add(v)
        for item in nlu:
            lines = example_lines(item.get("examples"))
            if "synonym" in item:
                synonyms.append((str(item["synonym"]), lines))
            elif "regex" in item:
                table(str(item["regex"])).patterned = True
            elif "intent" in item:
                for ex in lines:
                    for text, ent, value in annotations(ex):
                        used.setdefault(str(item["intent"]), set()).add(ent)
                        if value is None and (singular := _singular_of_declared(table(ent), text)) is not None:
                            table(ent).add(text, singular)  # "cappuccinos" is the lookup's "cappuccino"
                        else:
                            table(ent).add(text, value if value is not None else text)
                        if value is not None:  # an inline synonym: [x](entity:value)
                            table(ent).add(str(value))
                            table(ent).closed = True
        for canonical, variants in synonyms:
            keys = {normalize(canonical), *(normalize(v) for v in variants)}
            owners = [t for t in tables.values() if keys & set(t.variants)]
            for t in owners:
                t.closed = True
                t.add(canonical, canonical)
                for v in variants:
                    t.variants[normalize(v)] = canonical
                for k, val in list(t.variants.items()):  # an entry written as a variant
                    if normalize(val) in keys:
                        t.variants[k] = canonical
        for name, spec in ((domain or {}).get("slots") or {}).items():
            if not isinstance(spec, Mapping) or spec.get("type") != "categorical":
                continue
            for m in spec.get("mappings") or []:
                if isinstance(m, Mapping) and m.get("type") == "from_entity" and m.get("entity"):
                    t = table(str(m["entity"]))
                    t.closed = True
                    for v in spec.get("values") or []:
                        t.add(str(v))
        return cls(tables, intent_entities=used, **kw)

    @classmethod
    def from_skills(cls, skills: Iterable[Any], **kw: Any) -> "EntityResolver":
        """Build from loaded :class:`~assistant.skills.sdk.Skill`\\ s (global names)."""
        nlu: list[dict] = []
        domain: dict[str, Any] = {"slots": {}}
        for s in skills:
            ns = s.namespaced()
            nlu += ns.nlu
            domain["slots"].update(ns.domain.get("slots") or {})
        return cls.from_nlu(nlu, domain, **kw)

    # ------------------------------------------------------------------ one value
    def resolve_value(self, entity: str, heard: str) -> Resolution:
        """Resolve one heard value of ``entity`` (edge words tried off and on).

        Returns:
            A :class:`Resolution`; an entity without declared values gives ``free``.
        """
        words = str(heard).split()
        t = self.tables.get(entity)
        if t is None or not t.closed or not t.variants or t.patterned:
            i, j = 0, len(words)
            while j - i > 1 and normalize(words[i]) in OPEN_EDGE_WORDS:
                i += 1
            while j > i + 1 and normalize(words[j - 1]) in OPEN_EDGE_WORDS:
                j -= 1
            text = " ".join(words[i:j]) or str(heard)
            if t is not None and normalize(text) in t.variants:
                return Resolution("exact", t.variants[normalize(text)], 1.0, None, text, (i, len(words) - j))
            return Resolution("free", text, 1.0, None, text, (i, len(words) - j))
        best: tuple[float, int, Match | None, list[Match], int, int] | None = None
        n = len(words)
        for i in range(n):
            if i and normalize(words[i - 1]) not in EDGE_WORDS:
                break
            for j in range(n, i, -1):
                if j < n and normalize(words[j]) not in EDGE_WORDS:
                    break
                ms = t.matches(" ".join(words[i:j]))
                top = ms[0] if ms else None
                score = top.score if top else 0.0
                cand = (score, -(i + n - j), top, ms, i, j)
                if best is None or cand[:2] > best[:2]:
                    best = cand
        if best is not None and best[0] < 1.0 and n > 1:
            # a span with a word too many ("open libreoffice calc"): an exact declared value
            # inside it, at most 2 words from each edge, wins (the longest one)
            for size in range(n - 1, max(0, n - 5), -1):
                hits = [(i, i + size) for i in range(n - size + 1)
                        if i <= 2 and n - (i + size) <= 2 and normalize(" ".join(words[i:i + size])) in t.variants]
                if hits:
                    i, j = hits[0]
                    ms = t.matches(" ".join(words[i:j]))
                    best = (1.0, 0, ms[0], ms, i, j)
                    break
        if best is None or best[2] is None:
            return Resolution("unknown", str(heard), 0.0, None, str(heard))
        score, _, top, ms, i, j = best
        text = " ".join(words[i:j])
        cut = (i, n - j)
        if score >= 1.0:
            return Resolution("exact", top.value, 1.0, None, text, cut)
        runner = next((m for m in ms[1:] if m.value != top.value), None)
        ambiguous = runner is not None and top.score - runner.score < AMBIGUITY_MARGIN
        if score >= self.accept and not ambiguous:
            return Resolution("resolved", top.value, score, None, text, cut)
        if score >= self.ask:
            return Resolution("ask", text, score, top.value, text, cut)
        return Resolution("unknown", text, score, top.value, text, cut)

    # ------------------------------------------------------------------ a message
    def resolve(self, text: str, entities: Iterable[Mapping[str, Any]] | None, intent: str | None = None,
                types: Iterable[str] = (), focus: str | None = None) -> list[dict]:
        """Resolve the NLU entities of one message.

        Args:
            text: the message text (entity ``start``/``end`` are offsets into it).
            entities: Rasa entity dicts (``entity``, ``value``, ``start``, ``end``, …).
            intent: the recognised intent: runs of words the NLU did not tag are searched for
                declared values of the entities its training examples use (confidence ≥
                ``gap``; "turn off the telly" → ``device="tv"``). None: no gap filling.
            types: more entity names to search for that way (a form's requested slot).
            focus: a skill id: entities of other skills are dropped first (the timer's
                ``timer_name`` "coffee" never competes with a coffee skill's ``drink``).

        Returns:
            New dicts, one per kept span, in text order: the input keys plus ``heard``,
            ``raw_value``, ``resolution``, ``resolution_confidence`` (and ``candidate``
            for ``"ask"``); ``value`` is canonical for ``exact``/``resolved``;
            ``start``/``end`` shrink when edge words were cut. Already resolved entities
            (with ``resolution``) are passed through unchanged.
        """
        items: list[dict] = []
        for e in entities or []:
            if not isinstance(e, Mapping) or not e.get("entity"):
                continue
            if focus and not str(e["entity"]).startswith(f"{focus}__"):
                continue
            d = dict(e)
            if "resolution" in d:
                items.append(d)
                continue
            start, end = d.get("start"), d.get("end")
            span = text[start:end] if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text) \
                else None
            heard = span if span is not None else str(d.get("value") or "")
            res = self.resolve_value(str(d["entity"]), heard)
            if res.status in ("unknown", "free") and span is not None and d.get("value") is not None \
                    and normalize(str(d["value"])) != normalize(span):
                # a synonym the NLU already mapped: trust it when it is a declared value
                res2 = self.resolve_value(str(d["entity"]), str(d["value"]))
                if STATUS_RANK[res2.status] > STATUS_RANK[res.status] or res.status == "free":
                    res = Resolution(res2.status, res2.value, res2.confidence, res2.candidate, res.heard, res.cut)
            if span is not None and res.cut != (0, 0):
                words = list(re.finditer(r"\S+", span))
                if words and res.cut[0] + res.cut[1] < len(words):
                    d["start"] = start + words[res.cut[0]].start()
                    d["end"] = start + words[len(words) - 1 - res.cut[1]].end()
            if span is not None and res.status != "exact":
                wider = self._widen_to_exact(text, str(d["entity"]), start, end)
                if wider is not None:
                    d["start"], d["end"], res = wider
            d["raw_value"] = d.get("value")
            d["heard"] = res.heard
            if not (res.status == "exact" and _same_but_case(res.value, str(d.get("value")))):
                d["value"] = res.value  # (an exact match keeps the NLU's case, not its digits: "12 ounce")
            d["resolution"] = res.status
            d["resolution_confidence"] = round(res.confidence, 3)
            if res.status == "ask" and res.candidate is not None:
                d["candidate"] = res.candidate
            items.append(d)
        kept = _one_per_span(items)
        want = {t for t in (*self.intent_entities.get(intent or "", ()), *types)
                if t in self.tables and self.tables[t].closed and self.tables[t].variants
                and not self.tables[t].patterned}
        return self._fill_gaps(text, kept, want) if want else kept

    def _widen_to_exact(self, text: str, entity: str, start: int, end: int) -> tuple[int, int, Resolution] | None:
        """The NLU tagged part of a declared value: "cross" of "kings cross" (a synonym of
        "london kings cross"), said alone as a form answer. Returns ``(start, end,
        Resolution)`` of the longest run of words around ``text[start:end]`` that is
        exactly a declared value or synonym of ``entity`` (character offsets into
        ``text``), or None. Only exact matches widen a span: a fuzzy one would swallow
        neighbouring words."""
        t = self.tables.get(entity)
        if t is None or not t.closed or not t.variants or t.patterned:
            return None
        words = list(re.finditer(r"[A-Za-z0-9'-]+", text))
        inside = [k for k, w in enumerate(words) if w.start() < end and start < w.end()]
        if not inside:
            return None
        longest = max(len(v.split()) for v in t.variants)
        first, last = inside[0], inside[-1]
        best = None
        for i in range(max(0, last - longest + 1), first + 1):
            for j in range(last + 1, min(len(words), i + longest) + 1):
                if j - i <= last - first + 1:
                    continue  # only wider than the tagged span
                key = normalize(text[words[i].start():words[j - 1].end()])
                if key in t.variants and (best is None or j - i > best[1] - best[0]):
                    best = (i, j)
        if best is None:
            return None
        s, e = words[best[0]].start(), words[best[1] - 1].end()
        return s, e, Resolution("exact", t.variants[normalize(text[s:e])], 1.0, None, text[s:e])

    def _fill_gaps(self, text: str, kept: list[dict], types: set[str]) -> list[dict]:
        """Add entities for runs of words that match a declared value of ``types`` with
        confidence ≥ :attr:`gap` (and at least 4 letters unless exact); such a run may
        replace a shorter entity of the same type it contains ("seiling fan" ⊃ "fan")."""
        words = list(re.finditer(r"[A-Za-z0-9']+", text))
        longest = max(len(v.split()) for t in types for v in self.tables[t].variants) + 1
        spans = [(e.get("start"), e.get("end"), e) for e in kept if isinstance(e.get("start"), int)]
        found = []
        for i in range(len(words)):
            if normalize(words[i].group()) in EDGE_WORDS:
                continue
            for j in range(i + 1, min(len(words), i + longest) + 1):
                if normalize(words[j - 1].group()) in EDGE_WORDS:
                    continue
                s, e = words[i].start(), words[j - 1].end()
                inside = [k for ks, ke, k in spans if ks < e and s < ke]
                if any(not (s <= ks and ke <= e) for ks, ke, k in spans if ks < e and s < ke):
                    continue  # crosses an entity's edge
                heard = text[s:e]
                for t in types:
                    if any((k.get("end") - k.get("start")) >= e - s for k in inside):
                        continue
                    # inside entities of another type only give way to an exact declared value
                    # of several words, and only when they are not declared values themselves:
                    # "sixteen to twenty five railcard" is one railcard, not passengers=5
                    key = normalize(heard)
                    if any(k.get("entity") != t for k in inside) and (
                            key not in self.tables[t].variants or len(key.split()) < 2
                            or any(k.get("entity") != t and k.get("resolution") not in ("free", "unknown")
                                   for k in inside)):
                        continue
                    ms = self.tables[t].matches(heard)
                    if not ms:
                        continue
                    top = ms[0]
                    runner = next((m for m in ms[1:] if m.value != top.value), None)
                    if top.score < self.gap or (top.score < 1.0 and len(normalize(heard)) < 4):
                        continue
                    if top.score < 1.0 and runner is not None and top.score - runner.score < AMBIGUITY_MARGIN:
                        continue
                    # a declared value already found inside is only replaced by a longer declared
                    # value (or a synonym of one) containing it ("fan" → "ceiling fan", "large"
                    # → "extra large" = "family size"), never by itself plus noise
                    if any(k.get("resolution") in ("exact", "resolved") and not (
                            _inside(normalize(str(k.get("value"))), normalize(top.value))
                            or (top.score >= 1.0 and _inside(normalize(str(k.get("value"))), top.variant)))
                           for k in inside):
                        continue
                    found.append({"entity": t, "value": top.value, "start": s, "end": e, "heard": heard,
                                  "raw_value": None, "resolution": "exact" if top.score >= 1.0 else "resolved",
                                  "resolution_confidence": round(top.score, 3), "extractor": "EntityResolver",
                                  "_replaces": inside})
        out = list(kept)
        for d in sorted(found, key=lambda d: (d["resolution_confidence"], d["end"] - d["start"]), reverse=True):
            replaces = d.pop("_replaces")
            if any(k not in out for k in replaces):
                continue
            others = [k for k in out if k not in replaces]
            if any(isinstance(k.get("start"), int) and k["start"] < d["end"] and d["start"] < k["end"] for k in others):
                continue
            out = others + [d]
        return sorted(out, key=lambda d: (d.get("start") if isinstance(d.get("start"), int) else 10**9))


def _same_but_case(a: str, b: str) -> bool:
    """Whether two spellings differ at most in case and spacing ("Kings Cross" / "kings
    cross"; not "12 ounce" / "twelve ounce", which :func:`normalize` makes equal)."""
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def _singular_of_declared(table: ValueTable, text: str) -> str | None:
    """The canonical value of a lookup entry ``text`` is the plural of ("cappuccinos",
    "flat whites", "large teas" → "cappuccino", …), or None; only for a closed table and a
    ``text`` that is not itself declared."""
    key = normalize(text)
    if not table.closed or not key or key in table.variants:
        return None
    for cut in ("es", "s"):
        if key.endswith(cut) and key[: -len(cut)] in table.variants:
            return table.variants[key[: -len(cut)]]
    return None


def _inside(small: str, big: str) -> bool:
    """``small`` is a whole-word part of ``big`` and not all of it (both normalised)."""
    return f" {small} " in f" {big} " and small != big


def _key(d: Mapping[str, Any]) -> tuple:
    """Ranking of overlapping entities: status, then the length of the declared value
    matched (of the span for values not declared: "open libreoffice calc" and "libreoffice
    calc" both match "libreoffice calc", and then the better match wins), then confidence."""
    if d.get("resolution") in ("exact", "resolved"):
        length = len(normalize(str(d.get("value"))))
    elif isinstance(d.get("start"), int) and isinstance(d.get("end"), int):
        length = d["end"] - d["start"]
    else:
        length = len(str(d.get("value")))
    return (STATUS_RANK.get(str(d.get("resolution")), 2), length, float(d.get("resolution_confidence") or 0.0),
            float(d.get("confidence_entity", d.get("confidence", 0.0)) or 0.0))


def _one_per_span(items: list[dict]) -> list[dict]:
    """Keep non-overlapping entities, best first by (status, span length, confidence);
    entities of one type with different roles may share a span ("from"/"to" of one
    station list); a role-less copy of a role's span (the lookup table's, beside the
    CRF's with the role) gives way to it."""
    kept: list[dict] = []
    for d in sorted(items, key=_key, reverse=True):
        s, e = d.get("start"), d.get("end")
        clash = False
        for n, k in enumerate(kept):
            ks, ke = k.get("start"), k.get("end")
            if isinstance(s, int) and isinstance(ks, int) and isinstance(e, int) and isinstance(ke, int):
                overlap = s < ke and ks < e
            else:
                overlap = k.get("entity") == d.get("entity") and k.get("value") == d.get("value")
            if not overlap:
                continue
            if k.get("entity") == d.get("entity") and k.get("role") and d.get("role") and k.get("role") != d.get("role"):
                continue
            if k.get("entity") == d.get("entity") and d.get("role") and not k.get("role") and (s, e) == (ks, ke):
                kept[n] = {**k, "role": d["role"]}  # the better-ranked value, with the role
            clash = True
            break
        if not clash:
            kept.append(d)
    return sorted(kept, key=lambda d: (d.get("start") if isinstance(d.get("start"), int) else 10**9))


#: Entity resolution on (default) or off, process-wide: the sidecar's ``DialogueResult``
#: entities, ``ctx.entity`` and form slots. ``benchmarks/command_bench.py --no-resolve``
#: switches it off to measure what it buys.
ENABLED = True


class ProjectResolution:
    """Entity resolution (one entity per span, declared values) for a composed Rasa
    project, as the sidecar's ``resolve`` function (:data:`assistant.nlu.client.ResolveFn`);
    the :class:`EntityResolver` is built from ``project``'s NLU data and domain on first use. Called with ``(text, entities,
    intent)``, returns the resolved entities (unchanged when resolution is disabled)."""

    def __init__(self, project: Any) -> None:
        self._project = project
        self._resolver: Any = None

    def __call__(self, text: str, entities: list[dict], intent: str | None = None) -> list[dict]:
        if not ENABLED:
            return entities
        if self._resolver is None:
            self._resolver = EntityResolver.from_nlu(self._project.nlu, self._project.domain)
        focus = intent.split("__", 1)[0] if intent and "__" in intent else None  # the intent's skill
        return self._resolver.resolve(text, entities, intent, focus=focus)
