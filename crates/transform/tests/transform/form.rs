//! application/x-www-form-urlencoded bodies.

use flunq_transform::{TransformError, encode};
use serde_json::json;

use crate::support::auto;

const FORM: &str = "application/x-www-form-urlencoded";

fn form(value: &serde_json::Value) -> String {
    String::from_utf8(encode(value, FORM).unwrap().bytes).unwrap()
}

#[test]
fn encodes_flat_object_in_key_order() {
    assert_eq!(
        form(&json!({"user": "ada", "lang": "en"})),
        "user=ada&lang=en"
    );
}

#[test]
fn percent_encodes_reserved_and_non_ascii_characters() {
    assert_eq!(
        form(&json!({"q": "a b&c=d/\u{e9}"})),
        "q=a+b%26c%3Dd%2F%C3%A9"
    );
}

#[test]
fn arrays_become_repeated_keys() {
    assert_eq!(
        form(&json!({"tag": ["a", "b"], "x": "1"})),
        "tag=a&tag=b&x=1"
    );
}

#[test]
fn numbers_and_booleans_become_strings() {
    assert_eq!(form(&json!({"n": 2.5, "ok": true})), "n=2.5&ok=true");
}

#[test]
fn null_becomes_an_empty_value() {
    assert_eq!(form(&json!({"a": null, "b": [null, 1]})), "a=&b=&b=1");
}

#[test]
fn nested_object_is_refused_naming_the_key() {
    let err = encode(&json!({"ok": 1, "address": {"city": "x"}}), FORM).unwrap_err();
    assert_eq!(
        err,
        TransformError::FormNotFlat {
            key: "address".into(),
            found: "an object"
        }
    );
}

#[test]
fn array_of_arrays_is_refused_naming_the_item() {
    let err = encode(&json!({"m": [1, [2]]}), FORM).unwrap_err();
    assert_eq!(
        err,
        TransformError::FormNotFlat {
            key: "m[1]".into(),
            found: "an array"
        }
    );
}

#[test]
fn non_object_body_is_refused() {
    let err = encode(&json!([1, 2]), FORM).unwrap_err();
    assert_eq!(err, TransformError::FormNotObject { found: "an array" });
}

#[test]
fn string_body_is_sent_as_is() {
    assert_eq!(form(&json!("a=1&b=2")), "a=1&b=2");
}

#[test]
fn decodes_form_into_an_object_of_strings() {
    let value = auto(b"user=ada&q=a+b%26c&empty=", Some(FORM));
    assert_eq!(value, json!({"user": "ada", "q": "a b&c", "empty": ""}));
}

#[test]
fn repeated_keys_decode_into_arrays() {
    let value = auto(
        b"tag=a&x=1&tag=b&tag=c",
        Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
    );
    assert_eq!(value, json!({"tag": ["a", "b", "c"], "x": "1"}));
}
