//! Header helpers: credentials hidden from `Debug`, basic credentials, W3C trace context.

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use rand::Rng as _;

/// The `traceparent` header name (W3C Trace Context).
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Marks credential-bearing headers sensitive, so `Debug` of the map (and hyper's own
/// logs) print `Sensitive` instead of the value: `Authorization`, `Proxy-Authorization`,
/// `Cookie`, `Set-Cookie`, and any header whose name mentions a key, token, secret,
/// password or signature (`X-API-Key`, `X-Auth-Token`, ...).
pub fn mark_sensitive(headers: &mut HeaderMap) {
    for (name, value) in headers.iter_mut() {
        if is_credential_header(name) {
            value.set_sensitive(true);
        }
    }
}

/// Whether a header name is one that carries credentials.
pub fn is_credential_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || mentions_credential(name.as_bytes())
}

/// Whether a (lowercase) header name contains `key`, `token`, `secret`, `signature`,
/// `password` or `auth`: one pass, each position tried only against the words starting
/// with its byte. (It runs for every header of every request and response, where six
/// substring searches cost several times more.)
fn mentions_credential(name: &[u8]) -> bool {
    (0..name.len()).any(|i| {
        let rest = &name[i..];
        match rest[0] {
            b'k' => rest.starts_with(b"key"),
            b't' => rest.starts_with(b"token"),
            b's' => rest.starts_with(b"secret") || rest.starts_with(b"signature"),
            b'p' => rest.starts_with(b"password"),
            b'a' => rest.starts_with(b"auth"),
            _ => false,
        }
    })
}

/// The words that make a header name a credential's, for the test of `mentions_credential`.
#[cfg(test)]
const CREDENTIAL_WORDS: [&str; 6] = ["key", "token", "secret", "password", "signature", "auth"];

/// `Basic base64(user:password)`, marked sensitive. The parts are percent-decoded, as
/// they come from a URL's userinfo.
pub fn basic_auth(user: &str, password: Option<&str>) -> HeaderValue {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let plain = match password {
        Some(p) => format!("{}:{}", decode(user), decode(p)),
        None => format!("{}:", decode(user)),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
    // Base64 output is ASCII, always a valid header value.
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// A W3C trace context: a trace id and the id of the span that makes the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// 16 bytes, never all zero.
    pub trace_id: [u8; 16],
    /// 8 bytes, never all zero.
    pub parent_id: [u8; 8],
    /// Whether the trace is sampled (flag `01`).
    pub sampled: bool,
}

impl TraceContext {
    /// A new random trace, sampled.
    pub fn new_root() -> Self {
        let mut rng = rand::rng();
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        while trace_id == [0; 16] {
            rng.fill_bytes(&mut trace_id);
        }
        while parent_id == [0; 8] {
            rng.fill_bytes(&mut parent_id);
        }
        Self {
            trace_id,
            parent_id,
            sampled: true,
        }
    }

    /// A child in the same trace: same trace id, new span id.
    pub fn child(&self) -> Self {
        let mut next = Self::new_root();
        next.trace_id = self.trace_id;
        next.sampled = self.sampled;
        next
    }

    /// Parses a `traceparent` value of version `00`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "00"
            || parts.next().is_some()
            || trace.len() != 32
            || parent.len() != 16
            || flags.len() != 2
        {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        hex_into(trace, &mut trace_id)?;
        hex_into(parent, &mut parent_id)?;
        let mut flag = [0u8; 1];
        hex_into(flags, &mut flag)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            sampled: flag[0] & 1 == 1,
        })
    }

    /// The `traceparent` header value: `00-<trace>-<parent>-<flags>`.
    pub fn to_header_value(&self) -> HeaderValue {
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        push_hex(&mut s, &self.trace_id);
        s.push('-');
        push_hex(&mut s, &self.parent_id);
        s.push_str(if self.sampled { "-01" } else { "-00" });
        // Lowercase hex and dashes only: always a valid header value. Handed over without
        // a copy (the string is exactly as long as its capacity).
        HeaderValue::from_maybe_shared(bytes::Bytes::from(s))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Sets `traceparent` on a request's headers: a child of `parent` when given, else a
/// new root trace. Returns the context sent.
pub fn add_traceparent(headers: &mut HeaderMap, parent: Option<&TraceContext>) -> TraceContext {
    let context = parent.map_or_else(TraceContext::new_root, TraceContext::child);
    headers.insert(TRACEPARENT, context.to_header_value());
    context
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
}

fn hex_into(s: &str, out: &mut [u8]) -> Option<()> {
    let digits = s.as_bytes();
    for (i, byte) in out.iter_mut().enumerate() {
        let hi = nibble(*digits.get(2 * i)?)?;
        let lo = nibble(*digits.get(2 * i + 1)?)?;
        *byte = (hi << 4) | lo;
    }
    Some(())
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips() {
        let ctx = TraceContext::new_root();
        let value = ctx.to_header_value();
        let parsed = TraceContext::parse(value.to_str().unwrap()).unwrap();
        assert_eq!(parsed, ctx);
        assert_eq!(value.len(), 55);
    }

    #[test]
    fn child_keeps_trace_id() {
        let root = TraceContext::new_root();
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.parent_id, root.parent_id);
    }

    #[test]
    fn rejects_bad_traceparent() {
        assert!(
            TraceContext::parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                .is_none()
        );
        assert!(
            TraceContext::parse("00-00000000000000000000000000000000-b7ad6b7169203331-01")
                .is_none()
        );
        assert!(
            TraceContext::parse("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")
                .is_none()
        );
        assert!(
            TraceContext::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331").is_none()
        );
    }

    #[test]
    fn credentials_are_hidden_from_debug() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer canary-secret"),
        );
        h.insert("x-api-key", HeaderValue::from_static("canary-key"));
        h.insert("accept", HeaderValue::from_static("text/plain"));
        mark_sensitive(&mut h);
        let shown = format!("{h:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("text/plain"));
    }

    #[test]
    fn credential_words_are_found_anywhere_in_the_name() {
        for name in [
            "x-api-key",
            "keyring",
            "x-auth-token",
            "x-secret",
            "x-hub-signature-256",
            "password",
            "www-authenticate",
            "authorization",
            "cookie",
            "set-cookie",
        ] {
            let header = HeaderName::from_static(name);
            assert!(is_credential_header(&header), "{name}");
        }
        for name in [
            "accept",
            "content-type",
            "x-request-id",
            "etag",
            "k",
            "x-sig",
            "passwor",
        ] {
            let header = HeaderName::from_static(name);
            assert!(!is_credential_header(&header), "{name}");
        }
        // The one pass agrees with six substring searches.
        for name in [
            "x-ke",
            "ke-y",
            "tokenx",
            "xauth",
            "asecretb",
            "pass-word",
            "signatur",
        ] {
            let plain = CREDENTIAL_WORDS.iter().any(|w| name.contains(w));
            assert_eq!(mentions_credential(name.as_bytes()), plain, "{name}");
        }
    }

    #[test]
    fn basic_auth_decodes_userinfo() {
        let v = basic_auth("us%40er", Some("p%3Ass"));
        // "us@er:p:ss"
        assert_eq!(v.to_str().unwrap(), "Basic dXNAZXI6cDpzcw==");
        assert!(v.is_sensitive());
    }
}
