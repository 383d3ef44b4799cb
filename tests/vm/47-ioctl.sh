#!/usr/bin/env bash
# IOCTL, restricted as on mainline: libfuse's ioctl example (a file whose
# size is read and set with FIOC_GET_SIZE and FIOC_SET_SIZE) driven by its
# ioctl_client, on fuse-wb and mainline: the values go both ways, an
# ioctl the server refuses fails with its error (on a file and on a
# directory, FUSE_IOCTL_DIR), and a server without
# IOCTL (the reference server) gives ENOTTY.
. "$(dirname "$0")/lib.sh"
for ex in ioctl ioctl_client; do
  [ -x "$EXBIN/$ex" ] || fail "$EXBIN/$ex missing (tests/run-checks builds it)"
done

# probe FILE: an ioctl the example does not know (_IOR('E', 9, size_t)),
# prints ok or the errno name (FILE may be a directory: opened read-only).
probe() {
  python3 - "$1" << 'PY'
import errno, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY if os.path.isdir(sys.argv[1]) else os.O_RDWR)
try:
    fcntl.ioctl(fd, (2 << 30) | (8 << 16) | (ord("E") << 8) | 9, bytes(8))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

for kind in mainline fuse-wb; do
  m=$SCRATCH/ioctl-$kind
  mount_server $kind "$m" "$m" -- "$EXBIN/ioctl" -f %m
  a=$("$EXBIN/ioctl_client" "$m/fioc") || fail "$kind: FIOC_GET_SIZE failed"
  "$EXBIN/ioctl_client" "$m/fioc" 12345 || fail "$kind: FIOC_SET_SIZE failed"
  b=$("$EXBIN/ioctl_client" "$m/fioc") || fail "$kind: FIOC_GET_SIZE failed"
  [ "$a/$b" = "0/12345" ] || fail "$kind: sizes $a then $b, expected 0 then 12345"
  r=$(probe "$m/fioc")
  [ "$r" = EINVAL ] || fail "$kind: an ioctl the server refuses gave $r, expected EINVAL"
  # On the root directory (FUSE_IOCTL_DIR): the example refuses it too.
  rd=$(probe "$m")
  [ "$rd" = EINVAL ] || fail "$kind: an ioctl on a directory gave $rd, expected the server's EINVAL"
  unmount "$m"
  b2=$SCRATCH/ioctl-backing
  rm -rf "$b2"
  mkdir -p "$b2"
  echo x > "$b2/f"
  mount_server $kind "$m" "$m" -- "$BIN/fusewb-refserver" --source "$b2" %m
  r=$(probe "$m/f")
  unmount "$m"
  [ "$r" = ENOTTY ] || fail "$kind: ioctl on a server without IOCTL gave $r, expected ENOTTY"
  note "$kind: FIOC_GET_SIZE $a, FIOC_SET_SIZE 12345, FIOC_GET_SIZE $b; refused: EINVAL (on the directory too); no IOCTL: ENOTTY"
done
