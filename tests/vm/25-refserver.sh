#!/usr/bin/env bash
# The project's reference server (tools/fusewb-refserver, on the fuser
# crate) serves the same tree on fuse-wb and on mainline fuse, and counts
# its requests.
. "$(dirname "$0")/lib.sh"
B=$SCRATCH/ref-backing
rm -rf "$B"; mkdir -p "$B/d"
head -c 300000 /dev/urandom > "$B/d/data"
echo hello > "$B/hello"; ln -s d/data "$B/link"
for kind in fuse-wb mainline; do
  m=$SCRATCH/ref-$kind st=$SCRATCH/ref-$kind.stats
  mount_server $kind "$m" "$m" -- "$BIN/fusewb-refserver" --source "$B" --stats "$st" %m
  diff -r --no-dereference "$B" "$m" || fail "contents differ on $kind"
  [ "$(readlink "$m/link")" = d/data ] || fail "readlink on $kind"
  unmount "$m"
  for i in $(seq 50); do [ -s "$st" ] && break; sleep 0.1; done
  grep -q '^op.LOOKUP.count [1-9]' "$st" || fail "no LOOKUP counted on $kind"
  grep -q '^op.READ.bytes [1-9]' "$st" || fail "no READ bytes counted on $kind"
  note "$kind: $(grep -c '^op\.' "$st") counters, $(awk '/^requests_total/{print $2}' "$st") requests"
done
