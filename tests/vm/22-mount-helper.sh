#!/usr/bin/env bash
# mount.fuse-wb, the mount(8) helper: `mount -t fuse-wb.SERVER` and the
# fstab line, the server started detached, options split between the kernel
# and the server, and failures reported with nothing left mounted.
. "$(dirname "$0")/lib.sh"
H=/sbin/mount.fuse-wb
ln -sf "$BIN/fusewb-mount" "$H" || fail "cannot install $H in the VM"
# mount(8) runs helpers with its own PATH: the server goes where it looks.
ln -sf "$EXBIN/passthrough_ll" /usr/local/bin/passthrough_ll || fail "cannot install passthrough_ll in the VM"
m=$SCRATCH/helper
mkdir -p "$m" "$SCRATCH/helper-back"
echo data > "$SCRATCH/helper-back/f"

# server_pid MNT: the pid of the passthrough_ll serving MNT (none: empty).
server_pid() { pgrep -f "passthrough_ll.*source=$SCRATCH/helper-back" || true; }

# 1. mount -t fuse-wb.SERVER: mount(8) finds /sbin/mount.fuse-wb, passes
#    -t; kernel options stay on the mount, the rest goes to the server.
mount -t fuse-wb.passthrough_ll none "$m" \
  -o allow_other,default_permissions,allow_wbcache,source=$SCRATCH/helper-back,writeback,noauto,x-test.x=1 ||
  fail "mount -t fuse-wb.passthrough_ll failed"
line=$(grep " $m " /proc/mounts) || fail "not mounted after the helper returned"
note "$line"
case "$line" in
  "none $m fuse-wb.passthrough_ll rw,nosuid,nodev,"*) ;;
  *) fail "unexpected mount line: $line" ;;
esac
for o in allow_wbcache allow_other default_permissions; do
  [[ $line == *$o* ]] || fail "option $o is not on the mount"
done
[[ $line == *source=* || $line == *noauto* || $line == *x-test* ]] && fail "a server or fstab option reached the kernel: $line"
[ "$(cat "$m/f")" = data ] || fail "the server does not serve the source"
pid=$(server_pid)
[ -n "$pid" ] || fail "no detached server"
ps -o pid=,sid=,args= -p "$pid" | awk -v p="$pid" '$1 == p && $2 == p {ok = 1} END {exit !ok}' ||
  fail "the server is not in its own session: $(ps -o pid,sid,args -p "$pid")"
echo more >> "$m/f"
umount "$m" || fail "umount failed"
for _ in $(seq 100); do [ -z "$(server_pid)" ] && break; sleep 0.1; done
[ -z "$(server_pid)" ] || fail "the server is still running after umount"
[ "$(cat "$SCRATCH/helper-back/f")" = "$(printf 'data\nmore')" ] || fail "data written through the helper's mount is missing"

# 2. An fstab line (mount MOUNTPOINT), server named by SOURCE's SERVER# prefix.
echo "passthrough_ll#none $m fuse-wb allow_other,source=$SCRATCH/helper-back,noauto 0 0" >> /etc/fstab
mount "$m" || fail "mount through /etc/fstab failed"
grep -q " $m fuse-wb.passthrough_ll " /proc/mounts || fail "fstab mount: $(grep " $m " /proc/mounts)"
[ "$(head -1 "$m/f")" = data ] || fail "fstab mount does not serve"
umount "$m" || fail "umount of the fstab mount failed"
# /etc/fstab may be a bind mount in the VM: rewrite it in place.
grep -v "^passthrough_ll#none $m " /etc/fstab > "$SCRATCH/fstab" && cat "$SCRATCH/fstab" > /etc/fstab

# 3. Failures: a server that does not exist, one that exits at once, one
#    that rejects its options: the helper fails and nothing stays mounted.
for bad in "fuse-wb.no-such-server" "fuse-wb.false"; do
  out=$(mount -t "$bad" none "$m" 2>&1) && fail "mount -t $bad succeeded"
  note "$bad: $out"
  grep -q " $m " /proc/mounts && fail "$bad left a mount behind"
done
out=$(mount -t fuse-wb.passthrough_ll none "$m" -o no_such_server_option 2>&1) &&
  fail "a server rejecting its options was mounted"
note "bad server option: $out"
grep -q " $m " /proc/mounts && fail "a failed server left a mount behind"
[[ $out == *"does not answer"* ]] || fail "no reason given: $out"
$H none "$m" -t fuse-wb.passthrough_ll -f -o allow_wbcache,source=/x | grep -q 'server argv: passthrough_ll /dev/fd/[0-9]* -f -o source=/x' ||
  fail "-f (fake) does not show the server's command line"
grep -q " $m " /proc/mounts && fail "-f mounted"
true
