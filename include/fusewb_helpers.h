/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prototypes of fuse-wb's C shims (rust/helpers.c): one-line wrappers of
 * static inline functions and macros that Rust cannot call directly. No logic
 * lives here; every shim forwards to exactly one kernel helper.
 */
#ifndef FUSEWB_HELPERS_H
#define FUSEWB_HELPERS_H

#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/delayed_call.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/kdev_t.h>
#include <linux/pagemap.h>
#include <linux/pid_namespace.h>
#include <linux/pipe_fs_i.h>
#include <linux/poll.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/user_namespace.h>
#include <linux/wait.h>

/* Inodes. */
loff_t fusewb_i_size_read(const struct inode *inode);
void fusewb_i_size_write(struct inode *inode, loff_t size);
void fusewb_inode_set_atime(struct inode *inode, time64_t sec, long nsec);
void fusewb_inode_set_mtime(struct inode *inode, time64_t sec, long nsec);
void fusewb_inode_set_ctime(struct inode *inode, time64_t sec, long nsec);
void fusewb_remove_inode_hash(struct inode *inode);
void fusewb_i_uid_write(struct inode *inode, uid_t uid);
void fusewb_i_gid_write(struct inode *inode, gid_t gid);
void *fusewb_alloc_inode_sb(struct super_block *sb, struct kmem_cache *cache, gfp_t gfp);
struct kmem_cache *fusewb_kmem_cache_create(const char *name, unsigned int size,
					    unsigned int align, slab_flags_t flags,
					    void (*ctor)(void *));

/* Dentries and symlinks. */
struct dentry *fusewb_dget(struct dentry *dentry);
dev_t fusewb_new_decode_dev(u32 dev);
bool fusewb_d_in_lookup(const struct dentry *dentry);
bool fusewb_d_unhashed(const struct dentry *dentry);
void fusewb_d_lookup_done(struct dentry *dentry);
void fusewb_set_delayed_call(struct delayed_call *call, void (*fn)(void *), void *arg);
bool fusewb_dir_emit(struct dir_context *ctx, const char *name, int namelen, u64 ino,
		     unsigned int type);

/* Folios and readahead. */
loff_t fusewb_folio_pos(struct folio *folio);
size_t fusewb_folio_size(const struct folio *folio);
void fusewb_folio_mark_uptodate(struct folio *folio);
void fusewb_folio_zero_range(struct folio *folio, size_t start, size_t length);
void *fusewb_kmap_local_folio(struct folio *folio, size_t offset);
void fusewb_kunmap_local(const void *addr);
void fusewb_flush_dcache_folio(struct folio *folio);
struct folio *fusewb_readahead_folio(struct readahead_control *ractl);
loff_t fusewb_readahead_pos(struct readahead_control *ractl);
size_t fusewb_readahead_length(struct readahead_control *ractl);

/* Waiting, signals, poll, user copies. */
void fusewb_init_waitqueue_head(struct wait_queue_head *wq);
void fusewb_wake_up_all(struct wait_queue_head *wq);
void fusewb_wake_up(struct wait_queue_head *wq);
void fusewb_poll_wait(struct file *filp, struct wait_queue_head *wq, struct poll_table_struct *pt);
size_t fusewb_iov_iter_count(const struct iov_iter *iter);
u64 fusewb_get_jiffies_64(void);

/* Credentials and namespaces of the current task. */
const struct cred *fusewb_current_cred(void);
kuid_t fusewb_current_fsuid(void);
kgid_t fusewb_current_fsgid(void);
pid_t fusewb_current_pid_nr_ns(struct pid_namespace *ns);
pid_t fusewb_current_tgid_nr_ns(struct pid_namespace *ns);
void fusewb_rcu_read_lock(void);
void fusewb_rcu_read_unlock(void);
struct pid_namespace *fusewb_get_current_pid_ns(void);
void fusewb_put_pid_ns(struct pid_namespace *ns);
kuid_t fusewb_make_kuid(struct user_namespace *ns, uid_t uid);
kgid_t fusewb_make_kgid(struct user_namespace *ns, gid_t gid);
uid_t fusewb_from_kuid_munged(struct user_namespace *ns, kuid_t uid);
gid_t fusewb_from_kgid_munged(struct user_namespace *ns, kgid_t gid);
bool fusewb_current_in_userns(const struct user_namespace *ns);
bool fusewb_current_is_kthread(void);
bool fusewb_fatal_signal_pending(void);
unsigned int fusewb_memalloc_nofs_save(void);
void fusewb_memalloc_nofs_restore(unsigned int flags);
void fusewb_wb_writeback_add(struct backing_dev_info *bdi, s64 pages);
struct user_namespace *fusewb_get_user_ns(struct user_namespace *ns);
void fusewb_put_user_ns(struct user_namespace *ns);

/* The write side: inode lock, dirty folios, writeback, errors. */
void fusewb_inode_lock(struct inode *inode);
void fusewb_inode_unlock(struct inode *inode);
void fusewb_inode_lock_parent(struct inode *inode);
bool fusewb_d_mountpoint(const struct dentry *dentry);
void fusewb_dont_mount(struct dentry *dentry);
ssize_t fusewb_generic_write_sync(struct kiocb *iocb, ssize_t count);
void fusewb_mapping_set_error(struct address_space *mapping, int error);
bool fusewb_mapping_tagged_dirty(struct address_space *mapping);
void fusewb_folio_put(struct folio *folio);
bool fusewb_folio_test_uptodate(const struct folio *folio);
pgoff_t fusewb_folio_index(struct folio *folio);
struct address_space *fusewb_folio_mapping(struct folio *folio);
void fusewb_folio_start_writeback(struct folio *folio);
struct folio *fusewb_page_folio(struct page *page);
void fusewb_folio_lock(struct folio *folio);
long fusewb_splice_copy_file_range(struct file *in, loff_t pos_in, struct file *out, loff_t pos_out, size_t len);
unsigned int fusewb_pipe_occupancy(const struct pipe_inode_info *pipe);
unsigned int fusewb_pipe_max_usage(const struct pipe_inode_info *pipe);
unsigned long fusewb_totalram_pages(void);
gfp_t fusewb_mapping_gfp_mask(struct address_space *mapping);
s64 fusewb_wb_stat_sum(struct backing_dev_info *bdi, int item);

/* POSIX ACLs. */
void fusewb_posix_acl_release(struct posix_acl *acl);
size_t fusewb_posix_acl_xattr_size(const struct posix_acl *acl);
struct posix_acl *fusewb_acl_dont_cache(void);
vfsgid_t fusewb_i_gid_into_vfsgid(struct mnt_idmap *idmap, const struct inode *inode);

/* Module parameters (defined in helpers.c, read by Rust). */
extern unsigned int fusewb_max_pages_limit;
extern unsigned int fusewb_max_inflight_mb;
extern unsigned int fusewb_max_dirty_ratio;
extern unsigned int fusewb_write_behind;

#endif /* FUSEWB_HELPERS_H */
