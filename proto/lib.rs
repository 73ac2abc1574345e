//! Convoy's wire contract: the generated gRPC services and messages (`v1`), plus the two
//! things both ends of the link must agree on beyond the .proto files: how an identity is
//! written into and read out of a certificate (`identity`), and the TLS set-up rules (`tls`).
//!
//! Beside the contract it hosts the few small things both binaries need the same way and
//! that have no other shared home (the top-level layout has no common crate): running
//! under systemd and the stop/reload signals (`service`), retry pacing (`retry`) and the
//! release-key file format (`signing`). None of them holds policy.

pub mod identity;
pub mod labels;
pub mod retry;
pub mod service;
pub mod signing;
pub mod states;
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

/// App signals one heartbeat may carry (`MetricsSample.signals`): agents refuse configs
/// declaring more, the coordinator refuses a heartbeat with more.
pub const MAX_SIGNALS_PER_HEARTBEAT: usize = 64;

/// Largest message the admin service accepts or sends, in bytes.
pub const MAX_ADMIN_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
