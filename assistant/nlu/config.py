"""The Rasa ``config.yml`` (recipe, NLU pipeline, dialogue policies) and the fallback rule.

Two NLU pipelines, chosen by ``settings.nlu.pipeline``:

* ``"logreg"`` (default): sparse word and char n-gram features, scikit-learn logistic
  regression for intents, CRF + lookup-table regexes for entities. Trains in seconds,
  loads in a few seconds, ~0.6 GB resident.
* ``"diet"``: the same featurizers into DIET with no transformer layers (intents and
  entities jointly) plus the lookup-table extractor. Slower to train and load (TensorFlow
  graph tracing), more memory.

Both end in ``EntitySynonymMapper`` and a ``FallbackClassifier``: an utterance whose best
intent is below ``threshold`` becomes ``nlu_fallback``. Dialogue runs on ``RulePolicy``
(forms, rules, core fallback) and ``MemoizationPolicy`` (stories); there is no TED, so a
turn no rule or story covers gets ``action_default_fallback``, which says ``utter_default``.
"""

from __future__ import annotations

from typing import Any, Literal

from assistant.nlu.project import RasaProject, dump_yaml

#: ``assistant_id`` written into the config (Rasa warns and invents one when missing).
ASSISTANT_ID = "offline-assistant"
#: Response spoken when nothing understood the user (NLU or dialogue fallback).
FALLBACK_RESPONSE = "utter_default"
FALLBACK_TEXT = "Sorry, I can't do that yet."
FALLBACK_INTENT = "nlu_fallback"
#: The entity–intent consistency component (``assistant/nlu/rasa_entity_intents.py``, copied
#: next to Rasa's boot script as ``assistant_entity_intents.py``; see that module).
ENTITY_FILTER = "assistant_entity_intents.EntityIntentFilter"

Pipeline = Literal["logreg", "diet"]

_FEATURIZERS: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer", "case_sensitive": False, "use_lookup_tables": True, "use_regexes": True},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer", "min_ngram": 1, "max_ngram": 2},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
]

# Rasa's default CRF features, spelled out so its validator sees the lookup-table
# "pattern" feature (it only inspects the given config and warns otherwise).
_CRF_FEATURES = [
    ["low", "title", "upper"],
    ["low", "bias", "prefix5", "prefix2", "suffix5", "suffix3", "suffix2", "upper", "title", "digit", "pattern"],
    ["low", "title", "upper"],
]


def build_config(
    pipeline: Pipeline = "logreg",
    fallback_threshold: float = 0.45,
    *,
    core_fallback_threshold: float = 0.3,
    ambiguity_threshold: float = 0.1,
    diet_epochs: int = 100,
    entity_filter: bool = True,
    assistant_id: str = ASSISTANT_ID,
) -> dict[str, Any]:
    """Build the Rasa ``config.yml`` content.

    Args:
        pipeline: ``"logreg"`` or ``"diet"`` (see the module docstring).
        fallback_threshold: FallbackClassifier threshold in [0, 1]: below it the intent
            becomes ``nlu_fallback``.
        core_fallback_threshold: RulePolicy confidence in [0, 1] under which the next
            action is ``action_default_fallback``.
        ambiguity_threshold: FallbackClassifier also falls back when the top two intent
            confidences are closer than this.
        diet_epochs: DIET training epochs (``"diet"`` only).
        entity_filter: add :data:`ENTITY_FILTER` before the fallback: an intent whose
            training examples never carry an entity type the parse found gives way to one
            of the same skill that does.
        assistant_id: written as ``assistant_id``.

    Returns:
        A dict with ``recipe``, ``language``, ``assistant_id``, ``pipeline``, ``policies``.

    Raises:
        ValueError: unknown ``pipeline`` or a threshold outside [0, 1].
    """
    for name, value in (("fallback_threshold", fallback_threshold),
                        ("core_fallback_threshold", core_fallback_threshold),
                        ("ambiguity_threshold", ambiguity_threshold)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {value!r}")
    steps: list[dict[str, Any]] = [dict(s) for s in _FEATURIZERS]
    if pipeline == "logreg":
        steps += [
            {"name": "LogisticRegressionClassifier", "max_iter": 200, "random_state": 42},
            {"name": "CRFEntityExtractor", "features": _CRF_FEATURES},
        ]
    elif pipeline == "diet":
        steps += [
            {"name": "DIETClassifier", "epochs": diet_epochs, "number_of_transformer_layers": 0,
             "constrain_similarities": True, "random_seed": 42},
        ]
    else:
        raise ValueError(f"unknown NLU pipeline {pipeline!r}: use 'logreg' or 'diet'")
    steps += [
        {"name": "RegexEntityExtractor", "case_sensitive": False, "use_lookup_tables": True,
         "use_regexes": True, "use_word_boundaries": True},
        {"name": "EntitySynonymMapper"},
        *([{"name": ENTITY_FILTER}] if entity_filter else []),
        {"name": "FallbackClassifier", "threshold": float(fallback_threshold),
         "ambiguity_threshold": float(ambiguity_threshold)},
    ]
    return {
        "recipe": "default.v1",
        "language": "en",
        "assistant_id": assistant_id,
        "pipeline": steps,
        "policies": [
            {"name": "MemoizationPolicy", "max_history": 5},
            {"name": "RulePolicy", "core_fallback_threshold": float(core_fallback_threshold),
             "core_fallback_action_name": "action_default_fallback",
             "enable_fallback_prediction": True},
        ],
    }


def config_yaml(config: dict[str, Any]) -> str:
    """``config`` (from :func:`build_config`) as YAML text."""
    return dump_yaml(config)


def with_fallback(project: RasaProject, text: str = FALLBACK_TEXT) -> RasaProject:
    """Return a copy of ``project`` that handles ``nlu_fallback``.

    Adds, only where missing: the ``utter_default`` response saying ``text`` (Rasa's
    ``action_default_fallback`` also speaks it when no rule or story predicts the next
    action) and a rule ``nlu_fallback`` → ``utter_default``. The input is not modified.

    Args:
        project: the composed project.
        text: what the assistant says when it did not understand.

    Returns:
        A new :class:`RasaProject`.
    """
    out = project.copy()
    responses = out.domain.setdefault("responses", {}) or {}
    out.domain["responses"] = responses
    responses.setdefault(FALLBACK_RESPONSE, [{"text": text}])

    def handles_fallback(rule: dict) -> bool:
        return any(isinstance(s, dict) and s.get("intent") == FALLBACK_INTENT for s in rule.get("steps", []) or [])

    if not any(handles_fallback(r) for r in out.rules):
        out.rules.append({
            "rule": "say sorry when the intent is not understood",
            "steps": [{"intent": FALLBACK_INTENT}, {"action": FALLBACK_RESPONSE}],
        })
    return out
