//! authyd: a gRPC two-factor authentication gateway in front of Twilio Authy, and a faithful,
//! stateful Authy simulator. See ARCHITECTURE.md for the codemap.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod http;
pub mod provider;
pub mod secret;
pub mod sim;
pub mod startup;
pub mod store;
