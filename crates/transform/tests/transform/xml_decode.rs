//! XML to JSON value.

use flunq_transform::{ResponseFormat, TransformError, decode, encode};
use serde_json::json;

use crate::support::{auto, from_xml};

fn xml_error(body: &str) -> TransformError {
    decode(body.as_bytes(), None, ResponseFormat::Xml).unwrap_err()
}

#[test]
fn root_element_is_the_single_top_level_key() {
    assert_eq!(
        from_xml("<user><name>Ada</name></user>"),
        json!({"user": {"name": "Ada"}})
    );
}

#[test]
fn attributes_become_at_keys() {
    assert_eq!(
        from_xml(r#"<user id="7" role='admin'/>"#),
        json!({"user": {"@id": "7", "@role": "admin"}})
    );
}

#[test]
fn text_only_element_is_a_plain_string() {
    assert_eq!(from_xml("<a>  spaced  </a>"), json!({"a": "  spaced  "}));
}

#[test]
fn text_beside_attributes_is_hash_text() {
    assert_eq!(
        from_xml(r#"<price currency="EUR">9.50</price>"#),
        json!({"price": {"@currency": "EUR", "#text": "9.50"}})
    );
}

#[test]
fn text_beside_children_is_trimmed_hash_text() {
    assert_eq!(
        from_xml("<p>\n  Hello <b>you</b>\n</p>"),
        json!({"p": {"b": "you", "#text": "Hello"}})
    );
}

#[test]
fn indentation_between_children_is_ignored() {
    let body = "<user>\n  <name>Ada</name>\n  <age>36</age>\n</user>\n";
    assert_eq!(
        from_xml(body),
        json!({"user": {"name": "Ada", "age": "36"}})
    );
}

#[test]
fn repeated_elements_become_an_array_in_order() {
    assert_eq!(
        from_xml("<l><i>a</i><i>b</i><x/><i>c</i></l>"),
        json!({"l": {"i": ["a", "b", "c"], "x": ""}})
    );
}

#[test]
fn empty_elements_are_empty_strings() {
    assert_eq!(
        from_xml("<r><a/><b></b></r>"),
        json!({"r": {"a": "", "b": ""}})
    );
}

#[test]
fn element_with_only_attributes_has_no_text_key() {
    assert_eq!(from_xml(r#"<r a="1"></r>"#), json!({"r": {"@a": "1"}}));
}

#[test]
fn cdata_is_text() {
    assert_eq!(
        from_xml("<s><![CDATA[a < b && ]] c]]> tail</s>"),
        json!({"s": "a < b && ]] c tail"})
    );
}

#[test]
fn predefined_entities_and_character_references_are_resolved() {
    assert_eq!(
        from_xml("<t>&lt;&gt;&amp;&apos;&quot; &#233;&#x20AC;</t>"),
        json!({"t": "<>&'\" \u{e9}\u{20AC}"})
    );
}

#[test]
fn entities_in_attributes_are_resolved() {
    assert_eq!(
        from_xml(r#"<t a="x &amp; &#34;y&#34;"/>"#),
        json!({"t": {"@a": "x & \"y\""}})
    );
}

#[test]
fn namespace_prefixes_are_kept_in_names() {
    let body =
        r#"<s:Envelope xmlns:s="urn:s"><s:Body><m:Get xmlns:m="urn:m"/></s:Body></s:Envelope>"#;
    assert_eq!(
        from_xml(body),
        json!({"s:Envelope": {"@xmlns:s": "urn:s", "s:Body": {"m:Get": {"@xmlns:m": "urn:m"}}}})
    );
}

#[test]
fn declaration_comments_instructions_and_doctype_are_ignored() {
    let body = "<?xml version=\"1.0\"?>\n<!DOCTYPE a>\n<!-- c -->\n<?pi x?>\
                <a><!-- inside --><?pi y?>v</a>\n<!-- after -->";
    assert_eq!(from_xml(body), json!({"a": "v"}));
}

#[test]
fn undefined_entities_are_refused_not_expanded() {
    let body = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
    let err = xml_error(body);
    assert!(err.to_string().contains("undefined entity &lol2;"), "{err}");
}

#[test]
fn character_reference_to_a_forbidden_character_is_refused() {
    let err = xml_error("<a>&#1;</a>");
    assert!(matches!(err, TransformError::InvalidXml { .. }), "{err}");
}

#[test]
fn mismatched_end_tag_is_an_error_with_its_line() {
    let err = xml_error("<a>\n<b></c>\n</a>");
    match err {
        TransformError::InvalidXml { line, .. } => assert_eq!(line, 2),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unclosed_element_is_an_error() {
    let err = xml_error("<a><b>x</b>");
    assert!(matches!(err, TransformError::InvalidXml { .. }), "{err}");
}

#[test]
fn second_root_element_is_an_error() {
    let err = xml_error("<a/><b/>");
    assert!(err.to_string().contains("second root element <b>"), "{err}");
}

#[test]
fn text_outside_the_root_is_an_error() {
    let err = xml_error("<a/>trailing");
    assert!(err.to_string().contains("outside the root"), "{err}");
}

#[test]
fn document_without_root_is_an_error() {
    let err = xml_error("<!-- nothing -->");
    assert!(err.to_string().contains("no root element"), "{err}");
}

#[test]
fn duplicate_attribute_is_an_error() {
    let err = xml_error(r#"<a x="1" x="2"/>"#);
    assert!(matches!(err, TransformError::InvalidXml { .. }), "{err}");
}

#[test]
fn invalid_xml_under_auto_falls_back_to_text() {
    assert_eq!(auto(b"<a><b></a>", Some("text/xml")), json!("<a><b></a>"));
}

#[test]
fn empty_xml_body_under_auto_is_null() {
    assert_eq!(auto(b"  \n", Some("application/xml")), json!(null));
}

#[test]
fn xml_format_overrides_content_type() {
    let value = decode(b"<a>1</a>", Some("application/json"), ResponseFormat::Xml).unwrap();
    assert_eq!(value, json!({"a": "1"}));
}

#[test]
fn latin1_document_is_read_by_its_declaration() {
    let body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xE9</a>";
    assert_eq!(
        auto(body, Some("application/xml")),
        json!({"a": "caf\u{e9}"})
    );
}

#[test]
fn content_type_charset_wins_over_the_declaration() {
    let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>caf\xE9</a>";
    let value = auto(body, Some("text/xml; charset=windows-1252"));
    assert_eq!(value, json!({"a": "caf\u{e9}"}));
}

#[test]
fn utf16_document_with_bom_is_read() {
    let mut body = vec![0xFF, 0xFE];
    body.extend("<a>\u{e9}</a>".encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(auto(&body, Some("application/xml")), json!({"a": "\u{e9}"}));
}

#[test]
fn invalid_utf8_document_is_an_error() {
    let err = decode(b"<a>\xFF</a>", None, ResponseFormat::Xml).unwrap_err();
    match err {
        TransformError::InvalidXml { line, column, .. } => assert_eq!((line, column), (1, 4)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn document_in_the_mapped_shape_re_encodes_to_itself() {
    let body = concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        r#"<s:Envelope xmlns:s="urn:s"><s:Body><order id="42" note="a &quot;b&quot;">"#,
        r#"<item sku="1">tea &amp; milk</item><item>x &lt; y</item><empty/><blank></blank>"#,
        r#"</order></s:Body></s:Envelope>"#
    );
    let value = from_xml(body);
    let again = encode(&value, "application/xml").unwrap();
    assert_eq!(
        String::from_utf8(again.bytes).unwrap(),
        body.replace("<empty/>", "<empty></empty>")
    );
}

#[test]
fn invalid_element_name_is_an_error() {
    let err = xml_error("<r><#text>x</#text></r>");
    assert!(
        err.to_string()
            .contains("\"#text\" is not a valid XML name"),
        "{err}"
    );
}

#[test]
fn invalid_attribute_name_is_an_error() {
    let err = xml_error(r#"<r @id="1"/>"#);
    assert!(err.to_string().contains("not a valid XML name"), "{err}");
}

#[test]
fn raw_control_character_is_an_error() {
    let err = xml_error("<a>bell\u{7}</a>");
    assert!(err.to_string().contains("U+0007"), "{err}");
}
