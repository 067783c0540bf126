//! Authy (`api.authy.com`), the first provider. `wire` holds Authy's JSON shapes and tolerant
//! parsing, `client` the HTTP calls, `signature` the OneTouch callback signature (reference §4.3).

mod client;
pub mod registration;
pub mod signature;
mod wire;

pub use client::{AuthyClient, AuthyConfig, RetryPolicy};
pub use registration::AuthyApp;
