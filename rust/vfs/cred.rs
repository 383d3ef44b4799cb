// SPDX-License-Identifier: GPL-2.0

//! Credentials and namespaces of the current task.
//!
//! C header: [`include/linux/cred.h`](srctree/include/linux/cred.h)

use crate::proto::request::Creds;
use crate::vfs::bindings;

/// A user id as the kernel holds it (in the initial namespace).
pub(crate) type Kuid = bindings::kuid_t;
/// A group id as the kernel holds it.
pub(crate) type Kgid = bindings::kgid_t;

/// A reference to a user namespace.
///
/// # Invariants
///
/// `ptr` is a valid user namespace on which this object holds a reference.
pub(crate) struct UserNs {
    ptr: *mut bindings::user_namespace,
}

// SAFETY: A counted namespace reference may be used and dropped anywhere.
unsafe impl Send for UserNs {}
// SAFETY: Only read through the pointer.
unsafe impl Sync for UserNs {}

impl UserNs {
    /// Takes a reference on `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid user namespace.
    pub(crate) unsafe fn get(ptr: *mut bindings::user_namespace) -> Self {
        // SAFETY: The caller guarantees `ptr` is valid.
        let ptr = unsafe { bindings::fusewb_get_user_ns(ptr) };
        // INVARIANT: We now hold a reference.
        Self { ptr }
    }

    /// The namespace, for the C calls of this layer.
    pub(super) fn as_ptr(&self) -> *mut bindings::user_namespace {
        self.ptr
    }

    /// Whether this is the initial user namespace.
    pub(crate) fn is_initial(&self) -> bool {
        core::ptr::eq(self.ptr, core::ptr::addr_of!(bindings::init_user_ns))
    }

    /// Maps a uid of this namespace to a kernel uid (invalid if unmapped).
    pub(crate) fn make_kuid(&self, uid: u32) -> bindings::kuid_t {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::fusewb_make_kuid(self.ptr, uid) }
    }

    /// Maps a gid of this namespace to a kernel gid (invalid if unmapped).
    pub(crate) fn make_kgid(&self, gid: u32) -> bindings::kgid_t {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::fusewb_make_kgid(self.ptr, gid) }
    }

    /// Maps a kernel uid into this namespace (the overflow uid if unmapped).
    pub(crate) fn uid_of(&self, kuid: bindings::kuid_t) -> u32 {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::fusewb_from_kuid_munged(self.ptr, kuid) }
    }

    /// Maps a kernel gid into this namespace (the overflow gid if unmapped).
    pub(crate) fn gid_of(&self, kgid: bindings::kgid_t) -> u32 {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::fusewb_from_kgid_munged(self.ptr, kgid) }
    }

    /// Whether the current task is in this namespace or a descendant.
    pub(crate) fn current_in(&self) -> bool {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::fusewb_current_in_userns(self.ptr) }
    }
}

impl Drop for UserNs {
    fn drop(&mut self) {
        // SAFETY: We hold a reference (type invariant).
        unsafe { bindings::fusewb_put_user_ns(self.ptr) }
    }
}

/// A reference to the pid namespace of the task that mounted.
///
/// # Invariants
///
/// `ptr` is a valid pid namespace on which this object holds a reference.
pub(crate) struct PidNs {
    ptr: *mut bindings::pid_namespace,
}

// SAFETY: A counted namespace reference may be used and dropped anywhere.
unsafe impl Send for PidNs {}
// SAFETY: Only read through the pointer.
unsafe impl Sync for PidNs {}

impl PidNs {
    /// The current task's active pid namespace.
    pub(crate) fn current() -> Self {
        // SAFETY: No preconditions; returns a new reference.
        let ptr = unsafe { bindings::fusewb_get_current_pid_ns() };
        // INVARIANT: We hold the reference just taken.
        Self { ptr }
    }

    /// The current process's id (its thread group's) in this namespace; 0
    /// if it has none there.
    pub(crate) fn current_tgid(&self) -> u32 {
        // SAFETY: `ptr` is valid (type invariant).
        let nr = unsafe { bindings::fusewb_current_tgid_nr_ns(self.ptr) };
        // CAST: non-negative after the clamp.
        nr.max(0) as u32
    }

    /// The id in the initial pid namespace of process `nr` of this
    /// namespace (0 if there is none), as the VFS wants a lock holder's.
    pub(crate) fn to_init_ns(&self, nr: u32) -> i32 {
        let Ok(nr) = i32::try_from(nr) else { return 0 };
        // SAFETY: `ptr` is valid (type invariant); `find_pid_ns` runs under
        // the RCU read lock it needs, and `pid_nr_ns` accepts its NULL.
        unsafe {
            bindings::fusewb_rcu_read_lock();
            let pid = bindings::find_pid_ns(nr, self.ptr);
            let init = bindings::pid_nr_ns(pid, core::ptr::addr_of_mut!(bindings::init_pid_ns));
            bindings::fusewb_rcu_read_unlock();
            init
        }
    }
}

impl Drop for PidNs {
    fn drop(&mut self) {
        // SAFETY: We hold a reference (type invariant).
        unsafe { bindings::fusewb_put_pid_ns(self.ptr) }
    }
}

/// The credentials a request from the current task carries, as the server
/// sees them (its user and pid namespaces).
pub(crate) fn current_creds(user_ns: &UserNs, pid_ns: &PidNs) -> Creds {
    // SAFETY: Reading the current task's credentials has no preconditions.
    let (fsuid, fsgid) = unsafe {
        (
            bindings::fusewb_current_fsuid(),
            bindings::fusewb_current_fsgid(),
        )
    };
    // SAFETY: `pid_ns.ptr` is valid (type invariant).
    let pid = unsafe { bindings::fusewb_current_pid_nr_ns(pid_ns.ptr) };
    Creds {
        uid: user_ns.uid_of(fsuid),
        gid: user_ns.gid_of(fsgid),
        // CAST: pid_t is non-negative for a live task; 0 if not in the namespace.
        pid: pid.max(0) as u32,
    }
}

/// The current task's umask (what a filesystem with POSIX ACLs applies to a
/// new node's mode itself, unless its server does).
pub(crate) fn current_umask() -> u32 {
    // SAFETY: Reads the current task's fs_struct; callable from any task
    // context. CAST: a umask is 0..=0o777.
    unsafe { bindings::current_umask() as u32 }
}

/// Whether the current task has CAP_FSETID: its writes, truncates and
/// chowns keep suid/sgid.
pub(crate) fn current_has_fsetid() -> bool {
    // SAFETY: `capable` checks the current task's credentials; callable
    // from any task context. CAST: capability numbers fit c_int.
    unsafe { bindings::capable(bindings::CAP_FSETID as i32) }
}

/// Whether all of the current task's uids and gids equal `uid`/`gid`: the
/// rule for who may use a mount without `allow_other` (as mainline).
pub(crate) fn current_is_exactly(uid: bindings::kuid_t, gid: bindings::kgid_t) -> bool {
    // SAFETY: `current_cred()` is valid for the current task while it runs.
    let c = unsafe { &*bindings::fusewb_current_cred() };
    let u = uid.val;
    let g = gid.val;
    c.euid.val == u
        && c.suid.val == u
        && c.uid.val == u
        && c.egid.val == g
        && c.sgid.val == g
        && c.gid.val == g
}
