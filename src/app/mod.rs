//! Use-cases: the only code that touches both the store and the provider. Watch hubs live here.

pub mod hub;
pub mod keys;
pub mod limits;
pub mod qr;
pub mod registration;
pub mod twofactor;
