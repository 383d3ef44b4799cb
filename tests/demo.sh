#!/usr/bin/env bash
# `make demo` (runs in the VM): an unmodified libfuse server mounted over
# fuse-wb through fusewb-mount, used, and unmounted.
set -eu
ROOT=${FUSEWB_ROOT:?run with make demo}
BIN=$ROOT/target/release EX=$ROOT/tests/out/bin S=${FUSEWB_SCRATCH:-/tmp}
show() { printf '\n$ %s\n' "$*"; "$@"; }
timed() { local t0=$SECONDS; show "$@"; echo "($((SECONDS - t0)) s)"; }
mkdir -p "$S/backing/docs" "$S/mnt"
echo "hello from the backing directory" > "$S/backing/docs/readme.txt"
ln -s docs/readme.txt "$S/backing/link"
"$BIN/fusewb-mount" "$S/mnt" -- "$EX/passthrough_ll" -f -o source="$S/backing" %m &
for _ in $(seq 300); do grep -q " $S/mnt " /proc/mounts && break; sleep 0.1; done
show grep " $S/mnt " /proc/mounts
show ls -lR "$S/mnt"
show cat "$S/mnt/link"
show stat "$S/mnt/docs/readme.txt"
show df -h "$S/mnt"
show ls /sys/fs/fuse-wb/connections/
show umount "$S/mnt"
wait

# Everyday use of a write-back mount: a source tree copied in, committed to
# git, archived back out and compared, then removed.
KDIR=${KDIR:-$("$ROOT/scripts/build-kernel" --print-kdir)}
mkdir -p "$S/src" "$S/wb-backing" "$S/out"
(cd "$KDIR" && find fs include/linux -type f \( -name '*.[ch]' -o -name Kconfig -o -name Makefile \) \
  -size -8k -print0 | tar --null -T - -cf -) | tar -C "$S/src" -xf -
"$BIN/fusewb-mount" -o allow_wbcache "$S/mnt" -- "$EX/passthrough_ll" -f -o writeback -o source="$S/wb-backing" %m &
for _ in $(seq 300); do grep -q " $S/mnt " /proc/mounts && break; sleep 0.1; done
echo; echo "# $(find "$S/src" -type f | wc -l) small source files of the kernel into a write-back mount:"
show grep " $S/mnt " /proc/mounts
timed cp -a "$S/src" "$S/mnt/tree"
cd "$S/mnt/tree"
timed sh -c 'git init -q && git add -A && git -c user.name=demo -c user.email=demo@localhost -c core.compression=1 commit -q -m tree && git log --oneline'
cd /
timed tar -C "$S/mnt" -cf "$S/out/tree.tar" tree
tar -C "$S/out" -xf "$S/out/tree.tar"
show diff -r -x .git "$S/src" "$S/out/tree"
timed rm -rf "$S/mnt/tree"
show umount "$S/mnt"
wait
echo; echo "demo: passthrough_ll served $S/backing and a write-back tree over fuse-wb and unmounted cleanly"
