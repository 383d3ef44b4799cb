#!/usr/bin/env bash
# Extended attributes: GETXATTR, SETXATTR, LISTXATTR, REMOVEXATTR through
# libfuse's passthrough_ll (-o xattr) over a tmpfs backing, on fuse-wb
# (write-through and write-back; mainline too with XATTR_MAINLINE=1, passed
# with VM_RUN_ENV): every result equals what tmpfs itself gives, and the values reach the backing files. A server
# without xattr support (the reference server) gives EOPNOTSUPP, and keeps
# giving it without being asked again. POSIX ACLs and the umask through the
# same server give what mainline gives.
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

# mount_pt KIND MODE MNT BACKING: passthrough_ll -o xattr of a fresh, empty
# BACKING on MNT (MODE wb: -o writeback, and allow_wbcache on fuse-wb).
mount_pt() {
  local kind=$1 mode=$2 m=$3 b=$4 mopts=() popts=(-o xattr)
  rm -rf "$b"
  mkdir -p "$b"
  if [ "$mode" = wb ]; then
    popts=(-o xattr,writeback)
    [ "$kind" = fuse-wb ] && mopts=(-o allow_wbcache)
  fi
  mount_server "$kind" "$m" "${mopts[@]}" "$m" -- "$PT" -f "${popts[@]}" -o source="$b" %m
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
  mount_pt $kind $mode "$m" "$b"
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

# POSIX ACLs through passthrough_ll (no FUSE_POSIX_ACL, no DONT_MASK): the
# kernel applies the umask itself, and getfacl/setfacl reach the server's
# backing files (tmpfs enforces and inherits them there). Every result
# equals mainline's on the same server; differences from tmpfs itself
# (the umask meets a default ACL in the kernel, not in tmpfs) are noted.
# acl_checks DIR: prints one line per step.
acl_checks() {
  (
    cd "$1" || exit 1
    umask 027
    one() { tr '\n' ' ' | sed 's/ $//'; }
    : > f && mkdir dir && mkfifo fifo
    echo "modes under umask 027: $(stat -c '%n:%a' f dir fifo | one)"
    echo "setfacl: $(setfacl -m u:65534:rw f 2>&1 && echo ok)"
    echo "getfacl: $(getfacl -cn f 2>&1 | one) mode $(stat -c %a f)"
    echo "default ACL: $(setfacl -d -m u:65534:rwx dir 2>&1 && echo ok) $(getfacl -cnd dir 2>&1 | one)"
    : > dir/g && mkdir dir/sub
    echo "inherited by a file: $(getfacl -cn dir/g 2>&1 | one) mode $(stat -c %a dir/g)"
    echo "inherited by a dir: $(getfacl -cn dir/sub 2>&1 | one) mode $(stat -c %a dir/sub)"
    echo "names: $(python3 -c 'import os; print(sorted(os.listxattr("f")))')"
    echo "setfacl -b: $(setfacl -b f 2>&1 && echo ok) $(getfacl -cn f 2>&1 | one) mode $(stat -c %a f)"
    echo "setfacl -k: $(setfacl -k dir 2>&1 && echo ok) $(getfacl -cnd dir 2>&1 | one)"
  )
}
aref=$SCRATCH/acl-ref
rm -rf "$aref"
mkdir -p "$aref"
acl_checks "$aref" > "$SCRATCH/acl.out.tmpfs" 2>&1
for run in mainline:wt fuse-wb:wt fuse-wb:wb; do
  kind=${run%:*} mode=${run#*:}
  m=$SCRATCH/acl-$kind-$mode
  mount_pt $kind $mode "$m" "$SCRATCH/acl-backing-$kind-$mode"
  acl_checks "$m" > "$SCRATCH/acl.out.$run" 2>&1
  unmount "$m"
  grep -q "^setfacl: ok" "$SCRATCH/acl.out.$run" || { cat "$SCRATCH/acl.out.$run"; fail "$run: setfacl failed (above)"; }
  if [ $run != mainline:wt ]; then
    diff "$SCRATCH/acl.out.mainline:wt" "$SCRATCH/acl.out.$run" ||
      fail "$run: ACL results differ from mainline's (above)"
  fi
  note "$run: $(wc -l < "$SCRATCH/acl.out.$run") ACL steps$([ $run = mainline:wt ] || echo ", as on mainline")"
done
diff "$SCRATCH/acl.out.tmpfs" "$SCRATCH/acl.out.mainline:wt" > "$SCRATCH/acl.diff" ||
  note "ACLs through FUSE differ from tmpfs itself (mainline too): $(grep '^>' "$SCRATCH/acl.diff" | tr '\n' ' ')"

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
