//! Host build of fuse-wb's pure protocol logic.
//!
//! The sources are the module's own `rust/proto/*.rs`: the same files compile
//! into `fuse_wb.ko` and here, so `cargo test` exercises the code the kernel
//! runs. The wire ABI is generated from the kernel's `include/uapi/linux/fuse.h`
//! by `scripts/gen-fuse-abi`, exactly as in the module build.
#![cfg_attr(not(test), no_std)]

/// The FUSE wire ABI (bindgen output of `include/uapi/linux/fuse.h`).
#[allow(
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    clippy::all
)]
pub mod abi {
    include!(concat!(env!("OUT_DIR"), "/fuse_abi.rs"));
}

/// fuse-wb's protocol layer (`rust/proto`).
#[path = "../../../rust/proto/mod.rs"]
#[allow(dead_code)]
pub mod proto;

/// The statistics format (`rust/proto/stats.rs`), for the tools: the
/// reference server renders it, fusewb-bench parses it.
pub mod stats {
    pub use crate::proto::stats::{
        bucket, bucket_bound, parse_line, write_hist, write_line, write_op, write_size_bound,
        write_total, LineError, BACKGROUND_ACTIVE, BACKGROUND_QUEUED, BUCKETS, BYTES_SUFFIX,
        COUNT_SUFFIX, DIRTY_PAGES, OP_PREFIX, REQUESTS_TOTAL, WRITEBACK_BUDGET_STOPS,
        WRITEBACK_CACHE, WRITEBACK_INFLIGHT_BYTES, WRITEBACK_INFLIGHT_REQUESTS,
        WRITEBACK_SHORT_RESENDS, WRITE_HEADER, WRITE_SIZE_LE,
    };
}
