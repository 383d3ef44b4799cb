#!/usr/bin/env bash
# Extended attributes: GETXATTR, SETXATTR, LISTXATTR, REMOVEXATTR through
# libfuse's passthrough_ll (-o xattr) over a tmpfs backing, on fuse-wb
# (write-through and write-back; mainline too with XATTR_MAINLINE=1, passed
# with VM_RUN_ENV): every result equals what tmpfs itself gives, and the values reach the backing files. A server
# without xattr support (the reference server) gives EOPNOTSUPP, and keeps
# giving it without being asked again.
. "$(dirname "$0")/lib.sh"
PT=$EXBIN/passthrough_ll
[ -x "$PT" ] || fail "$PT missing (tests/run-checks builds it)"

# checks DIR: set, get, list and remove attributes in DIR; prints results.
checks() {
  python3 - "$1" << 'EOF'
import ctypes, errno, os, sys
d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
def res(f):
    try:
        r = f()
        return "ok" if r is None else repr(r)
    except OSError as e:
        return errno.errorcode[e.errno]
def getsize(path, name):
    r = libc.getxattr(path.encode(), name.encode(), None, 0)
    return r if r >= 0 else errno.errorcode[ctypes.get_errno()]
def getsmall(path, name, n):
    buf = ctypes.create_string_buffer(n)
    r = libc.getxattr(path.encode(), name.encode(), buf, n)
    return buf.raw[:r] if r >= 0 else errno.errorcode[ctypes.get_errno()]
f = os.path.join(d, "file")
sub = os.path.join(d, "dir")
with open(f, "w") as fh:
    fh.write("data\n")
os.mkdir(sub)
big = bytes(range(256)) * 16
out = []
out.append(("set user.a", res(lambda: os.setxattr(f, "user.a", b"hello"))))
out.append(("get user.a", res(lambda: os.getxattr(f, "user.a"))))
out.append(("size of user.a", getsize(f, "user.a")))
out.append(("user.a into 2 bytes", getsmall(f, "user.a", 2)))
out.append(("set big", res(lambda: os.setxattr(f, "user.big", big))))
out.append(("get big", res(lambda: os.getxattr(f, "user.big") == big)))
out.append(("empty value", res(lambda: os.setxattr(f, "user.empty", b""))))
out.append(("get empty", res(lambda: os.getxattr(f, "user.empty"))))
out.append(("create existing", res(lambda: os.setxattr(f, "user.a", b"x", os.XATTR_CREATE))))
out.append(("replace missing", res(lambda: os.setxattr(f, "user.nope", b"x", os.XATTR_REPLACE))))
out.append(("replace", res(lambda: os.setxattr(f, "user.a", b"bye", os.XATTR_REPLACE))))
out.append(("get replaced", res(lambda: os.getxattr(f, "user.a"))))
out.append(("list", res(lambda: sorted(os.listxattr(f)))))
out.append(("get missing", res(lambda: os.getxattr(f, "user.nope"))))
out.append(("remove", res(lambda: os.removexattr(f, "user.a"))))
out.append(("remove missing", res(lambda: os.removexattr(f, "user.a"))))
out.append(("list after remove", res(lambda: sorted(os.listxattr(f)))))
out.append(("dir set", res(lambda: os.setxattr(sub, "user.d", b"on a dir"))))
out.append(("dir get", res(lambda: os.getxattr(sub, "user.d"))))
out.append(("bad namespace", res(lambda: os.setxattr(f, "nonsense.x", b"1"))))
for k, v in out:
    print(f"{k}: {v}")
EOF
}

ref=$SCRATCH/xattr-ref
rm -rf "$ref"
mkdir -p "$ref"
checks "$ref" > "$SCRATCH/xattr.out.ref" || fail "the checks failed on tmpfs"
grep -q "get user.a: b'hello'" "$SCRATCH/xattr.out.ref" ||
  fail "tmpfs here has no user xattrs: $(head -3 "$SCRATCH/xattr.out.ref")"

# (tmpfs is the reference; mainline on the same server: XATTR_MAINLINE=1.)
runs=(fuse-wb:wt fuse-wb:wb)
[ "${XATTR_MAINLINE:-0}" = 1 ] && runs+=(mainline:wt)
for run in "${runs[@]}"; do
  kind=${run%:*} mode=${run#*:}
  m=$SCRATCH/xattr-$kind-$mode
  b=$SCRATCH/xattr-backing
  rm -rf "$b"
  mkdir -p "$b"
  mopts=() popts=(-o xattr)
  if [ $mode = wb ]; then
    popts=(-o xattr,writeback)
    mopts=(-o allow_wbcache)
  fi
  mount_server $kind "$m" "${mopts[@]}" "$m" -- "$PT" -f "${popts[@]}" -o source="$b" %m
  checks "$m" > "$SCRATCH/xattr.out.$run" 2>&1 || fail "the checks failed on $run"
  diff "$SCRATCH/xattr.out.ref" "$SCRATCH/xattr.out.$run" || fail "$run: results differ from tmpfs (above)"
  unmount "$m"
  # The values are on the backing files (one python: each start reads the
  # interpreter from the VM's slow 9p root).
  r=$(python3 -c 'import os,sys
print(os.getxattr(sys.argv[1], "user.big") == bytes(range(256)) * 16, os.getxattr(sys.argv[2], "user.d"))' \
    "$b/file" "$b/dir")
  [ "$r" = "True b'on a dir'" ] || fail "$run: the values did not reach the backing files ($r)"
  note "$run: $(wc -l < "$SCRATCH/xattr.out.ref") results as on tmpfs"
done

# A server without xattrs: EOPNOTSUPP, remembered.
for kind in fuse-wb mainline; do
  m=$SCRATCH/xattr-none-$kind
  b=$SCRATCH/xattr-none-backing
  rm -rf "$b"
  mkdir -p "$b"
  echo x > "$b/f"
  mount_server $kind "$m" "$m" -- "$BIN/fusewb-refserver" --source "$b" %m
  # Two rounds in one python: the answer stays EOPNOTSUPP.
  r=$(python3 -c '
import errno, os, sys
for i in (1, 2):
    for f in (lambda: os.setxattr(sys.argv[1], "user.a", b"1"), lambda: os.getxattr(sys.argv[1], "user.a"),
              lambda: os.listxattr(sys.argv[1]), lambda: os.removexattr(sys.argv[1], "user.a")):
        try:
            f(); print("ok", end=" ")
        except OSError as e:
            # EOPNOTSUPP and ENOTSUP are one number on Linux.
            print("EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else errno.errorcode[e.errno], end=" ")
' "$m/f")
  [ "$r" = "$(printf 'EOPNOTSUPP %.0s' 1 2 3 4 5 6 7 8)" ] || fail "$kind: without server support: $r"
  unmount "$m"
  note "$kind: no xattr support in the server: EOPNOTSUPP"
done
