#!/usr/bin/env python3
"""Denies every open on a mount through fanotify permission events.

    fanotify-deny.py MOUNTPOINT

Marks the mount of MOUNTPOINT for FAN_OPEN_PERM, prints "ready", then
answers FAN_DENY to each open and prints "deny pid=PID" for it, until it is
killed (a dead listener's pending events are allowed). The open then fails
with EPERM inside do_dentry_open, after the filesystem's atomic_open or
tmpfile made the file and before the file counts as opened (FMODE_OPENED).
The event's own file descriptor (an open the listener makes without
events) is closed after the answer.
"""
import ctypes
import os
import struct
import sys

FAN_CLOEXEC = 0x1
FAN_CLASS_CONTENT = 0x4
FAN_MARK_ADD = 0x1
FAN_MARK_MOUNT = 0x10
FAN_OPEN_PERM = 0x10000
FAN_DENY = 0x2
AT_FDCWD = -100
# struct fanotify_event_metadata: event_len u32, vers u8, reserved u8,
# metadata_len u16, mask u64, fd s32, pid s32.
META = struct.Struct("=IBBHQii")


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64,
                                   ctypes.c_int, ctypes.c_char_p]
    fd = libc.fanotify_init(FAN_CLOEXEC | FAN_CLASS_CONTENT, os.O_RDONLY)
    if fd < 0:
        sys.exit("fanotify_init: %s" % os.strerror(ctypes.get_errno()))
    if libc.fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_PERM, AT_FDCWD,
                          sys.argv[1].encode()) < 0:
        sys.exit("fanotify_mark: %s" % os.strerror(ctypes.get_errno()))
    print("ready", flush=True)
    while True:
        buf = os.read(fd, 4096)
        off = 0
        while off + META.size <= len(buf):
            length, _, _, _, mask, efd, pid = META.unpack_from(buf, off)
            if length < META.size:
                sys.exit("bad event length %d" % length)
            if mask & FAN_OPEN_PERM:
                os.write(fd, struct.pack("=iI", efd, FAN_DENY))
                print("deny pid=%d" % pid, flush=True)
            if efd >= 0:
                os.close(efd)
            off += length


main()
