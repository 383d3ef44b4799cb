#!/usr/bin/env bash
# libfuse's hello_ll, unmodified, over fuse-wb and over mainline fuse.
. "$(dirname "$0")/lib.sh"
for kind in fuse-wb mainline; do
  m=$SCRATCH/hello-$kind
  mount_server $kind "$m" "$m" -- "$EXBIN/hello_ll" -f %m
  ls -l "$m" > "$SCRATCH/hello-$kind.ls" || fail "ls on $kind"
  [ "$(cat "$m/hello")" = "Hello World!" ] || fail "hello content on $kind"
  [ "$(stat -c %s "$m/hello")" = 13 ] || fail "hello size on $kind"
  [ "$(errno_of stat "$m/nothere")" = ENOENT ] || fail "stat of a missing name on $kind"
  df "$m" > /dev/null || fail "statfs on $kind"
  unmount "$m"
done
diff "$SCRATCH/hello-fuse-wb.ls" "$SCRATCH/hello-mainline.ls" || fail "listings differ"
