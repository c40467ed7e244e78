//! The response_format names.

use flunq_transform::{ResponseFormat, TransformError};

#[test]
fn parses_every_name_ignoring_case() {
    for (name, format) in [
        ("auto", ResponseFormat::Auto),
        ("JSON", ResponseFormat::Json),
        ("Xml", ResponseFormat::Xml),
        ("text", ResponseFormat::Text),
        ("base64", ResponseFormat::Base64),
    ] {
        assert_eq!(name.parse::<ResponseFormat>().unwrap(), format);
    }
}

#[test]
fn unknown_name_is_an_error() {
    let err = "yaml".parse::<ResponseFormat>().unwrap_err();
    assert_eq!(
        err,
        TransformError::UnknownResponseFormat {
            value: "yaml".into()
        }
    );
}

#[test]
fn default_is_auto() {
    assert_eq!(ResponseFormat::default(), ResponseFormat::Auto);
}

#[test]
fn serde_uses_the_lowercase_names() {
    let format: ResponseFormat = serde_json::from_str("\"base64\"").unwrap();
    assert_eq!(format, ResponseFormat::Base64);
    assert_eq!(
        serde_json::to_string(&ResponseFormat::Xml).unwrap(),
        "\"xml\""
    );
    assert!(serde_json::from_str::<ResponseFormat>("\"Yaml\"").is_err());
}

#[test]
fn display_matches_the_name() {
    assert_eq!(ResponseFormat::Json.to_string(), "json");
}
