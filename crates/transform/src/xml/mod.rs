//! XML bodies: a convention-based mapping between JSON values and XML documents.

mod name;
mod read;
mod write;

use std::borrow::Cow;

use serde_json::Value;

use crate::charset::Charset;
use crate::error::TransformError;

pub(crate) use write::encode;

/// Decodes an XML body. The charset comes from the byte-order mark, else the `Content-Type`
/// label, else the XML declaration, else UTF-8 (RFC 7303, section 3.2).
pub(crate) fn decode(
    body: &[u8],
    label: Option<&str>,
    max_depth: usize,
) -> Result<Value, TransformError> {
    let text = document_text(body, label)?;
    read::decode(&text, max_depth)
}

fn document_text<'a>(body: &'a [u8], label: Option<&str>) -> Result<Cow<'a, str>, TransformError> {
    let (charset, bom) = match Charset::from_bom(body) {
        Some(found) => found,
        None => {
            let label = label.map(Cow::Borrowed).or_else(|| declared_encoding(body));
            (
                label
                    .as_deref()
                    .map_or(Ok(Charset::Utf8), Charset::from_label)?,
                0,
            )
        }
    };
    let body = &body[bom..];
    charset.decode(body, false).ok_or_else(|| {
        let offset = match charset {
            Charset::Utf8 => std::str::from_utf8(body)
                .err()
                .map_or(0, |e| e.valid_up_to()),
            _ => 0,
        };
        let (line, column) = crate::error::line_column(body, offset);
        TransformError::InvalidXml {
            line,
            column,
            message: format!("the document is not valid {charset:?}"),
        }
    })
}

/// The `encoding` of an `<?xml ... ?>` declaration at the very start of `body`, lower-cased.
fn declared_encoding(body: &[u8]) -> Option<Cow<'static, str>> {
    let head = body.strip_prefix(b"<?xml")?;
    let head = &head[..head.len().min(256)];
    let end = head.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|&q| q == '"' || q == '\'')?;
    let value = &after[1..];
    let value = &value[..value.find(quote)?];
    Some(Cow::Owned(value.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_declared_encoding() {
        let body = b"<?xml version='1.0' encoding = \"ISO-8859-1\"?><a/>";
        assert_eq!(declared_encoding(body).as_deref(), Some("iso-8859-1"));
        assert_eq!(declared_encoding(b"<?xml version=\"1.0\"?><a/>"), None);
        assert_eq!(declared_encoding(b"<a/>"), None);
    }
}
