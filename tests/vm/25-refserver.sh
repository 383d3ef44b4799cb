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

# The sink back end (--sink-pattern): a small write-back copy through
# fusewb-bench's dirty run, whose every WRITE the server checks against the
# data written; the run fails unless all bytes arrived equal.
log=$SCRATCH/ref-sink.log
BENCH_BIG_MB=32 BENCH_DIRTY_BACKEND=sink BENCH_DROP_CACHES=0 \
  "$BIN/fusewb-bench" dirty --out "$SCRATCH/ref-sink.txt" > "$log" 2>&1 ||
  { tail -20 "$log"; fail "write-back copy into the sink server failed"; }
grep -q '^data: the sink server received the data written' "$log" ||
  { tail -20 "$log"; fail "no sink data check in the dirty run's output"; }
note "sink: 32 MiB write-back copy checked by the server: $(grep -o '[0-9]* bytes in WRITEs' "$log")"

# --threads: a multi-threaded server whose WRITEs each take 20 ms, as over
# a network, gets the WRITEs of a 16 MiB write-back copy at once (several
# in flight), and stores the data intact.
head -c $((16 << 20)) /dev/urandom > "$SCRATCH/ref-src"
for kind in fuse-wb mainline; do
  m=$SCRATCH/ref-mt-$kind st=$SCRATCH/ref-mt-$kind.stats
  rm -rf "$B/mt" "$st"
  mopts=()
  [ $kind = fuse-wb ] && mopts=(-o allow_wbcache)
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$BIN/fusewb-refserver" --source "$B" \
    --writeback --threads 4 --write-latency-us 20000 --stats "$st" %m
  dd if="$SCRATCH/ref-src" of="$m/mt" bs=1M conv=fsync status=none || fail "copy on $kind (--threads 4)"
  unmount "$m"
  cmp "$SCRATCH/ref-src" "$B/mt" || fail "data differs on $kind (--threads 4)"
  for i in $(seq 50); do [ -s "$st" ] && break; nap 0.1; done
  inflight=$(awk '$1 == "server_writes_inflight_max" { print $2 }' "$st")
  writes=$(awk '$1 == "op.WRITE.count" { print $2 }' "$st")
  [ $kind = mainline ] || [ "${inflight:-0}" -ge 2 ] ||
    fail "$kind: at most ${inflight:-0} WRITE in flight at a 4-thread server"
  note "$kind --threads 4, 20 ms per WRITE: 16 MiB in $writes WRITEs, at most $inflight in flight"
done
