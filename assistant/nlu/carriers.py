"""Carrier phrases in every intent's training examples, so that they stop naming an intent.

A skill author writes a dozen examples per intent, and politeness lands wherever it
happens to: the smart-home benchmark skill has "can you switch on the [tv](device)" in
``turn_on`` and no "can you" in ``turn_off``, so the intent classifier (word and character
n-grams into a logistic regression, :mod:`assistant.nlu.config`) learned "can you" as
evidence for ``turn_on``, and "can you switch off the front porch washing machine" was
``turn_on`` 0.59 / ``turn_off`` 0.40. Words that carry no intent ("please", "can you",
"thanks", a filler) are therefore added to *every* intent's examples — each carrier an
intent lacks to one of its examples, round-robin — and the classifier sees them everywhere.
This is the balancing half of the usual data augmentation for small intent data sets (e.g. Rasa's own advice to vary training examples; the carriers
themselves are a judgement, listed in :data:`PREFIXES` and :data:`SUFFIXES`).

Entity annotations are kept as they are (a carrier is plain words before or after the
example), so the entity extractors learn the same spans. Figures: README, "Real voices".
"""

from __future__ import annotations

from assistant.nlu.project import RasaProject, example_block, example_lines, strip_annotations

#: Words said before a command that name no intent.
PREFIXES = ("please", "can you", "could you", "hey", "okay", "um")
#: Words said after a command that name no intent.
SUFFIXES = ("please", "thanks", "thank you")


def with_carrier_phrases(project: RasaProject, prefixes: tuple[str, ...] = PREFIXES,
                         suffixes: tuple[str, ...] = SUFFIXES) -> RasaProject:
    """A copy of ``project`` whose every intent has one more example per carrier phrase.

    For an intent with examples ``e_0 … e_{n-1}``, carrier ``j`` (prefixes first, then
    suffixes) is added to ``e_{j mod n}`` unless one of the intent's examples already starts
    (ends) with it, so every intent has each carrier at least once; a new example that
    equals an existing one of any intent is not added. Deterministic: the same project gives
    the same training data (the trained model is cached by its hash).

    Args:
        project: the composed project (``nlu`` items ``{"intent", "examples"}``; lookups,
            synonyms and regexes are left alone).
        prefixes, suffixes: the carrier phrases, lower case.
    Returns:
        A new :class:`RasaProject`; the input is not modified.
    """
    out = project.copy()
    seen = {strip_annotations(x) for item in out.nlu if "intent" in item for x in example_lines(item["examples"])}
    carriers = [(c, True) for c in prefixes] + [(c, False) for c in suffixes]
    for n, item in enumerate(out.nlu):
        if "intent" not in item:
            continue
        examples = example_lines(item["examples"])
        if not examples:
            continue
        plains = [strip_annotations(x) for x in examples]
        added = []
        for j, (carrier, before) in enumerate(carriers):
            if any(p.startswith(carrier + " ") if before else p.endswith(" " + carrier) for p in plains):
                continue  # the intent has it already
            base = examples[j % len(examples)]
            new = f"{carrier} {base}" if before else f"{base} {carrier}"
            key = strip_annotations(new)
            if key in seen:
                continue
            seen.add(key)
            added.append(new)
        if added:
            out.nlu[n] = {**item, "examples": example_block(examples + added)}
    return out
