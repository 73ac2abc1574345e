//! The pure engine of rolling releases: which hosts a rollout targets and in which waves
//! ([`plan`]), the metric gates checked while a wave bakes ([`gate`]), and the state
//! machine that turns events into actions ([`machine`]).
//!
//! Nothing here does I/O, reads a clock, spawns a task or knows proto types: time is a
//! unix-ms `now` passed in, and the driver persists the [`machine::Rollout`] after every
//! call and carries out the actions it returns.

pub mod gate;
pub mod machine;
pub mod plan;

#[cfg(test)]
mod tests;
