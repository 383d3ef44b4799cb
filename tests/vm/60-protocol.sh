#!/usr/bin/env bash
# Exact protocol tests of the write-back cache against the recording
# script server (tools/fusewb-scriptserver): which requests reach the
# server, when, and with which flags; on fuse-wb and, where the behaviour
# must be the same, on mainline FUSE.
#   PROTO_KINDS="fuse-wb"   only the fuse-wb runs (default "fuse-wb mainline")
#   PROTO_TESTS='t0[1-4]'   only tests whose function name matches the regex
# Every test has its own mount and files; the server's log of a test NAME
# is $SCRATCH/proto-NAME.log (one line per request, see the scriptserver's
# documentation).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proto-lib.sh"

# --- Tests -------------------------------------------------------------------

# 1. Buffered writes stay in the cache until fsync; fsync sends them as
# write-back WRITEs, then FSYNC.
t01_no_write_before_fsync() {
  local k=$1 f=t01
  proto_mount "$k" wb t01
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" wronly,creat
  must pwrite h 0 4096
  must pwrite h 4096 4096
  must pwrite h 8192 4096
  check "$k: WRITE before close or fsync" [ "$(pcount $f WRITE)" -eq 0 ]
  must fsync h
  local n last_w fsync_l ends caches
  n=$(pcount $f WRITE)
  check "$k: no WRITE after fsync" [ "$n" -ge 1 ]
  caches=$(plines $f WRITE | fields cache | sort -u | tr '\n' ' ')
  check "$k: fsync's WRITEs are not all cache=1 ($caches)" [ "$caches" = "1 " ]
  ends=$(writes $f | awk '{ if ($3 > m) m = $3 } END { print m + 0 }')
  check "$k: the WRITEs end at $ends, not 12288" [ "$ends" -eq 12288 ]
  last_w=$(plnums $f WRITE | tail -1)
  fsync_l=$(plnums $f FSYNC | tail -1)
  check "$k: no FSYNC after the WRITEs" cond '[ -n "$fsync_l" ] && [ "$fsync_l" -gt "$last_w" ]'
  must close h
  pio_stop
  proto_umount
  note "$k: 3 x 4 KiB dirty: no WRITE until fsync, then $n WRITE(s) with cache=1 and FSYNC"
}

# 2. 64 sequential 4 KiB pwrites: batched into fewer WRITEs by write-back,
# one WRITE each in write-through.
t02_write_count() {
  local k=$1 mode n sizes
  for mode in wb wt; do
    proto_mount "$k" $mode t02-$mode
    pio_start
    must open h "$PM/t02-$mode" wronly,creat
    must pwrites h 0 4096 64
    must close h
    pio_stop
    n=$(pcount t02-$mode WRITE)
    if [ $mode = wb ]; then
      check "$k wb: $n WRITEs for 64 pwrites, expected 1 to 63" cond '[ "$n" -lt 64 ] && [ "$n" -ge 1 ]'
    else
      sizes=$(plines t02-$mode WRITE | fields size | sort -u | tr '\n' ' ')
      check "$k wt: $n WRITEs for 64 pwrites, expected 64" [ "$n" -eq 64 ]
      check "$k wt: WRITE sizes '$sizes', expected only 4096" [ "$sizes" = "4096 " ]
    fi
    proto_umount
    note "$k $mode: 64 x 4 KiB pwrite -> $n WRITEs"
  done
}

# 3. FUSE_WRITE_CACHE marks write-back WRITEs, and only them.
t03_write_cache_flag() {
  local k=$1 mode caches
  for mode in wb wt; do
    proto_mount "$k" $mode t03-$mode
    pio_start
    must open h "$PM/t03-$mode" rdwr,creat
    must pwrite h 0 8192
    must fsync h
    must close h
    pio_stop
    caches=$(plines t03-$mode WRITE | fields cache | sort -u | tr '\n' ' ')
    if [ $mode = wb ]; then
      check "$k wb: WRITE cache flags '$caches', expected only cache=1" [ "$caches" = "1 " ]
    else
      check "$k wt: WRITE cache flags '$caches', expected only cache=0" [ "$caches" = "0 " ]
    fi
    proto_umount
  done
  note "$k: write-back WRITEs carry FUSE_WRITE_CACHE, write-through ones do not"
}

# 4. A partial-page write into an uncached page of an O_WRONLY file reads
# the page first (read-modify-write), on the O_WRONLY handle.
t04_rmw_read_on_wronly() {
  local k=$1 f=t04 reads
  proto_mount "$k" wb t04 --file t04=8192
  pio_start
  must open h "$PM/$f" wronly
  must pwrite h 1 1 100
  must fsync h
  must close h
  reads=$(plines $f READ)
  check "$k: no READ for the partial write into an uncached page" [ -n "$reads" ]
  check "$k: the READ was not on the O_WRONLY handle (no wronly_fh=1)" \
    grep -q ' wronly_fh=1' <<< "$reads"
  drop_caches
  must open r "$PM/$f" rdonly
  check "$k: byte 0 changed" pio check r 0 1 0
  check "$k: byte 1 is not the written one" pio check r 1 1 100
  check "$k: bytes 2.. changed" pio check r 2 8190
  must close r
  pio_stop
  proto_umount
  note "$k: 1-byte pwrite on O_WRONLY: $(wc -l <<< "$reads") READ(s) with wronly_fh=1, data intact"
}

# 5. O_APPEND through two opens lands at the server's EOF, contiguously.
t05_append() {
  local k=$1 mode f=t05 w1 w2 o1 e1 o2 e2
  for mode in wb wt; do
    proto_mount "$k" $mode t05-$mode --file t05=1000
    pio_start
    must open a "$PM/$f" wronly,append
    must write a 100 7
    must close a
    must open b "$PM/$f" wronly,append
    must write b 200 50
    must close b
    # "LINENO OFFSET END CACHE" of the first and the last WRITE.
    w1=$(writes $f | sed -n 1p)
    w2=$(writes $f | tail -1)
    read -r _ o1 e1 _ <<< "$w1"
    read -r _ o2 e2 _ <<< "$w2"
    if [ $mode = wt ]; then
      check "$k wt: first append WRITE '$w1', expected offset 1000 end 1100" cond '[ "$o1" = 1000 ] && [ "$e1" = 1100 ]'
      check "$k wt: second append WRITE '$w2', expected offset 1100 end 1300" cond '[ "$o2" = 1100 ] && [ "$e2" = 1300 ]'
    else
      # Write-back sends whole pages: the WRITEs cover the appended bytes.
      check "$k wb: first append WRITE '$w1' does not end the file at 1100" cond '[ -n "$o1" ] && [ "$o1" -le 1000 ] && [ "$e1" = 1100 ]'
      check "$k wb: last append WRITE '$w2' does not end the file at 1300" cond '[ -n "$o2" ] && [ "$o2" -le 1100 ] && [ "$e2" = 1300 ]'
    fi
    drop_caches
    check "$k $mode: the size after the appends is not 1300" [ "$(stat -c %s "$PM/$f")" = 1300 ]
    must open r "$PM/$f" rdonly
    check "$k $mode: the original 1000 bytes changed" pio check r 0 1000
    check "$k $mode: the first append's data" pio check r 1000 100 7
    check "$k $mode: the second append's data" pio check r 1100 200 50
    must close r
    pio_stop
    proto_umount
    note "$k $mode: appends at the server's EOF: WRITEs $(writes $f | awk '{ printf "[%s,%s) ", $2, $3 }')"
  done
}

# 6. Reading back what was just written is served from the page cache.
t06_read_after_write_cached() {
  local k=$1 f=t06
  proto_mount "$k" wb t06
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 8192
  check "$k: the data read back differs" pio check h 0 8192
  check "$k: READ sent for data just written" [ "$(pcount $f READ)" -eq 0 ]
  must close h
  pio_stop
  proto_umount
  note "$k: 8 KiB written and read back without a READ"
}

# 7. A write far beyond the server's EOF: the gap reads as zeros and the
# size is the local one, before and after fsync.
t07_write_past_eof() {
  local k=$1 f=t07 size when
  local want=$((MIB + 100))
  proto_mount "$k" wb t07 --file t07=4096
  pio_start
  must open h "$PM/$f" rdwr
  must pwrite h $MIB 100
  for when in "before fsync" "after fsync" "after drop_caches"; do
    case $when in
      "after fsync") must fsync h ;;
      "after drop_caches") drop_caches ;;
    esac
    check "$k: $when: the first 4096 bytes changed" pio check h 0 4096
    check "$k: $when: the gap [4096, 1 MiB) is not zeros" pio zeros h 4096 $((MIB - 4096))
    check "$k: $when: the written bytes differ" pio check h $MIB 100
    size=$(stat -c %s "$PM/$f")
    check "$k: $when: stat size $size, expected $want" [ "$size" = "$want" ]
    pio fstat h
    check "$k: $when: fstat '$PIO_REPLY', expected size=$want" [ "$(fields size <<< "$PIO_REPLY")" = "$want" ]
  done
  must close h
  pio_stop
  proto_umount
  note "$k: pwrite at 1 MiB past a 4 KiB EOF: zeros in the gap, size $want"
}

# 8. In write-back mode the kernel's size and mtime win over the server's
# (a stale- file reports size + 1 MiB and mtime 2001).
t08_local_attrs_win() {
  local k=$1 f=stale-t08 size mtime when now
  proto_mount "$k" wb t08
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 5000
  for when in "dirty" "after fsync"; do
    [ "$when" = "after fsync" ] && must fsync h
    size=$(stat -c %s "$PM/$f")
    mtime=$(stat -c %Y "$PM/$f")
    now=$(date +%s)
    soft "$k" "$when: size $size, expected the local 5000" [ "$size" = 5000 ]
    soft "$k" "$when: mtime $mtime is not recent (server says 1000000000)" \
      [ "$mtime" -gt $((now - 3600)) ]
    note "$k $when: stat size $size mtime $mtime (server reports $((size + MIB)) and 1000000000)"
  done
  # The stats above must have asked the server (which lied).
  local create_l asked
  create_l=$(plnums $f CREATE | head -1)
  asked=$( (plinesn $f GETATTR; plinesn $f LOOKUP) | awk -v c="${create_l:-0}" '$1 > c' | wc -l)
  check "$k: no GETATTR or LOOKUP reached the server after CREATE" [ "$asked" -gt 0 ]
  must close h
  pio_stop
  proto_umount
}

# 9. fchmod after a dirty write: the server gets the mode, and the mtime of
# the write (in that SETATTR or an earlier one).
t09_fchmod_sends_mtime() {
  local k=$1 f=t09 setattrs mode_l mtime_l
  proto_mount "$k" wb t09
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 4096
  must fchmod h 600
  setattrs=$(plines $f SETATTR)
  mode_l=$(plinesn $f SETATTR | awk '/ mode=/ { print $1; exit }')
  check "$k: no SETATTR with mode= after fchmod" [ -n "$mode_l" ]
  check "$k: the SETATTR mode is not 0100600" grep -q ' mode=0100600' <<< "$setattrs"
  mtime_l=$(plinesn $f SETATTR | awk '/ mtime=/ { print $1; exit }')
  check "$k: no SETATTR carries the mtime by the time of the mode change" \
    cond '[ -n "$mtime_l" ] && [ "$mtime_l" -le "$mode_l" ]'
  must close h
  pio_stop
  proto_umount
  note "$k: fchmod on a dirty file: $(wc -l <<< "$setattrs") SETATTR(s), mtime in line $mtime_l, mode in line $mode_l"
}

# 10. An O_DIRECT write flushes the dirty cached data it overlaps first, and
# only that.
t10_direct_after_dirty() {
  local k=$1 f=t10 direct_l cached_l far
  proto_mount "$k" wb t10
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" rdwr,creat
  # Opened before the data is dirty: an open without FOPEN_KEEP_CACHE
  # may write back and drop the file's cache (mainline does).
  must open d "$PM/$f" wronly,direct
  must pwrite h 0 4096 1
  must pwrite h $MIB 4096 2
  must dwrite d 0 4096 3
  direct_l=$(writes $f | awk '$2 == 0 && $3 == 4096 && $4 == 0 { print $1; exit }')
  check "$k: no direct WRITE (offset 0, 4096 bytes, cache=0)" [ -n "$direct_l" ]
  cached_l=$(writes $f | awk -v d="$direct_l" '$1 < d && $2 <= 0 && $3 > 0 && $4 == 1 { print $1; exit }')
  check "$k: no cached WRITE of offset 0 before the direct WRITE" [ -n "$cached_l" ]
  far=$(writes $f | awk -v m=$MIB '$2 <= m && $3 > m' | wc -l)
  soft "$k" "the dirty page at 1 MiB was written before fsync (mainline writes back more than the O_DIRECT range)" [ "$far" -eq 0 ]
  must fsync h
  far=$(writes $f | awk -v m=$MIB '$2 <= m && $3 > m && $4 == 1' | wc -l)
  soft "$k" "fsync did not write the page at 1 MiB" [ "$far" -ge 1 ]
  must close d
  must close h
  drop_caches
  must open r "$PM/$f" rdonly
  check "$k: the direct write's data is not what reads back at 0" pio check r 0 4096 3
  check "$k: the buffered data at 1 MiB differs" pio check r $MIB 4096 2
  must close r
  pio_stop
  proto_umount
  note "$k: O_DIRECT write: cached WRITE (line $cached_l) before the direct one (line $direct_l), 1 MiB left to fsync"
}

# 11. Truncating into dirty pages: no WRITE after the truncate reaches past
# the new size, and the kept bytes are intact.
t11_truncate_dirty() {
  local k=$1 f=t11 trunc_l beyond
  proto_mount "$k" wb t11
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 16384
  must ftruncate h 5000
  must fsync h
  trunc_l=$(plinesn $f SETATTR | awk '/ size=5000( |$)/ { print $1; exit }')
  check "$k: no SETATTR size=5000" [ -n "$trunc_l" ]
  beyond=$(writes $f "$trunc_l" | awk '$3 > 5000')
  check "$k: WRITEs after the truncate reach past 5000: $beyond" [ -z "$beyond" ]
  must close h
  drop_caches
  check "$k: the size after the truncate is not 5000" [ "$(stat -c %s "$PM/$f")" = 5000 ]
  must open r "$PM/$f" rdonly
  check "$k: the first 5000 bytes changed" pio check r 0 5000
  pio pread r 5000 4096
  check "$k: read past the new EOF: $PIO_REPLY" [ "$PIO_REPLY" = "ok 0" ]
  must close r
  pio_stop
  proto_umount
  note "$k: 16 KiB dirty, truncate to 5000: $(writes $f "$trunc_l" | wc -l) WRITE(s) after it, all within 5000"
}

# short_resends: for every WRITE of NAME answered short, prints
# "OFFSET SIZE REPLIED RESENT" (RESENT 1 if a later WRITE starts where the
# short one stopped).
short_resends() {
  awk -v f="file=$1" '
    function val(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
    $1 == "WRITE" && index($0, " " f " ") { u = val("unique"); off[u] = val("offset"); sz[u] = val("size"); starts[NR] = val("offset") }
    $1 == "REPLY" && / op=WRITE / && val("error") == 0 {
      u = val("unique")
      if ((u in sz) && val("size") + 0 < sz[u] + 0) { n++; so[n] = off[u]; ss[n] = sz[u]; sr[n] = val("size"); sl[n] = NR }
    }
    END {
      for (i = 1; i <= n; i++) {
        want = so[i] + sr[i]; resent = 0
        for (l in starts) if (l + 0 > sl[i] && starts[l] + 0 == want) resent = 1
        print so[i], ss[i], sr[i], resent
      }
    }' "$PLOG"
}

# 12. A short write-back WRITE is resent from where it stopped.
t12_short_write_resent() {
  local k=$1 f=short-t12 shorts missing
  proto_mount "$k" wb t12
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 65536
  pio fsync h
  soft "$k" "fsync after a short WRITE: $PIO_REPLY" [ "$(pio_err)" = ok ]
  must close h
  shorts=$(short_resends $f)
  missing=$(awk '$4 == 0' <<< "$shorts")
  check "$k: no WRITE was answered short (the script did not apply)" [ -n "$shorts" ]
  soft "$k" "short WRITEs not resent (offset size replied): $missing" [ -z "$missing" ]
  drop_caches
  must open r "$PM/$f" rdonly
  soft "$k" "data lost through the short WRITEs" pio check r 0 65536
  must close r
  pio_stop
  proto_umount
  note "$k: 64 KiB through short WRITEs: $(pcount $f WRITE) WRITEs, $(wc -l <<< "$shorts") short"
}

# 13. A WRITE error reaches fsync, and close after another write.
t13_write_error() {
  local k=$1 f=eio-t13
  proto_mount "$k" wb t13
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 4096
  pio fsync h
  check "$k: fsync after a failed WRITE gave '$PIO_REPLY', expected EIO" [ "$(pio_err)" = EIO ]
  must pwrite h 0 4096
  pio close h
  check "$k: close after a failed WRITE gave '$PIO_REPLY', expected EIO" [ "$(pio_err)" = EIO ]
  check "$k: no WRITE reached the server" has_line $f WRITE
  pio_stop
  proto_umount
  note "$k: WRITE -EIO: fsync and close fail with EIO"
}

# 14. The server dies with write-back data in flight: fsync fails, the mount
# goes away.
t14_server_killed() {
  local k=$1 f=hang-t14 spid err
  proto_mount "$k" wb t14
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 65536
  pio_send fsync h
  check "$k: the WRITE never reached the server" wait_for has_line $f WRITE
  spid=$(pgrep -P "$LAST_MOUNT_PID" | head -1)
  check "$k: no server process" [ -n "$spid" ]
  kill -9 "$spid"
  pio_recv 60
  err=$(pio_err)
  check "$k: fsync after the server died gave '$PIO_REPLY', expected ENOTCONN or EIO" \
    is_one_of "$err" ENOTCONN EIO
  pio close h
  note "$k: close after the server died: $PIO_REPLY"
  pio_stop
  # fusewb-mount unmounts when its server exits (lazily if still busy).
  check "$k: the mount did not go away after the server died" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  note "$k: server killed during write-back: fsync $err, unmounted"
}

# 15. Write-back needs both the mount option and the server's INIT flag;
# with only one of them, writes go through at write(2) time.
t15_needs_both_sides() {
  local k=$1 mode f caps_req caps_rep
  for mode in mnt-only srv-only; do
    f=t15-$mode
    proto_mount "$k" $mode $f
    pio_start
    must open h "$PM/$f" wronly,creat
    must pwrite h 0 4096
    check "$k $mode: no WRITE at write(2) time" has_line $f WRITE
    check "$k $mode: a WRITE with cache=1" [ "$(plines $f WRITE | fields cache | sort -u)" = 0 ]
    caps_req=$(init_caps request)
    caps_rep=$(init_caps reply)
    if [ $mode = mnt-only ]; then
      check "$k $mode: WRITEBACK_CACHE not offered with allow_wbcache: $caps_req" \
        grep -q 'WRITEBACK_CACHE' <<< "$caps_req"
    else
      check "$k $mode: WRITEBACK_CACHE offered without allow_wbcache: $caps_req" \
        [ -z "$(grep WRITEBACK_CACHE <<< "$caps_req")" ]
    fi
    check "$k $mode: WRITEBACK_CACHE agreed: $caps_rep" [ -z "$(grep WRITEBACK_CACHE <<< "$caps_rep")" ]
    must close h
    pio_stop
    proto_umount
  done
  note "$k: allow_wbcache alone, or --writeback alone: write-through"
}

# 16. CREATE answered ENOSYS: the kernel falls back to MKNOD + OPEN, and
# does not try CREATE again.
t16_create_fallback() {
  local k=$1 f=t16 c m o got
  proto_mount "$k" wb t16 --no-create
  got=$(errno_of touch "$PM/$f")
  check "$k: touch with CREATE refused gave $got" [ "$got" = ok ]
  c=$(plnums $f CREATE | head -1)
  m=$(plnums $f MKNOD | head -1)
  o=$(plnums $f OPEN | head -1)
  check "$k: CREATE, MKNOD, OPEN not in this order (lines '$c' '$m' '$o')" \
    cond '[ -n "$c" ] && [ -n "$m" ] && [ -n "$o" ] && [ "$c" -lt "$m" ] && [ "$m" -lt "$o" ]'
  got=$(errno_of touch "$PM/$f-2")
  check "$k: second touch gave $got" [ "$got" = ok ]
  check "$k: CREATE tried again after ENOSYS" [ "$(pcount $f-2 CREATE)" -eq 0 ]
  check "$k: no MKNOD for the second file" has_line $f-2 MKNOD
  check "$k: file missing after touch" [ -f "$PM/$f" ]
  proto_umount
  note "$k: CREATE -> ENOSYS, then MKNOD + OPEN"
}

# 17. A server that takes 8 MiB WRITEs gets 8 MiB WRITEs from writeback
# (mainline stops at 1 MiB: max_pages is capped at 256 there).
t17_big_writes() {
  local k=$1 f=t17 sizes max
  proto_mount "$k" wb t17 --max-write 8388608 --max-pages 2048
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrites h 0 1048576 24
  must fsync h
  must close h
  pio_stop
  sizes=$(plines $f WRITE | fields size)
  max=$(sort -n <<< "$sizes" | tail -1)
  if [ "$k" = fuse-wb ]; then
    check "$k: largest WRITE is $max bytes, expected 8 MiB" [ "$max" = 8388608 ]
  else
    soft "$k" "largest WRITE is $max bytes" [ "$max" = 8388608 ]
  fi
  drop_caches
  pio_start
  must open r "$PM/$f" rdonly
  check "$k: 24 MiB read back" pio check r 0 25165824
  must close r
  pio_stop
  proto_umount
  note "$k: 24 MiB at max_write 8 MiB: $(wc -l <<< "$sizes") WRITEs, largest $max bytes"
}

# 18. Write-through: a short WRITE reply gives the caller the short count.
t18_short_write_through() {
  local k=$1 f=short-t18
  proto_mount "$k" wt t18
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 65536
  check "$k: pwrite of 64 KiB answered '$PIO_REPLY', expected the short count 32768" \
    [ "$PIO_REPLY" = "ok 32768" ]
  must close h
  pio_stop
  check "$k: the file is not 32768 bytes after the short write" [ "$(stat -c %s "$PM/$f")" = 32768 ]
  proto_umount
  note "$k: write-through WRITE answered with half: write(2) returned 32768"
}

# 19. O_CREAT|O_EXCL: creates a new file (cp does this), refuses an old one.
t19_exclusive_create() {
  local k=$1 f=t19
  proto_mount "$k" wb t19
  pio_start
  must open h "$PM/$f" wronly,creat,excl
  must pwrite h 0 100
  must close h
  check "$k: O_EXCL open of an existing file: '$PIO_REPLY'" \
    cond 'pio open g "$PM/$f" wronly,creat,excl; [ "$(pio_err)" = EEXIST ]'
  pio_stop
  check "$k: one CREATE for the new file" [ "$(pcount $f CREATE)" -eq 1 ]
  proto_umount
  note "$k: O_CREAT|O_EXCL creates once, then EEXIST"
}

# 20. SEEK_DATA/SEEK_HOLE see dirty data: fuse-wb writes it back before
# LSEEK, so the server's hole map is current (mainline asks the server
# first, which has not seen the data yet).
t20_seek_dirty() {
  local k=$1 f=t20 seek_l write_l
  proto_mount "$k" wb t20
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h $MIB 4096
  soft "$k" "a WRITE before lseek: the data is not dirty" [ "$(pcount $f WRITE)" -eq 0 ]
  pio lseek h 0 data
  soft "$k" "SEEK_DATA from 0 gave '$PIO_REPLY', expected 1 MiB" [ "$PIO_REPLY" = "ok $MIB" ]
  pio lseek h $MIB hole
  soft "$k" "SEEK_HOLE from 1 MiB gave '$PIO_REPLY', expected 1 MiB + 4096" \
    [ "$PIO_REPLY" = "ok $((MIB + 4096))" ]
  pio lseek h 0 hole
  soft "$k" "SEEK_HOLE from 0 gave '$PIO_REPLY', expected 0" [ "$PIO_REPLY" = "ok 0" ]
  seek_l=$(plnums $f LSEEK | head -1)
  check "$k: no LSEEK reached the server" [ -n "$seek_l" ]
  write_l=$(writes $f | awk -v m=$MIB '$2 <= m && $3 >= m + 4096 { print $1; exit }')
  soft "$k" "no WRITE of the dirty page (line '$write_l') before the first LSEEK (line $seek_l)" \
    cond '[ -n "$write_l" ] && [ "$write_l" -lt "$seek_l" ]'
  must close h
  pio_stop
  proto_umount
  note "$k: 4 KiB dirty at 1 MiB: WRITE in line ${write_l:-none}, LSEEK in line $seek_l"
}

# 21. sync(2) and syncfs(2) return only once the server answered the
# WRITEs they started (slow- file: WRITE replies come 1.5 s late). Mainline
# does not wait for writeback WRITEs (its write_inode's SETATTR may make it
# wait anyway, behind the slow WRITE: then the check passes there too).
t21_sync_waits() {
  local k=$1 f=slow-t21 call off=0 ms first
  proto_mount "$k" wb t21 --slow-ms 1500
  hold_writeback "$k"
  pio_start
  must open h "$PM/$f" rdwr,creat
  for call in "syncfs h" sync; do
    log_mark
    must pwrite h $off 4096
    soft "$k" "$call: a WRITE before it: the data is not dirty" [ -z "$(writes $f $((LOGMARK + 1)))" ]
    log_mark
    # shellcheck disable=SC2086 # "syncfs h": the command and its handle
    must $call
    ms=${PIO_REPLY#ok }
    first=$(writes $f $((LOGMARK + 1)) | head -1)
    check "$k: $call sent no WRITE of the dirty page" [ -n "$first" ]
    soft "$k" "$call returned after ${ms} ms, before the reply of its WRITE (1500 ms late)" \
      [ "$ms" -ge 1450 ]
    note "$k: $call with 4 KiB dirty returned after ${ms} ms (WRITE reply delayed 1500 ms)"
    off=$((off + 4096))
  done
  must close h
  pio_stop
  proto_umount
}

# 22. syncfs waiting for a WRITE the server never answers can be killed;
# aborting the connection then ends the mount. (Mainline does not wait.)
t22_syncfs_killable() {
  local k=$1 f=hang-t22 cd_ spid
  proto_mount "$k" wb t22
  cd_=$(conn_dir "$PM")
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 65536
  sync -f "$PM" &
  spid=$!
  disown $spid # no "Killed" report from bash
  check "$k: syncfs sent no WRITE" wait_for has_line $f WRITE
  sleep 3
  check "$k: syncfs returned while its WRITE is unanswered" running $spid
  kill -9 $spid
  check "$k: syncfs still running 10 s after SIGKILL" ended $spid 10
  check "$k: no $cd_/abort" [ -e "$cd_/abort" ]
  echo 1 > "$cd_/abort"
  # The abort ended the WRITE (with an error): close does not wait.
  pio_send close h
  pio_recv 30
  note "$k: close after the abort: $PIO_REPLY"
  pio_stop
  check "$k: the mount did not go away after the abort" wait_unmounted "$PM" 30
  wait "$LAST_MOUNT_PID" 2> /dev/null
  note "$k: syncfs blocked on an unanswered WRITE, SIGKILL ended it, abort ended the mount"
}

# 23. Unmount right after close: all data, written by write(2) and through
# a shared mapping, reached the server and was answered before the
# connection ended.
t23_umount_after_close() {
  local k=$1 f=t23 cover destroy_l late
  proto_mount "$k" wb t23
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrites h 0 4096 32
  must ftruncate h 262144
  must mmap h 131072 131072 shared write
  must close h
  pio_stop
  proto_umount
  cover=$(write_cover $f)
  soft "$k" "the server took WRITEs of '$cover', expected 0-262144" [ "$cover" = 0-262144 ]
  destroy_l=$(awk '$1 == "DESTROY" { print NR; exit }' "$PLOG")
  if [ -n "$destroy_l" ]; then
    late=$(writes $f "$destroy_l")
    check "$k: WRITEs after DESTROY: $late" [ -z "$late" ]
  fi
  note "$k: 128 KiB by write(2) + 128 KiB by mmap, close, umount: the server took $cover"
}

# 24. chown sends SETATTR with FATTR_UID|FATTR_GID and the ids; futimens
# with UTIME_NOW sends FATTR_ATIME_NOW / FATTR_MTIME_NOW (write-through),
# or in write-back mode the kernel's own time (the kernel owns c/mtime);
# UTIME_OMIT leaves that time out (fuse-wb's write-back SETATTR carries the
# unchanged local mtime along).
t24_chown_utimens() {
  local k=$1 mode f line valid before
  for mode in wb wt; do
    f=t24-$mode
    proto_mount "$k" $mode $f
    pio_start
    must open h "$PM/$f" rdwr,creat
    log_mark
    must fchown h 1234 5678
    line=$(since $f SETATTR "$LOGMARK" | grep ' uid=1234 ' | tail -1)
    check "$k $mode: no SETATTR uid=1234 gid=5678 after fchown" grep -q ' uid=1234 gid=5678 ' <<< "$line "
    valid=$(fields valid <<< "$line")
    check "$k $mode: SETATTR valid=$valid lacks FATTR_UID|FATTR_GID" [ $((valid & 6)) -eq 6 ]
    must fstatx h
    check "$k $mode: fstatx after fchown: '$PIO_REPLY'" \
      cond '[ "$(fields uid <<< "$PIO_REPLY")" = 1234 ] && [ "$(fields gid <<< "$PIO_REPLY")" = 5678 ]'
    before=$(fields mtime <<< "$PIO_REPLY")

    # atime now, mtime omitted.
    log_mark
    must futimens h now omit
    line=$(since $f SETATTR "$LOGMARK" | grep ' atime_now' | tail -1)
    check "$k $mode: no SETATTR with atime_now after futimens(NOW, OMIT)" [ -n "$line" ]
    check "$k $mode: futimens(NOW, OMIT) sent mtime_now: $line" [ -z "$(grep ' mtime_now' <<< "$line")" ]
    if [ $mode = wt ]; then
      check "$k $mode: futimens(NOW, OMIT) sent an mtime: $line" [ -z "$(grep ' mtime=' <<< "$line")" ]
    else
      check "$k $mode: futimens(NOW, OMIT) sent an mtime other than the file's $before: $line" \
        cond '[ -z "$(grep " mtime=" <<< "$line")" ] || grep -q " mtime=$before" <<< "$line"'
    fi

    # atime omitted, mtime now.
    log_mark
    must futimens h omit now
    line=$(since $f SETATTR "$LOGMARK" | grep ' mtime' | tail -1)
    check "$k $mode: no SETATTR with an mtime after futimens(OMIT, NOW)" [ -n "$line" ]
    check "$k $mode: futimens(OMIT, NOW) sent an atime: $line" [ -z "$(grep ' atime' <<< "$line")" ]
    if [ $mode = wt ]; then
      check "$k $mode: futimens(OMIT, NOW) without mtime_now: $line" grep -q ' mtime_now' <<< "$line"
    else
      local m
      m=$(fields mtime <<< "$line")
      m=${m%%.*}
      check "$k $mode: futimens(OMIT, NOW) sent mtime_now (the kernel owns mtime): $line" \
        [ -z "$(grep ' mtime_now' <<< "$line")" ]
      check "$k $mode: futimens(OMIT, NOW) sent mtime '$m', not now ($EPOCHSECONDS)" \
        cond '[ -n "$m" ] && [ "$m" -ge $((EPOCHSECONDS - 120)) ] && [ "$m" -le $((EPOCHSECONDS + 5)) ]'
    fi
    must close h
    pio_stop
    proto_umount
    note "$k $mode: fchown -> SETATTR valid=$valid; futimens NOW/OMIT as expected"
  done
}

# 25. A write clears the setuid and (with group exec) setgid bits when the
# writer lacks CAP_FSETID (root without it here): a SETATTR with the mode
# without them. Both modes.
t25_suid_cleared() {
  local k=$1 mode f line got
  for mode in wb wt; do
    f=t25-$mode
    proto_mount "$k" $mode $f
    pio_start setpriv --bounding-set=-fsetid --inh-caps=-fsetid
    must open h "$PM/$f" rdwr,creat
    must pwrite h 0 4096
    must fchmod h 6755
    must fstatx h
    check "$k $mode: mode after fchmod 6755: '$PIO_REPLY'" [ "$(fields mode <<< "$PIO_REPLY")" = 0106755 ]
    log_mark
    must pwrite h 0 1
    line=$(since $f SETATTR "$LOGMARK" | grep ' mode=' | tail -1)
    soft "$k" "$mode: no SETATTR mode=0100755 after a write to a 06755 file: '$line'" \
      grep -q ' mode=0100755' <<< "$line"
    must fstatx h
    got=$(fields mode <<< "$PIO_REPLY")
    soft "$k" "$mode: mode after the write $got, expected 0100755" [ "$got" = 0100755 ]
    must close h
    pio_stop
    got=$(stat -c %a "$PM/$f")
    soft "$k" "$mode: the server's mode after the write: $got, expected 755" [ "$got" = 755 ]
    proto_umount
    note "$k $mode: write to a 06755 file without CAP_FSETID: mode $got"
  done
}

# 26. O_SYNC in write-back mode: the data is WRITTEN (and FSYNCed) before
# pwrite returns.
t26_osync() {
  local k=$1 f=t26 w write_l fsync_l
  proto_mount "$k" wb t26
  pio_start
  must open h "$PM/$f" rdwr,creat,sync
  must pwrite h 0 4096
  w=$(writes $f)
  write_l=$(awk '$2 <= 0 && $3 >= 4096 { print $1; exit }' <<< "$w")
  check "$k: no WRITE of [0, 4096) when the O_SYNC pwrite returned" [ -n "$write_l" ]
  check "$k: $(wc -l <<< "$w") WRITEs for one O_SYNC 4 KiB pwrite" [ "$(wc -l <<< "$w")" -eq 1 ]
  soft "$k" "the O_SYNC WRITE is not a write-back one (cache=1): $w" [ "$(awk '{ print $4 }' <<< "$w")" = 1 ]
  fsync_l=$(since $f FSYNC "$write_l" | head -1)
  check "$k: no FSYNC after the WRITE when the O_SYNC pwrite returned" [ -n "$fsync_l" ]
  check "$k: O_SYNC (not O_DSYNC) sent a datasync FSYNC: $fsync_l" [ -z "$(grep ' datasync' <<< "$fsync_l")" ]
  must close h
  pio_stop
  proto_umount
  note "$k: O_SYNC pwrite: WRITE then FSYNC before it returned"
}

# 27. FOPEN_DIRECT_IO (dio- files) in write-back mode: writes are
# synchronous WRITEs without FUSE_WRITE_CACHE, reads are READs every time,
# and a shared mmap is refused (ENODEV; no DIRECT_IO_ALLOW_MMAP).
t27_direct_io_file() {
  local k=$1 f=dio-t27 w r1 r2
  proto_mount "$k" wb t27
  pio_start
  must open h "$PM/$f" rdwr,creat
  must pwrite h 0 4096
  w=$(writes $f | awk '{ print $2, $3, $4 }')
  check "$k: WRITEs when pwrite returned: '$w', expected one [0, 4096) with cache=0" [ "$w" = "0 4096 0" ]
  must pread h 0 4096
  r1=$(pcount $f READ)
  must check h 0 4096
  r2=$(pcount $f READ)
  check "$k: READs: $r1 after the first read, $r2 after the second: not one each" \
    cond '[ "$r1" -ge 1 ] && [ "$r2" -gt "$r1" ]'
  pio mmap h 0 4096 shared
  check "$k: shared mmap of a FOPEN_DIRECT_IO file gave '$PIO_REPLY', expected ENODEV" [ "$(pio_err)" = ENODEV ]
  check "$k: private mmap of a FOPEN_DIRECT_IO file" pio mmap h 0 4096 private
  # A read-only descriptor: the mapping cannot write, but it is shared.
  must open r "$PM/$f" rdonly
  pio mmap r 0 4096 shared
  check "$k: shared mmap of a FOPEN_DIRECT_IO file through an O_RDONLY descriptor gave '$PIO_REPLY', expected ENODEV" [ "$(pio_err)" = ENODEV ]
  must close r
  must close h
  check "$k: $(pcount $f WRITE) WRITEs after close, expected still 1" [ "$(pcount $f WRITE)" -eq 1 ]
  pio_stop
  proto_umount
  note "$k: FOPEN_DIRECT_IO: one synchronous WRITE, a READ per read ($r1, $r2), shared mmap ENODEV"
}

# 28. FOPEN_KEEP_CACHE (keep- files): a reopen keeps the cached data, no
# READ; without it a reopen drops the cache, the data is READ again.
t28_keep_cache() {
  local k=$1 mode f n1 n2
  for mode in wt wb; do
    # Entries stay valid: with timeouts of 0 the inode (and its cache) goes
    # away at close, on mainline too.
    proto_mount "$k" $mode t28-$mode --attr-timeout 60 --file keep-t28=8192 --file t28=8192
    pio_start
    for f in keep-t28 t28; do
      must open r "$PM/$f" rdonly
      must check r 0 8192
      must close r
      n1=$(pcount $f READ)
      must open r "$PM/$f" rdonly
      must check r 0 8192
      must close r
      n2=$(pcount $f READ)
      check "$k $mode $f: no READ for the first read" [ "$n1" -ge 1 ]
      if [ $f = keep-t28 ]; then
        check "$k $mode: a reopen with FOPEN_KEEP_CACHE read again ($n1, then $n2 READs)" [ "$n2" -eq "$n1" ]
      else
        check "$k $mode: a reopen without FOPEN_KEEP_CACHE kept the cache ($n1, then $n2 READs)" [ "$n2" -gt "$n1" ]
      fi
      note "$k $mode $f: READs $n1 after the first open, $n2 after the second"
    done
    pio_stop
    proto_umount
  done
}

# 29. copy_file_range: one COPY_FILE_RANGE and no WRITE when the server
# copies; when it answers ENOSYS (nocopy- source), the kernel falls back to
# READ + WRITE (splice), asks once, and the copy is still whole.
t29_copy_file_range() {
  local k=$1 mode n copy_l read_l cover
  for mode in wb wt; do
    proto_mount "$k" $mode t29-$mode --file t29-src=65536 --file nocopy-t29-src=65536
    pio_start
    must open s "$PM/t29-src" rdonly
    must open d "$PM/t29-dst" rdwr,creat
    pio copy s 0 d 0 65536
    check "$k $mode: copy_file_range gave '$PIO_REPLY', expected 65536" [ "$PIO_REPLY" = "ok 65536" ]
    must close s
    must close d
    n=$(pcount t29-src COPY_FILE_RANGE)
    check "$k $mode: $n COPY_FILE_RANGEs for one copy, expected 1" [ "$n" -eq 1 ]
    check "$k $mode: READs of a server-side copy's source" [ "$(pcount t29-src READ)" -eq 0 ]
    drop_caches
    must open d "$PM/t29-dst" rdonly
    check "$k $mode: the server-side copy reads back different" pio check d 0 65536
    must close d
    check "$k $mode: WRITEs of a server-side copy's destination" [ "$(pcount t29-dst WRITE)" -eq 0 ]

    must open s "$PM/nocopy-t29-src" rdonly
    must open d "$PM/t29-dst2" rdwr,creat
    pio copy s 0 d 0 65536
    check "$k $mode: copy_file_range with COPY_FILE_RANGE refused gave '$PIO_REPLY', expected 65536" \
      [ "$PIO_REPLY" = "ok 65536" ]
    must fsync d
    must close s
    must close d
    n=$(pcount nocopy-t29-src COPY_FILE_RANGE)
    check "$k $mode: $n COPY_FILE_RANGEs after ENOSYS, expected 1" [ "$n" -eq 1 ]
    copy_l=$(plnums nocopy-t29-src COPY_FILE_RANGE)
    read_l=$(plnums nocopy-t29-src READ | head -1)
    check "$k $mode: no READ of the source after the refused COPY_FILE_RANGE (line $copy_l)" \
      cond '[ -n "$read_l" ] && [ "$read_l" -gt "$copy_l" ]'
    cover=$(write_cover t29-dst2)
    check "$k $mode: the fallback's WRITEs cover '$cover', expected 0-65536" [ "$cover" = 0-65536 ]
    drop_caches
    must open d "$PM/t29-dst2" rdonly
    check "$k $mode: the fallback copy reads back different" pio check d 0 65536
    must close d
    pio_stop
    proto_umount
    note "$k $mode: COPY_FILE_RANGE: 1 request, no WRITE; after ENOSYS: READ + $(pcount t29-dst2 WRITE) WRITE(s)"
  done
}

# 30. A server that never answers holds back only its own mount: while a
# write-back WRITE to it is unanswered (its fsync blocked), another mount's
# write + fsync completes, the page cache can be dropped, and a buffered
# write to another file of the stuck mount returns.
t30_stuck_server_isolated() {
  local k=$1 f=hang-t30 stuck stuck_pid spid t0 secs
  proto_mount "$k" wb t30
  stuck=$PM stuck_pid=$LAST_MOUNT_PID
  pio_start
  must open h "$stuck/$f" rdwr,creat
  must pwrite h 0 65536
  pio_send fsync h
  check "$k: the stuck WRITE never reached the server" wait_for has_line $f WRITE
  t0=$SECONDS
  proto_mount "$k" wb t30-other
  check "$k: write + fsync on another mount did not finish within 60 s while a WRITE is stuck" \
    timeout 60 dd if=/dev/zero of="$PM/t30-other" bs=64k count=16 conv=fsync status=none
  check "$k: the other mount's server saw no WRITE" has_line t30-other WRITE
  # Not the drop_caches helper: its sync(2) waits for the stuck mount.
  check "$k: dropping the page cache did not finish within 60 s while a WRITE is stuck" \
    timeout 60 sh -c 'echo 3 > /proc/sys/vm/drop_caches'
  check "$k: a buffered write to another file of the stuck mount did not return within 60 s" \
    timeout 60 dd if=/dev/zero of="$stuck/t30-more" bs=64k count=4 status=none
  secs=$((SECONDS - t0))
  unmount "$PM"
  spid=$(pgrep -P "$stuck_pid" | head -1)
  check "$k: no server process" [ -n "$spid" ]
  kill -9 "$spid"
  pio_recv 60
  note "$k: the stuck fsync ended after the server died: $PIO_REPLY"
  pio close h
  pio_stop
  check "$k: the stuck mount did not go away after its server died" wait_unmounted "$stuck" 30
  wait "$stuck_pid" 2> /dev/null
  note "$k: with a WRITE stuck, another mount's write + fsync, drop_caches and a write to the stuck mount took ${secs}s"
}

# 31. Without FUSE_PARALLEL_DIROPS in the server's INIT reply, the server
# sees one LOOKUP or READDIR of a directory at a time (mainline's
# fuse_lock_inode: the VFS holds the directory's lock only shared for both);
# with it they overlap. While a LOOKUP of the root is answered 5 s late,
# a LOOKUP of another name and a READDIR reach the server after its reply
# (without the flag) or before it (with it). A task waiting for its turn
# is killable (mainline's wait is not: noted).
# lookup_reply NAME: the log line number of the first LOOKUP reply about NAME.
lookup_reply() {
  awk -v f="file=$1" '$1 == "REPLY" && / op=LOOKUP / { for (i = 2; i <= NF; i++) if ($i == f) { print NR; exit } }' "$PLOG"
}
t31_dirops() {
  local k=$1 par a=lazylookup-a bg sb lsb victim ra lb rd
  for par in no yes; do
    # Without the flag the slow reply must outlast the victim's start, its
    # wait and its end on a loaded TCG host: 15 s.
    local opts=(--file $a=0 --file b=0)
    [ $par = yes ] && opts+=(--parallel-dirops --slow-ms 5000)
    [ $par = no ] && opts+=(--slow-ms 15000)
    proto_mount "$k" wt t31-$par "${opts[@]}"
    check "$k: PARALLEL_DIROPS not offered" cond '[[ ,$(init_caps request), == *,PARALLEL_DIROPS,* ]]'
    stat "$PM/$a" > /dev/null &
    bg=$!
    check "$k: the slow LOOKUP never reached the server" wait_for has_line $a LOOKUP
    stat "$PM/b" > /dev/null &
    sb=$!
    ls -f "$PM" > /dev/null &
    lsb=$!
    if [ $par = no ]; then
      stat "$PM/c" > /dev/null 2>&1 &
      victim=$!
      disown $victim
      # Killed once it sleeps in the directory's queue, not while starting.
      check "$k: the third stat never waited for its turn (no D state)" wait_for blocked $victim
      check "$k: the slow LOOKUP was answered before the third stat queued" cond '[ -z "$(lookup_reply $a)" ]'
      kill -9 $victim
      soft "$k" "$k: a task waiting for its turn at the directory was not killable" \
        cond 'ended $victim 10 && [ -z "$(lookup_reply $a)" ]'
    fi
    check "$k/$par: the slow stat failed" wait $bg
    check "$k/$par: the other stat failed" wait $sb
    check "$k/$par: ls failed" wait $lsb
    ra=$(lookup_reply $a)
    lb=$(plnums b LOOKUP | head -1)
    rd=$(awk '$1 == "READDIR" { print NR; exit }' "$PLOG")
    check "$k/$par: no LOOKUP reply, LOOKUP of b or READDIR in the log" cond '[ -n "$ra" ] && [ -n "$lb" ] && [ -n "$rd" ]'
    if [ $par = no ]; then
      check "$k: without PARALLEL_DIROPS a LOOKUP overlapped another (lines $lb < $ra)" [ "$lb" -gt "$ra" ]
      check "$k: without PARALLEL_DIROPS a READDIR overlapped a LOOKUP (lines $rd < $ra)" [ "$rd" -gt "$ra" ]
    else
      check "$k: with PARALLEL_DIROPS the LOOKUP waited for another (lines $lb > $ra)" [ "$lb" -lt "$ra" ]
      check "$k: with PARALLEL_DIROPS the READDIR waited for a LOOKUP (lines $rd > $ra)" [ "$rd" -lt "$ra" ]
    fi
    proto_umount
  done
}

# 32. HANDLE_KILLPRIV_V2: the server clears suid/sgid where a request says
# so. A task without CAP_FSETID: its write to a 06755 file is a WRITE with
# kill_suidgid=1 sent at once (in write-back mode too), its truncate and
# chown a SETATTR with kill_suidgid, its truncating open an OPEN with
# FUSE_OPEN_KILL_SUIDGID, never a SETATTR of the mode the kernel derived
# from its cache; the mode shown afterwards is the server's. A writer with
# CAP_FSETID asks nothing and keeps the bits.
t32_killpriv_v2() {
  local k=$1 mode f line
  for mode in wb wt; do
    f=t32-$mode
    proto_mount "$k" $mode $f --killpriv-v2 --atomic-o-trunc
    check "$k: HANDLE_KILLPRIV_V2 not agreed" cond '[[ ,$(init_caps reply), == *,HANDLE_KILLPRIV_V2,* ]]'
    pio_start setpriv --bounding-set=-fsetid --inh-caps=-fsetid
    must open h "$PM/$f" rdwr,creat
    must pwrite h 0 4096
    must fchmod h 6755
    log_mark
    must pwrite h 0 1
    line=$(since $f WRITE "$LOGMARK" | tail -1)
    check "$k $mode: the write to a 06755 file was not a WRITE with kill_suidgid=1 at once: '$line'" \
      grep -q ' kill_suidgid=1' <<< "$line"
    check "$k $mode: a SETATTR of the mode for the write: $(since $f SETATTR "$LOGMARK" | grep ' mode=')" \
      cond '[ -z "$(since $f SETATTR "$LOGMARK" | grep " mode=")" ]'
    must fstatx h
    check "$k $mode: mode after the write: $PIO_REPLY" [ "$(fields mode <<< "$PIO_REPLY")" = 0100755 ]
    must fchmod h 6755
    log_mark
    must ftruncate h 100
    line=$(since $f SETATTR "$LOGMARK" | tail -1)
    check "$k $mode: the truncate was not a SETATTR with kill_suidgid and no mode: '$line'" \
      cond '[[ $line == *" size=100 "* && $line == *" kill_suidgid"* && $line != *" mode="* ]]'
    must fstatx h
    check "$k $mode: mode after the truncate: $PIO_REPLY" [ "$(fields mode <<< "$PIO_REPLY")" = 0100755 ]
    must fchmod h 6755
    log_mark
    must fchown h 0 0
    line=$(since $f SETATTR "$LOGMARK" | tail -1)
    check "$k $mode: the chown was not a SETATTR with kill_suidgid and no mode: '$line'" \
      cond '[[ $line == *" valid="*" uid=0 "* && $line == *" kill_suidgid"* && $line != *" mode="* ]]'
    must fchmod h 6755
    log_mark
    must open t "$PM/$f" rdwr,trunc
    line=$(since $f OPEN "$LOGMARK" | tail -1)
    check "$k $mode: the truncating open was not an OPEN with FUSE_OPEN_KILL_SUIDGID: '$line'" \
      cond '[[ $line == *TRUNC* && $line == *" open_flags=0x1"* ]]'
    must fstatx t
    check "$k $mode: mode after the truncating open: $PIO_REPLY" [ "$(fields mode <<< "$PIO_REPLY")" = 0100755 ]
    must close t
    must close h
    pio_stop
    # With CAP_FSETID: nothing asked, the bits stay.
    chmod 6755 "$PM/$f"
    pio_start
    must open h "$PM/$f" rdwr
    log_mark
    must pwrite h 0 1
    must fsync h
    line=$(since $f WRITE "$LOGMARK" | tail -1)
    check "$k $mode: a write with CAP_FSETID asked to clear suid/sgid: '$line'" \
      cond '[ -n "$line" ] && ! grep -q kill_suidgid <<< "$line"'
    must fstatx h
    check "$k $mode: mode after a write with CAP_FSETID: $PIO_REPLY" [ "$(fields mode <<< "$PIO_REPLY")" = 0106755 ]
    must close h
    pio_stop
    proto_umount
    note "$k $mode: write, truncate, chown and O_TRUNC open without CAP_FSETID ask the server to clear suid/sgid"
  done
}

# --- Run -----------------------------------------------------------------------

# 33. POSIX ACLs and the umask (mainline's fs/fuse/acl.c). With a server
# without POSIX_ACL or DONT_MASK, the kernel applies the umask itself and
# sends it along, and getfacl/setfacl pass through to the server without
# being cached or enforced. With both flags (and attribute caching), the
# mode goes unmasked, the kernel enforces the ACL (default_permissions
# implied), caches it until it is set again, and asks the server to clear
# sgid when an owner outside the group sets one.
t33_acl() {
  local k=$1 line n1 n2 n3 nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  proto_mount "$k" wt t33-pass --xattr
  check "$k: POSIX_ACL or DONT_MASK not offered" \
    cond '[[ ,$(init_caps request), == *,DONT_MASK,*POSIX_ACL,* ]]'
  (umask 027 && : > "$PM/a" && python3 -c 'import os, sys; os.mknod(sys.argv[1], 0o100666)' "$PM/b")
  line=$(plines a CREATE)
  check "$k: the CREATE under umask 027 was not masked and marked: '$line'" \
    cond '[[ $line == *" mode=0100640 umask=027 "* ]]'
  line=$(plines b MKNOD)
  check "$k: the MKNOD under umask 027 was not masked and marked: '$line'" \
    cond '[[ $line == *" mode=0100640 "*" umask=027 "* ]]'
  check "$k: setfacl without POSIX_ACL: $(setfacl -m u:65534:r "$PM/a" 2>&1)" setfacl -m u:65534:r "$PM/a"
  line=$(plines a SETXATTR | tail -1)
  check "$k: no SETXATTR of the access ACL (or one asking to clear sgid): '$line'" \
    cond '[[ $line == *" name=system.posix_acl_access"* && $line != *acl_kill_sgid* ]]'
  n1=$(plines a GETXATTR | grep -c posix_acl_access)
  check "$k: getfacl does not show the ACL the server has: $(getfacl -pcn "$PM/a" 2>&1 | tr '\n' ' ')" \
    cond 'getfacl -pcn "$PM/a" | grep -qx "user:65534:r--"'
  getfacl -pcn "$PM/a" > /dev/null
  n2=$(plines a GETXATTR | grep -c posix_acl_access)
  soft "$k" "$k: without POSIX_ACL an ACL was cached (GETXATTRs $n1 -> $n2 for two getfacl)" [ "$n2" -ge $((n1 + 2)) ]
  check "$k: removing the ACL failed" python3 -c 'import os, sys; os.removexattr(sys.argv[1], "system.posix_acl_access")' "$PM/a"
  check "$k: no REMOVEXATTR of the access ACL" cond 'plines a REMOVEXATTR | grep -q " name=system.posix_acl_access"'
  proto_umount

  proto_mount "$k" wt t33-acl -o allow_other --posix-acl --dont-mask --attr-timeout 60
  check "$k: POSIX_ACL and DONT_MASK not agreed" \
    cond '[[ ,$(init_caps reply), == *,DONT_MASK,*POSIX_ACL,* ]]'
  (umask 027 && : > "$PM/c")
  line=$(plines c CREATE)
  check "$k: with DONT_MASK the CREATE was masked or not marked: '$line'" \
    cond '[[ $line == *" mode=0100666 umask=027 "* ]]'
  check "$k: the server's umask did not show: $(stat -c %a "$PM/c")" [ "$(stat -c %a "$PM/c")" = 640 ]
  # allow_other: the server would let anyone read.
  check "$k: POSIX_ACL without default_permissions: nobody read a 0640 root file" \
    [ "$(errno_of "${nobody[@]}" cat "$PM/c")" = EACCES ]
  setfacl -m u:65534:r "$PM/c"
  check "$k: the ACL did not let nobody read: $(errno_of "${nobody[@]}" cat "$PM/c")" \
    [ "$(errno_of "${nobody[@]}" cat "$PM/c")" = ok ]
  n1=$(plines c GETXATTR | grep -c posix_acl_access)
  "${nobody[@]}" cat "$PM/c"
  n2=$(plines c GETXATTR | grep -c posix_acl_access)
  check "$k: the enforced ACL was not cached (GETXATTRs $n1 -> $n2)" [ "$n2" = "$n1" ]
  setfacl -x u:65534 "$PM/c"
  check "$k: the ACL set again was not taken: nobody still reads" \
    [ "$(errno_of "${nobody[@]}" cat "$PM/c")" = EACCES ]
  n3=$(plines c GETXATTR | grep -c posix_acl_access)
  check "$k: no GETXATTR after the ACL was set again ($n2 -> $n3)" [ "$n3" -gt "$n2" ]
  # (A file without an ACL: this server does not carry chmod into one.)
  : > "$PM/d"
  chown 65534:1234 "$PM/d"
  chmod 2770 "$PM/d"
  check "$k: the owner could not set an ACL" "${nobody[@]}" setfacl -m u:0:r "$PM/d"
  line=$(plines d SETXATTR | tail -1)
  check "$k: an owner outside the group set an ACL without acl_kill_sgid: '$line'" \
    cond '[[ $line == *" acl_kill_sgid "* ]]'
  check "$k: sgid after the server cleared it: $(stat -c %a "$PM/d")" [ "$(stat -c %a "$PM/d")" = 770 ]
  # A malformed ACL from the server: EINVAL for getfacl and for a
  # permission check that needs it, nothing else.
  : > "$PM/badacl-e"
  chmod 640 "$PM/badacl-e"
  check "$k: getfacl of a malformed ACL: $(errno_of getfacl -p "$PM/badacl-e")" \
    [ "$(errno_of getfacl -p "$PM/badacl-e")" = EINVAL ]
  check "$k: a permission check with a malformed ACL: $(errno_of "${nobody[@]}" cat "$PM/badacl-e")" \
    [ "$(errno_of "${nobody[@]}" cat "$PM/badacl-e")" = EINVAL ]
  proto_umount
  note "$k: umask applied and sent; ACLs passed through without POSIX_ACL, enforced and cached with it"
}

# 34. O_TMPFILE (mainline fuse_tmpfile): TMPFILE carries the masked mode,
# the umask and the VFS's name "/"; the unnamed file's data is written
# back (or through) as any file's, linkat(2) names it (LINK), and the
# named file has the data on the server; with O_EXCL it cannot be linked.
# A server without TMPFILE: EOPNOTSUPP, and it is asked once.
t34_tmpfile() {
  local k=$1 mode line ino
  for mode in wb wt; do
    proto_mount "$k" $mode t34-$mode
    umask 027
    pio_start
    umask 022
    must open t "$PM" rdwr,tmpfile
    line=$(plines tmpfile TMPFILE | tail -1)
    check "$k $mode: TMPFILE '$line', expected mode=0100640 umask=027 name=/" \
      cond '[[ "$line " == *" mode=0100640 umask=027 "*" name=/ "* ]]'
    ino=$(awk '$1 == "REPLY" && / op=TMPFILE / { for (i = 2; i <= NF; i++) if (index($i, "ino=") == 1) print substr($i, 5) }' "$PLOG" | tail -1)
    must pwrite t 0 8192
    must pwrite t 8192 4096
    must linkat t "$PM/named"
    line=$(plines named LINK | tail -1)
    check "$k $mode: LINK '$line', expected oldnodeid=$ino" \
      cond '[ -n "$ino" ] && [[ "$line " == *" oldnodeid=$ino name=named "* ]]'
    must close t
    check "$k $mode: the linked file has $(stat -c %h "$PM/named") links" [ "$(stat -c %h "$PM/named")" = 1 ]
    drop_caches
    must open r "$PM/named" rdonly
    check "$k $mode: the linked file's data (from the server)" pio check r 0 12288
    must close r
    check "$k $mode: no READ of the linked file after drop_caches" has_line named READ
    # O_EXCL: not linkable (the VFS's I_LINKABLE), nothing reaches the server.
    must open x "$PM" rdwr,tmpfile,excl
    check "$k $mode: an O_EXCL tmpfile was linked" cond '! pio linkat x "$PM/excl"'
    check "$k $mode: linkat of an O_EXCL tmpfile: $(pio_err), expected ENOENT" [ "$(pio_err)" = ENOENT ]
    check "$k $mode: LINK sent for an O_EXCL tmpfile" [ "$(pcount excl LINK)" = 0 ]
    must close x
    pio_stop
    proto_umount
  done
  proto_mount "$k" wb t34-no --no-tmpfile
  pio_start
  check "$k: O_TMPFILE without TMPFILE worked" cond '! pio open t "$PM" rdwr,tmpfile'
  check "$k: O_TMPFILE without TMPFILE: $(pio_err), expected ENOTSUP" [ "$(pio_err)" = ENOTSUP ]
  check "$k: O_TMPFILE again worked" cond '! pio open t "$PM" rdwr,tmpfile'
  check "$k: TMPFILE asked $(pcount tmpfile TMPFILE) times after ENOSYS, expected 1" [ "$(pcount tmpfile TMPFILE)" = 1 ]
  pio_stop
  proto_umount
  note "$k: O_TMPFILE made, written, linked and read back in wb and wt; O_EXCL unlinkable; no TMPFILE: ENOTSUP, asked once"
}

# 35. Requests read by splice(2) through a pipe, as libfuse reads them
# (fuse-wb fills pages for the message it hands out, as mainline's
# fuse_dev_splice_read, no longer a page per page of pipe room): 1 MiB
# WRITEs, READs after drop_caches, UNLINK and FORGETs reach the server
# as with read(2), and the data comes back.
t35_splice() {
  local k=$1 max n
  proto_mount "$k" wt t35 --splice
  check "$k: SPLICE_READ and SPLICE_WRITE not offered: $(init_caps request)" \
    cond '[[ ,$(init_caps request), == *,SPLICE_WRITE,*SPLICE_READ,* ]]'
  pio_start
  must open h "$PM/f" wronly,creat
  must pwrite h 0 $((3 * MIB))
  must close h
  max=$(plines f WRITE | fields size | sort -n | tail -1)
  n=$(pcount f WRITE)
  check "$k: 3 MiB in $n WRITEs of at most $max bytes, expected 3 of 1 MiB" cond '[ "$n" = 3 ] && [ "$max" = $MIB ]'
  drop_caches
  must open r "$PM/f" rdonly
  check "$k: the data read back through a spliced server differs" pio check r 0 $((3 * MIB))
  must close r
  check "$k: no READ after drop_caches" has_line f READ
  rm "$PM/f"
  check "$k: no UNLINK" has_line f UNLINK
  pio_stop
  drop_caches
  check "$k: no FORGET of the file" wait_for cond 'grep -q "^\(BATCH_\)\?FORGET " "$PLOG"'
  # Pages allocated for small requests: the server splices with room for
  # 16 MiB (4096 pages); a request of one page must not cost 4096.
  local names=() i p0 p1 per
  for i in $(seq 50); do names+=("$PM/missing-$i"); done
  p0=$(pgallocs)
  stat "${names[@]}" > /dev/null 2>&1
  p1=$(pgallocs)
  per=$(((p1 - p0) / 50))
  # (Mainline allocates an array of pipe_buffers for the whole pipe per
  # request: 4096 x 40 bytes, about 64 pages; noted only.)
  soft "$k" "$k: $((p1 - p0)) pages allocated for 50 LOOKUPs read by splice ($per each)" [ "$per" -lt 32 ]
  check "$k: a reply failed: $(grep -m1 write_error= "$PLOG")" cond '! grep -q write_error= "$PLOG"'
  proto_umount
  note "$k: a server reading by splice(2): 3 x 1 MiB WRITEs, READs, UNLINK and FORGET, data intact; 50 LOOKUPs: $((p1 - p0)) pages allocated in the system"
}
# pgallocs: pages allocated in the system so far (/proc/vmstat pgalloc_*).
pgallocs() { awk '$1 ~ /^pgalloc_/ { n += $2 } END { print n }' /proc/vmstat; }

# 36. In write-back mode a write refreshes expired attributes first, as
# mainline: whether it must clear suid/sgid depends on the server's mode,
# and no WRITE reaches the server now to clear them there. A suidlater-
# file gets S_ISUID right after its CREATE (another client's chmod u+s);
# attributes expire at once (timeout 0). A writer without CAP_FSETID: the
# kernel learns the mode (GETATTR, through the open file's handle) and
# clears the bit (SETATTR mode=0100644).
t36_write_refreshes_mode() {
  local k=$1 f=suidlater-t36 line got um
  proto_mount "$k" wb t36
  um=$(umask)
  umask 022
  pio_start setpriv --bounding-set=-fsetid --inh-caps=-fsetid
  umask "$um"
  must open h "$PM/$f" rdwr,creat
  log_mark
  must pwrite h 0 4096
  line=$(since $f GETATTR "$LOGMARK" | head -1)
  check "$k: no GETATTR before the write's SETATTR" [ -n "$line" ]
  check "$k: the write's GETATTR does not name the open file (FUSE_GETATTR_FH): '$line'" \
    cond '[[ $line == *" getattr_flags=0x1 fh="* && $line != *" fh=0"* ]]'
  line=$(since $f SETATTR "$LOGMARK" | grep ' mode=' | tail -1)
  check "$k: no SETATTR mode=0100644 after a write to a file the server made 04644: '$line'" \
    grep -q ' mode=0100644' <<< "$line"
  must close h
  pio_stop
  got=$(stat -c %a "$PM/$f")
  check "$k: the server's mode after the write: $got, expected 644" [ "$got" = 644 ]
  proto_umount
  note "$k: a write after the server set S_ISUID refreshed the mode and cleared it"
}

# 37. The flags of CREATE and RELEASE are mainline's. CREATE carries
# O_TRUNC whether or not the server truncates atomically at OPEN (the name
# may exist on the server by now, made by another client, and the VFS
# truncates no file atomic_open reports as created); only O_NOCTTY is
# dropped (an O_EXCL create has no O_TRUNC: the VFS drops it). READ,
# WRITE and RELEASE carry the file's flags without O_CREAT, O_EXCL and
# O_TRUNC.
t37_create_release_flags() {
  local k=$1 line f bad
  proto_mount "$k" wt t37 --killpriv-v2
  pio_start setpriv --bounding-set=-fsetid --inh-caps=-fsetid
  must open h "$PM/t37a" rdwr,creat,trunc
  must pwrite h 0 4096
  must pread h 0 4096
  must close h
  must open h "$PM/t37b" wronly,creat,excl,trunc
  must close h
  pio_stop
  line=$(plines t37a CREATE)
  check "$k: CREATE(O_CREAT|O_TRUNC) without ATOMIC_O_TRUNC: '$line'" \
    cond '[[ $line == *" oflags=RDWR|CREAT|TRUNC "* ]]'
  check "$k: a truncating CREATE without CAP_FSETID lacks FUSE_OPEN_KILL_SUIDGID: '$line'" \
    cond '[[ $line == *" open_flags=0x1 "* ]]'
  line=$(plines t37b CREATE)
  check "$k: O_EXCL CREATE: '$line'" cond '[[ $line == *" oflags=WRONLY|CREAT|EXCL "* && $line == *" open_flags=0x0 "* ]]'
  for f in t37a t37b; do
    check "$k: no RELEASE of $f" wait_for has_line $f RELEASE
  done
  bad=$( (plines t37a READ; plines t37a WRITE; plines t37a RELEASE; plines t37b RELEASE) | awk '{
    for (i = 2; i <= NF; i++) if ($i ~ /^flags=0x/) {
      # O_CREAT 0x40, O_EXCL 0x80, O_TRUNC 0x200 (hex digits 2 and 3 from the right)
      h = substr($i, 9); v = 0
      for (j = 1; j <= length(h); j++) v = v * 16 + index("0123456789abcdef", tolower(substr(h, j, 1))) - 1
      if (int(v / 64) % 4 != 0 || int(v / 512) % 2 != 0) print $0
    } }')
  check "$k: requests of the open files carry creation flags: $bad" [ -z "$bad" ]
  proto_umount
  note "$k: CREATE keeps O_TRUNC (with FUSE_OPEN_KILL_SUIDGID), RELEASE/READ/WRITE carry no creation flags"
}

# 38. A request larger than the server's read buffer (which holds any
# WRITE) fails, as on mainline: a SETXATTR with E2BIG (its value alone may
# be too large), and the connection goes on. A server reading 8 KiB at a
# time (max_write 4 KiB) and a 12 KiB value.
t38_request_too_large() {
  local k=$1 f=t38 out big
  proto_mount "$k" wt t38 --xattr --max-write 4096 --read-size 8192 --file t38=10
  big=$(printf '%12288s' '' | tr ' ' x)
  out=$(setfattr -n user.big -v "$big" "$PM/$f" 2>&1)
  check "$k: setxattr of a 12 KiB value through an 8 KiB server buffer: '$out'" \
    cond '[[ $out == *"Argument list too long"* ]]'
  check "$k: the oversized SETXATTR reached the server" cond '[ "$(pcount $f SETXATTR)" = 0 ]'
  check "$k: a small setxattr after it failed" setfattr -n user.small -v 1 "$PM/$f"
  check "$k: the small value reads back" cond '[ "$(getfattr --only-values -n user.small "$PM/$f" 2> /dev/null)" = 1 ]'
  proto_umount
  note "$k: a 12 KiB SETXATTR to a server reading 8 KiB: E2BIG; the connection goes on"
}

# 39. Readahead READs go in the background (mainline's fuse_readahead with
# FUSE_ASYNC_READ): POSIX_FADV_WILLNEED returns before the server answers
# them (the close's FLUSH reaches the server first), and the file sends its
# RELEASE only after their replies (a server may reuse a released handle
# for another file). The data then reads back from the cache.
t39_async_readahead() {
  local k=$1 f=lazyread-t39 flush rel last n
  proto_mount "$k" wt t39 --slow-ms 600 --keep-cache --file $f=131072
  check "$k: fadvise WILLNEED failed" xfs_io -r -c "fadvise -w 0 131072" "$PM/$f"
  check "$k: no RELEASE logged" wait_for has_line $f RELEASE
  n=$(pcount $f READ)
  check "$k: no READ" [ "$n" -ge 1 ]
  flush=$(plnums $f FLUSH | head -1)
  rel=$(plnums $f RELEASE | head -1)
  last=$(awk -v f="file=$f" '$1 == "REPLY" && / op=READ / { for (i = 2; i <= NF; i++) if ($i == f) print NR }' "$PLOG" | tail -1)
  check "$k: the READs were answered (log line ${last:-none}) before the close's FLUSH (line $flush): fadvise waited for them" \
    cond '[ -n "$last" ] && [ -n "$flush" ] && [ "$flush" -lt "$last" ]'
  check "$k: RELEASE (log line $rel) before the last READ reply (line $last)" [ "$rel" -gt "$last" ]
  check "$k: the data read back differs" cmp -s <(cat "$PM/$f") \
    <(python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(131072)))')
  check "$k: reading the data again sent READs" [ "$(pcount $f READ)" -eq "$n" ]
  proto_umount
  note "$k: WILLNEED returned before the READ replies (600 ms late); RELEASE after the $n READ replies"
}

# 40. An expired dentry stays cached (mainline keeps them for /dev/fuse):
# with a zero entry timeout, a file closed and opened again keeps its
# inode (no FORGET) and its cached data (one READ for two reads).
t40_expired_dentry_kept() {
  local k=$1 f=t40 forgets
  proto_mount "$k" wt t40 --keep-cache --file $f=65536
  check "$k: the first read differs" cmp -s <(cat "$PM/$f") \
    <(python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(65536)))')
  nap 0.1
  check "$k: the second read failed" cond 'cat "$PM/$f" > /dev/null'
  check "$k: $(pcount $f READ) READs for two reads of 64 KiB, expected 1" [ "$(pcount $f READ)" -eq 1 ]
  forgets=$(grep -cE '^(BATCH_)?FORGET ' "$PLOG")
  check "$k: $forgets FORGET(s) between the opens: the inode went" [ "$forgets" -eq 0 ]
  proto_umount
  note "$k: zero entry timeout: close and open again keep the inode and its cached data"
}

# 41. A RELEASE waits for the READs of its own open only: with a server
# that gives every open the same handle, a file closed while another open
# of it has readahead READs in flight is released at once, and that other
# open's RELEASE follows its READ replies.
t41_release_waits_own_reads() {
  local k=$1 f=lazyread-t41 last before after
  proto_mount "$k" wt t41 --slow-ms 600 --keep-cache --same-fh --file $f=131072
  pio_start
  must open h "$PM/$f" rdonly
  check "$k: fadvise WILLNEED failed" xfs_io -r -c "fadvise -w 0 131072" "$PM/$f"
  must close h
  pio_stop
  check "$k: not two RELEASEs logged" wait_for cond '[ "$(pcount $f RELEASE)" -ge 2 ]'
  check "$k: no READ" [ "$(pcount $f READ)" -ge 1 ]
  last=$(awk -v f="file=$f" '$1 == "REPLY" && / op=READ / { for (i = 2; i <= NF; i++) if ($i == f) print NR }' "$PLOG" | tail -1)
  before=$(plnums $f RELEASE | awk -v l="${last:-0}" '$1 < l' | wc -l)
  after=$(plnums $f RELEASE | awk -v l="${last:-0}" '$1 > l' | wc -l)
  check "$k: $before RELEASE(s) before the last READ reply (line ${last:-none}), expected 1: the idle open waited for the other's READs" \
    [ "$before" -eq 1 ]
  check "$k: $after RELEASE(s) after the last READ reply, expected 1: the reading open was released before its READs ended" \
    [ "$after" -eq 1 ]
  proto_umount
  note "$k: same handle for both opens: the idle one released at once, the reading one after its READ replies"
}

run t01_no_write_before_fsync fuse-wb
run t02_write_count fuse-wb mainline
run t03_write_cache_flag fuse-wb mainline
run t04_rmw_read_on_wronly fuse-wb mainline
run t05_append fuse-wb mainline
run t06_read_after_write_cached fuse-wb mainline
run t07_write_past_eof fuse-wb mainline
run t08_local_attrs_win fuse-wb mainline      # mainline: noted only
run t09_fchmod_sends_mtime fuse-wb
run t10_direct_after_dirty fuse-wb mainline
run t11_truncate_dirty fuse-wb mainline
run t12_short_write_resent fuse-wb mainline   # mainline ignores short writes: noted
run t13_write_error fuse-wb
run t14_server_killed fuse-wb
run t15_needs_both_sides fuse-wb
run t16_create_fallback fuse-wb mainline
run t17_big_writes fuse-wb mainline          # mainline: 1 MiB, noted
run t18_short_write_through fuse-wb mainline
run t19_exclusive_create fuse-wb mainline
run t20_seek_dirty fuse-wb mainline          # mainline seeks before writing back: noted
run t21_sync_waits fuse-wb mainline          # mainline does not wait for WRITEs: noted
run t22_syncfs_killable fuse-wb
run t23_umount_after_close fuse-wb mainline
run t24_chown_utimens fuse-wb mainline
run t25_suid_cleared fuse-wb mainline
run t26_osync fuse-wb mainline
run t27_direct_io_file fuse-wb mainline
run t28_keep_cache fuse-wb mainline
run t29_copy_file_range fuse-wb mainline
run t30_stuck_server_isolated fuse-wb mainline
run t31_dirops fuse-wb mainline
run t32_killpriv_v2 fuse-wb mainline
run t33_acl fuse-wb mainline
run t34_tmpfile fuse-wb mainline
run t35_splice fuse-wb mainline
run t36_write_refreshes_mode fuse-wb mainline
run t37_create_release_flags fuse-wb mainline
run t38_request_too_large fuse-wb mainline
run t39_async_readahead fuse-wb mainline
run t40_expired_dentry_kept fuse-wb mainline
run t41_release_waits_own_reads fuse-wb mainline
echo "60-protocol: $CHECKS checks passed"
