#!/usr/bin/env bash
# Concurrency stress of the write-back cache, checked against a model, and
# faults injected at random points of it.
#
# 1. fusewb-stress (tools/fusewb-stress): threads doing appends, overwrites,
#    truncates, fstat, mmap writes, O_DIRECT reads, fsync and reopen on
#    shared files, under one lock that keeps a model of every file, plus
#    racer threads doing fstat and reads without it; at the end every file
#    is compared with the model (after dropping the caches), and the
#    server's backing file with what the last fsync made durable
#    (--durable). The server is fusewb-refserver in write-back mode with a
#    random delay per request. Run on fuse-wb and, as the reference, on
#    mainline FUSE.
# 2. Faults, each at a random point of a stress run on fuse-wb: SIGKILL to
#    the stress program, SIGKILL to the server, an abort through sysfs, and
#    umount -l. Afterwards no task may be left in D state, the mount must go
#    away (after a killed client it must still unmount normally), and the
#    kernel log must stay clean (the suite judges it). No byte that a
#    successful fsync acknowledged (and nothing changed since) may be
#    missing from the server's files (--durable); after a killed client,
#    the server must end up with exactly what the mount showed.
#
#   STRESS_SECONDS (default 20)  length of each checked run
#   STRESS_SEED                  seed (default: from the clock, printed)
#   STRESS_FAULTS (default 4)    fault-injection runs
. "$(dirname "$0")/lib.sh"
SECS=${STRESS_SECONDS:-20}
SEED=${STRESS_SEED:-$(date +%s)}
FAULTS=${STRESS_FAULTS:-4}
STRESS=$BIN/fusewb-stress
REF=$BIN/fusewb-refserver
[ -x "$STRESS" ] || fail "$STRESS missing (cargo build --release)"

# Backing directory of the refserver, on the guest's tmpfs.
backing() {
  local b=$SCRATCH/stress-backing-$1
  rm -rf "$b"
  mkdir -p "$b"
  echo "$b"
}

mount_ref() { # KIND MNT BACKING [REFSERVER OPTIONS...]
  local kind=$1 mnt=$2 b=$3 mopts=()
  shift 3
  [ "$kind" = fuse-wb ] && mopts=(-o allow_wbcache)
  mount_server "$kind" "$mnt" "${mopts[@]}" "$mnt" -- "$REF" --source "$b" --writeback \
    --random-delay-us 300 "$@" %m
}

# running PID: the process exists and is not a zombie.
running() {
  local st
  { read -r st < "/proc/$1/stat"; } 2> /dev/null || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

# d_state: tasks in D state now (pid comm), excluding kernel threads.
d_state() {
  local f s st
  for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2> /dev/null || continue
    st=${s##*) }
    st=${st%% *}
    [ "$st" = D ] || continue
    [ -s "${f%/stat}/cmdline" ] || continue
    echo "${f//[^0-9]/} ${s#* }" | cut -c1-60
  done
}

# 1. Checked runs.
for kind in fuse-wb mainline; do
  m=$SCRATCH/stress-$kind
  b=$(backing $kind)
  mount_ref $kind "$m" "$b"
  log=$SCRATCH/stress-$kind.log
  if ! "$STRESS" "$m" --seconds "$SECS" --seed "$SEED" --threads 4 --files 3 \
    --max-size 2M --drop-caches --durable "$b" > "$log" 2>&1; then
    tail -40 "$log" >&2
    fail "stress on $kind failed (seed $SEED)"
  fi
  unmount "$m"
  note "$kind: $(tail -1 "$log")"
done

# 2. Faults at random points of 8-second runs (errors tolerated).
RANDOM=$SEED
for ((i = 0; i < FAULTS; i++)); do
  fault=$((i % 4))
  m=$SCRATCH/stress-fault
  b=$(backing fault)
  mount_ref fuse-wb "$m" "$b"
  cd_=$(conn_dir "$m")
  server=$(pgrep -P "$LAST_MOUNT_PID" | head -1)
  # The stress program and the server run niced: they keep both vCPUs
  # busy, and this script must wake up on time to put the fault inside
  # the run (un-niced, a sleep of 4 s took up to 8 s under TCG).
  renice -n 10 -p "$server" > /dev/null
  t0=$(date +%s%N)
  nice -n 10 "$STRESS" "$m" --seconds 8 --seed $((SEED + i)) --threads 4 --files 2 --max-size 1M \
    --tolerate-errors --durable "$b" > "$SCRATCH/stress-fault-$i.log" 2>&1 &
  spid=$!
  at=$((RANDOM % 4000 + 500))
  sleep "$((at / 1000)).$(printf %03d $((at % 1000)))"
  late=$(( ($(date +%s%N) - t0) / 1000000 - at ))
  # If the sleep still overran the run's end, this fault tested nothing:
  # the note says so.
  running $spid || note "fault $i: the stress program ended before the fault (${at} ms, ${late} ms late)"
  case $fault in
    0) what="SIGKILL to the stress program"; kill -9 $spid 2> /dev/null ;;
    1) what="SIGKILL to the server"; kill -9 "$server" ;;
    2) what="abort"; echo 1 > "$cd_/abort" ;;
    3) what="umount -l"; umount -l "$m" ;;
  esac
  for ((j = 0; j < 600; j++)); do running $spid || break; sleep 0.1; done
  running $spid && fail "fault $i ($what after ${at} ms): the stress program did not end within 60 s"
  wait $spid 2> /dev/null
  st=$?
  # A killed stress program checks nothing; the others check durability.
  [ $fault = 0 ] || [ $st = 0 ] ||
    { grep -m5 -E 'FAILED|error' "$SCRATCH/stress-fault-$i.log" >&2; tail -20 "$SCRATCH/stress-fault-$i.log" >&2
      fail "fault $i ($what after ${at} ms): the stress program failed"; }
  # After a killed client the mount still works and unmounts normally, and
  # everything the mount showed (its dirty pages included) must reach the
  # server. In the other cases it goes away by itself (the server ends, or
  # the last file of the detached mount was closed).
  if [ $fault = 0 ]; then
    view=$SCRATCH/stress-fault-view
    rm -rf "$view"
    mkdir -p "$view"
    cp "$m"/stress-* "$view"/ || fail "fault $i: cannot read the files after the SIGKILL"
    unmount "$m"
    for f in "$view"/stress-*; do
      cmp -s "$f" "$b/${f##*/}" ||
        fail "fault $i ($what): ${f##*/} on the server differs from what the mount showed before unmount: $(cmp "$f" "$b/${f##*/}" 2>&1 | head -1)"
    done
  fi
  wait_unmounted "$m" 60
  wait "$LAST_MOUNT_PID" 2> /dev/null
  d=$(d_state)
  [ -z "$d" ] || fail "fault $i ($what): tasks left in D state: $d"
  note "fault $i: $what after ${at} ms (+${late} ms): all ended, no task in D state ($(tail -1 "$SCRATCH/stress-fault-$i.log" | cut -c1-90))"
done
