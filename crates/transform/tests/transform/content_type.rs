//! Choosing the encoding from the Content-Type.

use flunq_transform::{TransformError, encode};
use serde_json::json;

#[test]
fn json_content_type_ignores_parameters_and_case() {
    let body = encode(&json!({"a": 1}), "Application/JSON; charset=utf-8").unwrap();
    assert_eq!(body.bytes, br#"{"a":1}"#);
}

#[test]
fn plus_json_suffix_encodes_as_json() {
    let body = encode(&json!([1, 2]), "application/vnd.api+json").unwrap();
    assert_eq!(body.bytes, b"[1,2]");
}

#[test]
fn text_xml_encodes_as_xml() {
    let body = encode(&json!({"a": "x"}), "text/xml").unwrap();
    assert!(body.bytes.ends_with(b"<a>x</a>"));
}

#[test]
fn plus_xml_suffix_encodes_as_xml() {
    let body = encode(&json!({"a": "x"}), "application/soap+xml; charset=UTF-8").unwrap();
    assert!(body.bytes.ends_with(b"<a>x</a>"));
}

#[test]
fn encoded_keeps_the_given_content_type() {
    let body = encode(&json!({"a": 1}), " application/json; charset=utf-8 ").unwrap();
    assert_eq!(body.content_type, "application/json; charset=utf-8");
}

#[test]
fn invalid_content_type_is_an_error() {
    let err = encode(&json!({}), "json").unwrap_err();
    assert!(
        matches!(err, TransformError::InvalidContentType { .. }),
        "{err}"
    );
}

#[test]
fn binary_content_type_takes_base64_object() {
    let body = encode(&json!({"base64": "/wA="}), "application/octet-stream").unwrap();
    assert_eq!(body.bytes, [0xFF, 0x00]);
}

#[test]
fn binary_content_type_takes_string_as_utf8() {
    let body = encode(&json!("caf\u{e9}"), "application/octet-stream").unwrap();
    assert_eq!(body.bytes, "caf\u{e9}".as_bytes());
}

#[test]
fn binary_content_type_refuses_other_values() {
    let err = encode(&json!({"a": 1}), "image/png").unwrap_err();
    assert!(
        matches!(err, TransformError::UnsupportedBody { .. }),
        "{err}"
    );
}

#[test]
fn binary_content_type_refuses_invalid_base64() {
    let err = encode(&json!({"base64": "not base64!"}), "image/png").unwrap_err();
    assert!(matches!(err, TransformError::InvalidBase64 { .. }), "{err}");
}
