"""Rasa training data as plain Python, and its YAML form.

The skill loader (:func:`assistant.skills.compose_project`) builds one :class:`RasaProject`
from all enabled skills; :class:`assistant.nlu.sidecar.RasaSidecar` writes it out as the
files ``rasa train`` reads. Nothing here imports Rasa (it lives in another Python).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

#: Format version written into every Rasa 3.x YAML file.
RASA_YAML_VERSION = "3.1"
#: An entity annotation in a training example: ``[text](entity)``, ``[text](entity:value)``,
#: ``[text]{"entity": …}``.
ANNOTATION_RE = re.compile(r"\[(?P<text>[^\]]+?)\](?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|(?P<json>\{[^}]+?\}))")


@dataclass
class RasaProject:
    """Rasa training data as plain Python (what the YAML files would contain).

    Attributes:
        domain: ``domain.yml`` content (without ``version``, which is added on writing):
            ``intents``, ``entities``, ``slots``, ``forms``, ``responses``, ``actions``,
            ``session_config``.
        nlu: ``nlu.yml`` ``"nlu"`` entries: ``{"intent": n, "examples": "- a\\n- b\\n"}``,
            ``{"lookup": n, "examples": ...}``, ``{"synonym": v, "examples": ...}``,
            ``{"regex": n, "examples": ...}``.
        rules: ``rules.yml`` ``"rules"`` entries.
        stories: ``stories.yml`` ``"stories"`` entries (may be empty).
    """

    domain: dict
    nlu: list[dict]
    rules: list[dict]
    stories: list[dict] = field(default_factory=list)

    def copy(self) -> "RasaProject":
        """A deep copy (so callers can add to it without touching the original)."""
        return copy.deepcopy(self)

    def intents(self) -> list[str]:
        """Intent names declared in the domain (strings or ``{name: {...}}`` entries)."""
        names = []
        for item in self.domain.get("intents", []) or []:
            names.append(next(iter(item)) if isinstance(item, dict) else str(item))
        return names

    def yaml_files(self) -> dict[str, str]:
        """The project as Rasa YAML files.

        Returns:
            ``{relative path: YAML text}`` for ``domain.yml``, ``data/nlu.yml``,
            ``data/rules.yml`` and ``data/stories.yml``, deterministic for equal input
            (keys keep their insertion order; multi-line strings are written as ``|``
            blocks).
        """
        domain = {"version": RASA_YAML_VERSION, **{k: v for k, v in self.domain.items() if k != "version"}}
        return {
            "domain.yml": dump_yaml(domain),
            "data/nlu.yml": dump_yaml({"version": RASA_YAML_VERSION, "nlu": list(self.nlu)}),
            "data/rules.yml": dump_yaml({"version": RASA_YAML_VERSION, "rules": list(self.rules)}),
            "data/stories.yml": dump_yaml({"version": RASA_YAML_VERSION, "stories": list(self.stories)}),
        }

    def write(self, folder: Path) -> list[Path]:
        """Write :meth:`yaml_files` under ``folder`` (created if needed).

        Returns:
            The paths written.

        Raises:
            OSError: the folder is not writable.
        """
        written = []
        for rel, text in self.yaml_files().items():
            path = Path(folder) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
        return written


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks and never uses
    anchors/aliases (Rasa's reader rejects nothing here, but aliases hurt readability)."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: D102 - PyYAML hook
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    """Serialise ``data`` as YAML the way the project files are written.

    Args:
        data: plain dicts/lists/strings/numbers/bools/None.

    Returns:
        YAML text (UTF-8, insertion order kept, multi-line strings as ``|`` blocks).

    Raises:
        yaml.representer.RepresenterError: ``data`` holds something that is not plain data.
    """
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def example_lines(examples: Any) -> list[str]:
    """The items of a Rasa ``examples`` block (``"- a\\n- b\\n"``) or of a YAML list."""
    if examples is None:
        return []
    if isinstance(examples, list):
        return [str(e).strip() for e in examples if str(e).strip()]
    out = []
    for raw in str(examples).splitlines():
        s = raw.strip()
        if not s:
            continue
        out.append(s[1:].strip() if s.startswith("-") else s)
    return out


def example_block(lines: Iterable[str]) -> str:
    """Items as a Rasa ``examples`` block: ``"- a\\n- b\\n"``."""
    return "".join(f"- {x}\n" for x in lines)


def annotations(example: str) -> list[tuple[str, str, str | None]]:
    """Entity annotations in one example.

    Returns:
        ``[(text, entity, value or None)]`` for ``[text](entity)``, ``[text](entity:value)``
        and ``[text]{"entity": ..., "value": ...}``.
    """
    out = []
    for m in ANNOTATION_RE.finditer(example):
        if m.group("json"):
            try:
                d = json.loads(m.group("json"))
            except ValueError:
                continue
            if isinstance(d, dict) and "entity" in d:
                out.append((m.group("text"), str(d["entity"]), d.get("value")))
        else:
            out.append((m.group("text"), m.group("entity").strip(), m.group("value")))
    return out


def strip_annotations(example: str) -> str:
    """``example`` as it would be said: annotations replaced by their text, lower case,
    whitespace collapsed ("Turn on the [Lamp](device)" → "turn on the lamp")."""
    out = example
    for text, _e, _v in annotations(example):
        out = re.sub(r"\[" + re.escape(text) + r"\](\([^)]*\)|\{[^}]*\})", text, out, count=1)
    return " ".join(out.lower().split())
