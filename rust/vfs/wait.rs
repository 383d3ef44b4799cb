// SPDX-License-Identifier: GPL-2.0

//! Wait queues (`struct wait_queue_head`) with killable and interruptible
//! waits on an arbitrary condition.
//!
//! C header: [`include/linux/wait.h`](srctree/include/linux/wait.h)

use crate::vfs::bindings;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;
use kernel::types::Opaque;

/// How a wait may be ended early.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitMode {
    /// Any signal ends the wait.
    Interruptible,
    /// Only a fatal signal ends the wait.
    Killable,
    /// Nothing ends the wait but `cond`. Only for waits that cannot depend
    /// on the server (e.g. after an abort, for work that no longer waits).
    Uninterruptible,
}

/// A wait queue.
///
/// # Invariants
///
/// `inner` was initialised with `init_waitqueue_head` and is pinned.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    inner: Opaque<bindings::wait_queue_head>,
}

// SAFETY: A wait queue is protected by its own spinlock; it may be shared and
// used from any thread.
unsafe impl Send for WaitQueue {}
// SAFETY: See above.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    /// An initialiser for a new, empty wait queue.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `init_waitqueue_head` initialises the pinned slot.
            inner <- Opaque::ffi_init(|p| unsafe { bindings::fusewb_init_waitqueue_head(p) }),
        })
    }

    /// The raw wait queue head, for `poll_wait`.
    pub(crate) fn as_raw(&self) -> *mut bindings::wait_queue_head {
        self.inner.get()
    }

    /// Wakes up every waiter.
    pub(crate) fn wake_up_all(&self) {
        // SAFETY: `inner` is an initialised wait queue (type invariant).
        unsafe { bindings::fusewb_wake_up_all(self.inner.get()) }
    }

    /// Wakes up every non-exclusive waiter (pollers, [`Self::wait_until`])
    /// and one exclusive waiter ([`Self::wait_exclusive`]): for one new
    /// piece of work that one waiter takes.
    pub(crate) fn wake_up_one(&self) {
        // SAFETY: `inner` is an initialised wait queue (type invariant).
        unsafe { bindings::fusewb_wake_up(self.inner.get()) }
    }

    /// Sleeps until `cond` returns true, or a signal (per `mode`) arrives,
    /// in which case it returns `ERESTARTSYS`.
    ///
    /// `cond` runs with the task state already set: it must not sleep (it
    /// may take spinlocks).
    pub(crate) fn wait_until(&self, mode: WaitMode, cond: impl FnMut() -> bool) -> Result {
        self.wait(mode, 0, cond)
    }

    /// As [`Self::wait_until`], as an exclusive waiter: [`Self::wake_up_one`]
    /// wakes only one of them (at the queue's end, after the non-exclusive
    /// ones). A waiter that a signal ends finds `cond` true if it was the
    /// one woken, so it takes the work and no wakeup is lost.
    pub(crate) fn wait_exclusive(&self, mode: WaitMode, cond: impl FnMut() -> bool) -> Result {
        self.wait(mode, bindings::WQ_FLAG_EXCLUSIVE, cond)
    }

    fn wait(&self, mode: WaitMode, flags: u32, mut cond: impl FnMut() -> bool) -> Result {
        if cond() {
            return Ok(());
        }
        let state = match mode {
            WaitMode::Interruptible => bindings::TASK_INTERRUPTIBLE,
            WaitMode::Killable => bindings::TASK_WAKEKILL | bindings::TASK_UNINTERRUPTIBLE,
            WaitMode::Uninterruptible => bindings::TASK_UNINTERRUPTIBLE,
        };
        let entry = pin!(Opaque::<bindings::wait_queue_entry>::uninit());
        // CAST: WQ_FLAG_* fit in c_int.
        let flags = flags as i32;
        // SAFETY: `entry` is pinned on this stack frame for the whole wait and
        // is removed from the queue by `finish_wait` before it goes away.
        unsafe { bindings::init_wait_entry(entry.get(), flags) };
        let mut ret = Ok(());
        loop {
            // SAFETY: Both pointers are valid: the queue by the type invariant,
            // the entry as initialised above. CAST: task states fit in c_int.
            let r = unsafe {
                bindings::prepare_to_wait_event(self.inner.get(), entry.get(), state as i32)
            };
            if cond() {
                break;
            }
            if r != 0 {
                ret = Err(ERESTARTSYS);
                break;
            }
            // SAFETY: The task state was set by `prepare_to_wait_event`;
            // sleeping here is what the wait queue protocol expects.
            unsafe { bindings::schedule() };
        }
        // SAFETY: The entry was prepared on this queue; `finish_wait` copes
        // with an entry that a signal already removed.
        unsafe { bindings::finish_wait(self.inner.get(), entry.get()) };
        ret
    }
}

/// A sleeping lock without data whose wait a fatal signal ends (as
/// `mutex_lock_killable`): for holders that wait for the server, so that
/// a task queued behind a stalled request stays killable.
///
/// Unfair (every release wakes all waiters, one of which takes it) and
/// unknown to lockdep: only for short, leaf-level sections.
#[pin_data]
pub(crate) struct KillableLock {
    held: AtomicBool,
    #[pin]
    wq: WaitQueue,
}

impl KillableLock {
    /// An initialiser for a new, unlocked lock.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            held: AtomicBool::new(false),
            wq <- WaitQueue::new(),
        })
    }

    /// Takes the lock, sleeping while another task holds it; a fatal
    /// signal ends the wait with `ERESTARTSYS`.
    pub(crate) fn lock(&self) -> Result<KillableGuard<'_>> {
        self.wq.wait_until(WaitMode::Killable, || {
            self.held
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        Ok(KillableGuard(self))
    }
}

/// Holds a [`KillableLock`] until dropped.
pub(crate) struct KillableGuard<'a>(&'a KillableLock);

impl Drop for KillableGuard<'_> {
    fn drop(&mut self) {
        self.0.held.store(false, Ordering::Release);
        self.0.wq.wake_up_all();
    }
}
