// SPDX-License-Identifier: GPL-2.0

//! A value set once and then read without a lock (later kernels have
//! `kernel::sync::SetOnce`; 6.12 does not).

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering};

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
