//! Shorthands shared by the tests.

use flunq_transform::{ResponseFormat, TransformError, decode, encode};
use serde_json::Value;

pub(crate) const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// The XML document for `value`, without its declaration.
pub(crate) fn to_xml(value: &Value) -> String {
    let body = encode(value, "application/xml").unwrap();
    let text = String::from_utf8(body.bytes).unwrap();
    text.strip_prefix(DECLARATION).unwrap().to_owned()
}

/// The error encoding `value` as XML gives.
pub(crate) fn xml_error(value: &Value) -> TransformError {
    encode(value, "application/xml").unwrap_err()
}

/// `body` decoded as XML under `auto`.
pub(crate) fn from_xml(body: &str) -> Value {
    decode(
        body.as_bytes(),
        Some("application/xml"),
        ResponseFormat::Auto,
    )
    .unwrap()
}

/// `body` decoded under `auto` with `content_type`.
pub(crate) fn auto(body: &[u8], content_type: Option<&str>) -> Value {
    decode(body, content_type, ResponseFormat::Auto).unwrap()
}
