//! Placeholder so the crate compiles; replaced by the real client.
pub struct AuthyClient;
pub struct AuthyConfig;
pub struct RetryPolicy;
