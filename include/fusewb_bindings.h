/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of fuse-wb's own bindgen run (rust/bindings_generated.rs): the parts
 * of the kernel API that the 6.12 `kernel` crate does not bind, plus the
 * shims of rust/helpers.c. Constants bindgen cannot evaluate (casts, macros
 * over macros) are exported as FUSEWB_CONST_<NAME> and renamed to <NAME>.
 */
#include <linux/backing-dev.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/eventpoll.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/kobject.h>
#include <linux/falloc.h>
#include <linux/filelock.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/uio.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/splice.h>
#include <linux/statfs.h>
#include <linux/sysfs.h>
#include <linux/writeback.h>
#include <linux/xattr.h>
#include "fusewb_helpers.h"

const unsigned long FUSEWB_CONST_HZ = HZ;
const loff_t FUSEWB_CONST_MAX_LFS_FILESIZE = MAX_LFS_FILESIZE;
const loff_t FUSEWB_CONST_OFFSET_MAX = OFFSET_MAX;
const __poll_t FUSEWB_CONST_EPOLLIN = EPOLLIN;
const __poll_t FUSEWB_CONST_EPOLLOUT = EPOLLOUT;
const __poll_t FUSEWB_CONST_EPOLLRDNORM = EPOLLRDNORM;
const __poll_t FUSEWB_CONST_EPOLLWRNORM = EPOLLWRNORM;
const __poll_t FUSEWB_CONST_EPOLLERR = EPOLLERR;
const slab_flags_t FUSEWB_CONST_SLAB_RECLAIM_ACCOUNT = SLAB_RECLAIM_ACCOUNT;
const slab_flags_t FUSEWB_CONST_SLAB_ACCOUNT = SLAB_ACCOUNT;
const int FUSEWB_CONST_MISC_DYNAMIC_MINOR = MISC_DYNAMIC_MINOR;
const int FUSEWB_CONST_IOCB_NOWAIT = IOCB_NOWAIT;
const unsigned int FUSEWB_CONST_IOCB_DIRECT = IOCB_DIRECT;
const unsigned int FUSEWB_CONST_FMODE_CREATED = (__force unsigned int)FMODE_CREATED;
const unsigned int FUSEWB_CONST_FMODE_OPENED = (__force unsigned int)FMODE_OPENED;
const unsigned int FUSEWB_CONST_VM_FAULT_LOCKED = VM_FAULT_LOCKED;
const unsigned int FUSEWB_CONST_VM_FAULT_NOPAGE = VM_FAULT_NOPAGE;
const unsigned int FUSEWB_CONST_VM_FAULT_SIGBUS = VM_FAULT_SIGBUS;
const unsigned long FUSEWB_CONST_VM_SHARED = VM_SHARED;
const unsigned int FUSEWB_CONST_BDI_CAP_STRICTLIMIT = BDI_CAP_STRICTLIMIT;
const unsigned int FUSEWB_CONST_FGP_WRITEBEGIN = FGP_WRITEBEGIN;
const unsigned int FUSEWB_CONST_FGP_LOCK = (__force unsigned int)FGP_LOCK;
const int FUSEWB_CONST_WB_SYNC_ALL = WB_SYNC_ALL;
const int FUSEWB_CONST_WB_SYNC_NONE = WB_SYNC_NONE;
const int FUSEWB_CONST_WB_RECLAIMABLE = WB_RECLAIMABLE;
const int FUSEWB_CONST_FALLOC_FL_KEEP_SIZE = FALLOC_FL_KEEP_SIZE;
const int FUSEWB_CONST_FALLOC_FL_PUNCH_HOLE = FALLOC_FL_PUNCH_HOLE;
const int FUSEWB_CONST_FALLOC_FL_ZERO_RANGE = FALLOC_FL_ZERO_RANGE;
const unsigned long FUSEWB_CONST_SB_POSIXACL = SB_POSIXACL;
const unsigned long FUSEWB_CONST_SB_RDONLY = SB_RDONLY;
const unsigned int FUSEWB_CONST_ATTR_MODE = ATTR_MODE;
const unsigned int FUSEWB_CONST_ATTR_UID = ATTR_UID;
const unsigned int FUSEWB_CONST_ATTR_GID = ATTR_GID;
const unsigned int FUSEWB_CONST_ATTR_SIZE = ATTR_SIZE;
const unsigned int FUSEWB_CONST_ATTR_ATIME = ATTR_ATIME;
const unsigned int FUSEWB_CONST_ATTR_MTIME = ATTR_MTIME;
const unsigned int FUSEWB_CONST_ATTR_ATIME_SET = ATTR_ATIME_SET;
const unsigned int FUSEWB_CONST_ATTR_MTIME_SET = ATTR_MTIME_SET;
const unsigned int FUSEWB_CONST_ATTR_FILE = ATTR_FILE;
