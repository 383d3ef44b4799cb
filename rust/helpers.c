// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-wb C shims: one-line wrappers of static inline functions and macros,
 * so that Rust can call them. No logic belongs here.
 */
#include <linux/backing-dev.h>
#include <linux/moduleparam.h>
#include <linux/splice.h>
#include "fusewb_helpers.h"

loff_t fusewb_i_size_read(const struct inode *inode) { return i_size_read(inode); }
void fusewb_i_size_write(struct inode *inode, loff_t size) { i_size_write(inode, size); }
void fusewb_inode_set_atime(struct inode *inode, time64_t sec, long nsec) { inode_set_atime(inode, sec, nsec); }
void fusewb_inode_set_mtime(struct inode *inode, time64_t sec, long nsec) { inode_set_mtime(inode, sec, nsec); }
void fusewb_inode_set_ctime(struct inode *inode, time64_t sec, long nsec) { inode_set_ctime(inode, sec, nsec); }
void fusewb_remove_inode_hash(struct inode *inode) { remove_inode_hash(inode); }
void fusewb_i_uid_write(struct inode *inode, uid_t uid) { i_uid_write(inode, uid); }
void fusewb_i_gid_write(struct inode *inode, gid_t gid) { i_gid_write(inode, gid); }
void *fusewb_alloc_inode_sb(struct super_block *sb, struct kmem_cache *cache, gfp_t gfp)
{ return alloc_inode_sb(sb, cache, gfp); }
struct kmem_cache *fusewb_kmem_cache_create(const char *name, unsigned int size,
					    unsigned int align, slab_flags_t flags,
					    void (*ctor)(void *))
{ return kmem_cache_create(name, size, align, flags, ctor); }

struct dentry *fusewb_dget(struct dentry *dentry) { return dget(dentry); }
dev_t fusewb_new_decode_dev(u32 dev) { return new_decode_dev(dev); }
bool fusewb_d_in_lookup(const struct dentry *dentry) { return d_in_lookup(dentry); }
bool fusewb_d_unhashed(const struct dentry *dentry) { return d_unhashed(dentry); }
void fusewb_d_lookup_done(struct dentry *dentry) { d_lookup_done(dentry); }
void fusewb_set_delayed_call(struct delayed_call *call, void (*fn)(void *), void *arg)
{ set_delayed_call(call, fn, arg); }
bool fusewb_dir_emit(struct dir_context *ctx, const char *name, int namelen, u64 ino,
		     unsigned int type)
{ return dir_emit(ctx, name, namelen, ino, type); }

loff_t fusewb_folio_pos(struct folio *folio) { return folio_pos(folio); }
size_t fusewb_folio_size(const struct folio *folio) { return folio_size(folio); }
void fusewb_folio_mark_uptodate(struct folio *folio) { folio_mark_uptodate(folio); }
void fusewb_folio_zero_range(struct folio *folio, size_t start, size_t length) { folio_zero_range(folio, start, length); }
void *fusewb_kmap_local_folio(struct folio *folio, size_t offset) { return kmap_local_folio(folio, offset); }
void fusewb_kunmap_local(const void *addr) { kunmap_local(addr); }
void fusewb_flush_dcache_folio(struct folio *folio) { flush_dcache_folio(folio); }
struct folio *fusewb_readahead_folio(struct readahead_control *ractl) { return readahead_folio(ractl); }
loff_t fusewb_readahead_pos(struct readahead_control *ractl) { return readahead_pos(ractl); }
size_t fusewb_readahead_length(struct readahead_control *ractl) { return readahead_length(ractl); }

void fusewb_init_waitqueue_head(struct wait_queue_head *wq) { init_waitqueue_head(wq); }
void fusewb_wake_up_all(struct wait_queue_head *wq) { wake_up_all(wq); }
void fusewb_wake_up(struct wait_queue_head *wq) { wake_up(wq); }
void fusewb_poll_wait(struct file *filp, struct wait_queue_head *wq, struct poll_table_struct *pt) { poll_wait(filp, wq, pt); }
size_t fusewb_iov_iter_count(const struct iov_iter *iter) { return iov_iter_count(iter); }
u64 fusewb_get_jiffies_64(void) { return get_jiffies_64(); }

const struct cred *fusewb_current_cred(void) { return current_cred(); }
kuid_t fusewb_current_fsuid(void) { return current_fsuid(); }
kgid_t fusewb_current_fsgid(void) { return current_fsgid(); }
pid_t fusewb_current_pid_nr_ns(struct pid_namespace *ns) { return pid_nr_ns(task_pid(current), ns); }
pid_t fusewb_current_tgid_nr_ns(struct pid_namespace *ns) { return pid_nr_ns(task_tgid(current), ns); }
void fusewb_rcu_read_lock(void) { rcu_read_lock(); }
void fusewb_rcu_read_unlock(void) { rcu_read_unlock(); }
struct pid_namespace *fusewb_get_current_pid_ns(void) { return get_pid_ns(task_active_pid_ns(current)); }
void fusewb_put_pid_ns(struct pid_namespace *ns) { put_pid_ns(ns); }
kuid_t fusewb_make_kuid(struct user_namespace *ns, uid_t uid) { return make_kuid(ns, uid); }
kgid_t fusewb_make_kgid(struct user_namespace *ns, gid_t gid) { return make_kgid(ns, gid); }
uid_t fusewb_from_kuid_munged(struct user_namespace *ns, kuid_t uid) { return from_kuid_munged(ns, uid); }
gid_t fusewb_from_kgid_munged(struct user_namespace *ns, kgid_t gid) { return from_kgid_munged(ns, gid); }
bool fusewb_current_in_userns(const struct user_namespace *ns) { return current_in_userns(ns); }
bool fusewb_current_is_kthread(void) { return current->flags & PF_KTHREAD; }
bool fusewb_fatal_signal_pending(void) { return fatal_signal_pending(current); }
unsigned int fusewb_memalloc_nofs_save(void) { return memalloc_nofs_save(); }
void fusewb_memalloc_nofs_restore(unsigned int flags) { memalloc_nofs_restore(flags); }
void fusewb_wb_writeback_add(struct backing_dev_info *bdi, s64 pages) { wb_stat_mod(&bdi->wb, WB_WRITEBACK, pages); }
struct user_namespace *fusewb_get_user_ns(struct user_namespace *ns) { return get_user_ns(ns); }
void fusewb_put_user_ns(struct user_namespace *ns) { put_user_ns(ns); }

void fusewb_posix_acl_release(struct posix_acl *acl) { posix_acl_release(acl); }
size_t fusewb_posix_acl_xattr_size(const struct posix_acl *acl) { return posix_acl_xattr_size(acl->a_count); }
struct posix_acl *fusewb_acl_dont_cache(void) { return ACL_DONT_CACHE; }
vfsgid_t fusewb_i_gid_into_vfsgid(struct mnt_idmap *idmap, const struct inode *inode) { return i_gid_into_vfsgid(idmap, inode); }

void fusewb_inode_lock(struct inode *inode) { inode_lock(inode); }
void fusewb_inode_unlock(struct inode *inode) { inode_unlock(inode); }
void fusewb_inode_lock_parent(struct inode *inode) { inode_lock_nested(inode, I_MUTEX_PARENT); }
bool fusewb_d_mountpoint(const struct dentry *dentry) { return d_mountpoint(dentry); }
void fusewb_dont_mount(struct dentry *dentry) { dont_mount(dentry); }
ssize_t fusewb_generic_write_sync(struct kiocb *iocb, ssize_t count) { return generic_write_sync(iocb, count); }
void fusewb_mapping_set_error(struct address_space *mapping, int error) { mapping_set_error(mapping, error); }
bool fusewb_mapping_tagged_dirty(struct address_space *mapping) { return mapping_tagged(mapping, PAGECACHE_TAG_DIRTY); }
void fusewb_folio_put(struct folio *folio) { folio_put(folio); }
bool fusewb_folio_test_uptodate(const struct folio *folio) { return folio_test_uptodate(folio); }
pgoff_t fusewb_folio_index(struct folio *folio) { return folio_index(folio); }
struct address_space *fusewb_folio_mapping(struct folio *folio) { return folio_mapping(folio); }
void fusewb_folio_start_writeback(struct folio *folio) { folio_start_writeback(folio); }
struct folio *fusewb_page_folio(struct page *page) { return page_folio(page); }
void fusewb_folio_lock(struct folio *folio) { folio_lock(folio); }
long fusewb_splice_copy_file_range(struct file *in, loff_t pos_in, struct file *out, loff_t pos_out, size_t len)
{ return splice_copy_file_range(in, pos_in, out, pos_out, len); }
unsigned long fusewb_totalram_pages(void) { return totalram_pages(); }
unsigned int fusewb_pipe_occupancy(const struct pipe_inode_info *pipe) { return pipe_occupancy(pipe->head, pipe->tail); }
unsigned int fusewb_pipe_max_usage(const struct pipe_inode_info *pipe) { return pipe->max_usage; }
gfp_t fusewb_mapping_gfp_mask(struct address_space *mapping) { return mapping_gfp_mask(mapping); }
s64 fusewb_wb_stat_sum(struct backing_dev_info *bdi, int item) { return wb_stat_sum(&bdi->wb, item); }

/* Module parameters: declarations only; Rust reads and clamps them. */
unsigned int fusewb_max_pages_limit = 2048;
module_param_named(max_pages_limit, fusewb_max_pages_limit, uint, 0644);
MODULE_PARM_DESC(max_pages_limit, "Largest request in pages (default 2048 = 8 MiB; mainline: 256)");
unsigned int fusewb_max_inflight_mb = 64;
module_param_named(max_inflight_mb, fusewb_max_inflight_mb, uint, 0644);
MODULE_PARM_DESC(max_inflight_mb, "Writeback data in flight to one server, in MiB (default 64, at most 1/32 of RAM)");
unsigned int fusewb_max_dirty_ratio = 20;
module_param_named(max_dirty_ratio, fusewb_max_dirty_ratio, uint, 0644);
MODULE_PARM_DESC(max_dirty_ratio, "Share of the dirty threshold one mount may use, in percent, strictly (default 20; mainline: 1)");
unsigned int fusewb_write_behind = 1;
module_param_named(write_behind, fusewb_write_behind, uint, 0644);
MODULE_PARM_DESC(write_behind, "Send each full WRITE of a sequential write at once, without waiting for the flusher (default 1; 0: off)");
