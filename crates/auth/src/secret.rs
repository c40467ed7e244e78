//! A credential that never shows itself.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A credential: an API key, a token, a password, a client secret, an HMAC secret or a
/// private key. `Debug`, `Display` and `Serialize` all print `***`, so a record, a log
/// line or an error that holds one never shows it; [`expose`](Secret::expose) is the one
/// explicit way to read it.
///
/// It deserializes from a plain string. Cloning is cheap (the text is shared).
///
/// ```
/// use flunq_auth::Secret;
///
/// let secret: Secret = serde_json::from_str(r#""s3cr3t""#).unwrap();
/// assert_eq!(format!("{secret} {secret:?}"), "*** ***");
/// assert_eq!(serde_json::to_string(&secret).unwrap(), r#""***""#);
/// assert_eq!(secret.expose(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(Arc<str>);

impl Secret {
    /// What every secret shows instead of itself.
    pub const MASK: &'static str = "***";

    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The credential itself. Call it only where the value goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the credential is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if REVEAL.with(std::cell::Cell::get) {
            serializer.serialize_str(&self.0)
        } else {
            serializer.serialize_str(Self::MASK)
        }
    }
}

thread_local! {
    /// Set only inside [`Secret::revealed`]: secrets serialize in clear.
    static REVEAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Secret {
    /// Runs `serialize` (a synchronous serialization, e.g. `serde_json::to_string`) with
    /// every [`Secret`] written in clear, for a store that must keep the credentials
    /// themselves (the executor's config store in Redis). Never use it for output: a
    /// record, a log line or a response.
    ///
    /// ```
    /// use flunq_auth::Secret;
    ///
    /// let secret = Secret::new("s3cr3t");
    /// let stored = Secret::revealed(|| serde_json::to_string(&secret)).unwrap();
    /// assert_eq!(stored, r#""s3cr3t""#);
    /// // Outside, it hides itself again.
    /// assert_eq!(serde_json::to_string(&secret).unwrap(), r#""***""#);
    /// ```
    pub fn revealed<R>(serialize: impl FnOnce() -> R) -> R {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                REVEAL.with(|r| r.set(self.0));
            }
        }
        // Restored on the way out, even when `serialize` unwinds.
        let _reset = Reset(REVEAL.with(|r| r.replace(true)));
        serialize()
    }
}

impl Secret {
    /// Whether the current thread is inside [`Secret::revealed`]: for a serializer of
    /// other sensitive data (a header value, a URL's password) that must follow the same
    /// rule as secrets.
    pub fn revealing() -> bool {
        REVEAL.with(std::cell::Cell::get)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_itself_everywhere_but_expose() {
        let s = Secret::new("canary-7f3a");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        assert_eq!(s.expose(), "canary-7f3a");
    }

    #[test]
    fn deserializes_only_from_a_string() {
        assert!(serde_json::from_str::<Secret>("42").is_err());
        assert_eq!(
            serde_json::from_str::<Secret>("\"x\"").unwrap().expose(),
            "x"
        );
    }
}
