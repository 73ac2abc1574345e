//! Hostile peers for security tests: they speak the real protocol with real certificates
//! minted by the test's CA, and send what a compromised peer would. Each hole closed gets
//! a test that drives one of them.
//!
//! - [`coordinator`]: a coordinator that uses the fleet's real server certificate and
//!   speaks `AgentLink` to a real agent, sending whatever commands and downloads it likes.
//! - [`agent`]: an agent with a real agent certificate that sends whatever Hello, events
//!   and uploads it likes to a real coordinator.

pub mod agent;
pub mod coordinator;
