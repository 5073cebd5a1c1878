"""NLU and dialogue: Rasa 3.6 as a sidecar process, and the skills' actions served to it.

* :class:`RasaProject` — training data as plain Python (built by the skill loader).
* :func:`build_config` / :func:`with_fallback` — the Rasa config and the fallback rule.
* :class:`RasaSidecar` — train (cached by hash), start, talk (:meth:`RasaSidecar.message`
  → :class:`DialogueResult`), restart and stop the Rasa server.
* :class:`ActionServer` — rasa_sdk actions served from this process on a daemon thread.
* :func:`find_rasa_python` — locate the Python 3.10 that has rasa installed.

Modules: ``sidecar`` (the :class:`RasaSidecar` facade: life cycle, restart-and-retry),
``interpreter`` (Rasa's Python), ``training`` (the trained-model cache), ``children``
(boot script, spawning/stopping child processes, logs), ``process`` (the server process,
its token and watchdog), ``client`` (HTTP to Rasa, :class:`DialogueResult`),
``action_server``, ``config``, ``project``.
"""

from assistant.nlu.action_server import ActionServer, apology_for, skill_of
from assistant.nlu.config import (
    FALLBACK_INTENT,
    FALLBACK_RESPONSE,
    FALLBACK_TEXT,
    build_config,
    config_yaml,
    with_fallback,
)
from assistant.nlu.project import RasaProject, dump_yaml
from assistant.nlu.sidecar import (
    RESTART_NOTICE,
    DialogueResult,
    RasaSidecar,
    find_rasa_python,
    log_excerpt,
    normalize_entities,
    rasa_version,
)

__all__ = [
    "ActionServer", "DialogueResult", "FALLBACK_INTENT", "FALLBACK_RESPONSE", "FALLBACK_TEXT",
    "RESTART_NOTICE", "RasaProject", "RasaSidecar", "apology_for", "build_config", "config_yaml",
    "dump_yaml", "find_rasa_python", "log_excerpt", "normalize_entities", "rasa_version", "skill_of", "with_fallback",
]
