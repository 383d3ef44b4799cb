#!/usr/bin/env bash
# `make demo` (runs in the VM): an unmodified libfuse server mounted over
# fuse-wb through fusewb-mount, used, and unmounted.
set -eu
ROOT=${FUSEWB_ROOT:?run with make demo}
BIN=$ROOT/target/release EX=$ROOT/tests/out/bin S=${FUSEWB_SCRATCH:-/tmp}
show() { printf '\n$ %s\n' "$*"; "$@"; }
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
echo; echo "demo: passthrough_ll served $S/backing over fuse-wb and unmounted cleanly"
