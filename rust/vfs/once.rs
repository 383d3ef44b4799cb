// SPDX-License-Identifier: GPL-2.0

//! Values set once and then read without a lock (later kernels have
//! `kernel::sync::SetOnce`; 6.12 does not).

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
use kernel::sync::Arc;

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const SET: u8 = 2;

/// A `Copy` value that is set at most once; readers get a copy without
/// taking a lock.
///
/// # Invariants
///
/// `value` is initialised when `state` is `SET`, and is never written again
/// after that. Only the one caller of [`SetOnce::set`] that moved `state`
/// from `EMPTY` to `WRITING` writes it.
pub(crate) struct SetOnce<T: Copy> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `value` is written by one thread only, before `state` becomes
// `SET` with release ordering, and read only after `state` was seen `SET`
// with acquire ordering (type invariant): no data race. Readers on other
// threads get copies, hence `T: Send + Sync`.
unsafe impl<T: Copy + Send + Sync> Sync for SetOnce<T> {}
// SAFETY: Moving the cell moves a `T`.
unsafe impl<T: Copy + Send> Send for SetOnce<T> {}

impl<T: Copy> SetOnce<T> {
    /// An empty cell.
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Sets the value; false (and nothing changes) if it was set, or is
    /// being set, already.
    pub(crate) fn set(&self, v: T) -> bool {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: Only this caller moved `state` from `EMPTY`, and nobody
        // reads `value` before it is `SET` (type invariant).
        unsafe { (*self.value.get()).write(v) };
        self.state.store(SET, Ordering::Release);
        true
    }

    /// A copy of the value, once set.
    pub(crate) fn get(&self) -> Option<T> {
        if self.state.load(Ordering::Acquire) != SET {
            return None;
        }
        // SAFETY: `SET`: the value is initialised and never written again
        // (type invariant); the acquire load orders this read after it.
        Some(unsafe { (*self.value.get()).assume_init() })
    }
}

/// An [`Arc`] set at most once and then borrowed without a lock for as
/// long as the cell lives (so a borrow of the cell's owner reaches it).
///
/// # Invariants
///
/// `ptr` is null or comes from `Arc::into_raw` and owns that reference;
/// once non-null it never changes until the cell is dropped.
pub(crate) struct OnceArc<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: The cell owns an `Arc<T>`: it may move to and be shared with
// other threads when `Arc<T>` may.
unsafe impl<T: Send + Sync> Send for OnceArc<T> {}
// SAFETY: See above; `get` hands out shared borrows only.
unsafe impl<T: Send + Sync> Sync for OnceArc<T> {}

impl<T> OnceArc<T> {
    /// An empty cell.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Sets the value; gives `v` back if the cell was set already.
    pub(crate) fn set(&self, v: Arc<T>) -> Result<(), Arc<T>> {
        let p = Arc::into_raw(v).cast_mut();
        match self.ptr.compare_exchange(
            core::ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Ok(()),
            // SAFETY: `p` came from `Arc::into_raw` above and was not stored.
            Err(_) => Err(unsafe { Arc::from_raw(p) }),
        }
    }

    /// The value, once set, borrowed for as long as the cell.
    pub(crate) fn get(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: A non-null `ptr` points to the value of an `Arc` reference
        // the cell owns and keeps until it is dropped, which cannot happen
        // while `self` is borrowed (type invariant).
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

impl<T> OnceArc<T> {
    /// A new reference to the value, once set.
    pub(crate) fn get_arc(&self) -> Option<Arc<T>> {
        let p = self.ptr.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` came from `Arc::into_raw` and the cell keeps that
        // reference while it is borrowed (type invariant).
        let b = unsafe { kernel::sync::ArcBorrow::from_raw(p) };
        Some(b.into())
    }
}

impl<T> Drop for OnceArc<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: The cell owns this reference (type invariant).
            drop(unsafe { Arc::from_raw(p) });
        }
    }
}
