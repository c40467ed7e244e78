//! `${name}` placeholders: resolved from the task's `inputs`, then from the config's
//! `secrets`. Every value that came from a secret is remembered by the [`Masker`], which
//! replaces it with `***` wherever it could surface again (results, errors, logs).

use std::collections::BTreeMap;

use flunq_auth::Secret;
use serde_json::{Map, Value};

/// The text shown in place of a secret.
pub const MASK: &str = "***";

/// Resolves placeholders against inputs and secrets.
#[derive(Debug)]
pub(crate) struct Resolver<'a> {
    inputs: &'a Map<String, Value>,
    secrets: Option<&'a BTreeMap<String, Secret>>,
    pub(crate) masker: Masker,
    /// How many placeholders were filled from secrets so far: a caller compares it
    /// before and after a `resolve` to know whether the text holds a secret.
    pub(crate) secrets_used: usize,
}

/// Why a placeholder could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlaceholderError {
    Unresolved(String),
    Unterminated,
}

impl PlaceholderError {
    pub(crate) fn message(&self) -> String {
        match self {
            PlaceholderError::Unresolved(name) => {
                format!(
                    "placeholder `${{{name}}}` has no value in `inputs` or the config's `secrets`"
                )
            }
            PlaceholderError::Unterminated => "a placeholder `${` is not closed by `}`".to_owned(),
        }
    }
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(
        inputs: &'a Map<String, Value>,
        secrets: Option<&'a BTreeMap<String, Secret>>,
    ) -> Self {
        Self {
            inputs,
            secrets,
            masker: Masker::default(),
            secrets_used: 0,
        }
    }

    /// Replaces every `${name}` in `text`. `$${` is a literal `${`.
    pub(crate) fn resolve(&mut self, text: &str) -> Result<String, PlaceholderError> {
        if !text.contains("${") {
            return Ok(text.to_owned());
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 && rest.as_bytes()[start - 1] == b'$' {
                // `$${name}` stands for the literal `${name}`.
                out.push_str(&rest[..start - 1]);
                out.push_str("${");
                rest = &rest[start + 2..];
                continue;
            }
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or(PlaceholderError::Unterminated)?;
            let name = after[..end].trim();
            out.push_str(&self.lookup(name)?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Resolves every string leaf of a JSON value, keys left as they are.
    pub(crate) fn resolve_value(&mut self, value: &Value) -> Result<Value, PlaceholderError> {
        Ok(match value {
            Value::String(s) => Value::String(self.resolve(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.resolve_value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.resolve_value(v)?)))
                    .collect::<Result<_, PlaceholderError>>()?,
            ),
            other => other.clone(),
        })
    }

    fn lookup(&mut self, name: &str) -> Result<String, PlaceholderError> {
        if let Some(value) = self.inputs.get(name) {
            return Ok(match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            });
        }
        if let Some(secret) = self.secrets.and_then(|s| s.get(name)) {
            let value = secret.expose().to_owned();
            self.masker.add(&value);
            self.secrets_used += 1;
            return Ok(value);
        }
        Err(PlaceholderError::Unresolved(name.to_owned()))
    }
}

/// Replaces known secret values with `***` in text and JSON.
#[derive(Clone, Default)]
pub struct Masker {
    needles: Vec<String>,
}

impl std::fmt::Debug for Masker {
    // The needles are the secrets themselves: only their number is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("secrets", &self.needles.len())
            .finish()
    }
}

impl Masker {
    /// Remembers a value to hide. Values shorter than 4 characters are masked as whole
    /// strings and where they stand as a token of their own (not next to a letter or a
    /// digit: `/x/abc`, `k=abc&`), not inside longer words, so `"1"` does not blank
    /// every digit.
    ///
    /// A value that URL encoding changes is also hidden in its encoded forms (form
    /// encoding, `a+b%2F`, and percent encoding, `a%20b%2F`): an upstream that echoes
    /// the query string or a form body shows it so.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.needles.iter().any(|n| n == secret) {
            return;
        }
        self.needles.push(secret.to_owned());
        // Most credentials are letters, digits and `-._*`, which encoding leaves alone.
        let unchanged = |b: u8| b.is_ascii_alphanumeric() || b"-._*".contains(&b);
        if !secret.bytes().all(unchanged) {
            let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            let percent = form.replace('+', "%20");
            if percent != form {
                self.needles.push(percent);
            }
            self.needles.push(form);
        }
        // Longest first, so a secret containing another is masked whole.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// Whether nothing is to be masked.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every known secret replaced by `***`.
    pub fn mask_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out == *needle {
                return MASK.to_owned();
            }
            if !out.contains(needle.as_str()) {
                continue;
            }
            out = if needle.len() >= SHORT {
                out.replace(needle.as_str(), MASK)
            } else {
                replace_tokens(&out, needle)
            };
        }
        out
    }

    /// The bytes with every known secret replaced by `***` (as [`mask_text`](Self::mask_text)
    /// does), or `None` when none occurs: for bodies that are not text.
    pub fn mask_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        for needle in &self.needles {
            let current = out.as_deref().unwrap_or(bytes);
            let needle = needle.as_bytes();
            let found = find_all(current, needle, needle.len() < SHORT);
            if found.is_empty() {
                continue;
            }
            let mut next = Vec::with_capacity(current.len());
            let mut from = 0;
            for at in found {
                next.extend_from_slice(&current[from..at]);
                next.extend_from_slice(MASK.as_bytes());
                from = at + needle.len();
            }
            next.extend_from_slice(&current[from..]);
            out = Some(next);
        }
        out
    }

    /// Masks every string (keys included) of a JSON value in place.
    pub fn mask_value(&self, value: &mut Value) {
        if self.needles.is_empty() {
            return;
        }
        match value {
            Value::String(s) => *s = self.mask_text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_value(v)),
            Value::Object(map) => {
                let masked: Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .map(|(k, mut v)| {
                        self.mask_value(&mut v);
                        (self.mask_text(&k), v)
                    })
                    .collect();
                *map = masked;
            }
            _ => {}
        }
    }
}

/// Secrets shorter than this are masked only where they stand as a token of their own.
const SHORT: usize = 4;

/// `text` with every occurrence of `needle` that stands as a token of its own (no letter
/// or digit on either side) replaced by `***`.
fn replace_tokens(text: &str, needle: &str) -> String {
    let found = find_all(text.as_bytes(), needle.as_bytes(), true);
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for at in found {
        // `at` and `at + needle.len()` are char boundaries: `needle` is a whole `str`
        // matched byte for byte, so the match starts and ends on its boundaries.
        out.push_str(&text[from..at]);
        out.push_str(MASK);
        from = at + needle.len();
    }
    out.push_str(&text[from..]);
    out
}

/// Where `needle` occurs in `hay`, without overlaps; with `whole_token`, only where no
/// ASCII letter or digit touches it.
fn find_all(hay: &[u8], needle: &[u8], whole_token: bool) -> Vec<usize> {
    let mut found = Vec::new();
    if needle.is_empty() || needle.len() > hay.len() {
        return found;
    }
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            let end = i + needle.len();
            let free = !whole_token
                || ((i == 0 || !hay[i - 1].is_ascii_alphanumeric())
                    && (end == hay.len() || !hay[end].is_ascii_alphanumeric()));
            if free {
                found.push(i);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_hidden_in_its_url_encoded_forms_too() {
        let mut masker = Masker::default();
        masker.add("Sp ec/ia\"l&ch=1+\u{e9}");
        assert_eq!(
            masker.mask_text("q=Sp+ec%2Fia%22l%26ch%3D1%2B%C3%A9&x=1"),
            "q=***&x=1"
        );
        assert_eq!(
            masker.mask_text("/p/Sp%20ec%2Fia%22l%26ch%3D1%2B%C3%A9"),
            "/p/***"
        );
        assert_eq!(masker.mask_text("Sp ec/ia\"l&ch=1+\u{e9}"), "***");
        // A value encoding leaves as it is adds no other form.
        let mut plain = Masker::default();
        plain.add("token-123");
        assert_eq!(plain.needles, ["token-123"]);
    }

    fn inputs() -> Map<String, Value> {
        serde_json::from_str(r#"{"id": 7, "name": "Ada", "flag": true}"#).unwrap()
    }

    #[test]
    fn debug_shows_how_many_secrets_not_which() {
        let mut masker = Masker::default();
        masker.add("canary-secret");
        let shown = format!("{masker:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("secrets: 1"), "{shown}");
    }

    #[test]
    fn resolves_inputs_then_secrets() {
        let inputs = inputs();
        let mut secrets = BTreeMap::new();
        secrets.insert("token".to_owned(), Secret::new("canary-secret"));
        secrets.insert("name".to_owned(), Secret::new("shadowed"));
        let mut r = Resolver::new(&inputs, Some(&secrets));
        assert_eq!(
            r.resolve("/users/${id}?n=${name}").unwrap(),
            "/users/7?n=Ada"
        );
        assert_eq!(
            r.resolve("Bearer ${token}").unwrap(),
            "Bearer canary-secret"
        );
        assert_eq!(
            r.masker.mask_text("echo: Bearer canary-secret"),
            "echo: Bearer ***"
        );
    }

    #[test]
    fn unresolved_and_unterminated_are_errors() {
        let inputs = inputs();
        let mut r = Resolver::new(&inputs, None);
        assert_eq!(
            r.resolve("${missing}"),
            Err(PlaceholderError::Unresolved("missing".into()))
        );
        assert_eq!(r.resolve("${id"), Err(PlaceholderError::Unterminated));
        assert_eq!(r.resolve("cost: $${id}").unwrap(), "cost: ${id}");
    }

    #[test]
    fn masks_json_leaves_and_keys() {
        let mut m = Masker::default();
        m.add("s3cr3t-value");
        let mut v: Value =
            serde_json::from_str(r#"{"a": ["x s3cr3t-value y"], "s3cr3t-value": 1}"#).unwrap();
        m.mask_value(&mut v);
        let expected: Value = serde_json::from_str(r#"{"***":1,"a":["x *** y"]}"#).unwrap();
        assert_eq!(v, expected);
    }

    #[test]
    fn short_secrets_are_masked_as_tokens_only() {
        let mut m = Masker::default();
        m.add("AAA");
        m.add("7");
        assert_eq!(
            m.mask_text("connection failed (http://127.0.0.1:1/x/AAA)"),
            "connection failed (http://127.0.0.1:1/x/***)"
        );
        assert_eq!(m.mask_text("AAAB xAAA AAA,AAA"), "AAAB xAAA ***,***");
        assert_eq!(m.mask_text("7"), "***");
        assert_eq!(m.mask_text("a 7 b 77 c7"), "a *** b 77 c7");
    }

    #[test]
    fn masks_bytes_of_bodies_that_are_not_text() {
        let mut m = Masker::default();
        m.add("s3cr3t-value");
        m.add("AAA");
        let body = b"\x00\xffs3cr3t-value\x01AAA\x02BAAA";
        assert_eq!(
            m.mask_bytes(body).unwrap(),
            b"\x00\xff***\x01***\x02BAAA".to_vec()
        );
        assert_eq!(m.mask_bytes(b"nothing here"), None);
    }
}
