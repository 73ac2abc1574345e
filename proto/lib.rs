//! Convoy's wire contract: the generated gRPC services and messages (`v1`), plus the two
//! things both ends of the link must agree on beyond the .proto files: how an identity is
//! written into and read out of a certificate (`identity`), and the TLS set-up rules (`tls`).
//!
//! This crate does no I/O beyond what tonic's generated code does and holds no policy.

pub mod identity;
pub mod labels;
pub mod service;
pub mod signing;
pub mod tls;
pub mod trust;

/// Generated code for package `convoy.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs, rust_2018_idioms)]
pub mod v1 {
    tonic::include_proto!("convoy.v1");
}

/// Largest message either side accepts on the agent link, in bytes. A bigger message ends
/// that one stream with `OutOfRange`/`ResourceExhausted`; other agents are unaffected.
pub const MAX_AGENT_MESSAGE_BYTES: usize = 1024 * 1024;

/// Largest message the admin service accepts or sends, in bytes.
pub const MAX_ADMIN_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
