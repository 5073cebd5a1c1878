"""A skill's manifest: who it is, what it needs, and its settings schema.

The manifest is the ``skill:`` section of ``skill.yml`` (keyword arguments of
:meth:`assistant.skills.Skill.from_package` override it)::

    skill:
      id: timer                    # lower-case identifier, namespaces everything
      name: Timer
      version: 1.0.0
      description: Counts down and tells you when the time is up.
      languages: [en]
      requires_internet: false     # like OpenVoiceOS RuntimeRequirements
      examples:                    # optional: what to say, for "what can you do" and the UI
        - set a timer for five minutes
      settings:
        - {key: announce_name, type: bool, default: true, label: Say the timer's name}
        - {key: clock, type: choice, choices: ["12h", "24h"], default: "12h", label: Clock}

The settings schema is declarative so the settings panel can render it (a checkbox for
``bool``, a spin box for ``int``/``float`` with ``min``/``max``, a line edit for ``str``, a
combo box for ``choice``). User values live in ``SkillsSettings.options[<skill id>]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

#: A skill id: lower-case, starts with a letter, single underscores, no ``ask_`` prefix
#: (``utter_ask_<id>__…`` would be ambiguous with Rasa's form ask responses).
ID_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

SETTING_TYPES = ("bool", "int", "float", "str", "choice")


class ManifestError(ValueError):
    """An invalid manifest or setting value; ``str(exc)`` says which field and why."""


@dataclass(frozen=True)
class SettingField:
    """One user-editable setting of a skill.

    Attributes:
        key: identifier used in ``ctx.settings[key]`` and in settings.toml.
        type: ``"bool"``, ``"int"``, ``"float"``, ``"str"`` or ``"choice"``.
        default: value used when the user set nothing (must be valid itself).
        label: short text for the settings panel (defaults to ``key``).
        help: one sentence shown as a tooltip.
        choices: allowed values of a ``"choice"`` field (strings).
        min / max: bounds of an ``int``/``float`` field (inclusive), or None.
    """

    key: str
    type: str
    default: Any
    label: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not re.match(r"^[a-z][a-z0-9_]*$", self.key):
            raise ManifestError(f"setting key {self.key!r} must be a lower-case identifier")
        if self.type not in SETTING_TYPES:
            raise ManifestError(f"setting {self.key!r}: type must be one of {', '.join(SETTING_TYPES)}")
        if self.type == "choice" and not self.choices:
            raise ManifestError(f"setting {self.key!r}: a choice needs 'choices'")
        object.__setattr__(self, "choices", tuple(str(c) for c in self.choices))
        object.__setattr__(self, "default", self.coerce(self.default))
        if not self.label:
            object.__setattr__(self, "label", self.key.replace("_", " ").capitalize())

    def coerce(self, value: Any) -> Any:
        """Check and convert a user value to this field's type.

        Returns:
            The value as ``bool``/``int``/``float``/``str``.

        Raises:
            ManifestError: wrong type, not one of ``choices``, or outside ``min``/``max``.
        """
        t = self.type
        try:
            if t == "bool":
                if isinstance(value, bool):
                    out: Any = value
                elif isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
                    out = value.strip().lower() in ("true", "yes", "on", "1")
                else:
                    raise ValueError
            elif t == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                out = int(value)
            elif t == "float":
                if isinstance(value, bool):
                    raise ValueError
                out = float(value)
            else:
                if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                    raise ValueError
                out = str(value)
        except (TypeError, ValueError):
            raise ManifestError(f"setting {self.key!r} expects a {t}, got {value!r}") from None
        if t == "choice" and out not in self.choices:
            raise ManifestError(f"setting {self.key!r} must be one of {', '.join(self.choices)}, got {out!r}")
        if t in ("int", "float"):
            if self.min is not None and out < self.min:
                raise ManifestError(f"setting {self.key!r} must be ≥ {self.min}, got {out}")
            if self.max is not None and out > self.max:
                raise ManifestError(f"setting {self.key!r} must be ≤ {self.max}, got {out}")
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SettingField":
        """Build from a ``skill.yml`` settings item.

        Raises:
            ManifestError: missing ``key``/``type``/``default``, unknown keys, invalid values.
        """
        if not isinstance(d, Mapping):
            raise ManifestError("each setting must be a mapping with key, type, default")
        allowed = {"key", "type", "default", "label", "help", "choices", "min", "max"}
        unknown = set(d) - allowed
        if unknown:
            raise ManifestError(f"setting {d.get('key')!r}: unknown field(s) {', '.join(sorted(unknown))}")
        for k in ("key", "type", "default"):
            if k not in d:
                raise ManifestError(f"setting {d.get('key')!r} needs '{k}'")
        return cls(key=d["key"], type=d["type"], default=d["default"], label=str(d.get("label", "")),
                   help=str(d.get("help", "")), choices=tuple(d.get("choices") or ()),
                   min=d.get("min"), max=d.get("max"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description for the settings panel."""
        out = {"key": self.key, "type": self.type, "default": self.default, "label": self.label, "help": self.help}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        return out


@dataclass(frozen=True)
class Manifest:
    """Who a skill is and what it needs.

    Attributes:
        id: lower-case identifier (``ID_RE``), the namespace of all its names.
        name: human-readable name.
        version: the skill's version string.
        description: one or two sentences for the skills list.
        languages: language codes the training data covers (e.g. ``("en",)``).
        requires_internet: the skill needs the network (the assistant is offline first;
            the UI marks such skills, like OpenVoiceOS' ``RuntimeRequirements``).
        settings: the settings schema.
        examples: a few requests the skill understands, for "what can you do" and the UI
            (when empty, the first training example of each intent is used).
    """

    id: str
    name: str
    version: str = "0.1.0"
    description: str = ""
    languages: tuple[str, ...] = ("en",)
    requires_internet: bool = False
    settings: tuple[SettingField, ...] = field(default_factory=tuple)
    examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not ID_RE.match(self.id) or self.id.startswith("ask_"):
            raise ManifestError(
                f"skill id {self.id!r} is not valid: use a lower-case identifier with single "
                "underscores that does not start with 'ask_' (e.g. 'timer', 'web_search')")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ManifestError(f"skill {self.id!r} needs a 'name'")
        if not isinstance(self.requires_internet, bool):
            raise ManifestError(f"skill {self.id!r}: requires_internet must be true or false")
        langs = (self.languages,) if isinstance(self.languages, str) else tuple(self.languages or ())
        if not langs or not all(isinstance(x, str) and x for x in langs):
            raise ManifestError(f"skill {self.id!r}: languages must be a non-empty list like [en]")
        object.__setattr__(self, "languages", langs)
        object.__setattr__(self, "version", str(self.version))
        examples = (self.examples,) if isinstance(self.examples, str) else tuple(self.examples or ())
        if not all(isinstance(x, str) and x.strip() for x in examples):
            raise ManifestError(f"skill {self.id!r}: examples must be a list of sentences")
        object.__setattr__(self, "examples", tuple(x.strip() for x in examples))
        keys = [f.key for f in self.settings]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ManifestError(f"skill {self.id!r}: setting key(s) defined twice: {', '.join(sorted(dup))}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Manifest":
        """Build from the ``skill:`` section of skill.yml (plus overrides).

        Raises:
            ManifestError: a missing or invalid field, or an unknown one.
        """
        allowed = {"id", "name", "version", "description", "languages", "requires_internet", "settings", "examples"}
        unknown = set(d) - allowed
        if unknown:
            raise ManifestError(f"unknown manifest field(s): {', '.join(sorted(unknown))}")
        if "id" not in d or "name" not in d:
            raise ManifestError("the manifest (skill: section) needs at least 'id' and 'name'")
        fields = tuple(f if isinstance(f, SettingField) else SettingField.from_dict(f) for f in d.get("settings") or ())
        return cls(id=d["id"], name=d["name"], version=d.get("version", "0.1.0"),
                   description=str(d.get("description", "") or "").strip(),
                   languages=d.get("languages", ("en",)), requires_internet=d.get("requires_internet", False),
                   settings=fields, examples=d.get("examples") or ())

    def default_settings(self) -> dict[str, Any]:
        """``{key: default}`` for every setting."""
        return {f.key: f.default for f in self.settings}

    def resolve_settings(self, options: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        """The effective settings: defaults overridden by the user's valid values.

        Args:
            options: the user's values (``SkillsSettings.options[id]``); may be None.

        Returns:
            ``(settings, problems)``: ``problems`` describes each invalid or unknown user
            value, which was ignored (its default is used).
        """
        out = self.default_settings()
        problems = []
        by_key = {f.key: f for f in self.settings}
        for key, value in (options or {}).items():
            f = by_key.get(key)
            if f is None:
                problems.append(f"skill {self.id!r} has no setting {key!r}")
                continue
            try:
                out[key] = f.coerce(value)
            except ManifestError as exc:
                problems.append(f"skill {self.id!r}: {exc}; using the default {f.default!r}")
        return out, problems
