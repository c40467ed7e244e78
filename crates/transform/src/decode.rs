//! Response bodies: bytes decoded by `Content-Type` or by an explicit format into JSON.

use std::borrow::Cow;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::charset::decode_text;
use crate::error::{TransformError, line_column};
use crate::media::{MediaType, Syntax};
use crate::{Limits, ResponseFormat, form, json, xml};

/// Decodes a response body with the [default limits](Limits::DEFAULT).
///
/// `content_type` is the response's `Content-Type` header, if it had one. See the
/// [crate docs](crate) for the rules.
///
/// ```
/// use flunq_transform::{decode, ResponseFormat};
/// use serde_json::json;
///
/// let body = decode(b"<user id=\"7\"><name>Ada</name></user>",
///                   Some("application/xml"), ResponseFormat::Auto)?;
/// assert_eq!(body, json!({"user": {"@id": "7", "name": "Ada"}}));
/// # Ok::<(), flunq_transform::TransformError>(())
/// ```
pub fn decode(
    body: &[u8],
    content_type: Option<&str>,
    format: ResponseFormat,
) -> Result<Value, TransformError> {
    decode_with_limits(body, content_type, format, Limits::DEFAULT)
}

/// Decodes a response body, refusing bodies larger than `limits.max_bytes` (before reading
/// them) and documents nested deeper than `limits.max_depth`.
pub fn decode_with_limits(
    body: &[u8],
    content_type: Option<&str>,
    format: ResponseFormat,
    limits: Limits,
) -> Result<Value, TransformError> {
    if body.len() > limits.max_bytes {
        return Err(TransformError::BodyTooLarge {
            len: body.len(),
            max: limits.max_bytes,
        });
    }
    // The header is the server's word, not the caller's: one that does not parse counts as
    // absent rather than failing the decode.
    let media = content_type.and_then(|ct| MediaType::parse(ct).ok());
    let label = media.as_ref().and_then(|media| media.charset.as_deref());
    match format {
        ResponseFormat::Json => json_document(body, label, limits),
        ResponseFormat::Xml => xml::decode(body, label, limits.max_depth),
        ResponseFormat::Text => match decode_text(body, label, true)? {
            Some(text) => Ok(Value::String(text.into_owned())),
            // Unreachable: lossy decoding always yields text.
            None => Ok(base64_value(body)),
        },
        ResponseFormat::Base64 => Ok(base64_value(body)),
        ResponseFormat::Auto => by_content_type(body, media.as_ref(), limits),
    }
}

fn by_content_type(
    body: &[u8],
    media: Option<&MediaType>,
    limits: Limits,
) -> Result<Value, TransformError> {
    let Some(media) = media else {
        return Ok(text_or_base64(body, None));
    };
    let label = media.charset.as_deref();
    match media.syntax {
        // No document at all (a 204, or an empty 200): nothing, rather than a parse error.
        Syntax::Json | Syntax::Xml if body.iter().all(u8::is_ascii_whitespace) => Ok(Value::Null),
        Syntax::Json => or_text(json_document(body, label, limits), body, label),
        Syntax::Xml => or_text(xml::decode(body, label, limits.max_depth), body, label),
        Syntax::Form => Ok(form::decode(body)),
        Syntax::Text => Ok(text_or_base64(body, label)),
        Syntax::Binary => Ok(base64_value(body)),
    }
}

/// Under `auto`, a body that is not the JSON or XML its header claims (an HTML error page
/// behind `application/json`, say) is kept as text; hitting a limit is still an error.
fn or_text(
    parsed: Result<Value, TransformError>,
    body: &[u8],
    label: Option<&str>,
) -> Result<Value, TransformError> {
    match parsed {
        Err(err @ TransformError::TooDeep { .. }) => Err(err),
        Err(_) => Ok(text_or_base64(body, label)),
        Ok(value) => Ok(value),
    }
}

fn json_document(
    body: &[u8],
    label: Option<&str>,
    limits: Limits,
) -> Result<Value, TransformError> {
    match decode_text(body, label, false)? {
        Some(text) => json::decode(&text, limits.max_depth),
        None => {
            let offset = std::str::from_utf8(body)
                .err()
                .map_or(0, |e| e.valid_up_to());
            let (line, column) = line_column(body, offset);
            Err(TransformError::InvalidJson {
                line,
                column,
                message: "the body is not valid text in its charset".to_owned(),
            })
        }
    }
}

/// Text in its charset when it decodes cleanly, else base64. An unknown charset label falls
/// back to UTF-8.
fn text_or_base64(body: &[u8], label: Option<&str>) -> Value {
    let text = decode_text(body, label, false)
        .or_else(|_| decode_text(body, None, false))
        .ok()
        .flatten();
    match text {
        Some(text) => Value::String(Cow::into_owned(text)),
        None => base64_value(body),
    }
}

fn base64_value(body: &[u8]) -> Value {
    let mut map = Map::new();
    map.insert(
        "base64".to_owned(),
        Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
    );
    Value::Object(map)
}
