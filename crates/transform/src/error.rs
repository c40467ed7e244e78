//! The error type of every encoding and decoding in this crate.

/// What went wrong while encoding or decoding a body, and where.
///
/// Messages name the key path (`order.item[1].@id`), the element, or the line and column of
/// the input; they never quote the body itself, so they are safe to log and to show in an
/// execution record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// The `Content-Type` given for encoding is not `type/subtype[; params]`.
    #[error("content type {content_type:?} is not a media type of the form type/subtype")]
    InvalidContentType {
        /// The content type as given (cut to 100 characters).
        content_type: String,
    },

    /// The body to decode is larger than [`Limits::max_bytes`](crate::Limits::max_bytes).
    #[error("body of {len} bytes exceeds the limit of {max} bytes")]
    BodyTooLarge {
        /// Size of the body.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The encoded body came out larger than [`Limits::max_bytes`](crate::Limits::max_bytes).
    #[error("encoded body of {len} bytes exceeds the limit of {max} bytes")]
    EncodedTooLarge {
        /// Size of the encoded body.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// Arrays, objects or elements nest deeper than
    /// [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("{format} nests deeper than {max} levels at {at}")]
    TooDeep {
        /// `"JSON"` or `"XML"`.
        format: &'static str,
        /// The limit.
        max: usize,
        /// Where the limit was crossed: a line and column, an element, or a key path.
        at: String,
    },

    /// The body is not valid JSON.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What the parser expected or found.
        message: String,
    },

    /// The body is not well-formed XML, or uses an entity other than the five predefined ones.
    #[error("invalid XML at line {line}, column {column}: {message}")]
    InvalidXml {
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What the parser expected or found.
        message: String,
    },

    /// An XML body must be a JSON object with exactly one key: the root element.
    #[error("an XML body must be an object with exactly one key (the root element), found {found}")]
    XmlRoot {
        /// What was found instead, e.g. `"an object with 3 keys"`.
        found: String,
    },

    /// A key cannot become an XML element or attribute name.
    #[error("key {key:?} is not a valid XML name (at {path})")]
    InvalidXmlName {
        /// The key (without its `@` prefix for attributes).
        key: String,
        /// The key path to it.
        path: String,
    },

    /// A value has a shape that the XML mapping cannot express.
    #[error("cannot encode {path} as XML: {reason}")]
    XmlShape {
        /// The key path to the value.
        path: String,
        /// Why it cannot be expressed.
        reason: &'static str,
    },

    /// A string holds a character that XML 1.0 forbids even as a character reference.
    #[error("{path} holds the character U+{code:04X}, which XML 1.0 does not allow")]
    InvalidXmlChar {
        /// The key path to the string.
        path: String,
        /// The code point.
        code: u32,
    },

    /// A form body must be a JSON object (or an already encoded string).
    #[error("a form body must be a flat object, found {found}")]
    FormNotObject {
        /// The JSON type found.
        found: &'static str,
    },

    /// A form field holds a nested object or array.
    #[error("form field {key:?} holds {found}; form bodies take scalars or arrays of scalars")]
    FormNotFlat {
        /// The field, with an index for an array item (`tags[2]`).
        key: String,
        /// The JSON type found.
        found: &'static str,
    },

    /// A binary content type takes a string or `{"base64": "..."}`.
    #[error("a {content_type} body must be a string or {{\"base64\": \"...\"}}, found {found}")]
    UnsupportedBody {
        /// The media type (without parameters).
        content_type: String,
        /// The JSON type found.
        found: &'static str,
    },

    /// The `"base64"` field of a binary body is not valid base64.
    #[error("the \"base64\" field is not valid base64: {message}")]
    InvalidBase64 {
        /// What is wrong with it.
        message: String,
    },

    /// A charset this crate cannot encode or decode.
    #[error(
        "charset {charset:?} is not supported (supported: utf-8, iso-8859-1/windows-1252, utf-16)"
    )]
    UnsupportedCharset {
        /// The charset label (cut to 40 characters).
        charset: String,
    },

    /// A character that the requested charset cannot represent.
    #[error("character U+{code:04X} cannot be encoded in {charset}")]
    Unencodable {
        /// The charset.
        charset: &'static str,
        /// The code point.
        code: u32,
    },

    /// A `response_format` other than `auto`, `json`, `xml`, `text` or `base64`.
    #[error("unknown response format {value:?} (expected auto, json, xml, text or base64)")]
    UnknownResponseFormat {
        /// The value given (cut to 40 characters).
        value: String,
    },
}

/// 1-based line and column (in bytes) of `offset` in `text`.
pub(crate) fn line_column(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, before.len() - line_start + 1)
}

/// `s` cut to at most `max` characters, so that an error never carries a long input.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_owned(),
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column(b"abc", 0), (1, 1));
        assert_eq!(line_column(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_column(b"ab", 99), (1, 3));
    }

    #[test]
    fn clip_cuts_long_strings_on_char_boundaries() {
        assert_eq!(clip("héllo", 2), "hé...");
        assert_eq!(clip("hi", 2), "hi");
    }
}
