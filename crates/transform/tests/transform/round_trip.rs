//! Property tests: values in the shape decoding produces survive encode then decode.

use flunq_transform::{ResponseFormat, decode, encode};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Characters worth trying: markup, quotes, whitespace of every kind, entities' ampersand,
/// the CDATA end marker's pieces, and some non-ASCII.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '<', '>', '&', '"', '\'', ']', ' ', '\t', '\n', '\r', ';', '#', '=', '%', '+',
            '\u{e9}', '\u{20AC}', '\u{1F600}', '\u{85}', '\u{2028}',
        ]),
        2 => proptest::char::range('a', 'z'),
        1 => any::<char>(),
    ]
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn xml_text() -> impl Strategy<Value = String> {
    vec(
        tricky_char().prop_filter("XML 1.0 character", |c| is_xml_char(*c)),
        0..10,
    )
    .prop_map(String::from_iter)
}

fn xml_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_.-]{0,6}",
        "[a-z]{1,3}:[a-zA-Z][a-zA-Z0-9]{0,5}",
        "[\u{e0}-\u{f6}\u{4E00}-\u{4E10}][a-z0-9\u{B7}]{0,3}",
    ]
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// An element's value, built only in the shape that decoding yields: strings for leaves;
/// objects that are not empty and not `#text` alone; arrays of two or more items; `#text`
/// trimmed beside children.
fn xml_element() -> impl Strategy<Value = Value> {
    xml_text()
        .prop_map(Value::String)
        .prop_recursive(4, 48, 4, |inner| {
            let child = prop_oneof![
                3 => inner.clone(),
                1 => vec(inner, 2..4).prop_map(Value::Array),
            ];
            (
                btree_map(xml_name(), xml_text(), 0..3),
                btree_map(xml_name(), child, 0..4),
                xml_text(),
            )
                .prop_map(|(attributes, children, text)| {
                    let text = if children.is_empty() {
                        text
                    } else {
                        text.trim_matches(is_xml_space).to_owned()
                    };
                    if attributes.is_empty() && children.is_empty() {
                        return Value::String(text);
                    }
                    let mut map = Map::new();
                    for (name, value) in attributes {
                        map.insert(format!("@{name}"), Value::String(value));
                    }
                    if !text.is_empty() {
                        map.insert("#text".to_owned(), Value::String(text));
                    }
                    map.extend(children);
                    Value::Object(map)
                })
        })
}

fn xml_document() -> impl Strategy<Value = Value> {
    (xml_name(), xml_element()).prop_map(|(root, element)| {
        let mut map = Map::new();
        map.insert(root, element);
        Value::Object(map)
    })
}

fn form_object() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        3 => any::<String>().prop_map(Value::String),
        1 => vec(any::<String>().prop_map(Value::String), 2..4).prop_map(Value::Array),
    ];
    btree_map(any::<String>(), value, 0..6).prop_map(|map| Value::Object(map.into_iter().collect()))
}

proptest! {
    #[test]
    fn xml_round_trips_values_in_the_decoded_shape(document in xml_document()) {
        let body = encode(&document, "application/xml").unwrap();
        let back = decode(&body.bytes, Some("application/xml"), ResponseFormat::Auto).unwrap();
        prop_assert_eq!(back, document);
    }

    #[test]
    fn form_round_trips_flat_objects(object in form_object()) {
        let body = encode(&object, "application/x-www-form-urlencoded").unwrap();
        let back = decode(&body.bytes, Some("application/x-www-form-urlencoded"), ResponseFormat::Auto)
            .unwrap();
        prop_assert_eq!(back, object);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        body in vec(any::<u8>(), 0..256),
        content_type in prop::sample::select(vec![
            "application/json", "application/xml", "text/plain; charset=utf-16",
            "application/x-www-form-urlencoded", "image/png", "text/xml; charset=latin1",
        ]),
    ) {
        for format in [ResponseFormat::Auto, ResponseFormat::Json, ResponseFormat::Xml, ResponseFormat::Text] {
            let _ = decode(&body, Some(content_type), format);
        }
    }
}
