//! JSON value to XML.

use flunq_transform::{TransformError, encode};
use serde_json::json;

use crate::support::{DECLARATION, to_xml, xml_error};

#[test]
fn document_starts_with_an_xml_declaration() {
    let body = encode(&json!({"a": "x"}), "application/xml").unwrap();
    assert!(body.bytes.starts_with(DECLARATION.as_bytes()));
}

#[test]
fn object_keys_become_elements_in_key_order() {
    let xml = to_xml(&json!({"user": {"name": "Ada", "age": "36"}}));
    assert_eq!(xml, "<user><name>Ada</name><age>36</age></user>");
}

#[test]
fn at_keys_become_attributes() {
    let xml = to_xml(&json!({"user": {"@id": "7", "@role": "admin", "name": "Ada"}}));
    assert_eq!(xml, r#"<user id="7" role="admin"><name>Ada</name></user>"#);
}

#[test]
fn hash_text_becomes_text_content() {
    let xml = to_xml(&json!({"price": {"@currency": "EUR", "#text": "9.50"}}));
    assert_eq!(xml, r#"<price currency="EUR">9.50</price>"#);
}

#[test]
fn arrays_become_repeated_elements() {
    let xml = to_xml(&json!({"list": {"item": ["a", {"@n": "2"}, "c"]}}));
    assert_eq!(
        xml,
        r#"<list><item>a</item><item n="2"/><item>c</item></list>"#
    );
}

#[test]
fn numbers_and_booleans_become_text() {
    let xml = to_xml(&json!({"r": {"n": 1.5, "i": -3, "b": true, "@f": false}}));
    assert_eq!(xml, r#"<r f="false"><n>1.5</n><i>-3</i><b>true</b></r>"#);
}

#[test]
fn null_becomes_an_empty_element() {
    assert_eq!(to_xml(&json!({"r": {"gift": null}})), "<r><gift/></r>");
}

#[test]
fn empty_object_and_empty_string_become_empty_elements() {
    assert_eq!(
        to_xml(&json!({"r": {"a": {}, "b": ""}})),
        "<r><a/><b></b></r>"
    );
}

#[test]
fn null_attribute_is_an_empty_attribute() {
    assert_eq!(to_xml(&json!({"r": {"@a": null}})), r#"<r a=""/>"#);
}

#[test]
fn prefixed_names_are_kept() {
    let xml = to_xml(&json!({"soap:Envelope": {"@xmlns:soap": "urn:s", "soap:Body": ""}}));
    assert_eq!(
        xml,
        r#"<soap:Envelope xmlns:soap="urn:s"><soap:Body></soap:Body></soap:Envelope>"#
    );
}

#[test]
fn text_markup_characters_are_escaped() {
    let xml = to_xml(&json!({"t": "a < b && c > d"}));
    assert_eq!(xml, "<t>a &lt; b &amp;&amp; c &gt; d</t>");
}

#[test]
fn cdata_end_marker_cannot_appear_in_text() {
    let xml = to_xml(&json!({"t": "x]]>y"}));
    assert_eq!(xml, "<t>x]]&gt;y</t>");
}

#[test]
fn quotes_and_markup_in_attributes_are_escaped() {
    let xml = to_xml(&json!({"t": {"@q": "say \"hi\" & 'bye' <now>"}}));
    assert_eq!(
        xml,
        r#"<t q="say &quot;hi&quot; &amp; 'bye' &lt;now&gt;"/>"#
    );
}

#[test]
fn line_breaks_and_tabs_in_attributes_are_character_references() {
    let xml = to_xml(&json!({"t": {"@v": "a\nb\tc\rd"}}));
    assert_eq!(xml, r#"<t v="a&#10;b&#9;c&#13;d"/>"#);
}

#[test]
fn carriage_return_in_text_is_a_character_reference() {
    assert_eq!(to_xml(&json!({"t": "a\r\nb"})), "<t>a&#13;\nb</t>");
}

#[test]
fn root_must_be_a_single_key() {
    for value in [json!({}), json!({"a": 1, "b": 2})] {
        let err = xml_error(&value);
        assert!(matches!(err, TransformError::XmlRoot { .. }), "{err}");
    }
}

#[test]
fn root_must_be_an_object() {
    for value in [json!([1]), json!(3), json!(null), json!(true)] {
        let err = xml_error(&value);
        assert!(matches!(err, TransformError::XmlRoot { .. }), "{err}");
    }
}

#[test]
fn root_key_cannot_hold_an_array() {
    let err = xml_error(&json!({"a": [1, 2]}));
    assert!(err.to_string().contains("one root element"), "{err}");
}

#[test]
fn invalid_element_name_is_an_error_naming_the_key_and_path() {
    let err = xml_error(&json!({"order": {"items": [{"ok": 1}, {"first name": "x"}]}}));
    assert_eq!(
        err,
        TransformError::InvalidXmlName {
            key: "first name".into(),
            path: "order.items[1].first name".into()
        }
    );
}

#[test]
fn names_that_would_inject_markup_are_refused() {
    for key in ["a><script", "1st", "", "a/b", "#comment"] {
        let err = xml_error(&json!({"r": {key: "x"}}));
        assert!(
            matches!(err, TransformError::InvalidXmlName { .. }),
            "{key:?}: {err}"
        );
    }
}

#[test]
fn invalid_attribute_name_is_an_error() {
    let err = xml_error(&json!({"r": {"@a b": "x"}}));
    assert!(
        matches!(err, TransformError::InvalidXmlName { ref key, .. } if key == "a b"),
        "{err}"
    );
}

#[test]
fn array_inside_array_is_refused() {
    let err = xml_error(&json!({"r": {"a": [[1, 2]]}}));
    assert!(
        matches!(err, TransformError::XmlShape { ref path, .. } if path == "r.a[0]"),
        "{err}"
    );
}

#[test]
fn object_attribute_value_is_refused() {
    let err = xml_error(&json!({"r": {"@a": {"b": 1}}}));
    assert!(
        matches!(err, TransformError::XmlShape { ref path, .. } if path == "r.@a"),
        "{err}"
    );
}

#[test]
fn object_text_value_is_refused() {
    let err = xml_error(&json!({"r": {"#text": [1]}}));
    assert!(matches!(err, TransformError::XmlShape { .. }), "{err}");
}

#[test]
fn character_forbidden_in_xml_is_refused_naming_the_key() {
    let err = xml_error(&json!({"r": {"bell": "ding\u{7}"}}));
    assert_eq!(
        err,
        TransformError::InvalidXmlChar {
            path: "r.bell".into(),
            code: 7
        }
    );
}

#[test]
fn string_body_is_sent_as_is() {
    let raw = "<order id='1'/>";
    let body = encode(&json!(raw), "application/xml").unwrap();
    assert_eq!(body.bytes, raw.as_bytes());
}

#[test]
fn xml_encoding_refuses_a_non_utf8_charset() {
    let err = encode(&json!({"a": 1}), "text/xml; charset=iso-8859-1").unwrap_err();
    assert!(
        matches!(err, TransformError::UnsupportedCharset { .. }),
        "{err}"
    );
}
