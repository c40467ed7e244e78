//! `Content-Type` parsing: which body syntax a media type names, and its charset.

use crate::error::{TransformError, clip};

/// The body syntax a media type stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// `application/json`, `text/json`, `*/*+json`.
    Json,
    /// `application/xml`, `text/xml`, `*/*+xml`.
    Xml,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `text/*`, or any other type that declares a charset.
    Text,
    /// Everything else.
    Binary,
}

/// A parsed `Content-Type`: the lower-cased `type/subtype`, its syntax and its charset label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaType {
    pub(crate) essence: String,
    pub(crate) syntax: Syntax,
    pub(crate) charset: Option<String>,
}

impl MediaType {
    /// Parses `type/subtype; name=value; ...`, ignoring case, spaces and other parameters.
    pub(crate) fn parse(content_type: &str) -> Result<Self, TransformError> {
        let mut parts = content_type.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let invalid = || TransformError::InvalidContentType {
            content_type: clip(content_type, 100),
        };
        let (kind, subtype) = essence.split_once('/').ok_or_else(invalid)?;
        if !is_token(kind) || !is_token(subtype) {
            return Err(invalid());
        }
        let charset = parts.find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
        });
        let syntax = syntax_of(kind, subtype, charset.is_some());
        Ok(Self {
            essence,
            syntax,
            charset,
        })
    }
}

fn syntax_of(kind: &str, subtype: &str, has_charset: bool) -> Syntax {
    match (kind, subtype) {
        ("application" | "text", "json") => Syntax::Json,
        (_, s) if s.ends_with("+json") => Syntax::Json,
        ("application" | "text", "xml") => Syntax::Xml,
        (_, s) if s.ends_with("+xml") => Syntax::Xml,
        ("application", "x-www-form-urlencoded") => Syntax::Form,
        ("text", _) => Syntax::Text,
        // A charset only makes sense for text, so a server that sends one says "this is text".
        _ if has_charset => Syntax::Text,
        _ => Syntax::Binary,
    }
}

/// An RFC 9110 token: visible ASCII except separators.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(ct: &str) -> Syntax {
        MediaType::parse(ct).unwrap().syntax
    }

    #[test]
    fn recognises_each_syntax() {
        assert_eq!(syntax("application/json"), Syntax::Json);
        assert_eq!(syntax("application/problem+json"), Syntax::Json);
        assert_eq!(syntax("text/xml"), Syntax::Xml);
        assert_eq!(syntax("application/soap+xml"), Syntax::Xml);
        assert_eq!(syntax("application/x-www-form-urlencoded"), Syntax::Form);
        assert_eq!(syntax("text/csv"), Syntax::Text);
        assert_eq!(syntax("application/graphql; charset=utf-8"), Syntax::Text);
        assert_eq!(syntax("image/png"), Syntax::Binary);
    }

    #[test]
    fn ignores_case_spaces_and_other_parameters() {
        let media = MediaType::parse(" Application/JSON ; q=1; Charset=\"UTF-8\"").unwrap();
        assert_eq!(media.essence, "application/json");
        assert_eq!(media.syntax, Syntax::Json);
        assert_eq!(media.charset.as_deref(), Some("utf-8"));
    }

    #[test]
    fn refuses_what_is_not_a_media_type() {
        for bad in ["", "json", "application/", "/json", "a b/c", "a/b/c"] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?}");
        }
    }
}
