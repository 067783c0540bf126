//! Code generated from `proto/` by `build.rs` (tonic-prost-build). Never edited by hand.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// `authyd.v1`: the public API.
pub mod v1 {
    tonic::include_proto!("authyd.v1");
}

/// `authyd.sandbox.v1`: sandbox controls.
pub mod sandbox {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("authyd.sandbox.v1");
    }
}

/// The encoded descriptor set of every authyd proto and its imports, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/authyd_descriptor.bin"));
