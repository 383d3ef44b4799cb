// SPDX-License-Identifier: GPL-2.0

//! The FUSE wire protocol: pure logic, no kernel dependencies.
//!
//! Everything here compiles both into the module and into the host test crate
//! (`tests/host`), so `cargo test` covers it. The wire structures themselves
//! come from the kernel's `include/uapi/linux/fuse.h` through bindgen
//! (`crate::abi`). This layer encodes requests into byte buffers the caller
//! provides, and validates every reply and notification from the server
//! before anything else looks at it: the server is never trusted.

// `pod` is the one module here that needs `unsafe` (see its docs).
#![deny(unsafe_code)]

pub(crate) mod attr;
pub(crate) mod dirent;
pub(crate) mod error;
pub(crate) mod init;
pub(crate) mod ioctl;
pub(crate) mod lock;
pub(crate) mod notify;
pub(crate) mod options;
#[allow(unsafe_code)]
pub(crate) mod pod;
pub(crate) mod reply;
pub(crate) mod request;
// Its `pub` items are the stats format the tools use (through `tests/host`).
#[allow(unreachable_pub)]
pub(crate) mod stats;
pub(crate) mod time;
pub(crate) mod write;

pub(crate) use error::ProtoError;
