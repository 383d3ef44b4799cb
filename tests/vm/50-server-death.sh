#!/usr/bin/env bash
# The server dies (SIGKILL) while a reader waits: the reader fails promptly
# with ENOTCONN, unmount works, the module unloads. A reader killed while the
# server holds its request does not wait for the server. Abort through the
# control directory and umount -f end waiters too.
. "$(dirname "$0")/lib.sh"
KO=${FUSEWB_KO:-$ROOT/fuse_wb.ko}
m=$SCRATCH/death

wait_waiting() { # CONNDIR N: until N requests wait for the server
  local i
  for ((i = 0; i < 300; i++)); do
    [ "$(cat "$1/waiting")" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "no request waiting in $1"
}
server_pid() { pgrep -P "$LAST_MOUNT_PID" | head -1; }

# 1. Reader killed with SIGKILL while the server holds its READ.
mount_server fuse-wb "$m" "$m" -- "$BIN/fusewb-badserver" --log /dev/null %m
cd_=$(conn_dir "$m")
cat "$m/hang" > /dev/null 2>&1 &
reader=$!
wait_waiting "$cd_" 1
kill -9 $reader
for ((i = 0; i < 100; i++)); do kill -0 $reader 2>/dev/null || break; sleep 0.1; done
kill -0 $reader 2>/dev/null && fail "a SIGKILLed reader still waits for the server"
note "killed reader left within $((i / 10)).$((i % 10))s"

# 2. A caught signal while the server holds the request: the kernel sends
# INTERRUPT and goes on waiting (killably) for the reply.
log=$SCRATCH/death.log
kill -9 "$(server_pid)"; wait_unmounted "$m"; wait "$LAST_MOUNT_PID" 2>/dev/null
mount_server fuse-wb "$m" "$m" -- "$BIN/fusewb-badserver" --log "$log" %m
cd_=$(conn_dir "$m")
python3 -c '
import os, signal, sys
signal.signal(signal.SIGUSR1, lambda *a: None)
os.read(os.open(sys.argv[1], os.O_RDONLY), 100)
' "$m/hang" 2>/dev/null &
reader=$!
wait_waiting "$cd_" 1
kill -USR1 $reader
for ((i = 0; i < 100; i++)); do grep -q "INTERRUPT of request" "$log" && break; sleep 0.1; done
grep -q "INTERRUPT of request" "$log" || fail "no INTERRUPT reached the server after a caught signal"
kill -0 $reader 2>/dev/null || fail "the interrupted reader stopped waiting for the reply"
kill -9 $reader; wait $reader 2>/dev/null
note "caught signal: INTERRUPT sent, reader kept waiting, SIGKILL ended it"

# 3. Server killed while a reader waits.
out=$SCRATCH/death.out
( errno_of cat "$m/hang" > "$out" ) &
reader=$!
wait_waiting "$cd_" 1
start=$(date +%s%N)
kill -9 "$(server_pid)"
wait $reader
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(cat "$out")" = ENOTCONN ] || fail "reader got $(cat "$out") after the server died, expected ENOTCONN"
[ $ms -lt 10000 ] || fail "reader took ${ms}ms to notice the dead server"
note "reader failed with ENOTCONN ${ms}ms after the server died"
wait_unmounted "$m"
wait "$LAST_MOUNT_PID" 2>/dev/null

# 4. Abort through /sys/fs/fuse-wb/connections/N/abort.
mount_server fuse-wb "$m" "$m" -- "$BIN/fusewb-badserver" --log /dev/null %m
cd_=$(conn_dir "$m")
( errno_of cat "$m/hang" > "$out" ) &
reader=$!
wait_waiting "$cd_" 1
# Hold the mount's root open: the server exits on abort (ENODEV) and the
# mount helper then unmounts, lazily while this is open.
exec 9<"$m"
echo 1 > "$cd_/abort"
wait $reader
[ "$(cat "$out")" = ENOTCONN ] || fail "reader got $(cat "$out") after abort, expected ENOTCONN"
got=$(errno_of stat /dev/fd/9/short-header)
[ "$got" = ENOTCONN ] || fail "a new request after abort gave $got, expected ENOTCONN"
exec 9<&-
wait_unmounted "$m"
wait "$LAST_MOUNT_PID" 2>/dev/null
note "sysfs abort: waiter and new requests get ENOTCONN"

# 5. umount -f aborts too.
mount_server fuse-wb "$m" "$m" -- "$BIN/fusewb-badserver" --log /dev/null %m
cd_=$(conn_dir "$m")
( errno_of cat "$m/hang" > "$out" ) &
reader=$!
wait_waiting "$cd_" 1
umount -f "$m" 2>/dev/null
wait $reader
[ "$(cat "$out")" = ENOTCONN ] || fail "reader got $(cat "$out") after umount -f"
umount "$m" 2>/dev/null; umount -l "$m" 2>/dev/null
wait_unmounted "$m"
wait "$LAST_MOUNT_PID" 2>/dev/null
note "umount -f: waiter gets ENOTCONN"

rmmod fuse_wb || fail "rmmod after the server deaths"
insmod "$KO" || fail "insmod again"
