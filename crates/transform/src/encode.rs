//! Request bodies: a JSON value encoded by the request's `Content-Type`.

use serde_json::Value;

use crate::charset::Charset;
use crate::error::{TransformError, json_type};
use crate::media::{MediaType, Syntax};
use crate::{Limits, form, json, xml};

/// An encoded request body and the `Content-Type` to send it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The body.
    pub bytes: Vec<u8>,
    /// The content type it was encoded for, as given (trimmed): send it as the header.
    pub content_type: String,
}

/// Encodes `value` for `content_type` with the [default limits](Limits::DEFAULT).
///
/// See the [crate docs](crate) for the rules of each syntax.
///
/// ```
/// use serde_json::json;
///
/// let body = flunq_transform::encode(&json!({"q": "rust xml", "page": 2}),
///                                    "application/x-www-form-urlencoded")?;
/// assert_eq!(body.bytes, b"q=rust+xml&page=2");
/// # Ok::<(), flunq_transform::TransformError>(())
/// ```
pub fn encode(value: &Value, content_type: &str) -> Result<Encoded, TransformError> {
    encode_with_limits(value, content_type, Limits::DEFAULT)
}

/// Encodes `value` for `content_type`, refusing values nested deeper than
/// `limits.max_depth` and bodies larger than `limits.max_bytes`.
pub fn encode_with_limits(
    value: &Value,
    content_type: &str,
    limits: Limits,
) -> Result<Encoded, TransformError> {
    let media = MediaType::parse(content_type)?;
    let bytes = match (media.syntax, value) {
        (Syntax::Json, _) => {
            require_utf8(&media)?;
            json::encode(value, limits.max_depth)?
        }
        // A string is a body the caller already wrote in that syntax: sent as it is.
        (_, Value::String(text)) => text_bytes(text, &media)?,
        (Syntax::Xml, _) => {
            require_utf8(&media)?;
            xml::encode(value, limits.max_depth)?.into_bytes()
        }
        // Percent-encoded form bodies are ASCII whatever the charset says.
        (Syntax::Form, _) => form::encode(value)?,
        (Syntax::Text, _) => {
            json::check_depth(value, limits.max_depth)?;
            text_bytes(&value.to_string(), &media)?
        }
        (Syntax::Binary, _) => binary_bytes(value, &media)?,
    };
    if bytes.len() > limits.max_bytes {
        return Err(TransformError::EncodedTooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    Ok(Encoded {
        bytes,
        content_type: content_type.trim().to_owned(),
    })
}

/// Generated JSON and XML are UTF-8 (the XML declaration says so); a header that promises
/// another charset would mislabel them.
fn require_utf8(media: &MediaType) -> Result<(), TransformError> {
    match media.charset.as_deref() {
        None => Ok(()),
        Some(label) => match Charset::from_label(label)? {
            Charset::Utf8 => Ok(()),
            _ => Err(TransformError::UnsupportedCharset {
                charset: crate::error::clip(label, 40),
            }),
        },
    }
}

/// Text in the content type's charset (UTF-8 when none is named).
fn text_bytes(text: &str, media: &MediaType) -> Result<Vec<u8>, TransformError> {
    let charset = media
        .charset
        .as_deref()
        .map_or(Ok(Charset::Utf8), Charset::from_label)?;
    charset.encode(text)
}

/// `{"base64": "..."}` as its bytes, the same shape binary responses decode into.
fn binary_bytes(value: &Value, media: &MediaType) -> Result<Vec<u8>, TransformError> {
    use base64::Engine as _;
    match value {
        Value::Object(map) if map.len() == 1 => {
            if let Some(Value::String(encoded)) = map.get("base64") {
                return base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|err| TransformError::InvalidBase64 {
                        message: err.to_string(),
                    });
            }
        }
        _ => {}
    }
    Err(TransformError::UnsupportedBody {
        content_type: media.essence.clone(),
        found: json_type(value),
    })
}
