#!/usr/bin/env bash
# Everyday use of a write-back mount: `cp -a` of a source tree (the first
# EVERYDAY_FILES, default 200, of the test kernel's fs/ and include/linux/
# sources under 8 KiB; all 3200 of them take over 10 minutes a run under
# TCG with the debug kernel), `git init && git add -A && git commit` in it, `tar` of it back out, `diff -r` against the source, then
# `rm -rf` of it. Through libfuse's passthrough_ll (-o writeback) over a
# tmpfs backing, on fuse-wb (allow_wbcache) and on mainline write-back in
# the same VM: both must end with the same tree and an empty backing
# directory; the time of each step is printed for both (not judged).
. "$(dirname "$0")/lib.sh"
PT=$EXBIN/passthrough_ll
KDIR=${KDIR:-$("$ROOT/scripts/build-kernel" --print-kdir 2>/dev/null)}
[ -d "$KDIR/fs" ] || fail "no test kernel tree for the source files (KDIR=$KDIR)"
command -v git > /dev/null || fail "git is not installed (scripts/setup installs it)"

# The source tree, copied to the VM's tmpfs first (the 9p root is slow and
# would be timed instead of the mount).
src=$SCRATCH/everyday-src
rm -rf "$src"
mkdir -p "$src"
(cd "$KDIR" && find fs include/linux -type f \( -name '*.[ch]' -o -name Kconfig -o -name Makefile \) \
  -size -8k -print0 | LC_ALL=C sort -z | head -z -n "${EVERYDAY_FILES:-200}" |
  tar --null -T - -cf -) | tar -C "$src" -xf - || fail "copying the source tree failed"
# Symbolic links, an empty directory and modes, for cp -a and tar.
ln -s fuse/file.c "$src/fs/link-to-fuse-file"
mkdir -p "$src/fs/empty-dir"
chmod 0750 "$src/fs"
files=$(find "$src" -type f | wc -l)
bytes=$(du -sb "$src" | cut -f1)
note "source: $files files, $((bytes / 1024)) KiB"
# (Light compression: zlib under TCG would be most of the time.)
g=(git -c user.name=fuse-wb -c user.email=fuse-wb@localhost -c init.defaultBranch=main
  -c gc.auto=0 -c core.compression=1)

# step NAME CMD...: runs CMD and appends "NAME seconds" to $times.
step() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" || fail "$run: $name failed"
  t1=$(date +%s.%N)
  times+="$(awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.1f", n, b - a }') | "
}

for run in fuse-wb:wb mainline:wb; do
  kind=${run%:*}
  m=$SCRATCH/everyday-$kind
  b=$SCRATCH/everyday-backing
  out=$SCRATCH/everyday-out
  rm -rf "$b" "$out"
  mkdir -p "$b" "$out"
  mopts=()
  [ $kind = fuse-wb ] && mopts=(-o allow_wbcache)
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$PT" -f -o writeback -o source="$b" %m
  times=""
  step cp cp -a "$src" "$m/tree"
  step git sh -c 'cd "$1/tree" && shift && "$@" init -q && "$@" add -A && "$@" commit -q -m tree' \
    - "$m" "${g[@]}"
  step tar tar -C "$m" -cf "$out/tree.tar" tree
  step untar tar -C "$out" -xf "$out/tree.tar"
  diff -r --no-dereference -x .git "$src" "$out/tree" || fail "$run: the tree read back differs (above)"
  [ -z "$(cd "$m/tree" && "${g[@]}" status --porcelain)" ] || fail "$run: git status is not clean"
  n=$(cd "$m/tree" && "${g[@]}" ls-files | wc -l)
  [ "$n" = "$((files + 1))" ] || fail "$run: git has $n files, expected $((files + 1))"
  (cd "$m/tree" && "${g[@]}" fsck --no-dangling --no-progress) || fail "$run: git fsck failed"
  step rm rm -rf "$m/tree"
  [ -z "$(ls -A "$m")" ] || fail "$run: the mount is not empty after rm -rf"
  unmount "$m"
  [ -z "$(ls -A "$b")" ] || fail "$run: the backing directory is not empty after rm -rf"
  note "$run: ${times% | } (seconds)"
  rm -rf "$out"
done
