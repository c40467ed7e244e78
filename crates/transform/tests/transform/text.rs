//! Text, charsets and the base64 fallback.

use flunq_transform::{ResponseFormat, TransformError, decode, encode};
use serde_json::json;

use crate::support::auto;

#[test]
fn text_string_is_sent_as_is() {
    let body = encode(&json!("hello <world>"), "text/plain").unwrap();
    assert_eq!(body.bytes, b"hello <world>");
}

#[test]
fn text_non_string_is_sent_as_its_json_text() {
    assert_eq!(encode(&json!(42), "text/plain").unwrap().bytes, b"42");
    assert_eq!(
        encode(&json!({"a": [1]}), "text/plain").unwrap().bytes,
        br#"{"a":[1]}"#
    );
}

#[test]
fn text_is_encoded_in_the_named_charset() {
    let body = encode(
        &json!("caf\u{e9} \u{20AC}"),
        "text/plain; charset=ISO-8859-1",
    )
    .unwrap();
    assert_eq!(body.bytes, b"caf\xE9 \x80");
}

#[test]
fn text_character_outside_the_charset_is_refused() {
    let err = encode(&json!("\u{4E2D}"), "text/plain; charset=latin1").unwrap_err();
    assert_eq!(
        err,
        TransformError::Unencodable {
            charset: "windows-1252",
            code: 0x4E2D
        }
    );
}

#[test]
fn text_in_an_unknown_charset_is_refused() {
    let err = encode(&json!("x"), "text/plain; charset=shift_jis").unwrap_err();
    assert!(
        matches!(err, TransformError::UnsupportedCharset { .. }),
        "{err}"
    );
}

#[test]
fn decodes_utf8_text() {
    assert_eq!(
        auto("caf\u{e9}".as_bytes(), Some("text/plain; charset=utf-8")),
        json!("caf\u{e9}")
    );
}

#[test]
fn text_without_charset_is_utf8() {
    assert_eq!(
        auto("\u{2713}".as_bytes(), Some("text/html")),
        json!("\u{2713}")
    );
}

#[test]
fn decodes_latin1_byte_e9() {
    assert_eq!(
        auto(b"caf\xE9", Some("text/plain; charset=iso-8859-1")),
        json!("caf\u{e9}")
    );
}

#[test]
fn decodes_windows_1252_smart_quotes() {
    let value = auto(b"\x93quoted\x94", Some("text/plain; charset=windows-1252"));
    assert_eq!(value, json!("\u{201C}quoted\u{201D}"));
}

#[test]
fn decodes_utf16_by_its_bom() {
    assert_eq!(auto(b"\xFE\xFF\x00h\x00i", Some("text/plain")), json!("hi"));
}

#[test]
fn type_with_a_charset_decodes_as_text() {
    assert_eq!(
        auto(b"{ me }", Some("application/graphql; charset=utf-8")),
        json!("{ me }")
    );
}

#[test]
fn invalid_utf8_text_without_charset_is_base64() {
    assert_eq!(
        auto(b"ok\xFF", Some("text/plain")),
        json!({"base64": "b2v/"})
    );
}

#[test]
fn binary_content_type_is_base64() {
    assert_eq!(auto(b"PNG", Some("image/png")), json!({"base64": "UE5H"}));
}

#[test]
fn missing_content_type_with_utf8_is_a_string() {
    assert_eq!(auto(b"plain", None), json!("plain"));
}

#[test]
fn missing_content_type_with_binary_is_base64() {
    assert_eq!(
        auto(&[0, 159, 146, 150], None),
        json!({"base64": "AJ+Slg=="})
    );
}

#[test]
fn unparseable_content_type_counts_as_missing() {
    assert_eq!(auto(b"plain", Some("nonsense")), json!("plain"));
}

#[test]
fn unknown_charset_under_auto_falls_back_to_utf8() {
    assert_eq!(
        auto(b"abc", Some("text/plain; charset=x-klingon")),
        json!("abc")
    );
}

#[test]
fn explicit_text_replaces_malformed_bytes() {
    let value = decode(b"ok\xFF", Some("image/png"), ResponseFormat::Text).unwrap();
    assert_eq!(value, json!("ok\u{FFFD}"));
}

#[test]
fn explicit_text_in_an_unknown_charset_is_an_error() {
    let err = decode(
        b"x",
        Some("text/plain; charset=x-klingon"),
        ResponseFormat::Text,
    )
    .unwrap_err();
    assert!(
        matches!(err, TransformError::UnsupportedCharset { .. }),
        "{err}"
    );
}

#[test]
fn explicit_base64_wraps_any_body() {
    let value = decode(b"{}", Some("application/json"), ResponseFormat::Base64).unwrap();
    assert_eq!(value, json!({"base64": "e30="}));
}
