#!/usr/bin/env bash
# The VM test suite: runs every tests/vm/[0-9]*.sh in one VM (started by
# scripts/vm-run, module loaded) and prints "N passed, M failed".
#   tests/vm/suite.sh [REGEX]   only tests whose name matches REGEX (e.g. '30|50')
set -u
here=$(cd "$(dirname "$0")" && pwd)
export FUSEWB_ROOT=${FUSEWB_ROOT:-$(cd "$here/../.." && pwd)}
pattern=${1:-}
passed=0 failed=0 failures=()
for t in "$here"/[0-9]*.sh; do
  name=$(basename "$t" .sh)
  [ -n "$pattern" ] && ! [[ "$name" =~ $pattern ]] && continue
  echo "=== $name"
  start=$(date +%s)
  if bash "$t"; then
    passed=$((passed + 1)); echo "--- ok   $name ($(( $(date +%s) - start ))s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "--- FAIL $name ($(( $(date +%s) - start ))s)"
  fi
  # A failed test must not leave mounts behind for the next one.
  grep -E ' fuse(-wb)?(\.[^ ]*)? ' /proc/mounts | awk '{print $2}' | while read -r m; do umount -l "$m" 2>/dev/null; done
done
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "vm suite: $passed passed, $failed failed"
[ "$failed" = 0 ]
