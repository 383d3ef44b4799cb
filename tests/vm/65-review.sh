#!/usr/bin/env bash
# Regression tests of the defects a code review found in the write-back
# cache (issue 9): each failed on the code before its fix. They use the
# recording script server as 60-protocol does, plus races (threads, SIGKILL
# and aborts at chosen points) and the kernel log.
#   PROTO_KINDS / PROTO_TESTS as in 60-protocol (tests are r01, r02, ...).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proto-lib.sh"

PARAMS=/sys/module/fuse_wb/parameters

# with_param NAME VALUE: sets a module parameter until restore_params.
SAVED_PARAMS=()
with_param() {
  SAVED_PARAMS+=("$1=$(cat "$PARAMS/$1")")
  echo "$2" > "$PARAMS/$1" || fail "cannot set $PARAMS/$1"
}
restore_params() {
  local p
  for p in "${SAVED_PARAMS[@]}"; do echo "${p#*=}" > "$PARAMS/${p%%=*}"; done
  SAVED_PARAMS=()
}

# klog_mark / klog_since: kernel log lines printed since the mark.
klog_mark() { KLOG_MARK=$(dmesg | wc -l); }
klog_since() { dmesg | tail -n +"$((KLOG_MARK + 1))"; }
# klog_clean DESC: no BUG, WARNING, KASAN or busy-inode report since the mark.
klog_clean() {
  local bad
  bad=$(klog_since | grep -E 'Busy inodes|BUG:|WARNING:|KASAN|Oops|general protection|INFO: task .* blocked' | head -5)
  [ -z "$bad" ] && return 0
  echo "kernel log since the test started:" >&2
  klog_since | tail -60 >&2
  return 1
}

# kill_server: SIGKILL to the script server of the last mount.
kill_server() {
  local spid
  spid=$(pgrep -P "$LAST_MOUNT_PID" | head -1)
  [ -n "$spid" ] && kill -9 "$spid"
}

# cpu_ticks_kworkers: user+system clock ticks of every kworker thread now.
cpu_ticks_kworkers() {
  local f s sum=0 rest
  for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2> /dev/null || continue
    case $s in *'(kworker/'*) ;; *) continue ;; esac
    rest=${s##*) }
    set -- $rest
    # After the comm: state is field 3 of stat; utime and stime are 14, 15.
    sum=$((sum + ${12} + ${13}))
  done
  echo "$sum"
}

# killed_before_reply U: the REPLY to request U came after log line
# LOGMARK, taken (log_mark) just before the SIGKILL: the kill landed while
# the server still had the request. Waits for the reply.
killed_before_reply() {
  local l
  wait_for grep -q "^REPLY unique=$1 " "$PLOG" || return 1
  l=$(awk -v u="unique=$1" '$1 == "REPLY" && $2 == u { print NR; exit }' "$PLOG")
  [ "$l" -gt "$LOGMARK" ]
}

# r01. Unmount must not free the superblock while writeback WRITEs (their
# completions) or write-behind work items still hold inodes. (a) Many
# WRITEs in flight to a server that never answers; `umount` waits for them;
# the connection is aborted from sysfs meanwhile: the abort ends the WRITEs
# and umount goes on while the aborting task still drops their inode
# references. (b) The same after `umount` itself was killed, with
# write-behind work items busy. Either way: no busy inodes, no KASAN report.
r01_umount_abort_race() {
  local k=$1 f=hang-r01 cd_ upid i
  klog_mark
  # (a) 256 WRITEs of 4 KiB, none answered.
  proto_mount "$k" wb r01a --max-write 4096
  cd_=$(conn_dir "$PM")
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 $MIB
  # Killed while close(2) waits for the WRITEs: the file is released then
  # (a process killed elsewhere would wait for them in exit, unkillably).
  pio_send close h
  check "$k: close sent no WRITE" wait_for has_line $f WRITE
  sleep 2
  kill -9 "$PIO_CHILD"
  check "$k: the writer killed in close did not end" ended "$PIO_CHILD" 30
  wait "$PIO_CHILD" 2> /dev/null
  note "$k (a): 256 WRITEs unanswered, writer killed; umount, then abort"
  umount "$PM" &
  upid=$!
  sleep 3
  check "$k: umount returned while WRITEs are unanswered" running $upid
  echo 1 > "$cd_/abort"
  check "$k: umount still running 30 s after the abort" ended $upid 30
  wait $upid 2> /dev/null
  check "$k: the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  check "$k (a): the kernel log shows a report" klog_clean
  note "$k (a): done"
  # (b) A 1 MiB bound on data in flight, write-behind work items queued,
  # the writer killed in close, umount killed, then the abort.
  with_param max_inflight_mb 1
  proto_mount "$k" wb r01b --max-write 131072
  cd_=$(conn_dir "$PM")
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 $((8 * MIB))
  check "$k: no WRITE from write-behind" wait_for has_line $f WRITE
  pio_send close h
  sleep 3
  kill -9 "$PIO_CHILD"
  check "$k: the writer killed in close did not end" ended "$PIO_CHILD" 30
  wait "$PIO_CHILD" 2> /dev/null
  note "$k (b): write-behind busy, writer killed; umount, SIGKILL to it, abort"
  umount "$PM" 2> /dev/null &
  upid=$!
  disown $upid
  sleep 3
  kill -9 $upid
  sleep 1
  [ -e "$cd_/abort" ] && echo 1 > "$cd_/abort"
  note "$k (b): aborted"
  check "$k: umount still running 30 s after the abort" ended $upid 30
  check "$k: the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  restore_params
  # Evictions and RCU frees of the dead superblock happen by now.
  sleep 2
  check "$k (b): the kernel log shows a report" klog_clean
  note "$k: abort during umount with 256 WRITEs in flight, and killed umount + abort with write-behind busy: kernel log clean"
}

# r02. In write-back mode the kernel owns the size: server attributes
# (GETATTR with attr_timeout 0, on every fstat of another thread) must
# never roll back a concurrent append. 4000 appends of 512 bytes.
r02_stat_vs_append() {
  local k=$1 f=r02 n=4000 len=512 size stats
  proto_mount "$k" wb r02
  pio_start
  must open h "$PM/$f" wronly,creat,append
  must appendrace h $len $n
  stats=${PIO_REPLY#ok }
  must fstat h
  size=${PIO_REPLY#ok size=}
  size=${size%% *}
  check "$k: size after $n appends of $len is $size, expected $((n * len))" [ "$size" = $((n * len)) ]
  must fsync h
  must close h
  drop_caches
  must open r "$PM/$f" rdonly
  check "$k: the appended data differs" pio check r 0 $((n * len)) 0
  must close r
  pio_stop
  proto_umount
  note "$k: $n appends while another thread did $stats: size and data exact"
}

# r03. A max_read that is not a multiple of the page size: readahead must
# not misplace data (mainline rounds it down to whole pages).
r03_max_read_unaligned() {
  local k=$1 f=r03 reads sizes
  # As proto_mount (write-through), with a mount option.
  PM=$SCRATCH/proto-r03
  PLOG=$SCRATCH/proto-r03.log
  rm -f "$PLOG"
  mount_server "$k" "$PM" -o max_read=6000 "$PM" -- "$SRV" --log "$PLOG" --file r03=1048576 %m
  pio_start
  must open r "$PM/$f" rdonly
  check "$k: data read with max_read=6000 differs" pio check r 0 1048576
  must close r
  pio_stop
  proto_umount
  sizes=$(plines $f READ | fields size | sort -n | uniq -c | awk '{ printf "%s x %s, ", $1, $2 }')
  reads=$(pcount $f READ)
  check "$k: a READ larger than max_read: $sizes" cond '[ -z "$(plines $f READ | fields size | awk '\''$1 > 6000'\'')" ]'
  note "$k: max_read=6000: 1 MiB read back exactly in $reads READs ($sizes)"
}

# r04. sync(2) must stay killable when the server stops answering once the
# bound on data in flight is reached (the flusher must not wait for room).
r04_sync_killable() {
  local k=$1 f=hang-r04 cd_ spid
  with_param max_inflight_mb 1
  proto_mount "$k" wb r04 --max-write 131072
  cd_=$(conn_dir "$PM")
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 $((4 * MIB))
  check "$k: no WRITE from write-behind" wait_for has_line $f WRITE
  sync &
  spid=$!
  disown $spid
  sleep 3
  check "$k: sync returned while WRITEs are unanswered" running $spid
  kill -9 $spid
  check "$k: sync still running 10 s after SIGKILL" ended $spid 10
  echo 1 > "$cd_/abort"
  pio_send close h
  pio_recv 60
  pio_stop
  check "$k: sync still running 30 s after the abort" ended $spid 30
  check "$k: the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  restore_params
  note "$k: sync blocked behind a stuck server with the in-flight bound full: SIGKILL ended it"
}

# r05. Data a writer wrote before it was killed still reaches the server.
# 8 MiB written into a slow server with small dirty and in-flight bounds;
# the writer is killed while its close(2) waits, so the file's release runs
# with SIGKILL pending (task work before the signal is taken) while data
# may still be dirty. After a sync and dropped caches, the server's file
# holds all of it. (A process killed elsewhere closes its files in exit,
# with the signal already taken: its waits are not cut short.)
r05_killed_writer_data() {
  local k=$1 f=slow-r05 pid
  with_param max_inflight_mb 1
  with_param max_dirty_ratio 1
  # No write-behind: dirty data waits for the flusher and the close.
  with_param write_behind 0
  proto_mount "$k" wb r05 --max-write 131072 --slow-ms 40
  pio_start
  must open h "$PM/$f" wronly,creat
  must pwrites h 0 $MIB 8
  pid=$PIO_CHILD
  pio_send close h
  sleep 1
  kill -9 "$pid"
  check "$k: the killed writer did not end" ended "$pid" 60
  wait "$pid" 2> /dev/null
  sync
  drop_caches
  pio_start
  must open r "$PM/$f" rdonly
  check "$k: the 8 MiB the killed writer wrote did not all reach the server" pio check r 0 $((8 * MIB))
  must close r
  pio_stop
  proto_umount
  restore_params
  note "$k: a writer killed with dirty data: all 8 MiB reached the server"
}

# r06. An open without FOPEN_KEEP_CACHE invalidates the file's pages
# (launder_folio writes the dirty ones) without the inode lock, so it can
# run while a truncate's SETATTR is with the server. No WRITE may reach the
# server then: one sent before the reply could land after the server
# truncated, and regrow the file (log rotation's copytruncate). The opener
# is killed while it waits for the truncate (its own writeback waits
# killably, and a killed open still invalidates). The server answers the
# truncate 10 s late (room for a slow, loaded VM before the SIGKILL) and
# serves other requests meanwhile.
r06_launder_during_truncate() {
  local k=$1 f=lazytrunc-r06 cpid su set_l rep_l bad i
  with_param write_behind 0
  proto_mount "$k" wb r06 --slow-ms 10000
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 65536
  # ftruncate by the writer itself: truncate(1) would open the file, and
  # that open writes the dirty pages back first.
  pio_send ftruncate h 4096
  check "$k: no SETATTR of the size" wait_for grep -q ' size=4096 .*deferred_ms=' "$PLOG"
  cat "$PM/$f" > /dev/null 2>&1 &
  cpid=$!
  # 257: openat(2) on x86_64. (On mainline the open may already have
  # gone on to wait for the truncate in launder_folio, unkillably.)
  for ((i = 0; i < 20; i++)); do
    [ "$(cut -d' ' -f1 /proc/$cpid/syscall 2> /dev/null)" = 257 ] && break
    sleep 0.1
  done
  [ $i = 20 ] && note "$k: cat not seen in openat(2): $(cat /proc/$cpid/syscall 2>&1 | cut -c1-40)"
  sleep 0.5
  su=$(plines $f SETATTR | grep ' size=4096 ' | head -1 | fields unique)
  log_mark
  kill -9 $cpid
  check "$k: cat still running 30 s after SIGKILL" ended $cpid 30
  wait $cpid 2> /dev/null
  pio_recv 30
  check "$k: ftruncate failed: $PIO_REPLY" [ "${PIO_REPLY%% *}" = ok ]
  check "$k: the truncate's SETATTR was answered before the SIGKILL (too slow a VM?)" killed_before_reply "$su"
  check "$k: no reply to the SETATTR" wait_for grep -q "^REPLY unique=$su " "$PLOG"
  set_l=$(awk -v u="unique=$su" '$1 == "SETATTR" && $2 == u { print NR; exit }' "$PLOG")
  rep_l=$(awk -v u="unique=$su" '$1 == "REPLY" && $2 == u { print NR; exit }' "$PLOG")
  bad=$(writes $f | awk -v a="$set_l" -v b="$rep_l" '$1 > a && $1 < b { printf "line %s offset %s; ", $1, $2 }')
  check "$k: WRITEs reached the server while the truncate's SETATTR (lines $set_l-$rep_l) was pending: $bad" [ -z "$bad" ]
  must fsync h
  must fstat h
  check "$k: size after the truncate: $PIO_REPLY" cond '[[ $PIO_REPLY == "ok size=4096 "* ]]'
  must close h
  drop_caches
  must open r "$PM/$f" rdonly
  must fstat r
  check "$k: size on the server after the truncate: $PIO_REPLY" cond '[[ $PIO_REPLY == "ok size=4096 "* ]]'
  check "$k: the data before the new EOF differs" pio check r 0 4096
  must close r
  pio_stop
  proto_umount
  restore_params
  note "$k: open killed during a truncate with 16 dirty pages: no WRITE while its SETATTR (lines $set_l-$rep_l) was pending"
}

# r07. Every error path of launder_folio (and of the writeback and open
# paths around it) keeps the data or reports the loss, and leaves nothing
# behind that later writeback would wait for. A writer dirties page 0 and
# keeps the file open; a second process opens the file (no
# FOPEN_KEEP_CACHE): its open writes page 0 back and waits for the slow
# WRITE, meanwhile the writer dirties page 1, which the open's
# invalidation then launders. Systematic fault injection (the kernel's
# fail-nth, limited to allocations with fuse_wb on the stack) fails the
# opener's Nth allocation, for N = 1, 2, ... until the open no longer
# reaches an Nth one. Each time the open ends, the writer's fsync ends and
# either reports an error or the server holds both pages; files whose
# fsync succeeded are read back at the end. (Before the fix a failure
# after the in-flight record was made left it there, and every later
# fsync waited forever; one before the WRITE was sent dropped the page
# silently.)
r07_launder_faults() {
  local k=$1 n f b_in b_out bpid res left cover inj0 stacks launders=0 errs=0 oks=()
  fault_setup
  with_param write_behind 0
  # Attributes stay valid: the second pwrite must dirty page 1 while the
  # server sleeps in page 0's WRITE, not wait behind it for a GETATTR (a
  # write-back write refreshes expired attributes first).
  proto_mount "$k" wb r07 --slow-ms 1000 --attr-timeout 60
  hold_writeback "$k"
  pio_start
  b_out=$SCRATCH/r07-b.out
  for ((n = 1; n <= 100; n++)); do
    f=slow-r07-$n
    must open h "$PM/$f" rdwr,creat
    must pwrite h 0 4096 $n
    inj0=$(fault_count)
    # The opener: arm, open, tell what is left of the count, close.
    printf 'failnth %s\nopen r %s rdonly\nfailnth\nclose r\n' $n "$PM/$f" |
      "$BIN/fusewb-pio" > "$b_out" 2>&1 &
    bpid=$!
    wait_for cond "has_line $f WRITE || ! running $bpid" ||
      fail "$k: N=$n: the open neither wrote page 0 back nor ended"
    must pwrite h 4096 4096 $((n + 1))
    check "$k: N=$n: the open did not end within 30 s" ended $bpid 30
    wait $bpid 2> /dev/null
    pio_send fsync h
    pio_recv 60
    res=$PIO_REPLY
    must close h
    left=$(sed -n 3p "$b_out")
    if [ "$(fault_count)" -gt "$inj0" ] &&
      dmesg | awk -v from=$inj0 '/FAULT_INJECTION: forcing a failure/ { n++ } n > from' | grep -q launder_folio; then
      launders=$((launders + 1))
    fi
    if [ "${res%% *}" = ok ]; then
      cover=$(write_cover $f)
      check "$k: N=$n: fsync succeeded but the server took $cover of 0-8192 (opener: $(tr '\n' '|' < "$b_out"))" \
        [ "$cover" = 0-8192 ]
      oks+=($n)
    else
      check "$k: N=$n: fsync failed with something other than the injected ENOMEM: $res" \
        cond '[[ $res == "err ENOMEM "* ]]'
      errs=$((errs + 1))
    fi
    # The fault was not injected: the open passed fewer than N points.
    [ "$left" = "ok 0" ] || break
  done
  check "$k: the walk did not end within 100 allocations" [ "$left" != "ok 0" ]
  check "$k: no injected failure hit launder_folio (the walk does not reach it)" [ $launders -gt 0 ]
  drop_caches
  for n in "${oks[@]}"; do
    must open r "$PM/slow-r07-$n" rdonly
    check "$k: N=$n: page 0 on the server differs" pio check r 0 4096 $n
    check "$k: N=$n: page 1 on the server differs" pio check r 4096 4096 $((n + 1))
    must close r
  done
  pio_stop
  proto_umount
  restore_params
  note "$k: $((n - 1)) allocations failed in turn, $launders of them in launder_folio: the open always ended, fsync reported $errs errors, ${#oks[@]} files read back exact"
}

# r10. With the bound on data in flight full, background writeback stops
# without claiming progress: the flusher must not spin. A writer throttled
# by a small dirty limit, a server answering each WRITE after 40 ms, no
# write-behind (the flusher does all background writeback); the kworkers'
# CPU time stays well below the wall time.
r10_flusher_no_spin() {
  local k=$1 f=slow-r10 t0 t1 c0 c1 busy wall stops
  with_param max_inflight_mb 1
  with_param max_dirty_ratio 1
  with_param write_behind 0
  proto_mount "$k" wb r10 --max-write 131072 --slow-ms 40
  c0=$(cpu_ticks_kworkers)
  t0=$(date +%s%N)
  dd if=/dev/zero of="$PM/$f" bs=64k count=256 conv=fsync status=none
  t1=$(date +%s%N)
  c1=$(cpu_ticks_kworkers)
  stops=$(awk '$1 == "writeback_budget_stops" { print $2 }' "$(conn_dir "$PM")/stats")
  proto_umount
  restore_params
  # Ticks are 1/100 s (USER_HZ); wall in ms.
  busy=$(( (c1 - c0) * 10 ))
  wall=$(( (t1 - t0) / 1000000 ))
  check "$k: kworkers used ${busy} ms of CPU in ${wall} ms (spinning flusher)" [ $((busy * 4)) -lt "$wall" ]
  note "$k: 16 MiB at 40 ms per 128 KiB WRITE in ${wall} ms; kworkers used ${busy} ms of CPU; budget stops: ${stops:-n/a}"
}

# r08. The FORGET of an inode never reaches the server before the RELEASE
# of its last open file (a server may free per-node state on FORGET). The
# server is kept busy by a slow WRITE of another file while the file is
# closed (RELEASE queued) and the inode is evicted (FORGET queued).
r08_release_before_forget() {
  local k=$1 f=r08 ddpid node rel_l fgt_l open_l
  proto_mount "$k" wb r08 --slow-ms 3000 --no-flush
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 4096
  must fsync h
  must close h
  # The inode may be evicted at this close already: FORGETs before the
  # second open's OPEN do not count. (A FORGET queued at this close is read
  # by the server before the LOOKUP of the next open, but possibly after
  # the open(2) below started: a mark taken here would count it.)
  must open h "$PM/$f" rdonly
  open_l=$(plnums $f OPEN | tail -1)
  dd if=/dev/zero of="$PM/slow-r08" bs=4k count=1 conv=fsync status=none &
  ddpid=$!
  check "$k: no slow WRITE" wait_for has_line slow-r08 WRITE
  must close h
  echo 2 > /proc/sys/vm/drop_caches
  pio_stop
  wait $ddpid
  check "$k: no RELEASE of the second open of $f" wait_for cond '[ "$(pcount $f RELEASE)" -ge 2 ]'
  sleep 1
  echo 2 > /proc/sys/vm/drop_caches
  node=$(plines $f RELEASE | tail -1 | fields nodeid)
  check "$k: no FORGET of node $node" wait_for has_forget "$node" "$open_l"
  rel_l=$(plnums $f RELEASE | tail -1)
  fgt_l=$(forget_line "$node" "$open_l")
  check "$k: the FORGET of node $node (line $fgt_l) came before its RELEASE (line $rel_l)" [ "$fgt_l" -gt "$rel_l" ]
  proto_umount
  note "$k: close and eviction while the server was busy: RELEASE (line $rel_l) before FORGET (line $fgt_l)"
}

# forget_line NODE [FROM]: the log line number of the first FORGET or
# BATCH_FORGET of NODE after line FROM; fails if there is none.
forget_line() {
  awk -v n="$1" -v from="${2:-0}" 'NR > from && (($1 == "FORGET" && index($0, " nodeid=" n " ")) ||
    ($1 == "BATCH_FORGET" && (index($0, "=" n ":") || index($0, "," n ":")))) { print NR; found = 1; exit }
    END { exit !found }' "$PLOG"
}
has_forget() { forget_line "$@" > /dev/null; }

# r09. A truncate killed while the server still runs its SETATTR keeps
# writeback and other writes waiting until the server answers: another
# process's WRITE must not overtake the truncate (the server would apply
# the truncate after the WRITE and lose it), whether it comes from
# writeback (r09), from a write-through write (r09b) or from O_DIRECT
# (r09c). The cache mirrors the truncate all the same (the server makes
# it): after the other process wrote 4096 bytes at 0, the size is 4096 in
# the kernel and on the server. The server applies `lazytrunc-` truncates
# 7 s late while it serves other requests, as a multi-threaded server
# would (long enough that the SIGKILL, after a few slow shell steps under
# TCG, lands while the truncate still waits).
# killed_truncate KIND MODE NAME OPEN_FLAGS WRITE_CMD
killed_truncate() {
  local k=$1 mode=$2 name=$3 oflags=$4 wcmd=$5 f=lazytrunc-$3 tpid su rep_l w_l
  proto_mount "$k" "$mode" "$name" --slow-ms 7000 --file $f=8192
  pio_start
  must open h "$PM/$f" "$oflags"
  truncate -s 0 "$PM/$f" &
  tpid=$!
  check "$k: no SETATTR of the size" wait_for grep -q ' size=0 .*deferred_ms=' "$PLOG"
  su=$(plines $f SETATTR | grep ' size=0 ' | head -1 | fields unique)
  log_mark
  kill -9 $tpid
  check "$k: truncate still running 30 s after SIGKILL" ended $tpid 30
  wait $tpid 2> /dev/null
  must "$wcmd" h 0 4096 7
  must fsync h
  must fstat h
  check "$k ($mode, $wcmd): size after the killed truncate and a 4096-byte write at 0: $PIO_REPLY" \
    cond '[[ $PIO_REPLY == "ok size=4096 "* ]]'
  must close h
  check "$k: the truncate's SETATTR was answered before the SIGKILL (too slow a VM?)" killed_before_reply "$su"
  rep_l=$(awk -v u="unique=$su" '$1 == "REPLY" && $2 == u { print NR; exit }' "$PLOG")
  w_l=$(writes $f | awk '{ print $1; exit }')
  check "$k: no WRITE after the killed truncate" [ -n "$w_l" ]
  check "$k ($mode, $wcmd): a WRITE (line $w_l) reached the server before the truncate's reply (line $rep_l)" \
    [ "$w_l" -gt "$rep_l" ]
  drop_caches
  must open r "$PM/$f" rdonly
  must fstat r
  check "$k ($mode, $wcmd): size on the server: $PIO_REPLY" cond '[[ $PIO_REPLY == "ok size=4096 "* ]]'
  check "$k ($mode, $wcmd): the data on the server differs" pio check r 0 4096 7
  must close r
  pio_stop
  proto_umount
  note "$k ($mode, $wcmd): truncate killed while its SETATTR ran: the other writer's WRITE (line $w_l) came after the reply (line $rep_l), size 4096"
}
r09_killed_truncate() { killed_truncate "$1" wb r09 wronly pwrite; }
r09b_killed_truncate_wt() { killed_truncate "$1" wt r09b wronly pwrite; }
r09c_killed_truncate_direct() { killed_truncate "$1" wb r09c wronly,direct dwrite; }

# r09d. The truncating writer itself is killed while the server runs the
# SETATTR, with dirty pages past the new size: the cache must drop them as
# the truncate does (the server makes it), not write them back after its
# reply and regrow the file.
r09d_killed_truncate_dirty() {
  local k=$1 f=lazytrunc-r09d pid su set_l later
  with_param write_behind 0
  proto_mount "$k" wb r09d --slow-ms 7000
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 8192 3
  pio_send ftruncate h 0
  check "$k: no SETATTR of the size" wait_for grep -q ' size=0 .*deferred_ms=' "$PLOG"
  pid=$PIO_CHILD
  su=$(plines $f SETATTR | grep ' size=0 ' | head -1 | fields unique)
  log_mark
  kill -9 "$pid"
  check "$k: the killed writer did not end within 30 s" ended "$pid" 30
  wait "$pid" 2> /dev/null
  check "$k: the truncate's SETATTR was answered before the SIGKILL (too slow a VM?)" killed_before_reply "$su"
  drop_caches
  set_l=$(awk -v u="unique=$su" '$1 == "SETATTR" && $2 == u { print NR; exit }' "$PLOG")
  later=$(writes $f "$set_l" | awk '{ printf "line %s offset %s-%s; ", $1, $2, $3 }')
  check "$k: WRITEs after the killed truncate's SETATTR (line $set_l): $later" [ -z "$later" ]
  pio_start
  must open r "$PM/$f" rdonly
  must fstat r
  check "$k: the file regrew after the killed truncate: $PIO_REPLY" cond '[[ $PIO_REPLY == "ok size=0 "* ]]'
  must close r
  pio_stop
  proto_umount
  restore_params
  note "$k: writer killed in ftruncate with 8 KiB dirty: no WRITE after the SETATTR, size 0"
}

# r11. A write fault on a shared mapping that is killed while it waits for
# the WRITE in flight of its page must not leave the page dirty (and
# writable): that would let a second WRITE of the page go out while the
# first is still in flight.
r11_mkwrite_killed() {
  local k=$1 f=hang-r11 cd_ spid n
  proto_mount "$k" wb r11
  cd_=$(conn_dir "$PM")
  pio_start
  must open h "$PM/$f" rdwr,creat
  # Cached by a write: a READ of a hang- file would never be answered.
  must pwrite h 0 4096
  pio_send mmapstore h 0 600 100
  sleep 1
  sync &
  spid=$!
  disown $spid
  check "$k: no WRITE of the mapped page" wait_for has_line $f WRITE
  # The next store faults and waits for that WRITE; kill the writer there.
  # (Its exit then waits for the WRITE, until the abort below.)
  sleep 2
  kill -9 "$PIO_CHILD"
  kill -9 $spid
  sync &
  spid=$!
  disown $spid
  sleep 3
  n=$(pcount $f WRITE)
  kill -9 $spid
  echo 1 > "$cd_/abort"
  check "$k: the writer did not end after the abort" ended "$PIO_CHILD" 30
  check "$k: the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  check "$k: $n WRITEs of the page were in flight together" [ "$n" = 1 ]
  note "$k: writer killed in page_mkwrite: the page stayed clean, one WRITE in flight"
}

# r12. Bytes a shared mapping stored past EOF (in the last page) are not
# file data: after the file grows they read as zeros, from the cache and
# from the server. It grows by a truncate (r12), a write in a later page
# (r12b) or a write further in the same page (r12c). ZEND: where the zeros
# end (the write's start, or the page end).
# mmap_past_eof KIND NAME ZEND GROW_CMD...
mmap_past_eof() {
  local k=$1 name=$2 zend=$3 f=$2
  shift 3
  proto_mount "$k" wb "$name"
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 100
  must mmap h 0 4096 shared write 7
  must "$@"
  soft "$k" "$k ($*): bytes a mapping stored past the old EOF read back after the file grew" \
    pio zeros h 100 $((zend - 100))
  must fsync h
  must close h
  drop_caches
  must open r "$PM/$f" rdonly
  check "$k: the mapped bytes before the old EOF differ" pio check r 0 100 7
  soft "$k" "$k ($*): the server's file holds the bytes stored past the old EOF" \
    pio zeros r 100 $((zend - 100))
  must close r
  pio_stop
  proto_umount
  note "$k: a mapping's stores past EOF read as zeros after '$*'"
}
r12_mmap_past_eof() { mmap_past_eof "$1" r12 4096 ftruncate h 4096; }
r12b_mmap_past_eof_write() { mmap_past_eof "$1" r12b 4096 pwrite h 8192 10; }
r12c_mmap_past_eof_write_same_page() { mmap_past_eof "$1" r12c 300 pwrite h 300 10; }

# r13. A caller killed while the server still handles its OPEN or CREATE
# abandons the request; the late reply's handle must be RELEASEd (and the
# CREATE's node lookup given back by FORGET, after that RELEASE), or the
# server leaks them. The server answers `lazy-` OPEN and CREATE 2 s late.
r13_abandoned_open_create() {
  local k=$1 f=lazy-r13 c=lazy-r13c pid fh node rel_l fgt_l
  proto_mount "$k" wb r13 --slow-ms 2000 --file $f=4096
  cat "$PM/$f" > /dev/null &
  pid=$!
  check "$k: no OPEN" wait_for has_line $f OPEN
  kill -9 $pid
  check "$k: cat still running 30 s after SIGKILL" ended $pid 30
  check "$k: no reply to the OPEN" wait_for grep -q " op=OPEN file=$f" "$PLOG"
  fh=$(awk -v f="file=$f" '$1 == "REPLY" && / op=OPEN / && index($0, " " f) { print; exit }' "$PLOG" | fields fh)
  check "$k: no RELEASE of the abandoned OPEN's handle $fh" wait_for cond "plines $f RELEASE | grep -q ' fh=$fh '"
  touch "$PM/$c" &
  pid=$!
  check "$k: no CREATE" wait_for has_line $c CREATE
  kill -9 $pid
  check "$k: touch still running 30 s after SIGKILL" ended $pid 30
  check "$k: no reply to the CREATE" wait_for grep -q " op=CREATE file=$c" "$PLOG"
  read -r fh node < <(awk -v f="file=$c" '$1 == "REPLY" && / op=CREATE / && index($0, " " f) { print; exit }' "$PLOG" | awk '{ for (i = 2; i <= NF; i++) { if (index($i, "fh=") == 1) h = substr($i, 4); if (index($i, "ino=") == 1) n = substr($i, 5) } print h, n }')
  check "$k: no RELEASE of the abandoned CREATE's handle $fh" wait_for cond "plines $c RELEASE | grep -q ' fh=$fh '"
  rel_l=$(plinesn $c RELEASE | awk -v h="fh=$fh" 'index($0, " " h " ") { print $1; exit }')
  if [ "$k" = fuse-wb ]; then
    check "$k: no FORGET of the abandoned CREATE's node $node" wait_for has_forget "$node"
  fi
  if has_forget "$node"; then
    fgt_l=$(forget_line "$node")
    check "$k: the FORGET of node $node (line $fgt_l) came before the RELEASE (line $rel_l)" [ "$fgt_l" -gt "$rel_l" ]
  fi
  proto_umount
  note "$k: killed during a slow OPEN and CREATE: their handles were released${fgt_l:+, the node forgotten after}"
}

# r14. A signal that the program handles (SA_RESTART) does not fail a
# request the server has not read yet: as in mainline, the request stays
# queued and an INTERRUPT follows it once the server has read it; only the
# server's answer could fail it. The single-threaded server is held 5 s by
# a slow WRITE; an open waits in the queue behind it when SIGUSR1 comes.
# The server puts the OPEN of the `lazy-` file off, so it reads (and logs)
# the INTERRUPT that follows. (fuse-wb withdrew the request and failed the
# open with EINTR, which programs do not expect from a regular file.)
r14_handled_signal_queued() {
  local k=$1 f=lazy-r14 pid open_u intr
  proto_mount "$k" wb r14 --slow-ms 5000
  pio_start
  must open h "$PM/$f" rdwr,creat
  must close h
  must catch usr1
  dd if=/dev/zero of="$PM/slow-r14" bs=4096 count=1 conv=fsync status=none &
  pid=$!
  check "$k: no WRITE of slow-r14" wait_for has_line slow-r14 WRITE
  pio_send open h "$PM/$f" rdonly
  # 257: openat(2) on x86_64.
  check "$k: the open did not block in openat(2)" \
    wait_for cond "[ \"\$(cut -d' ' -f1 /proc/$PIO_CHILD/syscall)\" = 257 ]"
  sleep 0.3
  kill -USR1 "$PIO_CHILD"
  pio_recv 60
  check "$k: the open failed after a handled SIGUSR1 while its request was queued: $PIO_REPLY" \
    [ "${PIO_REPLY%% *}" = ok ]
  pio caught
  check "$k: the handler counted '$PIO_REPLY' signals, expected 1" [ "$PIO_REPLY" = "ok 1" ]
  must close h
  pio_stop
  check "$k: dd still running 30 s after the WRITE" ended $pid 30
  open_u=$(plines $f OPEN | tail -1 | fields unique)
  intr=$(awk -v t="target=$open_u" '$1 == "INTERRUPT" { for (i = 2; i <= NF; i++) if ($i == t) { print NR; exit } }' "$PLOG")
  check "$k: no INTERRUPT of the open's OPEN (unique $open_u) after it was read" [ -n "$intr" ]
  proto_umount
  note "$k: handled SIGUSR1 during a queued open: the open succeeded; INTERRUPT of its OPEN in log line $intr"
}

# r15. A task killed in page_mkwrite while the kernel itself takes the
# write fault (read(2) into a shared writable map of a file whose page has
# a WRITE in flight) must end: the fault has to fail (the kernel's copy
# then fails), not return to the copy that faults again at once. The
# server never answers the WRITE until the abort.
r15_mkwrite_kernel_copy() {
  local k=$1 f=hang-r15 s=r15src cd_ spid t0 t1
  proto_mount "$k" wb r15
  cd_=$(conn_dir "$PM")
  pio_start
  must open src "$PM/$s" rdwr,creat
  must pwrite src 0 4096
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 4096
  # sync(2) writes the page back; its WRITE is never answered.
  sync &
  spid=$!
  disown $spid
  check "$k: no WRITE of the page" wait_for has_line $f WRITE
  pio_send mmapread h 0 4096 src 0
  sleep 2
  check "$k: pread into the map returned while the WRITE of the page is in flight" \
    cond '! read -r -t 0.1 PIO_REPLY <&"$PIO_OUT"'
  kill -9 "$PIO_CHILD"
  # The killed task leaves the fault and exits; its exit then waits for the
  # WRITE in its close (with no signal left to end that wait) until the
  # abort below. Spinning in the fault instead, it burns CPU.
  sleep 2
  t0=$(task_ticks "$PIO_CHILD")
  sleep 3
  t1=$(task_ticks "$PIO_CHILD")
  kill -9 $spid
  echo 1 > "$cd_/abort"
  check "$k: the task killed in a write fault of its read(2) used $(((t1 - t0) * 10)) ms of CPU in 3 s (spinning in the fault)" \
    [ $((t1 - t0)) -lt 50 ]
  ended "$PIO_CHILD" 30 || { task_dump "$PIO_CHILD"; fail "$k: the killed task did not end after the abort"; }
  check "$k: sync still running 30 s after the abort" ended $spid 30
  check "$k: the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  note "$k: read(2) into a map whose page had a WRITE in flight, SIGKILL: the task left the fault ($(((t1 - t0) * 10)) ms of CPU in 3 s)"
}

# task_ticks PID: user+system clock ticks (1/100 s) the task used so far.
task_ticks() {
  local s rest
  { read -r s < "/proc/$1/stat"; } 2> /dev/null || { echo 0; return; }
  rest=${s##*) }
  set -- $rest
  echo $(($12 + $13))
}

# r16. A server that never answers the SETATTR of a file's times must not
# hold up sync(2) of another process: fsync (and close) wait for that
# SETATTR killably and without the inode's I_SYNC, which the flusher
# waits for uninterruptibly when sync(2) asks it to write everything.
r16_sync_vs_stalled_times() {
  local k=$1 f=hangattr-r16 cd_ spid
  proto_mount "$k" wb r16
  cd_=$(conn_dir "$PM")
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 4096
  pio_send fsync h
  check "$k: no SETATTR of the times" wait_for grep -q "^NOREPLY .*op=SETATTR" "$PLOG"
  sync &
  spid=$!
  if ! ended $spid 30; then
    echo 1 > "$cd_/abort"
    fail "$k: sync(2) waited 30 s for the server's answer to another process's SETATTR of the times"
  fi
  check "$k: fsync returned although its SETATTR is not answered" \
    cond '! read -r -t 0.1 PIO_REPLY <&"$PIO_OUT"'
  kill -9 "$PIO_CHILD"
  # (Its exit closes the file, which waits for the SETATTR again, with no
  # signal left to end the wait: the abort ends it.)
  echo 1 > "$cd_/abort"
  check "$k: the killed fsync did not end after the abort" ended "$PIO_CHILD" 30
  check "$k: the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  note "$k: fsync blocked on an unanswered SETATTR of the times: sync(2) of another process ended"
}

# r17. A writer killed in close(2) while a truncate by another process
# holds writeback: the file's release then runs with SIGKILL pending, so it
# cannot write the dirty data itself. The data must still reach the server
# once the truncate is answered (the handle is kept for it, as mainline
# keeps a file until its last WRITE), and its RELEASE follows that WRITE.
# The other process extends the file by path (truncate(2): no open, so no
# flush and no handle of its own); the server answers it 5 s late.
r17_killed_close_during_truncate() {
  local k=$1 f=lazytrunc-r17 pid tpid fh rel_l w_l
  with_param write_behind 0
  proto_mount "$k" wb r17 --slow-ms 5000
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 8192 5
  pid=$PIO_CHILD
  printf 'truncate %s 16384\n' "$PM/$f" | "$BIN/fusewb-pio" > "$SCRATCH/r17-t.out" 2>&1 &
  tpid=$!
  check "$k: no SETATTR of the size" wait_for grep -q ' size=16384 .*deferred_ms=' "$PLOG"
  pio_send close h
  sleep 1
  kill -9 "$pid"
  check "$k: the writer killed in close did not end" ended "$pid" 30
  wait "$pid" 2> /dev/null
  check "$k: the truncate did not end" ended $tpid 30
  wait $tpid
  check "$k: the truncate failed: $(cat "$SCRATCH/r17-t.out")" grep -q '^ok' "$SCRATCH/r17-t.out"
  drop_caches
  pio_start
  must open r "$PM/$f" rdonly
  must fstat r
  check "$k: size on the server: $PIO_REPLY" cond '[[ $PIO_REPLY == "ok size=16384 "* ]]'
  check "$k: the data of the writer killed in close did not reach the server" pio check r 0 8192 5
  must close r
  pio_stop
  fh=$(awk -v f="file=$f" '$1 == "REPLY" && / op=CREATE / && index($0, " " f " ") { print; exit }' "$PLOG" | fields fh)
  w_l=$(writes $f | awk 'END { print $1 }')
  rel_l=$(plinesn $f RELEASE | awk -v h="fh=$fh" 'index($0, " " h " ") { print $1; exit }')
  check "$k: no WRITE of the file" [ -n "$w_l" ]
  check "$k: no RELEASE of the writer's handle $fh" [ -n "$rel_l" ]
  check "$k: the RELEASE of handle $fh (line $rel_l) came before its last WRITE (line $w_l)" [ "$rel_l" -gt "$w_l" ]
  proto_umount
  restore_params
  note "$k: writer killed in close during a truncate: its 8 KiB reached the server (last WRITE line $w_l), RELEASE after (line $rel_l)"
}

# r18. In write-back mode the kernel owns the size: an O_DIRECT read of a
# hole below dirty data that has not reached the server yet (so the
# server's file ends before the hole) reads zeros up to the size, not an
# early EOF. (Found by 75-stress.)
r18_direct_read_hole() {
  local k=$1 f=r18
  with_param write_behind 0
  proto_mount "$k" wb r18
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" rdwr,creat
  # Opened before the data is dirty: an open writes dirty data back.
  must open d "$PM/$f" rdonly,direct
  must pwrite h 8192 100
  soft "$k" "$k: O_DIRECT read of the hole below dirty data past the server's EOF" pio zeros d 0 4096
  must fsync h
  check "$k: O_DIRECT read of the hole after fsync" pio zeros d 0 4096
  check "$k: O_DIRECT read of the data after fsync" pio check d 8192 100
  must close d
  must close h
  pio_stop
  proto_umount
  restore_params
  note "$k: O_DIRECT read of a hole below unwritten dirty data read zeros"
}

# 19. (Review of the O_TMPFILE change.) An allocation that fails after the
# server made and opened the file (CREATE or TMPFILE) must still give
# its handle back: every allocation of the open fails in turn, and at
# unmount the server holds no open handle. (Before: the KBox of the open
# file failing left the server's handle open.)
r19_create_open_faults() {
  local k=$1 n op left out summary fails=0
  fault_setup
  proto_mount "$k" wb r19
  out=$SCRATCH/r19.out
  for op in creat tmpfile; do
    for ((n = 1; n <= 60; n++)); do
      if [ $op = creat ]; then
        printf 'failnth %s\nopen h %s wronly,creat\nfailnth\nclose h\n' $n "$PM/r19-$n" |
          "$BIN/fusewb-pio" > "$out" 2>&1
      else
        printf 'failnth %s\nopen h %s rdwr,tmpfile\nfailnth\nclose h\n' $n "$PM" |
          "$BIN/fusewb-pio" > "$out" 2>&1
      fi
      [ "$(sed -n 2p "$out" | cut -d' ' -f1-2)" = "err ENOMEM" ] && fails=$((fails + 1))
      left=$(sed -n 3p "$out")
      # The fault was not injected: the open passed fewer than N points.
      [ "$left" = "ok 0" ] || break
    done
    check "$k $op: the walk did not end within 60 allocations" [ "$left" != "ok 0" ]
  done
  check "$k: no open failed with ENOMEM" [ $fails -gt 0 ]
  proto_umount
  summary=$(grep '^# fusewb-scriptserver:' "$PLOG" | tail -1)
  check "$k: handles left open on the server after the faults: $summary" \
    cond '[[ $summary == *" 0 open handles"* ]]'
  note "$k: $fails opens (CREATE, TMPFILE) failed with ENOMEM in turn; the server holds no handle afterwards"
}

# 20. (Review of the O_TMPFILE change.) An open that fails after the server
# made and opened the file but before the VFS counts the file as opened
# (FMODE_OPENED; here a fanotify permission event denies it, as an LSM or a
# lease break can) must give the server's handle back: the VFS frees such a
# file without calling release. O_CREAT (atomic_open, CREATE) and O_TMPFILE
# (TMPFILE); at unmount the server holds no open handle. (Before: the handle
# of each and the open file's state were leaked.)
r20_open_denied_after_create() {
  local k=$1 fan=$SCRATCH/r20.fan lpid summary
  klog_mark
  proto_mount "$k" wb r20
  python3 "$ROOT/tests/vm/data/fanotify-deny.py" "$PM" > "$fan" 2>&1 &
  lpid=$!
  wait_for grep -q '^ready' "$fan" || { cat "$fan" >&2; fail "$k: the fanotify listener did not start"; }
  pio_start
  check "$k: an O_CREAT open denied by fanotify fails with EPERM" \
    cond '! pio open h "$PM/r20" wronly,creat && [ "$(pio_err)" = EPERM ]'
  check "$k: an O_TMPFILE open denied by fanotify fails with EPERM" \
    cond '! pio open h "$PM" rdwr,tmpfile && [ "$(pio_err)" = EPERM ]'
  pio_stop
  kill "$lpid"
  wait "$lpid" 2> /dev/null
  check "$k: the listener denied both opens" cond '[ "$(grep -c "^deny " "$fan")" = 2 ]'
  check "$k: the server made the file (CREATE)" has_line r20 CREATE
  check "$k: the server made the unnamed file (TMPFILE)" has_line tmpfile TMPFILE
  proto_umount
  summary=$(grep '^# fusewb-scriptserver:' "$PLOG" | tail -1)
  check "$k: handles left open on the server after the denied opens: $summary" \
    cond '[[ $summary == *" 0 open handles"* ]]'
  check "$k: kernel log clean" klog_clean
  note "$k: opens denied after CREATE and TMPFILE left no handle open on the server"
}

# 21. (Review of sending O_TRUNC in CREATE.) A truncating O_CREAT open may
# CREATE over a file this kernel knows under another name (another client
# made the name after our LOOKUP; ghost- names are never found by LOOKUP):
# the server truncates it, and so must the kernel: size 0, the cached and
# dirty data gone, and nothing of it written back to the server later.
# (Before: the size stayed and the dirty data came back at the next
# writeback.)
r21_create_over_known_file() {
  local k=$1 size
  [ "$k" = fuse-wb ] && with_param write_behind 0
  proto_mount "$k" wb r21
  hold_writeback "$k"
  pio_start
  must open h "$PM/ghost-a" rdwr,creat
  must pwrite h 0 8192
  must linkat h "$PM/ghost-b"
  # A name LOOKUP finds, to look at the server's file at the end.
  must linkat h "$PM/r21"
  must open t "$PM/ghost-b" wronly,creat,trunc
  check "$k: the truncating open of the other name was no CREATE" has_line ghost-b CREATE
  must fstat h
  size=${PIO_REPLY#ok size=}
  size=${size%% *}
  soft "$k" "size after the server truncated the file: $size, expected 0" [ "$size" = 0 ]
  must close t
  must fsync h
  must close h
  pio_stop
  drop_caches
  pio_start
  must open r "$PM/r21" rdonly
  must fstat r
  size=${PIO_REPLY#ok size=}
  size=${size%% *}
  soft "$k" "the server's size after fsync: $size, expected 0 (dirty data written back over the truncation)" \
    [ "$size" = 0 ]
  must close r
  pio_stop
  proto_umount
  restore_params
  note "$k: CREATE over a known dirty file with O_TRUNC: size $size on the server afterwards"
}

# 22. Readahead READs in flight (answered 4 s late, the server serving
# other requests meanwhile) while the file is closed from O_RDWR, the
# reader is killed, the file is truncated, the mount is unmounted, or the
# connection is aborted: each ends as it should, nothing is left locked
# or busy, and the kernel log stays clean.
r22_readahead_in_flight() {
  local k=$1 f=lazyread-r22 size=262144 last rel rpid tpid upid cd_
  local pat="import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range($size)))"
  klog_mark
  proto_mount "$k" wb r22 --slow-ms 4000 --file $f=$size
  # (a) Closed from O_RDWR (in write-back mode, a writer) with the READs in
  # flight: its RELEASE follows their replies.
  check "$k: fadvise WILLNEED on an O_RDWR open failed" xfs_io -c "fadvise -w 0 $size" "$PM/$f"
  check "$k: no RELEASE logged" wait_for has_line $f RELEASE
  last=$(awk -v f="file=$f" '$1 == "REPLY" && / op=READ / { for (i = 2; i <= NF; i++) if ($i == f) print NR }' "$PLOG" | tail -1)
  rel=$(plnums $f RELEASE | tail -1)
  check "$k: (a) RELEASE (log line $rel) before the last READ reply (line ${last:-none})" \
    cond '[ -n "$last" ] && [ "$rel" -gt "$last" ]'
  check "$k: (a) the data read back differs" cmp -s <(cat "$PM/$f") <(python3 -c "$pat")
  # (b) The reader killed while it waits for a READ: it ends at once.
  drop_caches
  cat "$PM/$f" > /dev/null &
  rpid=$!
  disown $rpid
  check "$k: (b) the reader sent no READ" wait_for grep -q "^READ .*file=$f .*offset=0 " "$PLOG"
  nap 0.5
  kill -9 $rpid
  check "$k: (b) the reader killed while waiting for its READ did not end within 2 s" ended $rpid 2
  # (c) Truncated to 0 while the READs are in flight: the truncate waits for
  # them (the folios are locked), then nothing of the old data is seen.
  nap 4
  drop_caches
  xfs_io -r -c "fadvise -w 0 $size" "$PM/$f"
  check "$k: (c) no READ in flight" wait_for cond '[ "$(grep -c "^READ .*file=$f " "$PLOG")" -gt "$(grep -c "^REPLY .*op=READ .*file=$f " "$PLOG")" ]'
  truncate -s 0 "$PM/$f" &
  tpid=$!
  check "$k: (c) the truncate did not end within 30 s" ended $tpid 30
  wait $tpid || fail "$k: (c) the truncate failed"
  check "$k: (c) size $(stat -c %s "$PM/$f") after the truncate" [ "$(stat -c %s "$PM/$f")" -eq 0 ]
  check "$k: (c) data read after the truncate" [ "$(wc -c < "$PM/$f")" -eq 0 ]
  printf 'fresh' > "$PM/$f"
  check "$k: (c) the data written after the truncate differs" [ "$(cat "$PM/$f")" = fresh ]
  # (d) Unmounted with READs in flight and no open file: the unmount
  # waits for them (they hold the inode), without a busy-inode report.
  proto_umount
  proto_mount "$k" wb r22d --slow-ms 4000 --file $f=$size
  xfs_io -r -c "fadvise -w 0 $size" "$PM/$f"
  check "$k: (d) no READ" wait_for has_line $f READ
  umount "$PM" &
  upid=$!
  check "$k: (d) the unmount did not end within 30 s" ended $upid 30
  wait $upid || fail "$k: (d) the unmount failed"
  wait "$LAST_MOUNT_PID" 2> /dev/null
  # (e) The connection aborted while a reader waits for its READ: the
  # reader ends with an error, and the mount goes.
  proto_mount "$k" wb r22e --slow-ms 4000 --file $f=$size
  if [ "$k" = mainline ]; then
    mountpoint -q /sys/fs/fuse/connections ||
      mount -t fusectl fusectl /sys/fs/fuse/connections || fail "cannot mount fusectl"
    cd_=/sys/fs/fuse/connections/$(stat -c %d "$PM")
  else
    cd_=$(conn_dir "$PM")
  fi
  cat "$PM/$f" > /dev/null 2>&1 &
  rpid=$!
  check "$k: (e) the reader sent no READ" wait_for has_line $f READ
  check "$k: no $cd_/abort" [ -e "$cd_/abort" ]
  echo 1 > "$cd_/abort"
  check "$k: (e) the reader did not end within 5 s of the abort" ended $rpid 5
  wait $rpid && fail "$k: (e) the reader succeeded although the connection was aborted"
  umount "$PM" 2> /dev/null
  check "$k: (e) the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  check "$k: the kernel log shows a report" klog_clean
  note "$k: READs in flight: close from O_RDWR (RELEASE after them), killed reader, truncate, unmount and abort all ended cleanly"
}

# r23: a synchronous READ (O_DIRECT), WRITE (write-through), FSYNC or
# FLUSH (close(2)) answered late, its caller killed while the server has
# it: the file's RELEASE (at the killed task's exit) must not reach the
# server before the reply, which a server that frees its handle at RELEASE
# would meet freed. Mainline's caller waits
# for the replies; fuse-wb's gives up at once and the RELEASE waits instead.
r23_killed_sync_io() {
  local k=$1 f op lim pid io rel what
  klog_mark
  proto_mount "$k" wt r23 --slow-ms 3000 --file lazyread-r23=131072 \
    --file lazywrite-r23=8192 --file lazywrite-r23s=8192 --file lazyflush-r23=1
  for what in ${R23_CASES:-read write fsync flush}; do
    case $what in
      read)
        f=lazyread-r23 op=READ lim=2
        dd if="$PM/$f" of=/dev/null iflag=direct bs=65536 count=1 2> /dev/null &
        ;;
      write)
        f=lazywrite-r23 op=WRITE lim=2
        dd if=/dev/zero of="$PM/$f" bs=4096 count=1 conv=notrunc 2> /dev/null &
        ;;
      fsync)
        f=lazywrite-r23s op=FSYNC lim=2
        xfs_io -c fsync "$PM/$f" &
        ;;
      flush)
        # Killed in close(2): the RELEASE comes from the task's exit.
        f=lazyflush-r23 op=FLUSH lim=2
        python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDONLY))' "$PM/$f" &
        ;;
    esac
    pid=$!
    disown $pid
    check "$k: ($what) no $op logged" wait_for has_line $f $op
    nap 0.3
    kill -9 $pid
    if [ "$k" = fuse-wb ]; then
      check "$k: ($what) the task killed while waiting for its $op did not end within $lim s" ended $pid $lim
    fi
    check "$k: ($what) no RELEASE logged" wait_for has_line $f RELEASE
    check "$k: ($what) not every READ, WRITE, FLUSH and FSYNC was answered" \
      wait_for cond '[ "$(r23_io $f REPLY | wc -l)" -eq "$(r23_io $f | wc -l)" ]'
    io=$(r23_io $f REPLY | tail -1)
    rel=$(plnums $f RELEASE | tail -1)
    check "$k: ($what) RELEASE (log line $rel) reached the server before the last reply to the killed task's requests (line $io): $(r23_io $f REPLY | tr '\n' ' ')" \
      [ "$rel" -gt "$io" ]
  done
  proto_umount
  check "$k: the kernel log shows a report" klog_clean
  note "$k: killed O_DIRECT reader, write-through writer, fsync and close: each RELEASE came after the replies to their requests"
}
# r23_io NAME [REPLY]: the log line numbers of the READ, WRITE, FLUSH and
# FSYNC requests of NAME, or of the replies to them.
r23_io() {
  awk -v f="file=$1" -v r="${2:-}" '
    (r == "" && $1 ~ /^(READ|WRITE|FLUSH|FSYNC)$/) || (r != "" && $1 == "REPLY" && / op=(READ|WRITE|FLUSH|FSYNC) /) {
      for (i = 2; i <= NF; i++) if ($i == f) print NR
    }' "$PLOG"
}

# r24: a close(2) killed before the server has read its FLUSH. The FLUSH
# must still reach the server (mainline forces it: its closer waits, even
# killed), and before the file's RELEASE: a server may commit the file or
# drop the closer's POSIX locks there. A slow- WRITE keeps the
# single-threaded server asleep for 3 s while the FLUSH waits in the queue
# (the connection's "waiting" count is 2); the closer is killed then.
# fuse-wb's closer ends at once; its FLUSH stays queued without it.
r24_killed_before_flush_read() {
  local k=$1 f=r24 cd_ wpid pid fl rel
  klog_mark
  proto_mount "$k" wt r24 --slow-ms 3000 --file $f=1
  if [ "$k" = fuse-wb ]; then
    cd_=$(conn_dir "$PM")
  else
    mountpoint -q /sys/fs/fuse/connections ||
      mount -t fusectl fusectl /sys/fs/fuse/connections || fail "cannot mount fusectl"
    cd_=/sys/fs/fuse/connections/$(stat -c %d "$PM")
  fi
  pio_start
  must open h "$PM/$f" rdonly
  dd if=/dev/zero of="$PM/slow-$f" bs=4096 count=1 2> /dev/null &
  wpid=$!
  check "$k: no WRITE of slow-$f logged" wait_for has_line slow-$f WRITE
  pio_send close h
  pid=$PIO_CHILD
  check "$k: the close's FLUSH did not come to wait behind the WRITE (waiting: $(cat "$cd_/waiting"))" \
    wait_for cond '[ "$(cat "$cd_/waiting")" -ge 2 ]'
  check "$k: the server read the FLUSH before the SIGKILL (too slow a VM?)" cond '! has_line $f FLUSH'
  kill -9 "$pid"
  if [ "$k" = fuse-wb ]; then
    check "$k: the closer killed while its FLUSH was queued did not end within 2 s" ended "$pid" 2
  fi
  wait "$pid" 2> /dev/null
  wait $wpid 2> /dev/null
  check "$k: no FLUSH of the killed close reached the server" wait_for has_line $f FLUSH
  check "$k: no RELEASE logged" wait_for has_line $f RELEASE
  fl=$(r23_io $f REPLY | tail -1)
  rel=$(plnums $f RELEASE | tail -1)
  check "$k: the FLUSH was not answered before the RELEASE (line $rel)" [ -n "$fl" ]
  check "$k: RELEASE (line $rel) before the reply to the FLUSH (line $fl)" [ "$rel" -gt "$fl" ]
  proto_umount
  check "$k: the kernel log shows a report" klog_clean
  note "$k: close killed with its FLUSH queued behind a busy server: FLUSH reached it, answered (line $fl) before the RELEASE (line $rel)"
}

run r01_umount_abort_race fuse-wb
run r02_stat_vs_append fuse-wb
run r03_max_read_unaligned fuse-wb mainline
run r04_sync_killable fuse-wb
run r05_killed_writer_data fuse-wb
run r06_launder_during_truncate fuse-wb mainline
run r07_launder_faults fuse-wb
run r08_release_before_forget fuse-wb mainline
run r09_killed_truncate fuse-wb mainline
run r09b_killed_truncate_wt fuse-wb mainline
run r09c_killed_truncate_direct fuse-wb mainline
run r09d_killed_truncate_dirty fuse-wb mainline
run r10_flusher_no_spin fuse-wb
run r11_mkwrite_killed fuse-wb
run r12_mmap_past_eof fuse-wb mainline
run r12b_mmap_past_eof_write fuse-wb mainline
run r12c_mmap_past_eof_write_same_page fuse-wb mainline
run r13_abandoned_open_create fuse-wb mainline
run r14_handled_signal_queued fuse-wb mainline
run r15_mkwrite_kernel_copy fuse-wb
run r16_sync_vs_stalled_times fuse-wb
run r17_killed_close_during_truncate fuse-wb mainline
run r18_direct_read_hole fuse-wb mainline
run r19_create_open_faults fuse-wb
run r20_open_denied_after_create fuse-wb mainline
run r21_create_over_known_file fuse-wb mainline
run r22_readahead_in_flight fuse-wb mainline
run r23_killed_sync_io fuse-wb mainline
run r24_killed_before_flush_read fuse-wb mainline
echo "65-review: $CHECKS checks passed"
