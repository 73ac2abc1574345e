//! Notify tests.
