#!/usr/bin/env bash
# The module: registration, /dev/fuse-wb, load/unload cycles, rmmod refused
# while in use, mount option errors naming the option.
. "$(dirname "$0")/lib.sh"
KO=${FUSEWB_KO:-$ROOT/fuse_wb.ko}

grep -qw 'fuse-wb' /proc/filesystems || fail "fuse-wb not in /proc/filesystems"
[ -c /dev/fuse-wb ] || fail "/dev/fuse-wb missing"
[ "$(stat -c %a /dev/fuse-wb)" = 666 ] || fail "/dev/fuse-wb mode is not 0666"
[ -d /sys/fs/fuse-wb/connections ] || fail "/sys/fs/fuse-wb/connections missing"

# rmmod is refused while a device file is open...
exec 7<>/dev/fuse-wb
rmmod fuse_wb 2>/dev/null && fail "rmmod succeeded with /dev/fuse-wb open"
exec 7>&-
# ... and while something is mounted.
mount_server fuse-wb "$SCRATCH/m" "$SCRATCH/m" -- "$EXBIN/hello_ll" -f %m
rmmod fuse_wb 2>/dev/null && fail "rmmod succeeded while mounted"
unmount "$SCRATCH/m"

for i in 1 2 3; do
  rmmod fuse_wb || fail "rmmod (cycle $i)"
  grep -qw 'fuse-wb' /proc/filesystems && fail "fuse-wb still registered after rmmod"
  insmod "$KO" || fail "insmod (cycle $i)"
done
note "3 unload/load cycles"

# Mount options: each error fails with EINVAL and names the option.
mkdir -p "$SCRATCH/o"
exec 8<>/dev/fuse-wb
check_opt() { # expected-message options
  local want=$1 opts=$2 out
  dmesg -C
  if out=$(mount -i -t fuse-wb -o "$opts" fuse-wb "$SCRATCH/o" 2>&1); then
    umount "$SCRATCH/o"; fail "mount -o $opts succeeded"
  fi
  dmesg | grep -q -- "$want" || fail "mount -o $opts: no '$want' in the kernel log (got: $out / $(dmesg | tail -2))"
  note "-o $opts -> $want"
}
base=rootmode=40000,user_id=0,group_id=0
check_opt "missing option fd" "$base"
check_opt "missing option rootmode" "fd=8,user_id=0,group_id=0"
check_opt "missing option user_id" "fd=8,rootmode=40000,group_id=0"
check_opt "missing option group_id" "fd=8,rootmode=40000,user_id=0"
check_opt "invalid value for option rootmode" "fd=8,rootmode=644,user_id=0,group_id=0"
check_opt "invalid value for option fd" "fd=x,$base"
check_opt "invalid value for option blksize" "fd=8,$base,blksize=1000"
check_opt "invalid value for option max_read" "fd=8,$base,max_read=-1"
check_opt "option allow_other takes no value" "fd=8,$base,allow_other=1"
check_opt "Unknown parameter 'bogus'" "fd=8,$base,bogus"
check_opt "option fd: not an open /dev/fuse-wb" "fd=0,$base"
check_opt "option fd: not an open file descriptor" "fd=99,$base"
# A valid set mounts (nobody serves it: unmount right away).
mount -i -t fuse-wb -o "fd=8,$base,default_permissions,allow_other,max_read=65536,blksize=4096,allow_wbcache" \
  fuse-wb "$SCRATCH/o" || fail "mount with every option failed"
grep " $SCRATCH/o " /proc/mounts
check_opt "already serves a mount" "fd=8,$base"
# Closing the last device fd aborts the connection; then unmount works.
exec 8>&-
[ "$(errno_of stat "$SCRATCH/o")" = ENOTCONN ] || fail "stat of an aborted mount is not ENOTCONN"
umount "$SCRATCH/o" || fail "umount of an aborted mount failed"
