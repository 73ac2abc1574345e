//! Alert tests.
