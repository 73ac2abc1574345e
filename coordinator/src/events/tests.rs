//! Event log tests.
