//! JSON bodies.

use flunq_transform::{ResponseFormat, TransformError, decode, encode};
use serde_json::json;

use crate::support::auto;

#[test]
fn encodes_value_as_compact_json_in_key_order() {
    let body = encode(&json!({"z": [true, null], "a": "x"}), "application/json").unwrap();
    assert_eq!(body.bytes, br#"{"z":[true,null],"a":"x"}"#);
}

#[test]
fn string_encodes_as_json_string() {
    let body = encode(&json!("hi"), "application/json").unwrap();
    assert_eq!(body.bytes, br#""hi""#);
}

#[test]
fn json_encoding_refuses_a_non_utf8_charset() {
    let err = encode(&json!({}), "application/json; charset=iso-8859-1").unwrap_err();
    assert!(
        matches!(err, TransformError::UnsupportedCharset { .. }),
        "{err}"
    );
}

#[test]
fn decodes_json_body() {
    let value = auto(br#"{"id": 7, "tags": ["a"]}"#, Some("application/json"));
    assert_eq!(value, json!({"id": 7, "tags": ["a"]}));
}

#[test]
fn decodes_plus_json_body() {
    let value = auto(br#"{"title": "x"}"#, Some("application/problem+json"));
    assert_eq!(value, json!({"title": "x"}));
}

#[test]
fn decodes_json_after_utf8_bom() {
    let value = auto(b"\xEF\xBB\xBF[1]", Some("application/json"));
    assert_eq!(value, json!([1]));
}

#[test]
fn invalid_json_under_explicit_format_names_line_and_column() {
    let err = decode(b"{\"a\": 1,\n \"b\": x}", None, ResponseFormat::Json).unwrap_err();
    match err {
        TransformError::InvalidJson { line, column, .. } => assert_eq!((line, column), (2, 7)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn invalid_json_under_auto_falls_back_to_text() {
    let value = auto(b"<html>502 Bad Gateway</html>", Some("application/json"));
    assert_eq!(value, json!("<html>502 Bad Gateway</html>"));
}

#[test]
fn empty_json_body_under_auto_is_null() {
    assert_eq!(auto(b"", Some("application/json")), json!(null));
}

#[test]
fn empty_json_body_under_explicit_format_is_an_error() {
    let err = decode(b"", None, ResponseFormat::Json).unwrap_err();
    assert!(matches!(err, TransformError::InvalidJson { .. }), "{err}");
}

#[test]
fn json_format_overrides_content_type() {
    let value = decode(b"[1, 2]", Some("text/plain"), ResponseFormat::Json).unwrap();
    assert_eq!(value, json!([1, 2]));
}

#[test]
fn json_in_a_latin1_charset_is_transcoded() {
    let value = auto(
        b"[\"caf\xE9\"]",
        Some("application/json; charset=iso-8859-1"),
    );
    assert_eq!(value, json!(["caf\u{e9}"]));
}
