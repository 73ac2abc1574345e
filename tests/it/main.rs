//! In-process integration tests: a real coordinator and real agents in one process, over
//! loopback mTLS with certificates minted per test.

mod abuse;
mod analysis;
mod backup;
mod backup_race;
mod capacity;
mod counts;
mod deletes;
mod deploy;
mod enroll;
mod environments;
mod fuzz;
mod health;
mod history;
mod hostile_agent;
mod hostile_coordinator;
mod jobs;
mod link;
mod listener;
mod lost_results;
mod monitor;
mod operations;
mod policy;
mod release_notes;
mod renewal;
mod report;
mod revocation;
mod rollout;
mod rotation;
mod security;
mod signals;
mod support;
