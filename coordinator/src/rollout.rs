//! The pure engine of rolling releases: which hosts a rollout targets and in which waves
//! ([`plan`]), the metric gates checked while a wave bakes ([`gate`]), and the state
//! machine that turns events into actions ([`machine`]).
//!
//! `plan`, `gate` and `machine` do no I/O, read no clock, spawn no task and know no proto
//! types: time is a unix-ms `now` passed in. [`driver`] is the I/O shell: it logs every
//! input before applying it and carries out the actions; [`record`] converts between
//! the engine's types and what is stored and shown; [`report`] reads what a post-deployment
//! report is made of and stores it when the rollout ends.

pub mod driver;
pub mod gate;
pub mod machine;
pub mod plan;
pub mod record;
pub mod report;

#[cfg(test)]
mod tests;
