#!/usr/bin/env bash
# The namespace: MKDIR, RMDIR, SYMLINK, LINK, RENAME and RENAME2
# (NOREPLACE, EXCHANGE), UNLINK, with data written through the page cache
# around them. The same workload runs in a local tmpfs directory (the
# reference), then through the reference server on fuse-wb write-through
# and write-back (mainline on the same server too: NAMES_MAINLINE=1, passed
# with VM_RUN_ENV): what each
# mount shows, and what the server's backing tree holds afterwards, must equal
# the reference (type, mode, size, link count, symlink target, contents),
# and every error must be the one tmpfs gives.
. "$(dirname "$0")/lib.sh"
REF=$BIN/fusewb-refserver
DATA=$SCRATCH/names-data
head -c $((1024 * 1024 + 4096 + 123)) /dev/urandom > "$DATA"

# rename2 [FLAG OLD NEW]...: renameat2(2) with RENAME_NOREPLACE or
# RENAME_EXCHANGE for each triple, in one process (python starts slowly
# under TCG); prints the result of each call (ok or the errno name).
rename2() {
  python3 - "$@" << 'EOF'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
a = sys.argv[1:]
for i in range(0, len(a), 3):
    flags = {"noreplace": 1, "exchange": 2}[a[i]]
    r = libc.renameat2(-100, a[i + 1].encode(), -100, a[i + 2].encode(), flags)
    print(a[i], a[i + 1], a[i + 2] + ":", "ok" if r == 0 else errno.errorcode[ctypes.get_errno()])
EOF
}

# err CMD...: ok, or the errno name (from the C library's message).
err() {
  local e
  if e=$("$@" 2>&1 > /dev/null); then echo ok; return; fi
  case "$e" in
    *"Directory not empty"*) echo ENOTEMPTY ;;
    *"File exists"*) echo EEXIST ;;
    *"No such file"*) echo ENOENT ;;
    *"Not a directory"*) echo ENOTDIR ;;
    *"Is a directory"*) echo EISDIR ;;
    *"Invalid argument"*) echo EINVAL ;;
    *) echo "other: $e" ;;
  esac
}

# workload DIR: the namespace operations, in DIR; prints what each checked
# call returned (compared across runs).
workload() (
  cd "$1" || exit 1
  mkdir -p a/b/c d
  head -c 5000 "$DATA" > a/f1
  ln a/f1 a/b/hard
  ln -s ../f1 a/b/sym
  ln -s /does/not/exist dangling
  echo "mkdir existing: $(err mkdir a)"
  echo "rmdir non-empty: $(err rmdir a/b)"
  echo "rmdir a file: $(err rmdir a/f1)"
  echo "link to existing: $(err ln a/f1 a/b/hard)"
  # A file and a directory move across parents; a hard link keeps sharing.
  mv a/f1 d/f1moved
  mv a/b d/bmoved
  mv d/bmoved/c d/c2
  rmdir d/c2
  echo "hard link sees the move: $(stat -c %h d/f1moved) $(cmp -s d/f1moved d/bmoved/hard && echo same)"
  # Over an existing name, and RENAME2's flags.
  echo two > d/target
  echo three > d/src
  mv d/src d/target
  rename2 noreplace d/target d/f1moved exchange d/target d/f1moved noreplace d/target d/free
  # Dirty data around renames and links: written, renamed while open,
  # written again, closed.
  exec 3> d/wb
  head -c $((512 * 1024)) "$DATA" >&3
  mv d/wb d/wb2
  tail -c +$((512 * 1024 + 1)) "$DATA" >&3
  exec 3>&-
  ln d/wb2 d/wb3
  printf tail >> d/wb3
  echo "hard links share the size: $(stat -c %s d/wb2) $(stat -c %s d/wb3)"
  rm d/wb3
  # A file unlinked while open keeps its data for the opener.
  exec 4<> d/gone
  printf abc >&4
  rm d/gone
  printf def >&4
  echo "unlinked while open: $(stat -L -c %s /dev/fd/4) $(err stat d/gone)"
  exec 4>&-
  # A directory renamed over an empty one; symlinks renamed.
  mkdir -p x/y empty
  mv -T x empty2
  mv -T empty2 empty
  mv dangling d/dangling2
  echo "rename dir over non-empty: $(err mv -T d/bmoved empty)"
  rm -r a
  echo "after rm -r: $(err stat a)"
  echo "fsync of a directory: $(python3 -c 'import os; fd = os.open("d", os.O_RDONLY); os.fsync(fd); print("ok")')"
)

listing() { # DIR: one line per entry, without times and inode numbers
  (cd "$1" && find . -printf '%p %y %m %s %n %l\n' | LC_ALL=C sort)
}

ref=$SCRATCH/names-ref
rm -rf "$ref"
mkdir -p "$ref"
workload "$ref" > "$SCRATCH/names.out.ref" || fail "the workload failed on tmpfs"
listing "$ref" > "$SCRATCH/names.list.ref"

runs=(fuse-wb:wt fuse-wb:wb)
[ "${NAMES_MAINLINE:-0}" = 1 ] && runs+=(mainline:wt)
for run in "${runs[@]}"; do
  kind=${run%:*} mode=${run#*:}
  m=$SCRATCH/names-$kind-$mode
  b=$SCRATCH/names-backing
  rm -rf "$b"
  mkdir -p "$b"
  mopts=() sopts=()
  if [ $mode = wb ]; then
    sopts=(--writeback)
    [ $kind = fuse-wb ] && mopts=(-o allow_wbcache)
  fi
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$REF" --source "$b" "${sopts[@]}" %m
  workload "$m" > "$SCRATCH/names.out.$run" 2>&1 || fail "the workload failed on $run"
  diff "$SCRATCH/names.out.ref" "$SCRATCH/names.out.$run" ||
    fail "$run: results differ from tmpfs (above)"
  listing "$m" > "$SCRATCH/names.list.mount"
  diff "$SCRATCH/names.list.ref" "$SCRATCH/names.list.mount" ||
    fail "$run: the mount's tree differs from tmpfs (above)"
  diff -r --no-dereference "$ref" "$m" || fail "$run: contents differ from tmpfs"
  # Everything reached the server: after unmounting, the backing tree is
  # the reference. (No drop_caches here: it would also drop the VM's 9p
  # root file system, and every later command would crawl.)
  unmount "$m"
  listing "$b" | diff "$SCRATCH/names.list.ref" - || fail "$run: the server's tree differs"
  diff -r --no-dereference "$ref" "$b" || fail "$run: the server's contents differ"
  note "$run: $(wc -l < "$SCRATCH/names.list.ref") entries and $(wc -l < "$SCRATCH/names.out.ref") results as on tmpfs (${SECONDS}s so far)"
done

# CACHE_SYMLINKS: with it from the server, a symlink's target read once is
# kept (one READLINK for five readlinks and five path walks through it);
# without it, every one asks. Mainline alike.
b=$SCRATCH/links-backing
st=$SCRATCH/links.stats
for kind in fuse-wb mainline; do
  for cache in yes no; do
    rm -rf "$b"
    mkdir -p "$b"
    echo x > "$b/target"
    ln -s target "$b/l"
    m=$SCRATCH/links-$kind
    sopts=()
    [ $cache = yes ] && sopts=(--cache-symlinks)
    mount_server $kind "$m" "$m" -- "$REF" --source "$b" --stats "$st" "${sopts[@]}" %m
    for _ in 1 2 3 4 5; do
      [ "$(readlink "$m/l")" = target ] || fail "$kind: readlink gave '$(readlink "$m/l")'"
      [ "$(cat "$m/l")" = x ] || fail "$kind: reading through the symlink failed"
    done
    unmount "$m"
    n=$(awk '$1 == "op.READLINK.count" { print $2 }' "$st")
    if [ $cache = yes ]; then
      [ "${n:-0}" = 1 ] || fail "$kind: with CACHE_SYMLINKS, $n READLINKs for five readlinks and walks (expected 1)"
    else
      [ "${n:-0}" -ge 5 ] || fail "$kind: without CACHE_SYMLINKS, only $n READLINKs for five readlinks and walks"
    fi
    note "$kind: CACHE_SYMLINKS $cache: $n READLINK(s) for five readlinks and five walks through the link"
  done
done
