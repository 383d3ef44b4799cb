#!/usr/bin/env bash
# xfstests in the test VM (started by tests/xfstests/run through scripts/vm-run):
# the user's built xfstests tree (XFSTESTS) in FUSE mode (FSTYP=fuse with a
# subtype, its README.fuse), with libfuse's passthrough_ll over tmpfs on
#   mainline      /dev/fuse, passthrough_ll mounting itself (README.fuse's helper)
#   fuse-wb:wt    /dev/fuse-wb through mount.fuse-wb, write-through
#   fuse-wb:wb    the same with allow_wbcache and passthrough_ll -o writeback
# Each configuration's check output goes to tests/out/xfstests/CONFIG.out and
# a "TEST STATUS" list to CONFIG.res (pass, fail, notrun, expunged).
set -uo pipefail
ROOT=${FUSEWB_ROOT:?run through tests/xfstests/run}
X=${XFSTESTS:?}
OUT=$ROOT/tests/out/xfstests
BIN=$ROOT/target/release
EXBIN=$ROOT/tests/out/bin
S=${FUSEWB_SCRATCH:-/tmp/fusewb-scratch}
CONFIGS=${XFSTESTS_CONFIGS:-mainline fuse-wb:wt fuse-wb:wb}
# shellcheck disable=SC2206
ARGS=(${XFSTESTS_ARGS:--g quick})
say() { echo "xfstests(vm): $*"; }
mkdir -p "$OUT"

# Debian's python3 first (a pyenv shim costs 30 s a start under TCG).
mkdir -p "$S/.bin" && ln -sf /usr/bin/python3 "$S/.bin/python3"
PATH=$S/.bin:$EXBIN:$PATH

# The users xfstests expects (/etc is a writable overlay in the VM; useradd
# cannot lock it, so the entries are appended).
for u in fsgqa:5001 fsgqa2:5002 123456-fsgqa:5003; do
  n=${u%:*} i=${u#*:}
  grep -q "^$n:" /etc/passwd && continue
  echo "$n:x:$i:$i::/tmp:/bin/bash" >> /etc/passwd
  echo "$n:x:$i:" >> /etc/group
  echo "$n:*:19000:0:99999:7:::" >> /etc/shadow
done

# xfstests writes into its own tree: give it a writable copy-on-write view.
W=$S/xfstests
mkdir -p "$W" "$S/ovl/upper" "$S/ovl/work"
mount -t overlay overlay -o "lowerdir=$X,upperdir=$S/ovl/upper,workdir=$S/ovl/work" "$W" ||
  { say "cannot overlay $X"; exit 1; }

# The mount helpers xfstests' `mount -t fuse.SUBTYPE` runs (/sbin is in the
# writable /usr overlay). mainline: README.fuse's own helper. fuse-wb: the
# project's mount.fuse-wb, passthrough_ll as its server; the source name
# (non1, non2) becomes fsname.
cat > /sbin/mount.fuse.passthrough_ll << EOS
#!/bin/bash
ulimit -n 1048576
exec $EXBIN/passthrough_ll -ofsname="\$@"
EOS
for mode in wt wb; do
  extra=
  [ $mode = wb ] && extra=,allow_wbcache,writeback
  cat > /sbin/mount.fuse.fusewb_$mode << EOS
#!/bin/bash
# mount(8) runs: mount.fuse.fusewb_$mode SOURCE MOUNTPOINT [-o OPTS]...
ulimit -n 1048576
src=\$1 mnt=\$2; shift 2
PATH=$EXBIN:\$PATH exec /sbin/mount.fuse-wb none "\$mnt" -t fuse-wb.passthrough_ll -o fsname=\$src$extra,log=$OUT/server-$mode.log "\$@"
EOS
done
ln -sf "$BIN/fusewb-mount" /sbin/mount.fuse-wb
chmod +x /sbin/mount.fuse.*

# fuse-wb's filesystem type is "fuse-wb.SUBTYPE" in /proc/mounts; xfstests
# checks that its TEST_DEV is of type $FSTYP (fuse) with `df -T`. A df first
# in PATH that shows fuse-wb (with any subtype) as fuse, as it shows mainline's passthrough_ll.
mkdir -p "$S/xbin"
cat > "$S/xbin/df" << 'EOS'
#!/bin/bash
/usr/bin/df "$@" | sed -E 's/ fuse-wb(\.[^ ]*)? / fuse /'
EOS
chmod +x "$S/xbin/df"
PATH=$S/xbin:$PATH

expunge=$S/expunge
status=0
for config in $CONFIGS; do
  case $config in
    mainline) subtype=.passthrough_ll ;;
    fuse-wb:wt) subtype=.fusewb_wt ;;
    fuse-wb:wb) subtype=.fusewb_wb ;;
    *) say "unknown configuration $config"; exit 2 ;;
  esac
  name=${config/:/-}
  cat "$ROOT"/tests/xfstests/expunge/all "$ROOT/tests/xfstests/expunge/$name" 2>/dev/null > "$expunge"
  b=$S/back-$name
  mkdir -p "$b/test" "$b/scratch" "$S/mnt/test" "$S/mnt/scratch"
  cat > "$W/local.config" << EOS
export TEST_DEV=non1
export TEST_DIR=$S/mnt/test
export SCRATCH_DEV=non2
export SCRATCH_MNT=$S/mnt/scratch
export FSTYP=fuse
export FUSE_SUBTYP=$subtype
export MOUNT_OPTIONS="-osource=$b/scratch,allow_other,default_permissions"
export TEST_FS_MOUNT_OPTS="-osource=$b/test,allow_other,default_permissions"
export RESULT_BASE=$OUT/results-$name
EOS
  say "$config: ./check ${ARGS[*]} ($(grep -cEv '^[[:space:]]*(#|$)' "$expunge") expunged)"
  start=$(date +%s)
  (cd "$W" && ./check -E "$expunge" "${ARGS[@]}") 2>&1 | tee "$OUT/$name.out"
  say "$config: check ended with status ${PIPESTATUS[0]} after $(( $(date +%s) - start )) s"
  # Leave nothing mounted for the next configuration.
  umount "$S/mnt/test" "$S/mnt/scratch" 2>/dev/null
  # "generic/001 12s ... 11s", "generic/002 [not run] why",
  # "generic/005 - output mismatch ...", "generic/006 [failed, exit status 1]...",
  # "generic/007 [expunged]".
  awk '$1 ~ /^[a-z0-9]+\/[0-9]+$/ {
         s = "pass"
         if ($0 ~ /\[not run\]/) s = "notrun"
         else if ($0 ~ /\[expunged\]/) s = "expunged"
         else if ($0 ~ /output mismatch|\[failed|_check_dmesg|_check_|- no qualified output/) s = "fail"
         print $1, s
       }' "$OUT/$name.out" | sort -u -k1,1 > "$OUT/$name.res"
  [ -s "$OUT/$name.res" ] || status=1
done
umount "$W"
exit $status
