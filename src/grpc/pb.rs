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

/// The encoded descriptor set of the public API (`authyd.v1`) and its imports, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/authyd_descriptor.bin"));

/// The encoded descriptor set of the sandbox controls, registered only in sandbox mode.
pub const SANDBOX_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/authyd_sandbox_descriptor.bin"));
