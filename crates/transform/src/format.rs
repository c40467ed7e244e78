//! The `response_format` of an http task: how to read a response body.

use std::fmt;
use std::str::FromStr;

use crate::error::{TransformError, clip};

/// How to decode a response body, as the task field `response_format` spells it.
///
/// ```
/// use flunq_transform::ResponseFormat;
///
/// let format: ResponseFormat = "XML".parse()?;
/// assert_eq!(format, ResponseFormat::Xml);
/// assert_eq!(ResponseFormat::default().as_str(), "auto");
/// # Ok::<(), flunq_transform::TransformError>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    /// By the response's `Content-Type`; a body that does not parse as the type it claims
    /// falls back to text (or base64), since the server, not the caller, got it wrong.
    #[default]
    Auto,
    /// As JSON, whatever the `Content-Type`; invalid JSON is an error.
    Json,
    /// As XML, whatever the `Content-Type`; invalid XML is an error.
    Xml,
    /// As a string in the `Content-Type`'s charset (UTF-8 by default), malformed bytes
    /// replaced by U+FFFD.
    Text,
    /// As `{"base64": "..."}`, whatever the `Content-Type`.
    Base64,
}

impl ResponseFormat {
    /// The name used in task JSON: `"auto"`, `"json"`, `"xml"`, `"text"` or `"base64"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Json => "json",
            Self::Xml => "xml",
            Self::Text => "text",
            Self::Base64 => "base64",
        }
    }
}

impl fmt::Display for ResponseFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResponseFormat {
    type Err = TransformError;

    /// Parses a format name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Auto, Self::Json, Self::Xml, Self::Text, Self::Base64]
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| TransformError::UnknownResponseFormat { value: clip(s, 40) })
    }
}
