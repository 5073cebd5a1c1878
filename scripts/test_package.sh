#!/usr/bin/env bash
# Install test of the .deb (too heavy for CI: run by hand, as root, on a Debian 12 machine).
#
#   scripts/test_package.sh                    # builds dist/*.deb with scripts/package.sh if missing
#   scripts/test_package.sh dist/offline-assistant_0.1.0_amd64.deb
#
# 1. apt-get install ./offline-assistant_*.deb
# 2. the installed `assistant run --push-to-talk --input <"what time is it">` in a new network
#    namespace (unshare -n: loopback only, no other interface) and a new mount namespace in which the dev
#    checkout (/work/main or this repo), /root/.pyenv and ~/.cache/pip are hidden under empty
#    tmpfs mounts, with an empty HOME and env -i (PATH=/usr/bin:/bin): it must speak the time.
#    Run twice: cold (page cache dropped, empty user cache) and warm; wall times recorded.
# 3. the installed GUI on Xvfb, same isolation; time until its window is mapped; screenshot in
#    artifacts/package-test/gui.png.
# 4. apt-get purge; every path dpkg listed for the package must be gone (shared system folders
#    excepted), /opt/offline-assistant must not exist.
# Results: artifacts/package-test/results.txt (figures) and *.log. Exit status 0 = all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ART=$REPO/artifacts/package-test
mkdir -p "$ART"; RES=$ART/results.txt; : >"$RES"
N=0; T0=$SECONDS; FAIL=0
step() { N=$((N+1)); printf '[%2d] %-60s (%4ds)\n' "$N" "$1" $((SECONDS-T0)); }
note() { echo "$*" | tee -a "$RES"; }
fail() { echo "FAIL: $*" | tee -a "$RES" >&2; FAIL=1; }
[ "$(id -u)" = 0 ] || { echo "error: run as root (apt-get install, unshare, drop_caches)" >&2; exit 2; }

step "package"
DEB=${1:-}
if [ -z "$DEB" ]; then
  DEB=$(ls dist/offline-assistant_*_amd64.deb 2>/dev/null | tail -1)
  [ -n "$DEB" ] || { scripts/package.sh || exit 1; DEB=$(ls dist/offline-assistant_*_amd64.deb | tail -1); }
fi
DEB=$(readlink -f "$DEB")
note "deb: $DEB"
note "deb size: $(du -h "$DEB" | cut -f1) ($(stat -c %s "$DEB") bytes)"

step "recording of \"what time is it\" (espeak-ng, 16 kHz mono)"
IO=/tmp/pkgtest-io; rm -rf "$IO"; mkdir -p "$IO"   # outside the hidden checkout
REC=$IO/what_time_is_it.wav
espeak-ng -v en-us -s 140 -w "$ART/espeak.wav" "What time is it?" && \
  ffmpeg -loglevel error -y -i "$ART/espeak.wav" -ar 16000 -ac 1 -sample_fmt s16 "$REC" 2>/dev/null || \
  sox "$ART/espeak.wav" -r 16000 -c 1 -b 16 "$REC" 2>/dev/null || cp "$ART/espeak.wav" "$REC"
[ -s "$REC" ] || { echo "error: could not make the recording" >&2; exit 1; }
cp "$REC" "$ART/"

step "apt-get install ./$(basename "$DEB")"
apt-get purge -y -q offline-assistant >/dev/null 2>&1 || true
t=$SECONDS
if ! apt-get install -y -q "$DEB" >"$ART/apt-install.log" 2>&1; then
  tail -20 "$ART/apt-install.log"; echo "error: apt-get install failed" >&2; exit 1
fi
note "apt-get install time: $((SECONDS-t)) s"
dpkg -L offline-assistant >"$ART/dpkg-L.txt"
note "installed size (dpkg Installed-Size): $(dpkg-query -W -f='${Installed-Size}' offline-assistant) KiB"
note "installed size (du /opt/offline-assistant): $(du -sh /opt/offline-assistant | cut -f1)"
note "files in package: $(wc -l <"$ART/dpkg-L.txt")"

# isolated RUNNER CMD...: no network, dev checkout/pyenv hidden, empty HOME, scrubbed env
UHOME=/tmp/pkgtest-home
rm -rf "$UHOME"; mkdir -p "$UHOME"
HIDE="$REPO /root/.pyenv /root/.cache/pip"
[ -d /work/main ] && HIDE="$HIDE /work/main"
isolated() {
  unshare -n -m --propagation private sh -c '
    ip link set lo up   # loopback only: the app talks to its Rasa sidecar on 127.0.0.1
    for d in '"$HIDE"'; do [ -d "$d" ] && mount -t tmpfs -o size=1m none "$d"; done
    cd /tmp && exec env -i HOME='"$UHOME"' PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"' isolated "$@"
}
step "isolation check (network, hidden checkout, PATH)"
isolated sh -c 'echo "PATH=$PATH"; ls /root/.pyenv | wc -l; ip -brief link 2>/dev/null | grep -v "^lo" | wc -l; command -v python3.10 || echo "no python3.10 on PATH"' >"$ART/isolation.txt" 2>&1
cat "$ART/isolation.txt" | sed 's/^/    /'
isolated /bin/bash -c 'exec 3<>/dev/tcp/1.1.1.1/80' 2>/dev/null && fail "network reachable inside the namespace (bash)"

ask_time() {  # $1 = label; prints the reply, checks it tells the time
  local label=$1 out=$IO/reply-$1.wav t0 t1
  t0=$(date +%s.%N)
  isolated /usr/bin/assistant run --push-to-talk --input "$REC" --output "$out" >"$ART/run-$label.log" 2>&1
  local rc=$?
  t1=$(date +%s.%N)
  local secs; secs=$(echo "$t1 - $t0" | bc)
  note "assistant run ($label): exit $rc, ${secs} s wall (launcher -> answer spoken to WAV)"
  sed 's/^/    /' "$ART/run-$label.log" | tail -8
  grep -Eiq "it's [0-9]{1,2}(:[0-9]{2})?" "$ART/run-$label.log" || fail "$label: no spoken time in the reply"
  [ -s "$out" ] && cp "$out" "$ART/" || fail "$label: no reply WAV written"
  local hour12 hour24; hour12=$(date +%-I); hour24=$(date +%-H)
  grep -Eiq "it's ($hour12|$hour24|$(( (hour12 % 12) + 1 ))|$(( (hour24 + 1) % 24 )))(:| |\.)" "$ART/run-$label.log" \
    || fail "$label: the reply does not give the current hour ($hour12/$hour24)"
}

step "assistant run, cold (caches dropped, empty user cache)"
sync; echo 3 >/proc/sys/vm/drop_caches
ask_time cold
step "assistant run, warm"
ask_time warm
step "transcribe the spoken reply with the installed app"
isolated /usr/bin/assistant transcribe "$IO/reply-warm.wav" >"$ART/reply-transcript.txt" 2>&1
note "reply transcript: $(tr '\n' ' ' <"$ART/reply-transcript.txt")"
grep -Eiq "[0-9]|o'clock|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve" "$ART/reply-transcript.txt" \
  || fail "the spoken reply does not transcribe to a time"
note "user cache after runs: $(du -sh "$UHOME/.cache/offline-assistant" 2>/dev/null | cut -f1)"
# the seeded model has no train.log: one here means the first start trained (seed missed)
if ls "$UHOME"/.cache/offline-assistant/rasa/*/train.log >/dev/null 2>&1; then
  fail "the first start trained Rasa: the shipped seed model was not used"
else note "first start used the pre-trained Rasa model (no training)"; fi

gui() {  # $1 = label
  local label=$1 disp=:$((90 + RANDOM % 9))
  Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & local xpid=$!
  sleep 1.5
  local t0 t1; t0=$(date +%s.%N)
  unshare -n -m --propagation private sh -c '
    ip link set lo up   # loopback only: the app talks to its Rasa sidecar on 127.0.0.1
    for d in '"$HIDE"'; do [ -d "$d" ] && mount -t tmpfs -o size=1m none "$d"; done
    cd /tmp && exec env -i HOME='"$UHOME"' PATH=/usr/bin:/bin LANG=C.UTF-8 DISPLAY='"$disp"' \
      QT_QPA_PLATFORM=xcb /usr/bin/assistant-gui --no-microphone --no-hotkey' >"$ART/gui-$label.log" 2>&1 &
  local gpid=$!
  local wid=""
  for _ in $(seq 1 1200); do
    wid=$(DISPLAY=$disp xdotool search --onlyvisible --class offline-assistant 2>/dev/null | head -1)
    [ -z "$wid" ] && wid=$(DISPLAY=$disp xdotool search --onlyvisible --name Assistant 2>/dev/null | head -1)
    [ -n "$wid" ] && break
    kill -0 $gpid 2>/dev/null || break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  if [ -n "$wid" ]; then
    note "assistant-gui ($label): window mapped after $(echo "$t1 - $t0" | bc) s"
    sleep 15   # let the engine load (status line) before the screenshot
    DISPLAY=$disp import -window root "$ART/gui-$label.png" && note "screenshot: $ART/gui-$label.png"
  else
    fail "assistant-gui ($label): no window (log: $ART/gui-$label.log)"; tail -5 "$ART/gui-$label.log"
  fi
  kill $gpid 2>/dev/null; sleep 2; pkill -P $gpid 2>/dev/null; kill -9 $gpid 2>/dev/null
  kill $xpid 2>/dev/null; wait $xpid 2>/dev/null
}
step "GUI on Xvfb, cold"
sync; echo 3 >/proc/sys/vm/drop_caches
gui cold
step "GUI on Xvfb, warm"
gui warm
sleep 3
pgrep -f /opt/offline-assistant >/dev/null && { fail "processes of the package still running after the GUI was closed"; pgrep -af /opt/offline-assistant | head -3; }

step "apt-get purge offline-assistant"
apt-get purge -y -q offline-assistant >"$ART/apt-purge.log" 2>&1 || fail "apt-get purge failed"
left=0
while read -r p; do
  case "$p" in /|/.|/usr|/usr/bin|/usr/share|/usr/share/applications|/usr/share/doc|/usr/share/icons|/usr/share/icons/hicolor|/usr/share/icons/hicolor/scalable|/usr/share/icons/hicolor/scalable/apps|/opt) continue ;; esac
  if [ -e "$p" ] || [ -L "$p" ]; then echo "left: $p" >>"$ART/left-after-purge.txt"; left=$((left+1)); fi
done <"$ART/dpkg-L.txt"
[ -e /opt/offline-assistant ] && { fail "/opt/offline-assistant still exists"; find /opt/offline-assistant | head -5; }
[ "$left" = 0 ] && note "purge: nothing of the package left outside the user's home" || fail "purge: $left paths left (see $ART/left-after-purge.txt)"
note "user data kept in the home: $(cd "$UHOME" && find . -maxdepth 3 -type d | grep offline-assistant | tr '\n' ' ')"

echo
cat "$RES"
[ "$FAIL" = 0 ] && echo "PACKAGE TEST PASSED" || echo "PACKAGE TEST FAILED"
exit $FAIL
