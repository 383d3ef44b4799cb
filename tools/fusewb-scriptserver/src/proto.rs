//! The FUSE wire structures: the shared `fusewb-wire` crate.

pub use fusewb_wire::*;
