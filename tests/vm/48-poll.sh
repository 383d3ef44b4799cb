#!/usr/bin/env bash
# POLL and NOTIFY_POLL with libfuse's poll example (16 files that gain a
# byte now and then, the server notifying pollers) and its poll_client
# (16 rounds of select(2) over all of them, reading each file reported
# ready), on fuse-wb and mainline: every round must end (wakeups arrive)
# and every file reported ready must have data (the server's answer, not
# "always ready", is used).
. "$(dirname "$0")/lib.sh"
for ex in poll poll_client; do
  [ -x "$EXBIN/$ex" ] || fail "$EXBIN/$ex missing (tests/run-checks builds it)"
done

for kind in mainline fuse-wb; do
  m=$SCRATCH/poll-$kind
  # (The example prints a line per poll and notification.)
  mount_server $kind "$m" "$m" -- bash -c 'exec "$0" "$@" > /dev/null' "$EXBIN/poll" -f %m
  out=$SCRATCH/poll.$kind
  (cd "$m" && timeout 120 "$EXBIN/poll_client") > "$out" 2>&1 ||
    { cat "$out"; fail "$kind: poll_client failed or did not end"; }
  unmount "$m"
  rounds=$(grep -c . "$out")
  [ "$rounds" = 16 ] || { cat "$out"; fail "$kind: $rounds rounds, expected 16"; }
  # A ready file read 0 bytes: it was not ready.
  if grep -qE '[0-9A-F]:00 ' "$out"; then
    cat "$out"
    fail "$kind: a file reported ready had no data"
  fi
  ready=$(grep -oE '[0-9A-F]:[0-9]+' "$out" | wc -l)
  note "$kind: 16 select rounds, $ready files ready in all, each with data"
done
