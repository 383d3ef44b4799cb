#!/usr/bin/env bash
# A misbehaving server: every malformed reply is refused with EINVAL on the
# server's write(2) (a READ reply from unmapped memory, read-efault, with
# EFAULT) and the caller sees ENOENT (the request stays pending and gets a
# proper reply) or EIO (the request fails). The kernel stays clean
# (scripts/vm-run checks the log).
. "$(dirname "$0")/lib.sh"
m=$SCRATCH/bad
log=$SCRATCH/badserver.log
# --async-read: readahead READs are background ones (read-efault's first
# reply goes straight into the page cache).
mount_server fuse-wb "$m" "$m" -- "$BIN/fusewb-badserver" --log "$log" --async-read %m
n=0
while read -r name class op; do
  [ "$class" = hang ] && continue
  case $class in H) want=ENOENT ;; P) want=EIO ;; N) want=ok ;; *) fail "unknown class $class" ;; esac
  case $op in
    stat) got=$(errno_of stat "$m/$name") ;;
    cat) got=$(errno_of cat "$m/$name") ;;
    ls) got=$(errno_of ls "$m/$name") ;;
    readlink) got=$(errno_of readlink -v "$m/$name") ;;
    mkdir) got=$(errno_of mkdir "$m/$name/new") ;;
    symlink) got=$(errno_of ln -s target "$m/$name/new") ;;
    link) got=$(errno_of ln "$m/read-oversized" "$m/$name/new") ;;
    rename) got=$(errno_of mv -T "$m/$name" "$m/$name.new") ;;
    rmdir) got=$(errno_of rmdir "$m/$name") ;;
    unlink) got=$(errno_of unlink "$m/$name") ;;
    *) fail "unknown operation $op" ;;
  esac
  [ "$got" = "$want" ] || fail "$name: $op gave $got, expected $want"
  n=$((n + 1))
done < <("$BIN/fusewb-badserver" --list)
# Still serving correctly after all that.
ls "$m" > /dev/null || fail "ls after the malformed replies"
unmount "$m"
cat "$log" | tail -3
grep -q "MISMATCH" "$log" && { grep MISMATCH "$log"; fail "the server saw unexpected write(2) results"; }
grep -q ", 0 mismatched" "$log" || fail "no clean summary from the server"
# With --async-read, the first is a readahead READ, whose reply
# the kernel copies straight into the page cache; the retry of the page is
# a READ of its own.
nf=$(grep -c "read-efault: .*-> EFAULT (expected EFAULT) ok" "$log")
[ "$nf" -ge 2 ] || fail "read-efault: $nf READ replies from unmapped memory refused with EFAULT, expected 2 (readahead, then the page's own READ)"
note "read-efault: $nf READ replies from unmapped memory refused with EFAULT"
note "$n malformed-reply scenarios refused"
