"""Plural forms in the lookup tables Rasa trains with, so that its extractors tag them.

Rasa's ``RegexEntityExtractor`` tags exactly the strings of a lookup table, and the CRF
learns from annotated examples; a skill lists its values in the singular ("espresso",
"flat white", "lamp"), so "four espressos" or "two flat whites" had no entity at all, the
intent classifier had only a number to go on and the request fell back (found by a
drinks-ordering skill written from docs/skills.md alone). Each lookup entry whose last word
is a regular English noun-like word gets its plural (-s, -es after s/x/z/ch/sh, -ies after a
consonant + y; English spelling rules as in any grammar, e.g. the Cambridge Grammar of
English §10.23) in the *training* copy of the project. Entity resolution maps a heard plural
to the singular declared value (:func:`assistant.skills.resolve.EntityResolver.resolve_value`:
spelling similarity ≥ 0.9), so skills still see their own spelling.

Irregular plurals ("men", "teeth") are not made; entries ending in a digit, an "s" (already
plural, or "glass") or shorter than 3 letters are left alone.
"""

from __future__ import annotations

import re

from assistant.nlu.project import RasaProject, example_block, example_lines

_LAST_WORD = re.compile(r"([A-Za-z]+)$")


def plural(phrase: str) -> str | None:
    """The phrase with its last word in the regular plural ("flat white" → "flat whites",
    "peach tea" → "peach teas", "box" → "boxes", "berry" → "berries"), or None when it
    should not get one (see the module docstring)."""
    m = _LAST_WORD.search(phrase.strip())
    if m is None:
        return None
    word = m.group(1)
    low = word.lower()
    if len(low) < 3 or low.endswith("s"):
        return None
    if low.endswith(("x", "z", "ch", "sh")):
        new = word + "es"
    elif low.endswith("y") and low[-2] not in "aeiou":
        new = word[:-1] + "ies"
    else:
        new = word + "s"
    return phrase.strip()[: m.start(1)] + new


def with_plural_lookups(project: RasaProject) -> RasaProject:
    """A copy of ``project`` whose lookup tables also hold their entries' regular plurals
    (after the entries, without duplicates). Intents, synonyms and regexes are left alone.

    Returns:
        A new :class:`RasaProject`; the input is not modified.
    """
    out = project.copy()
    for n, item in enumerate(out.nlu):
        if "lookup" not in item:
            continue
        entries = example_lines(item.get("examples"))
        have = {e.lower() for e in entries}
        extra = []
        for e in entries:
            p = plural(e)
            if p is not None and p.lower() not in have:
                have.add(p.lower())
                extra.append(p)
        if extra:
            out.nlu[n] = {**item, "examples": example_block(entries + extra)}
    return out
