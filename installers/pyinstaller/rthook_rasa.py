"""PyInstaller runtime hook (Windows/macOS builds): point the engine at the shipped Rasa Python.

The engine finds Rasa's interpreter via the ``nlu.python`` setting, then ``$ASSISTANT_RASA_PYTHON``
(assistant/nlu/sidecar.py ``find_rasa_python``). The frozen app ships a relocatable Python 3.10
with Rasa in ``rasa-python/`` next to the executable (Windows) or in ``Contents/Resources/``
(macOS .app); this hook sets the variable before the app imports anything, unless the user set it.
It also seeds the user's Rasa model cache from ``rasa-seed/`` (model trained at build time).

NOT BUILT OR TESTED on this project's machine (Linux only); see installers/README.md.
"""

import os
import shutil
import sys
from pathlib import Path

_base = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
_candidates = [
    _base / "rasa-python" / "python.exe",                 # Windows (NuGet "python" 3.10 layout)
    _base.parent / "Resources" / "rasa-python" / "bin" / "python3.10",  # macOS .app
    _base / "rasa-python" / "bin" / "python3.10",
]
for _p in _candidates:
    if _p.exists():
        os.environ.setdefault("ASSISTANT_RASA_PYTHON", str(_p))
        break

try:  # seed the Rasa model cache (never overwrite; best effort)
    import platformdirs

    _cache = Path(os.environ.get("ASSISTANT_CACHE_DIR") or platformdirs.user_cache_dir("offline-assistant"))
    for _seed_root in (_base / "rasa-seed", _base.parent / "Resources" / "rasa-seed"):
        if _seed_root.is_dir():
            for _seed in _seed_root.iterdir():
                _dest = _cache / "rasa" / _seed.name
                if (_seed / "model.tar.gz").exists() and not (_dest / "model.tar.gz").exists():
                    shutil.copytree(_seed, _dest, dirs_exist_ok=True)
except Exception:  # noqa: BLE001 - a failed seed only means the first start trains
    pass
