//! The `wait` preference of the `Prefer` request header (RFC 7240).
//!
//! ```text
//! Prefer     = 1#preference
//! preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
//! word       = token / quoted-string
//! ```

use axum::http::HeaderMap;

/// The seconds asked by the first `wait` preference of the request's `Prefer` headers,
/// in the order sent: the name in any case, the value a token or a quoted string,
/// whitespace around `=`, `,` and `;`, other preferences and their parameters beside
/// it. Later `wait` preferences are ignored (RFC 7240 §2), and so is one whose value is
/// not a whole number of seconds, as any preference not understood. A number too large
/// for `u64` is `u64::MAX`: the caller caps it anyway.
pub(crate) fn wait_seconds(headers: &HeaderMap) -> Option<u64> {
    let value = headers
        .get_all("prefer")
        .iter()
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| split_unquoted(line, b','))
        .find_map(|preference| {
            // The preference itself comes before its first `;`, its parameters after.
            let head = split_unquoted(preference, b';').next().unwrap_or_default();
            let (name, value) = match head.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim())),
                None => (head.trim(), None),
            };
            name.eq_ignore_ascii_case("wait").then_some(value)
        })??;
    let digits = unquote(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// The pieces of `text` between the `separator`s that are outside quoted strings.
fn split_unquoted(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, byte) in current.bytes().enumerate() {
            match byte {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                // `separator` is ASCII, so `i` and `i + 1` are on character boundaries.
                _ if byte == separator && !quoted => {
                    rest = Some(&current[i + 1..]);
                    return Some(&current[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

/// A quoted string's content (its quoted pairs `\x` read as `x`), or `word` as it is.
fn unquote(word: &str) -> std::borrow::Cow<'_, str> {
    let Some(inner) = word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) else {
        return word.into();
    };
    if !inner.contains('\\') {
        return inner.into();
    }
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        text.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    text.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_of(lines: &[&str]) -> Option<u64> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("prefer", line.parse().unwrap());
        }
        wait_seconds(&headers)
    }

    #[test]
    fn reads_the_wait_preference_however_it_is_written() {
        for line in [
            "wait=5",
            "WAIT=5",
            "Wait = 5",
            "wait=\"5\"",
            "wait=\"\\5\"",
            "respond-async, wait=5",
            "respond-async,wait=5;foo=bar",
            "handling=lenient ; x=\"a, wait=1\", wait=5",
            "wait=5, wait=1",
        ] {
            assert_eq!(wait_of(&[line]), Some(5), "{line}");
        }
        assert_eq!(wait_of(&["respond-async", "wait=5"]), Some(5));
        assert_eq!(wait_of(&["wait=99999999999999999999999"]), Some(u64::MAX));
    }

    #[test]
    fn ignores_what_is_no_wait_in_seconds() {
        for line in [
            "respond-async",
            "wait",
            "wait=",
            "wait=soon",
            "wait=-1",
            "wait=+5",
            "wait=5s",
            "waiting=5",
            "x=\"wait=5\"",
            "return=minimal; wait=5",
            // Only the first `wait` counts, even when it is not understood.
            "wait=soon, wait=5",
        ] {
            assert_eq!(wait_of(&[line]), None, "{line}");
        }
        assert_eq!(wait_of(&[]), None);
    }
}
