#!/usr/bin/env bash
# Runs the recording-based tests once per CPU instruction set CTranslate2 can select, as
# other machines would: Whisper's int8 decode differs by kernel (GENERIC, AVX2, AVX512), and a
# greedy decode can flip a word. An ISA this CPU lacks falls back to the best it has
# (CTranslate2 logs the one it selected with CT2_VERBOSE=1; this script prints it).
# Usage: scripts/test_isa.sh [ISA ...] [-- pytest args]   (default: GENERIC AVX2 AVX512,
# the test files that decode recordings).
set -uo pipefail
cd "$(dirname "$0")/.."
isas=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do isas+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#isas[@]} -gt 0 ] || isas=(GENERIC AVX2 AVX512)
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(tests/test_asr.py tests/test_builtin_skills.py tests/test_pipeline.py
                                tests/test_cli.py tests/test_skill_sdk.py tests/test_vad.py)
status=0
for isa in "${isas[@]}"; do
  selected=$(CT2_FORCE_CPU_ISA=$isa CT2_VERBOSE=1 .venv/bin/python -c \
    "import ctranslate2
try: ctranslate2.models.Whisper('/nonexistent')
except Exception: pass" 2>&1 | grep -io 'selected isa[^,]*' | head -1)
  printf '\n==> CT2_FORCE_CPU_ISA=%s (%s)\n' "$isa" "${selected:-CTranslate2 did not say}"
  CT2_FORCE_CPU_ISA=$isa scripts/test.sh -q "${args[@]}"
  rc=$?
  printf '==> %s: exit %s\n' "$isa" "$rc"
  [ "$rc" = 0 ] || status=1
done
exit $status
