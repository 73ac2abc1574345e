//! Convoy's coordinator and operator CLI.
//!
//! `convoy serve` ([`server`]) keeps the fleet inventory ([`registry`], persisted by
//! [`store`]) and serves the agent link and admin API over one mTLS port ([`grpc`]). The
//! other subcommands ([`cli`]) are the operator CLI: a gRPC client that never opens the
//! live database, plus the fleet CA ([`pki`]).

pub mod alerts;
pub mod analysis;
pub mod backups;
pub mod capacity;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod enroll;
pub mod events;
pub mod exposition;
pub mod grpc;
pub mod history;
pub mod monitoring;
pub mod notify;
pub mod pki;
pub mod policy;
pub mod rate;
pub mod registry;
pub mod releases;
pub mod reload;
pub mod revocation;
pub mod rollout;
pub mod rotation;
pub mod scaling;
pub mod selector;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod telemetry;
