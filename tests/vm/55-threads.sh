#!/usr/bin/env bash
# A multi-threaded server (libfuse's passthrough_ll in its default
# multi-threaded loop, reading by splice(2)): a request wakes one of the
# server threads waiting in the device, not all of them (mainline's
# exclusive waits), on fuse-wb and on mainline; and every result is
# right while the threads come and go.
. "$(dirname "$0")/lib.sh"
PT=$EXBIN/passthrough_ll
[ -x "$PT" ] || fail "$PT missing (tests/run-checks builds it)"
B=$SCRATCH/threads-back
rm -rf "$B"
mkdir -p "$B"
for i in $(seq 16); do head -c $((i * 4096 + 7)) /dev/urandom > "$B/f$i"; done

# switches PID: the sum of the voluntary context switches of PID's
# threads (a thread woken in the device that finds nothing to read goes
# back to sleep: one switch).
switches() {
  local t n sum=0
  for t in /proc/"$1"/task/*; do
    n=$(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status" 2> /dev/null)
    sum=$((sum + ${n:-0}))
  done
  echo $sum
}

for kind in fuse-wb mainline; do
  m=$SCRATCH/threads-$kind
  mount_server $kind "$m" "$m" -- "$PT" -f -o source="$B" %m
  spid=$(pgrep -P "$LAST_MOUNT_PID" | head -1)
  [ -n "$spid" ] || fail "$kind: no server process"
  # Concurrent readers make libfuse start worker threads (one more each
  # time no idle one is left; idle ones stay); their data must be right.
  workers=0
  for round in 1 2 3 4 5 6; do
    pids=()
    for i in $(seq 16); do
      cmp -s "$B/f$i" "$m/f$i" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || fail "$kind: a file read back differs (round $round)"; done
    # The main thread waits for the workers, in userspace.
    mapfile -t tasks < <(find /proc/"$spid"/task -mindepth 1 -maxdepth 1)
    workers=$((${#tasks[@]} - 1))
    [ "$workers" -ge 4 ] && break
  done
  [ "$workers" -ge 4 ] || fail "$kind: the server has $workers worker threads, expected at least 4"
  nap 1
  # N requests one after another (LOOKUPs of names that do not exist;
  # one stat(1) of all names, so no process starts in between).
  n=20
  names=()
  for i in $(seq $n); do names+=("$m/missing-$i"); done
  s0=$(switches "$spid")
  stat "${names[@]}" > /dev/null 2>&1
  s1=$(switches "$spid")
  woken=$((s1 - s0))
  note "$kind: $n requests to a server with $workers idle workers: $woken context switches of its threads"
  # Each request: the worker that takes it sleeps again once; waking
  # every idle worker costs one switch per worker and request.
  limit=$((n * 2))
  [ "$woken" -le "$limit" ] ||
    fail "$kind: $woken context switches for $n requests with $workers idle workers (at most $limit expected): every idle worker was woken"
  unmount "$m"
done
