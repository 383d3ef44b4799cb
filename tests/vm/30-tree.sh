#!/usr/bin/env bash
# libfuse's passthrough_ll, unmodified, over a backing tree: every file,
# symlink and directory reads back identical (content and metadata), on
# fuse-wb and on mainline fuse.
. "$(dirname "$0")/lib.sh"
B=$SCRATCH/backing
rm -rf "$B"; mkdir -p "$B/a/b/c/d" "$B/dir1000"
for n in 0 1 4095 4096 4097 $((1024 * 1024 + 7)); do
  head -c $n /dev/urandom > "$B/f$n"
done
truncate -s 10M "$B/sparse"
printf 'x' | dd of="$B/sparse" bs=1 seek=$((5 * 1024 * 1024)) conv=notrunc status=none
echo nested > "$B/a/b/c/d/file"
ln -s f4096 "$B/rel-link"
ln -s "$B/f1" "$B/abs-link"
ln -s does-not-exist "$B/dangling"
ln -s a/b "$B/dir-link"
mkfifo "$B/fifo"
chmod 0640 "$B/f1"; chmod 0755 "$B/f0"; chown 65534:65534 "$B/f4095"
touch -d '2001-02-03 04:05:06.123456789' "$B/f4097"
( cd "$B/dir1000" && for i in $(seq 1000); do echo $i > "entry-$i"; done )

listing() { # DIR: one line per entry with its metadata
  (cd "$1" && find . -printf '%p %y %m %s %n %U %G %T@ %l\n' | LC_ALL=C sort)
}
listing "$B" > "$SCRATCH/tree.want"

for kind in fuse-wb mainline; do
  m=$SCRATCH/tree-$kind
  mount_server $kind "$m" "$m" -- "$EXBIN/passthrough_ll" -f -o source="$B" %m
  listing "$m" > "$SCRATCH/tree.$kind" || fail "listing on $kind"
  diff "$SCRATCH/tree.want" "$SCRATCH/tree.$kind" > "$SCRATCH/tree.diff" || {
    head -20 "$SCRATCH/tree.diff"; fail "metadata differs from the backing tree on $kind"; }
  diff -r --no-dereference -x fifo "$B" "$m" || fail "contents differ on $kind"
  # Reads in odd sizes and offsets (read_folio and readahead paths).
  big=f$((1024 * 1024 + 7))
  for bs in 4095 4096 65536 1000000; do
    dd if="$m/$big" bs=$bs status=none | cmp - "$B/$big" || fail "dd bs=$bs differs on $kind"
  done
  # Byte-sized reads across a page boundary, and reads at odd offsets.
  cmp <(dd if="$m/$big" bs=1 skip=4000 count=200 status=none) \
      <(dd if="$B/$big" bs=1 skip=4000 count=200 status=none) || fail "bs=1 reads differ on $kind"
  cmp <(dd if="$m/$big" bs=4097 skip=100 status=none) \
      <(dd if="$B/$big" bs=4097 skip=100 status=none) || fail "reads at odd offsets differ on $kind"
  dd if="$m/sparse" bs=1 skip=$((5 * 1024 * 1024)) count=1 status=none | grep -q x || fail "sparse byte on $kind"
  [ "$(readlink "$m/rel-link")" = f4096 ] || fail "readlink on $kind"
  [ "$(cat "$m/dir-link/c/d/file")" = nested ] || fail "path through a symlink on $kind"
  [ "$(ls "$m/dir1000" | wc -l)" = 1000 ] || fail "ls of 1000 entries on $kind"
  stat -f "$m" > /dev/null || fail "statfs on $kind"
  # Evict every inode (FORGET / BATCH_FORGET to the server), then look the
  # whole tree up again.
  echo 2 > /proc/sys/vm/drop_caches
  listing "$m" | diff -q "$SCRATCH/tree.want" - > /dev/null || fail "tree differs after dropping caches on $kind"
  # Without allow_other only the mounting user may look.
  [ "$(errno_of setpriv --reuid=65534 --regid=65534 --clear-groups stat "$m/f1")" = EACCES ] ||
    fail "another user could stat without allow_other on $kind"
  unmount "$m"
  note "$kind: $(wc -l < "$SCRATCH/tree.$kind") entries identical"
done

# max_read bounds READ requests; default_permissions and allow_other.
m=$SCRATCH/tree-opts
mount_server fuse-wb "$m" -o max_read=8192,default_permissions,allow_other "$m" -- \
  "$EXBIN/passthrough_ll" -f -o source="$B" %m
diff -r --no-dereference -x fifo "$B" "$m" || fail "contents differ with max_read=8192"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
[ "$(errno_of as_nobody cat "$m/f4096")" = ok ] || fail "nobody cannot read a 0644 file with allow_other"
[ "$(errno_of as_nobody cat "$m/f1")" = EACCES ] || fail "nobody can read a 0640 root file (default_permissions)"
unmount "$m"

# A READDIRPLUS entry whose name the dcache holds for another node (the
# file was replaced behind the mount's back) replaces the stale dentry with
# the entry it names, as mainline's fuse_direntplus_link retries: the stat
# after the listing needs no LOOKUP and shows the new file. (It used to
# drop the stale dentry and give the entry back with FORGET.)
m=$SCRATCH/tree-plus
B2=$SCRATCH/backing-plus
rm -rf "$B2"; mkdir -p "$B2"
echo old > "$B2/swapped"
mount_server fuse-wb "$m" "$m" -- "$EXBIN/passthrough_ll" -f -o timeout=3600 -o source="$B2" %m
stats=$(conn_dir "$m")/stats
opcount() { awk -v k="op.$1.count" '$1 == k { v = $2 } END { print v + 0 }' "$stats"; }
old_ino=$(stat -c %i "$m/swapped") || fail "stat of swapped"
echo new > "$B2/swapped.new" && mv "$B2/swapped.new" "$B2/swapped"
ls "$m" > /dev/null || fail "ls of the plus mount"
[ "$(opcount READDIRPLUS)" -gt 0 ] || fail "passthrough_ll was not sent READDIRPLUS"
l0=$(opcount LOOKUP)
new_ino=$(stat -c %i "$m/swapped") || fail "stat of swapped after the listing"
l1=$(opcount LOOKUP)
[ "$l1" = "$l0" ] || fail "the stat after READDIRPLUS named the replaced file sent LOOKUP ($l0 -> $l1)"
[ "$new_ino" != "$old_ino" ] || fail "swapped still shows the old inode $old_ino"
[ "$(cat "$m/swapped")" = new ] || fail "swapped reads the old contents"
unmount "$m"
note "READDIRPLUS replaced a stale dentry: inode $old_ino -> $new_ino without a LOOKUP"
