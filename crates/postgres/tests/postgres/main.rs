//! Behaviour against the real PostgreSQL at `DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`).
//! Each test uses its own uniquely named table (dropped by a guard) or literals.

// Helpers outside `#[test]` functions fail the test the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod connection;
mod execution;
mod pooling;
mod support;
mod types;
