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
#include <linux/miscdevice.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/statfs.h>
#include <linux/sysfs.h>
#include <linux/writeback.h>
#include "fusewb_helpers.h"

const gfp_t FUSEWB_CONST_GFP_NOFS = GFP_NOFS;
const unsigned long FUSEWB_CONST_HZ = HZ;
const loff_t FUSEWB_CONST_MAX_LFS_FILESIZE = MAX_LFS_FILESIZE;
const __poll_t FUSEWB_CONST_EPOLLIN = EPOLLIN;
const __poll_t FUSEWB_CONST_EPOLLOUT = EPOLLOUT;
const __poll_t FUSEWB_CONST_EPOLLRDNORM = EPOLLRDNORM;
const __poll_t FUSEWB_CONST_EPOLLWRNORM = EPOLLWRNORM;
const __poll_t FUSEWB_CONST_EPOLLERR = EPOLLERR;
const slab_flags_t FUSEWB_CONST_SLAB_RECLAIM_ACCOUNT = SLAB_RECLAIM_ACCOUNT;
const slab_flags_t FUSEWB_CONST_SLAB_ACCOUNT = SLAB_ACCOUNT;
const int FUSEWB_CONST_MISC_DYNAMIC_MINOR = MISC_DYNAMIC_MINOR;
const unsigned long FUSEWB_CONST_SB_RDONLY = SB_RDONLY;
const int FUSEWB_CONST_IOCB_NOWAIT = IOCB_NOWAIT;
