#!/usr/bin/env python3
"""Lock semantics on a mounted directory, for tests/vm/39-locks.sh.

    locks.py DIR BACKING

Runs fcntl (POSIX), OFD and flock(2) lock scenarios between this process and
forked children on files in DIR, and prints one line per check (compared
across kernels and lock modes by the caller). BACKING is the server's
backing directory: "backing sees" lines tell whether a lock taken through
the mount is visible on the backing file (server-kept locks) or not
(kernel-local locks). Exits non-zero if a scenario hangs or crashes.
"""
import errno
import fcntl
import os
import signal
import struct
import sys
import time

F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
DIR, BACKING = sys.argv[1], sys.argv[2]


def flock_struct(typ, start, length):
    # struct flock on x86_64: short l_type, short l_whence, off_t l_start,
    # off_t l_len, pid_t l_pid (+ padding).
    return struct.pack("hhqqi4x", typ, os.SEEK_SET, start, length, 0)


def getlk(fd, typ, start, length, cmd=fcntl.F_GETLK):
    r = fcntl.fcntl(fd, cmd, flock_struct(typ, start, length))
    t, _, s, ln, _ = struct.unpack("hhqqi4x", r)
    names = {fcntl.F_RDLCK: "RD", fcntl.F_WRLCK: "WR", fcntl.F_UNLCK: "UN"}
    return names[t] if t == fcntl.F_UNLCK else "%s %d+%d" % (names[t], s, ln)


def try_call(f, *a):
    try:
        f(*a)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


def setlk(fd, typ, start, length, cmd=fcntl.F_SETLK):
    return try_call(fcntl.fcntl, fd, cmd, flock_struct(typ, start, length))


def child(fn):
    """Runs fn() in a child; returns its one-line result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = fn()
        except Exception as e:  # reported, not raised, in the child
            out = "exception %r" % e
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 4096)
        if not b:
            break
        data += b
    os.close(r)
    os.waitpid(pid, 0)
    return data.decode()


def backing_sees(name, start, length):
    """Whether a lock on the backing file conflicts with a write lock."""
    fd = os.open(os.path.join(BACKING, name), os.O_RDWR)
    try:
        return "locked" if getlk(fd, fcntl.F_WRLCK, start, length, F_OFD_GETLK) != "UN" else "free"
    finally:
        os.close(fd)


def show(label, value):
    print("%-44s %s" % (label + ":", value), flush=True)


def posix():
    path = os.path.join(DIR, "posix")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"x" * 4096)
    show("posix write lock 0+100", setlk(fd, fcntl.F_WRLCK, 0, 100))
    show("posix backing sees it", child(lambda: backing_sees("posix", 0, 100)))
    show("posix child lock 50+10", child(lambda: setlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 50, 10)))
    show("posix child lock 100+100", child(lambda: setlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 100, 100)))
    show("posix child getlk 0+4096", child(lambda: getlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 0, 4096)))
    show("posix own getlk 0+4096", getlk(fd, fcntl.F_WRLCK, 0, 4096))
    # Read locks share; a write lock conflicts with them.
    show("posix downgrade to read lock", setlk(fd, fcntl.F_RDLCK, 0, 100))
    show("posix child read lock", child(lambda: setlk(os.open(path, os.O_RDONLY), fcntl.F_RDLCK, 0, 100)))
    show("posix child write lock", child(lambda: setlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 0, 100)))
    # Any close of the file drops the process's locks.
    fd2 = os.open(path, os.O_RDONLY)
    os.close(fd2)
    show("posix child lock after other close", child(lambda: setlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 0, 100)))
    show("posix backing after close", child(lambda: backing_sees("posix", 0, 100)))
    # A waiting lock is granted when the holder unlocks.
    show("posix lock to end of file", setlk(fd, fcntl.F_WRLCK, 0, 0))

    def waiter():
        t0 = time.monotonic()
        r = setlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 10, 10, fcntl.F_SETLKW)
        return "%s after %s" % (r, "a wait" if time.monotonic() - t0 > 0.8 else "no wait")

    pid = os.fork()
    if pid == 0:
        os.close(fd)
        out = waiter()
        os._exit(0 if out == "ok after a wait" else 1)
    time.sleep(1.5)
    show("posix unlock", setlk(fd, fcntl.F_UNLCK, 0, 0))
    _, st = os.waitpid(pid, 0)
    show("posix waiter granted after the unlock", "yes" if os.WEXITSTATUS(st) == 0 else "no")
    # A waiter killed while it waits ends at once; the lock stays usable.
    show("posix lock again", setlk(fd, fcntl.F_WRLCK, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.close(fd)
        setlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 0, 0, fcntl.F_SETLKW)
        os._exit(0)
    time.sleep(1)
    os.kill(pid, signal.SIGKILL)
    # Mainline keeps a killed caller waiting (uninterruptibly) for a request
    # the server already read: with server-kept locks, until the lock is
    # granted. So wait at most 5 s here, then unlock either way.
    ended = False
    for _ in range(50):
        if os.waitpid(pid, os.WNOHANG)[0]:
            ended = True
            break
        time.sleep(0.1)
    show("posix killed waiter ended at once", "yes" if ended else "no")
    show("posix unlock after the kill", setlk(fd, fcntl.F_UNLCK, 0, 0))
    if not ended:
        os.waitpid(pid, 0)
    show("posix child waits for and gets the lock",
         child(lambda: setlk(os.open(path, os.O_RDWR), fcntl.F_WRLCK, 0, 0, fcntl.F_SETLKW)))
    os.close(fd)


def ofd():
    path = os.path.join(DIR, "ofd")
    fd1 = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fd2 = os.open(path, os.O_RDWR)
    show("ofd lock on fd1", setlk(fd1, fcntl.F_WRLCK, 0, 10, F_OFD_SETLK))
    show("ofd lock on fd2 (same process)", setlk(fd2, fcntl.F_WRLCK, 5, 10, F_OFD_SETLK))
    show("ofd getlk on fd2", getlk(fd2, fcntl.F_WRLCK, 0, 100, F_OFD_GETLK))
    os.close(fd1)
    show("ofd lock on fd2 after fd1 closed", setlk(fd2, fcntl.F_WRLCK, 5, 10, F_OFD_SETLK))
    os.close(fd2)


def flocks():
    path = os.path.join(DIR, "flock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    show("flock exclusive", try_call(fcntl.flock, fd, fcntl.LOCK_EX))
    show("flock backing sees it", child(backing_flocked))
    show("flock child non-blocking", child(lambda: try_call(fcntl.flock, os.open(path, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)))
    dup = os.dup(fd)
    show("flock through a dup (same file)", try_call(fcntl.flock, dup, fcntl.LOCK_EX | fcntl.LOCK_NB))
    os.close(dup)
    show("flock child after the dup closed", child(lambda: try_call(fcntl.flock, os.open(path, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)))
    os.close(fd)
    # The last close drops the lock (RELEASE with FUSE_RELEASE_FLOCK_UNLOCK).
    ok = "no"
    for _ in range(50):
        if child(lambda: try_call(fcntl.flock, os.open(path, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)) == "ok":
            ok = "yes"
            break
        time.sleep(0.1)
    show("flock free after the last close", ok)
    fd = os.open(path, os.O_RDWR)
    show("flock shared", try_call(fcntl.flock, fd, fcntl.LOCK_SH))
    show("flock child shared", child(lambda: try_call(fcntl.flock, os.open(path, os.O_RDONLY), fcntl.LOCK_SH | fcntl.LOCK_NB)))
    show("flock unlock", try_call(fcntl.flock, fd, fcntl.LOCK_UN))
    show("flock child exclusive after unlock", child(lambda: try_call(fcntl.flock, os.open(path, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)))
    os.close(fd)


def backing_flocked():
    """Whether the backing file is locked: by flock(2) (a server that
    flocks its file, as passthrough_ll) or by an OFD lock (a server that
    keeps flock locks as OFD locks, as fusewb-refserver)."""
    fd = os.open(os.path.join(BACKING, "flock"), os.O_RDONLY)
    try:
        if try_call(fcntl.flock, fd, fcntl.LOCK_EX | fcntl.LOCK_NB) != "ok":
            return "locked"
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    return backing_sees("flock", 0, 0)


def main():
    signal.alarm(120)
    posix()
    ofd()
    flocks()


main()
