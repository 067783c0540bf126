//! The gRPC edge: generated code (`pb`); the service implementations, proto <-> domain conversion
//! and the one error-to-status mapping come with the gRPC service.

pub mod auth;
pub mod convert;
pub mod pb;
pub mod sandbox;
pub mod status;
pub mod two_factor;
