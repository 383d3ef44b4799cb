#!/usr/bin/env bash
# Locks: fcntl (POSIX), OFD and flock(2) locks between processes
# (tests/vm/data/locks.py: conflicts, read locks, GETLK, a close dropping a
# process's locks, a waiter granted on unlock, a waiter killed with SIGKILL
# while it waits, flock through dups, flock dropped at the last close).
# Through the reference server keeping the locks itself (--locks:
# FUSE_POSIX_LOCKS and FUSE_FLOCK_LOCKS, OFD locks on the backing files)
# and without (the kernel keeps them locally), on mainline write-through
# (the reference), fuse-wb write-through and fuse-wb write-back: each run
# must print what mainline prints in that lock mode, the lock semantics
# below must hold everywhere, and the server must have seen GETLK, SETLK
# and SETLKW exactly when it keeps the locks. One difference is expected:
# a SETLKW waiter killed while the server holds its request ends at once on
# fuse-wb; mainline keeps it waiting (uninterruptibly) for the server's
# answer, here until the lock is free.
. "$(dirname "$0")/lib.sh"
REF=$BIN/fusewb-refserver
PROG=$ROOT/tests/vm/data/locks.py

# Lock semantics every run must show (kernel-local or server-kept).
expect=(
  "posix child lock 50+10: EAGAIN"
  "posix child lock 100+100: ok"
  "posix child getlk 0+4096: WR 0+100"
  "posix own getlk 0+4096: UN"
  "posix child read lock: ok"
  "posix child write lock: EAGAIN"
  "posix child lock after other close: ok"
  "posix waiter granted after the unlock: yes"
  "posix child waits for and gets the lock: ok"
  "ofd lock on fd2 (same process): EAGAIN"
  "ofd getlk on fd2: WR 0+10"
  "flock child non-blocking: EAGAIN"
  "flock through a dup (same file): ok"
  "flock child after the dup closed: EAGAIN"
  "flock free after the last close: yes"
  "flock child shared: ok"
  "flock child exclusive after unlock: ok"
)

for mode in server local; do
  sopts=()
  seen=free
  if [ $mode = server ]; then
    sopts=(--locks)
    seen=locked
  fi
  for run in mainline:wt fuse-wb:wt fuse-wb:wb; do
    kind=${run%:*} cache=${run#*:}
    m=$SCRATCH/locks-$kind-$cache
    b=$SCRATCH/locks-backing
    st=$SCRATCH/locks.stats
    rm -rf "$b" "$st"
    mkdir -p "$b"
    mopts=() wopts=()
    if [ $cache = wb ]; then
      wopts=(--writeback)
      [ $kind = fuse-wb ] && mopts=(-o allow_wbcache)
    fi
    mount_server $kind "$m" "${mopts[@]}" "$m" -- "$REF" --source "$b" --stats "$st" \
      "${sopts[@]}" "${wopts[@]}" %m
    out=$SCRATCH/locks.$mode.$run
    timeout 300 python3 "$PROG" "$m" "$b" > "$out" 2>&1 || {
      cat "$out"
      fail "$mode locks on $run: the lock program failed"
    }
    unmount "$m"
    killed="posix killed waiter ended at once: yes"
    for line in "${expect[@]}" "posix backing sees it: $seen" "flock backing sees it: $seen"; do
      tr -s ' ' < "$out" | grep -qxF "$line" || { cat "$out"; fail "$mode locks on $run: expected \"$line\""; }
    done
    if [ $kind = fuse-wb ]; then
      tr -s ' ' < "$out" | grep -qxF "$killed" || { cat "$out"; fail "$mode locks on $run: expected \"$killed\""; }
    fi
    if [ $run != mainline:wt ]; then
      diff <(grep -v "killed waiter" "$SCRATCH/locks.$mode.mainline:wt") <(grep -v "killed waiter" "$out") ||
        fail "$mode locks on $run: differs from mainline (above)"
    fi
    ops=$(grep -E '^op\.(GETLK|SETLK|SETLKW)\.count' "$st" | awk '{s += $2} END {print s + 0}')
    if [ $mode = server ] && [ "$ops" -lt 10 ]; then
      fail "$mode locks on $run: the server saw only $ops lock requests"
    fi
    if [ $mode = local ] && [ "$ops" != 0 ]; then
      fail "$mode locks on $run: the server saw $ops lock requests"
    fi
    note "$mode locks on $run: $(wc -l < "$out") checks as expected, $ops lock requests to the server; $(tr -s ' ' < "$out" | grep "killed waiter")"
  done
done
