//! Shared set-up of the integration tests.

pub mod kafka;
