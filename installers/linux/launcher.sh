#!/bin/sh
# Offline Assistant launcher (@ENTRY@): runs the app with the Python shipped next to it and points
# the engine at the shipped Rasa Python. Works from /opt/offline-assistant (the .deb, via the
# /usr/bin symlinks) or from any folder the .tar.zst was unpacked into.
set -e
self=$(readlink -f "$0")
ROOT=$(dirname "$(dirname "$self")")
unset PYTHONHOME PYTHONPATH VIRTUAL_ENV PYTHONSTARTUP
unset PYTHONNOUSERSITE
export RASA_TELEMETRY_ENABLED=false PYTHONDONTWRITEBYTECODE=1
# Third-party skills: `assistant skill install` runs pip with this Python; /opt is read-only for
# users, so pip installs "--user" into PYTHONUSERBASE, a folder of this app alone (never the
# user's own ~/.local/lib/python3.11, whose packages could clash with the shipped ones).
export PYTHONUSERBASE="${XDG_DATA_HOME:-$HOME/.local/share}/offline-assistant/python"
# the engine looks for Rasa via nlu.python / $ASSISTANT_RASA_PYTHON (assistant/nlu/sidecar.py)
: "${ASSISTANT_RASA_PYTHON:=$ROOT/rasa-python/bin/python3.10}"
export ASSISTANT_RASA_PYTHON
# Seed the user's Rasa model cache with the model trained at build time for the built-in skills,
# so the first start does not train (cache key = hash of the skills' YAML + Rasa version; adding a
# skill changes the hash and trains as before). Never overwrites; failures are not fatal.
cache=${ASSISTANT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/offline-assistant}
for seed in "$ROOT"/share/rasa-seed/*/; do
  [ -f "$seed/model.tar.gz" ] || continue
  dest=$cache/rasa/$(basename "$seed")
  [ -f "$dest/model.tar.gz" ] && continue
  mkdir -p "$dest" 2>/dev/null && cp -R "$seed". "$dest/" 2>/dev/null || true
done
case @ENTRY@ in
  assistant) mod=assistant.cli ;;
  assistant-gui) mod=ui.app ;;
esac
exec "$ROOT/python/bin/python3.11" -P -c "import sys; sys.argv[0] = '@ENTRY@'; from $mod import main; sys.exit(main())" "$@"
