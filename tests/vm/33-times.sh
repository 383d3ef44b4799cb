#!/usr/bin/env bash
# Attributes the server owns: reading files sends no SETATTR (the kernel
# never updates atime: S_NOATIME, as mainline's fuse_iget), explicit times
# and a chmod of a file with dirty data reach the server after the data, and
# a symlink's own times and owner (touch -h, chown -h) reach the server
# (setattr on symlinks), truncates and shared-mapping writes change mtime. libfuse's passthrough_ll over tmpfs, fuse-wb write-through and
# write-back, mainline alongside for the symlink checks; a read makes the next
# stat fetch atime from the server.
. "$(dirname "$0")/lib.sh"
command -v xfs_io > /dev/null || fail "xfs_io missing (scripts/setup installs xfsprogs)"
PT=$EXBIN/passthrough_ll
[ -x "$PT" ] || fail "$PT missing (tests/run-checks builds it)"
T=1000000000   # 2001-09-09, any time that is not "now"

for run in fuse-wb:wt fuse-wb:wb mainline:wt; do
  kind=${run%:*} mode=${run#*:}
  b=$SCRATCH/times-back m=$SCRATCH/times-$kind-$mode
  rm -rf "$b" && mkdir -p "$b"
  for i in 1 2 3 4 5; do echo "file $i" > "$b/f$i"; done
  ln -s f1 "$b/link"
  popts=() mopts=()
  if [ $mode = wb ]; then popts=(-o writeback) mopts=(-o allow_wbcache); fi
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$PT" -f "${popts[@]}" -o source="$b" %m

  if [ $kind = fuse-wb ]; then
    st=$(conn_dir "$m")/stats
    setattrs() { awk '$1 == "op.SETATTR.count" {print $2} END {if (!NR) print 0}' "$st" | tail -1; }
    before=$(setattrs)
    for i in 1 2 3 4 5; do cat "$m/f$i" > /dev/null; done
    cat "$m"/f* > /dev/null
    sync
    after=$(setattrs)
    [ "$after" = "$before" ] || fail "$run: reading 5 files sent $((after - before)) SETATTR(s)"
    note "$run: reading 5 files twice sent no SETATTR"
  fi

  # Explicit times and a chmod go to the server after the dirty data
  # (write-back: the data is written back first, as mainline), so a later
  # WRITE cannot change the mtime again (cp -a: write, then futimens).
  exec 3> "$m/dirty"
  head -c $((1024 * 1024)) /dev/urandom >&3
  touch -d "@$T" "$m/dirty" || fail "$run: touch -d failed"
  [ "$(stat -c %s:%Y "$b/dirty")" = "$((1024 * 1024)):$T" ] ||
    fail "$run: after touch -d of a file with dirty data the server has size:mtime $(stat -c %s:%Y "$b/dirty")"
  head -c 4096 /dev/urandom >&3
  chmod 600 "$m/dirty" || fail "$run: chmod failed"
  [ "$(stat -c %s:%a "$b/dirty")" = "$((1024 * 1024 + 4096)):600" ] ||
    fail "$run: after chmod of a file with dirty data the server has size:mode $(stat -c %s:%a "$b/dirty")"
  touch -d "@$T" "$m/dirty"
  exec 3>&-
  [ "$(stat -c %Y "$b/dirty")" = $T ] || fail "$run: after close the server's mtime is $(stat -c %Y "$b/dirty"), not $T"
  note "$run: touch -d and chmod of a file with dirty data reach the server after its data"

  # A truncate that changes the size, and a write through a shared
  # mapping, change the mtime the mount shows right after (xfstests
  # generic/313 and generic/080).
  truncate -s 4096 "$m/tr" && touch -d "@$T" "$m/tr" && truncate -s 100 "$m/tr" ||
    fail "$run: truncate failed"
  [ "$(stat -c %Y "$m/tr")" != $T ] || fail "$run: truncate did not change the mtime"
  truncate -s 4096 "$m/tr" && touch -d "@$T" "$m/tr" || fail "$run: truncate/touch failed"
  xfs_io -c "mmap 0 4k" -c "mwrite 0 4k" "$m/tr" > /dev/null || fail "$run: xfs_io mwrite failed"
  [ "$(stat -c %Y "$m/tr")" != $T ] || fail "$run: a write through a shared mapping did not change the mtime"
  note "$run: truncate and a shared-mapping write change the mtime"

  touch -h -d "@$T" "$m/link" || fail "$run: touch -h on a symlink failed"
  [ "$(stat -c %Y "$b/link")" = $T ] || fail "$run: the symlink's mtime did not reach the server ($(stat -c %Y "$b/link"))"
  [ "$(stat -c %Y "$b/f1")" != $T ] || fail "$run: touch -h changed the symlink's target"
  chown -h 5001:5001 "$m/link" || fail "$run: chown -h on a symlink failed"
  [ "$(stat -c %u:%g "$b/link")" = 5001:5001 ] || fail "$run: the symlink's owner did not reach the server"
  [ "$(stat -c %u "$b/f1")" = 0 ] || fail "$run: chown -h changed the symlink's target"
  [ "$(stat -c %Y:%u "$m/link")" = "$T:5001" ] || fail "$run: the mount shows $(stat -c %Y:%u "$m/link") for the symlink"
  note "$run: touch -h and chown -h of a symlink reached the server"
  unmount "$m"
done

# In write-back mode the kernel does not keep i_blocks: closing a file that
# was written invalidates the cached attributes (mainline: STATX_BLOCKS in
# fuse_flush), so st_blocks counts the data even with an hour's attribute
# timeout (it stayed at the CREATE reply's 0).
for kind in fuse-wb mainline; do
  b=$SCRATCH/blocks-back m=$SCRATCH/blocks-$kind
  rm -rf "$b" && mkdir -p "$b"
  mopts=()
  [ $kind = fuse-wb ] && mopts=(-o allow_wbcache)
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$PT" -f -o writeback -o timeout=3600 -o source="$b" %m
  head -c $((1024 * 1024)) /dev/urandom > "$m/blocks" || fail "$kind: writing 1 MiB failed"
  got=$(stat -c %b "$m/blocks") want=$(stat -c %b "$b/blocks")
  [ "$got" = "$want" ] || fail "$kind:wb: st_blocks after writing 1 MiB and closing is $got, the server has $want"
  note "$kind:wb: st_blocks after writing 1 MiB and closing: $got, as the server"
  unmount "$m"
done

# The server owns atime, and a READ, READLINK or READDIR may change it: the
# next stat asks the server even within the attribute timeout (mainline's
# fuse_invalidate_atime; xfstests generic/003). On a read-only mount the
# cached atime stays (and no GETATTR is sent).
for run in fuse-wb:wt fuse-wb:wb mainline:wt mainline:wb fuse-wb:ro mainline:ro; do
  kind=${run%:*} mode=${run#*:}
  b=$SCRATCH/atime-back m=$SCRATCH/atime-$kind-$mode
  rm -rf "$b" && mkdir -p "$b/d" && echo data > "$b/f" && ln -s f "$b/l"
  touch -a -h -d "@$T" "$b/f" "$b/d" "$b/l"
  popts=() mopts=()
  case $mode in
    wb) popts=(-o writeback); [ $kind = fuse-wb ] && mopts=(-o allow_wbcache) ;;
    ro) mopts=(-o ro) ;;
  esac
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$PT" -f "${popts[@]}" -o timeout=3600 -o source="$b" %m
  for x in f d l; do
    [ "$(stat -c %X "$m/$x")" = $T ] || fail "$run: $x has atime $(stat -c %X "$m/$x") before it is read, not $T"
  done
  cat "$m/f" > /dev/null && ls "$m/d" > /dev/null && readlink "$m/l" > /dev/null || fail "$run: reading failed"
  for x in f d l; do
    [ "$(stat -c %X "$b/$x")" != $T ] || fail "$run: reading $x did not change its atime on the server (tmpfs)"
    got=$(stat -c %X "$m/$x")
    if [ $mode = ro ]; then
      [ "$got" = $T ] || fail "$run: $x shows atime $got after a read on a read-only mount, not the cached $T"
    else
      [ "$got" = "$(stat -c %X "$b/$x")" ] ||
        fail "$run: $x shows atime $got after it was read, the server has $(stat -c %X "$b/$x")"
    fi
  done
  if [ $kind = fuse-wb ]; then
    getattrs() { awk '$1 == "op.GETATTR.count" {print $2} END {if (!NR) print 0}' "$(conn_dir "$m")/stats" | tail -1; }
    g0=$(getattrs)
    stat "$m/f" "$m/d" "$m/l" > /dev/null
    [ "$(getattrs)" = "$g0" ] || fail "$run: a second stat after the read sent $(( $(getattrs) - g0 )) GETATTR(s)"
  fi
  if [ $mode = ro ]; then
    note "$run: reading a file, a directory and a symlink leaves the cached atime"
  else
    note "$run: after reading a file, a directory and a symlink, stat shows the server's new atime"
  fi
  unmount "$m"
done
