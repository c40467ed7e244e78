//! Depth and size limits: errors, never a stack overflow or a panic.

use flunq_transform::{
    Limits, ResponseFormat, TransformError, decode, decode_with_limits, encode, encode_with_limits,
};
use serde_json::{Value, json};

fn nested_json(levels: usize) -> Vec<u8> {
    let mut body = "[".repeat(levels);
    body.push_str(&"]".repeat(levels));
    body.into_bytes()
}

fn nested_xml(levels: usize) -> Vec<u8> {
    let mut body = "<a>".repeat(levels);
    body.push_str(&"</a>".repeat(levels));
    body.into_bytes()
}

fn limits(max_depth: usize) -> Limits {
    Limits {
        max_depth,
        ..Limits::DEFAULT
    }
}

fn is_too_deep(result: &Result<Value, TransformError>, format: &str) -> bool {
    matches!(result, Err(TransformError::TooDeep { format: f, .. }) if *f == format)
}

#[test]
fn default_limits_are_128_levels_and_10_mib() {
    assert_eq!(
        Limits::default(),
        Limits {
            max_depth: 128,
            max_bytes: 10 * 1024 * 1024
        }
    );
}

#[test]
fn json_with_100000_nested_arrays_is_too_deep() {
    let result = decode(
        &nested_json(100_000),
        Some("application/json"),
        ResponseFormat::Auto,
    );
    assert!(is_too_deep(&result, "JSON"));
}

#[test]
fn xml_with_100000_nested_elements_is_too_deep() {
    let result = decode(
        &nested_xml(100_000),
        Some("application/xml"),
        ResponseFormat::Auto,
    );
    assert!(is_too_deep(&result, "XML"));
}

#[test]
fn json_at_the_depth_limit_decodes_and_one_more_fails() {
    let ok = decode_with_limits(&nested_json(4), None, ResponseFormat::Json, limits(4));
    assert!(ok.is_ok());
    let deep = decode_with_limits(&nested_json(5), None, ResponseFormat::Json, limits(4));
    assert!(is_too_deep(&deep, "JSON"));
}

#[test]
fn xml_at_the_depth_limit_decodes_and_one_more_fails() {
    let ok = decode_with_limits(&nested_xml(4), None, ResponseFormat::Xml, limits(4));
    assert!(ok.is_ok());
    let deep = decode_with_limits(&nested_xml(5), None, ResponseFormat::Xml, limits(4));
    assert!(is_too_deep(&deep, "XML"));
}

#[test]
fn too_deep_error_says_where() {
    let err = decode_with_limits(
        b"<a>\n <b><c/></b></a>",
        None,
        ResponseFormat::Xml,
        limits(2),
    )
    .unwrap_err();
    assert!(err.to_string().contains("element <c> at line 2"), "{err}");
    let err =
        decode_with_limits(b"{\"a\":\n [[1]]}", None, ResponseFormat::Json, limits(2)).unwrap_err();
    assert!(err.to_string().contains("line 2, column 3"), "{err}");
}

#[test]
fn json_depth_is_capped_at_serde_json_limit_of_127() {
    let wide = limits(1_000);
    assert!(decode_with_limits(&nested_json(127), None, ResponseFormat::Json, wide).is_ok());
    let err = decode_with_limits(&nested_json(128), None, ResponseFormat::Json, wide).unwrap_err();
    assert!(
        matches!(err, TransformError::TooDeep { max: 127, .. }),
        "{err}"
    );
}

#[test]
fn serde_json_alone_refuses_128_levels() {
    // Pins the serde_json behaviour the cap above relies on.
    let err = serde_json::from_slice::<Value>(&nested_json(128)).unwrap_err();
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
    assert!(serde_json::from_slice::<Value>(&nested_json(127)).is_ok());
}

#[test]
fn too_deep_under_auto_is_still_an_error() {
    let deep = decode_with_limits(
        &nested_json(10),
        Some("application/json"),
        ResponseFormat::Auto,
        limits(3),
    );
    assert!(is_too_deep(&deep, "JSON"));
}

#[test]
fn oversize_body_is_refused_for_every_format() {
    let small = Limits {
        max_bytes: 8,
        ..Limits::DEFAULT
    };
    for format in [
        ResponseFormat::Auto,
        ResponseFormat::Text,
        ResponseFormat::Base64,
    ] {
        let err = decode_with_limits(b"123456789", None, format, small).unwrap_err();
        assert_eq!(err, TransformError::BodyTooLarge { len: 9, max: 8 });
    }
}

#[test]
fn body_at_the_size_limit_decodes() {
    let small = Limits {
        max_bytes: 9,
        ..Limits::DEFAULT
    };
    assert!(decode_with_limits(b"123456789", None, ResponseFormat::Auto, small).is_ok());
}

#[test]
fn oversize_encoded_body_is_refused() {
    let small = Limits {
        max_bytes: 8,
        ..Limits::DEFAULT
    };
    let err = encode_with_limits(&json!({"a": "123456"}), "application/json", small).unwrap_err();
    assert_eq!(err, TransformError::EncodedTooLarge { len: 14, max: 8 });
}

#[test]
fn encoding_a_value_deeper_than_the_limit_is_refused() {
    let value = json!({"a": {"b": {"c": {"d": 1}}}});
    for content_type in ["application/json", "application/xml", "text/plain"] {
        let err = encode_with_limits(&value, content_type, limits(3)).unwrap_err();
        assert!(
            matches!(err, TransformError::TooDeep { .. }),
            "{content_type}: {err}"
        );
    }
}

#[test]
fn encoding_a_very_deep_value_errors_without_overflow() {
    let mut value = json!(1);
    for _ in 0..100_000 {
        let mut map = serde_json::Map::new();
        map.insert("a".to_owned(), value);
        value = Value::Object(map);
    }
    for content_type in ["application/json", "application/xml", "text/plain"] {
        let err = encode(&value, content_type).unwrap_err();
        assert!(
            matches!(err, TransformError::TooDeep { .. }),
            "{content_type}: {err}"
        );
    }
    // serde_json drops values recursively: unwind this one by hand so that the test itself
    // does not overflow the stack.
    while let Value::Object(mut map) = value {
        value = map.remove("a").unwrap_or(Value::Null);
    }
}

#[test]
fn errors_never_quote_the_body() {
    let secret = "s3cr3t-token";
    let bodies = [
        format!("{{\"token\": \"{secret}\", oops}}"),
        format!("<a token=\"{secret}\"><b></a>"),
    ];
    for (body, format) in bodies
        .iter()
        .zip([ResponseFormat::Json, ResponseFormat::Xml])
    {
        let err = decode(body.as_bytes(), None, format).unwrap_err();
        assert!(!err.to_string().contains(secret), "{err}");
    }
}
