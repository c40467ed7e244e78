//! Behaviour of flunq-transform through its public API, one behaviour per test.

// Helpers outside #[test] functions unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod content_type;
mod form;
mod json;
mod limits;
mod response_format;
mod round_trip;
mod text;
mod xml_decode;
mod xml_encode;
