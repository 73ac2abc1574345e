//! In-process integration tests: a real coordinator and real agents in one process, over
//! loopback mTLS with certificates minted per test.

mod abuse;
mod backup;
mod backup_race;
mod counts;
mod deletes;
mod deploy;
mod health;
mod history;
mod hostile_agent;
mod hostile_coordinator;
mod jobs;
mod link;
mod operations;
mod rollout;
mod security;
mod support;
