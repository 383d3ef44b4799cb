//! The FUSE wire structures: the shared `fusewb-wire` crate, plus the INIT
//! flags this server answers with, as the 32-bit `fuse_init_out.flags`.

pub use fusewb_wire::*;

pub const FUSE_ASYNC_READ: u32 = initflags::ASYNC_READ as u32;
pub const FUSE_BIG_WRITES: u32 = initflags::BIG_WRITES as u32;
pub const FUSE_MAX_PAGES: u32 = initflags::MAX_PAGES as u32;
