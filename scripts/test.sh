#!/usr/bin/env bash
# Runs the whole test suite against the real models, a real Rasa server, a virtual
# PulseAudio and a real Qt window. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 RASA_TELEMETRY_ENABLED=false PYTHONUNBUFFERED=1
mkdir -p artifacts
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
