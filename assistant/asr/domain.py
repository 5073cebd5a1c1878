"""The domain pass: decode a command again, biased only towards the skill it is for.

Why (issue 9, DESIGN.md "Contextual biasing pays"): biasing Whisper with *every* skill's
vocabulary is a long list cut to fit the 223-token prompt, so the skill the user is talking
to keeps only some of its values, and a long list reads to Whisper like text to continue.
On real spoken orders, the owning skill's values alone as hotwords put every slot value in
the transcript for 38/40 clips with no invented phrase (0/40), against 16/40 clips that
began with an invented phrase with the whole list. The intent alone is right far more often
(97 %) than the slot values (43 %), so the first transcript is good enough to know the
skill, and a second decode of the same audio with that skill's vocabulary gets its values.

The pass runs after the final transcript: parse it (Rasa ``/model/parse``, a few ms), and
when the best non-fallback intent belongs to a skill and carries entities (its training
examples annotate some), decode the utterance again with only that skill's vocabulary as
hotwords and ``beam_size``; the bias guard checks the result against the first transcript
(:func:`~assistant.asr.guard.merge_biased`: a whole vocabulary phrase that only the second
decode has is dropped). A transcript that
needs no slot values (``what time is it``) is left alone and costs nothing.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import numpy as np

from assistant.asr.guard import merge_biased
from assistant.asr.metrics import normalize_text
from assistant.asr.samples import SAMPLE_RATE
from assistant.asr.transcript import Transcript
from assistant.asr.vocabulary import hotword_phrases

log = logging.getLogger(__name__)

FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope", ""})
"""Intent names that name no skill (Rasa's fallback and the app's out-of-scope intent)."""

MIN_CONFIDENCE = 0.2
"""The best non-fallback intent of the first transcript must have at least this
confidence (Rasa's ``intent_ranking``, 0–1) for its skill's vocabulary to be used: a garbled
first transcript still usually ranks the right domain first, and a wrong domain only
biases towards words that the bias guard then checks against the audio."""


@dataclass(frozen=True)
class DomainVocabularies:
    """Per skill, the phrases that bias a domain pass, and which intents carry entities.

    Attributes:
        phrases: skill id → its vocabulary phrases, most important first (see
            :meth:`assistant.skills.Skill.vocabulary`).
        slot_intents: namespaced intent names (``skill__intent``) whose training examples
            annotate at least one entity.
        sep: the separator between skill id and intent name (``"__"``).
    """

    phrases: dict = field(default_factory=dict)
    slot_intents: frozenset = frozenset()
    sep: str = "__"
    carrier_words: dict = field(default_factory=dict)

    @classmethod
    def from_skills(cls, skills: Iterable, sep: str = "__") -> "DomainVocabularies":
        """Collect them from loaded skills (objects with ``id``, ``vocabulary()``,
        ``slot_intents()`` returning global intent names, ``skill__intent``, and
        ``namespaced().nlu``, Rasa NLU items with those names)."""
        from assistant.nlu.carriers import PREFIXES, SUFFIXES
        from assistant.nlu.project import ANNOTATION_RE, example_lines

        phrases, slot, carriers = {}, set(), {}
        politeness = {w for c in (*PREFIXES, *SUFFIXES) for w in _WORD.findall(c)}
        for sk in skills:
            vocab = [p for p in sk.vocabulary() if p and p.strip()]
            if vocab:
                phrases[sk.id] = tuple(vocab)
            slot |= set(sk.slot_intents())
            for item in sk.namespaced().nlu:
                if "intent" in item:
                    words = carriers.setdefault(item["intent"], set(politeness))
                    for ex in example_lines(item.get("examples")):
                        words.update(_WORD.findall(ANNOTATION_RE.sub(" ", ex).lower()))
        return cls(phrases, frozenset(slot), sep, {k: frozenset(v) for k, v in carriers.items()})

    def for_intent(self, intent: str) -> tuple[str, ...]:
        """The vocabulary to decode ``intent`` with, or ``()`` when it carries no entities
        or its skill has no vocabulary."""
        if intent not in self.slot_intents or self.sep not in intent:
            return ()
        return self.phrases.get(intent.split(self.sep, 1)[0], ())


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def unexplained(text: str, intent: str, entities: Iterable[dict], vocab: DomainVocabularies) -> str:
    """Why a domain pass could still change what ``text`` means ("" when it could not):
    ``text`` is *explained* when every word of it is either a carrier word of ``intent``
    (a word of its training examples outside the entity annotations, or a politeness word of
    :mod:`assistant.nlu.carriers`) or inside an entity span whose value resolved exactly to
    one of the skill's declared values (``resolution == "exact"``) or belongs to an entity
    type without declared values (``"free"``: no value for a bias to restore). A second decode biased
    towards the skill's vocabulary can then only swap one declared value for another that
    the unbiased decode did not hear; everything else — a near-miss value ("meaty roast"),
    a word no example has ("open fire fox"), an unsure resolution — keeps the pass.

    Args:
        text: the first transcript, as Whisper wrote it.
        intent: its intent (``skill__intent``).
        entities: the parse's entities after entity resolution
            (:meth:`assistant.nlu.sidecar.RasaSidecar.resolved_entities`): ``start``/``end``
            offsets into ``text``, ``resolution``.
        vocab: the skills' vocabularies (their :attr:`DomainVocabularies.carrier_words`).
    Returns:
        "" or a short reason for the log (never the transcript's words).
    """
    known = vocab.carrier_words.get(intent)
    if not known:
        return "no examples"
    covered = []
    for e in entities:
        if e.get("resolution") not in ("exact", "free"):
            return f"{e.get('entity')} {e.get('resolution') or 'unresolved'}"
        start, end = e.get("start"), e.get("end")
        if not (isinstance(start, int) and isinstance(end, int)):
            return "entity without a span"
        covered.append((start, end))
    for m in _WORD.finditer(text.lower()):
        if m.group() not in known and not any(a <= m.start() and m.end() <= b for a, b in covered):
            return "a word outside the intent's examples"
    return ""


def best_intent(parse: dict) -> tuple[str, float]:
    """The best intent of a Rasa ``/model/parse`` answer that is not a fallback:
    ``intent_ranking`` keeps the classifier's ranking under an ``nlu_fallback``.

    Returns:
        ``(name, confidence)``, or ``("", 0.0)`` when there is none.
    """
    ranking = list(parse.get("intent_ranking") or [])
    if parse.get("intent"):
        ranking.insert(0, parse["intent"])
    for item in ranking:
        name = (item or {}).get("name") or ""
        if name not in FALLBACK_INTENTS:
            return name, float(item.get("confidence") or 0.0)
    return "", 0.0


def unglue(text: str, first: str) -> str:
    """Split words of ``text`` that are two adjacent words of ``first`` written together.

    With a list of single lower-case names as hotwords, the second decode sometimes glues
    the verb to the name: "Open rhythmbox." → "openrhythmbox", "Opennautilus."
    (benchmarks/vocab_bench.py, Piper and espeak-ng voices). The first transcript has them
    apart; keep its split.

    Args:
        text: the domain pass's transcript.
        first: the first transcript of the same audio.
    """
    pairs = {}
    fw = [w.strip(".,!?;:").lower() for w in first.split()]
    for a, b in zip(fw, fw[1:]):
        if a and b:
            pairs[a + b] = (a, b)
    out = []
    for w in text.split():
        core = w.strip(".,!?;:")
        split = pairs.get(core.lower())
        if split and core:
            head = w[: w.lower().index(core.lower())] if core.lower() in w.lower() else ""
            tail = w[len(head) + len(core):]
            out.append(f"{head}{core[: len(split[0])]} {core[len(split[0]):]}{tail}")
        else:
            out.append(w)
    return " ".join(out)


_NUMBER_WORDS = frozenset("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                          "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
                          "eighty ninety hundred thousand and a an".split())


def stopped_early(first: str, text: str) -> bool:
    """Whether ``text``, a second decode of the audio ``first`` was decoded from, stopped
    before the end: it has at least two words fewer than ``first`` and is, but for at most
    one word, the start of ``first`` (``difflib.SequenceMatcher`` over the words).
    Numbers, number words and "a"/"an"/"and" are left out ("five minutes" and "5 minutes"
    say the same); words are compared normalized
    (:func:`~assistant.asr.metrics.normalize_text`). A second decode that rewrote garbled
    words into the skill's values ("there so I won't tidy you" → "bedside lamp, sky blue")
    did not stop early.

    Seen: a quiet recording (-30 dB) of "Set a timer for five minutes." whose streaming
    decodes all heard the whole command, and whose domain pass (beam 5, the timer skill's
    vocabulary as hotwords) wrote only "set a timer" — the skill then asked how long.
    """
    def words(t: str) -> list[str]:
        return [w for w in normalize_text(t).split() if not w.isdigit() and w not in _NUMBER_WORDS]

    a, b = words(first), words(text)
    if len(b) > len(a) - 2:
        return False
    same = sum(m.size for m in difflib.SequenceMatcher(None, a[:len(b)], b, autojunk=False).get_matching_blocks())
    return same >= len(b) - 1


@dataclass(frozen=True)
class DomainPass:
    """What the domain pass did.

    Attributes:
        text: the transcript to use (the first one when the pass did not run).
        intent: the first transcript's best non-fallback intent ("" if none).
        ran: whether the audio was decoded again.
        decode_ms: the second decode's time in milliseconds (0 when it did not run).
    """

    text: str
    intent: str = ""
    ran: bool = False
    decode_ms: float = 0.0


NBEST_KNOWN_BONUS = 0.3
"""N-best rescoring: per entity whose value is one of the skill's vocabulary phrases, added
to a hypothesis's average token log-probability (natural log); the same taken off per entity
that is not, and 1.0 taken off when the hypothesis parses to another intent than the first
transcript's. Hypotheses of one beam differ by 0.01–0.2 in that average, so a known slot
value outweighs the acoustic difference between near-identical beams."""


def rescore(hyps: list[tuple[str, float]], intent: str, parse: Callable[[str], dict],
            phrases: Iterable[str]) -> tuple[str, float] | None:
    """Pick the hypothesis the NLU finds most plausible (N-best rescoring).

    Score of ``(text, avg_logprob)``: ``avg_logprob`` + :data:`NBEST_KNOWN_BONUS` × (entities
    whose value is a vocabulary phrase − the other entities) − 1.0 if its best intent is not
    ``intent``. Hypotheses that differ only in case and punctuation are parsed once.

    Args:
        hyps: :meth:`~assistant.asr.WhisperASR.nbest` output, best first.
        intent: the first transcript's intent.
        parse: text → Rasa's ``/model/parse`` answer.
        phrases: the skill's vocabulary phrases.
    Returns:
        The best ``(text, score)``, or None for no hypotheses.
    Raises:
        NLUError: ``parse`` failed.
    """
    known = {normalize_text(p) for p in phrases}
    seen: dict[str, float] = {}
    best: tuple[str, float] | None = None
    for text, logprob in hyps:
        key = normalize_text(text)
        if key not in seen:
            p = parse(text)
            ents = [normalize_text(str(e.get("value", ""))) for e in p.get("entities") or []]
            good = sum(e in known for e in ents)
            seen[key] = NBEST_KNOWN_BONUS * (2 * good - len(ents)) - (0.0 if best_intent(p)[0] == intent else 1.0)
        score = logprob + seen[key]
        if best is None or score > best[1]:
            best = (text, score)
    return best


def domain_pass(asr, audio: np.ndarray, first: str, parse: Callable[[str], dict],
                vocab: DomainVocabularies, *, beam_size: Optional[int] = 5, nbest: int = 1) -> DomainPass:
    """Decode ``audio`` again with only the vocabulary of the skill ``first`` is for.

    Args:
        asr: a loaded :class:`~assistant.asr.WhisperASR`.
        audio: the whole utterance, 16 kHz mono ``int16`` or ``float32`` of shape ``(n,)``.
        first: the first (streaming) final transcript.
        parse: text → Rasa's ``/model/parse`` answer (``intent``, ``intent_ranking``).
        vocab: the skills' :class:`DomainVocabularies`.
        beam_size: beam width of the second decode (``None``: the model's own).
        nbest: with more than 1, the second decode keeps this many hypotheses
            (:meth:`~assistant.asr.WhisperASR.nbest`) and :func:`rescore` picks one by its
            parse (the intent of the first transcript, known slot values); the bias guard
            then checks it like a single hypothesis.

    Returns:
        A :class:`DomainPass`. When the second decode is empty (it never should be for
        speech the first decode heard), or stopped before the end of what the first transcript
        heard (:func:`stopped_early`), the first transcript is kept.

    Raises:
        NLUError: ``parse`` failed (the caller keeps the first transcript).
        ModelError: the decode failed.
    """
    if not first.strip() or len(audio) == 0:
        return DomainPass(first)
    intent, conf = best_intent(parse(first))
    phrases = vocab.for_intent(intent) if conf >= MIN_CONFIDENCE else ()
    if not phrases:
        return DomainPass(first, intent)
    if nbest > 1:
        t0 = time.perf_counter()
        hyps = asr.nbest(audio, list(phrases), n=nbest, beam_size=max(beam_size or 1, nbest))
        pick = rescore(hyps, intent, parse, phrases)
        seconds = len(audio) / SAMPLE_RATE
        res = Transcript(pick[0] if pick else "", [], "en", seconds, (time.perf_counter() - t0) * 1000, ())
    else:
        res = asr.transcribe(audio, hotwords=list(phrases), word_timestamps=False, beam_size=beam_size)
    # The first transcript is the evidence against invented words anywhere (the model's own
    # guard only looks at a phrase in front): a whole vocabulary phrase only the second
    # decode has is dropped, and a vocabulary phrase the first transcript heard is not
    # swapped for other words (assistant.asr.guard.merge_biased: keep_plain_phrases, not
    # its general replacement rule).
    seconds = len(audio) / SAMPLE_RATE
    plain = Transcript(first, [], res.language, seconds, 0.0, (), ((0.0, seconds, first),))
    if res.text.strip():
        res = merge_biased(res if res.segments else Transcript(res.text, [], res.language, seconds, res.decode_ms, (),
                                                               ((0.0, seconds, res.text),)),
                           plain, hotword_phrases(list(phrases)), word_timestamps=False, replacements=False,
                           keep_plain_phrases=True)
    text = unglue(res.text.strip(), first) or first
    if stopped_early(first, text):
        log.debug("domain pass (%s) stopped early; keeping the first transcript", intent)
        text = first
    if text != first:
        log.debug("domain pass (%s) changed the transcript", intent)  # never the text itself
    return DomainPass(text, intent, True, res.decode_ms)
