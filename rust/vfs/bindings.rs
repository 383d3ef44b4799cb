// SPDX-License-Identifier: GPL-2.0

//! Raw C bindings: `kernel::bindings` plus what fuse-wb generates itself from
//! `include/fusewb_bindings.h` (the kernel API the 6.12 `kernel` crate lacks
//! and the shims of `rust/helpers.c`). A private module of `vfs`: only the
//! glue can name them.

#![allow(
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    improper_ctypes,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    unsafe_op_in_unsafe_fn
)]

use kernel::ffi;

include!("../bindings_generated.rs");
