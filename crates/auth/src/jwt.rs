//! JWTs signed for each request, with keys parsed once.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flunq_http_client::{HeaderName, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::Rng as _;
use serde_json::{Map, Value};

use crate::config::{JwtConfig, parse_duration};
use crate::error::AuthError;

/// Lifetime of a signed JWT when `expires_in` is not given.
pub const DEFAULT_JWT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Signs a fresh JWT for each request: the configured claims plus `iat` (now), `exp`
/// (now + lifetime) and `jti` (128 random bits, hex), under a key parsed once.
///
/// The signer always sets `iat`, `exp` and `jti`, overriding any the configuration
/// gives: a fixed `exp` would make every token expire at the same instant, and a fixed
/// `jti` would defeat the replay protection it exists for.
///
/// The PEM is decoded and checked (by one test signature) when the signer is built;
/// `jsonwebtoken` still rebuilds its signing state from the decoded key on each
/// signature, which is negligible beside the RSA or ECDSA operation itself.
pub struct JwtSigner {
    key: EncodingKey,
    header: Header,
    claims: Map<String, Value>,
    lifetime: Duration,
    header_name: HeaderName,
    scheme: String,
}

impl fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigner")
            .field("algorithm", &self.header.alg)
            .field("kid", &self.header.kid)
            .field("lifetime", &self.lifetime)
            .field("header", &self.header_name)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl JwtSigner {
    /// Validates the configuration and parses the key. Errors name the field at fault.
    pub fn from_config(config: &JwtConfig) -> Result<Self, AuthError> {
        let algorithm = parse_algorithm(config.algorithm.as_deref())?;
        let key = parse_key(algorithm, config)?;
        let lifetime = match &config.expires_in {
            Some(text) => parse_duration("auth.expires_in", text)?,
            None => DEFAULT_JWT_LIFETIME,
        };
        if lifetime.as_secs() == 0 {
            return Err(AuthError::config(
                "auth.expires_in",
                "must be at least one second",
            ));
        }
        let header_name = match config.header.as_deref() {
            None => HeaderName::from_static("authorization"),
            Some(name) => HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| AuthError::config("auth.header", "not a valid header name"))?,
        };
        let scheme = config.scheme.clone().unwrap_or_else(|| "Bearer".to_owned());
        if !scheme.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AuthError::config(
                "auth.scheme",
                "must be a single word of visible ASCII",
            ));
        }
        let mut header = Header::new(algorithm);
        if let Some(kid) = &config.key_id {
            if kid.is_empty() {
                return Err(AuthError::config("auth.key_id", "must not be empty"));
            }
            header.kid = Some(kid.clone());
        }
        let signer = Self {
            key,
            header,
            claims: config.claims.clone(),
            lifetime,
            header_name,
            scheme,
        };
        // A PEM can parse and still not fit the algorithm (a P-384 key for ES256, say):
        // one signature now turns that into a configuration error, not a failed request.
        signer.sign_at(SystemTime::now()).map_err(|_| {
            AuthError::config(
                key_field(algorithm),
                format!("not a usable {algorithm:?} key"),
            )
        })?;
        Ok(signer)
    }

    /// A new token, signed now.
    pub fn sign(&self) -> Result<String, AuthError> {
        self.sign_at(SystemTime::now())
    }

    /// A new token as if signed at `now`.
    pub fn sign_at(&self, now: SystemTime) -> Result<String, AuthError> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut claims = self.claims.clone();
        claims.insert("iat".to_owned(), Value::from(iat));
        claims.insert(
            "exp".to_owned(),
            Value::from(iat.saturating_add(self.lifetime.as_secs())),
        );
        claims.insert("jti".to_owned(), Value::from(new_jti()));
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    /// The header that carries the token.
    pub fn header_name(&self) -> &HeaderName {
        &self.header_name
    }

    /// The header value for a new token: `<scheme> <jwt>`, or the bare JWT when the
    /// scheme is empty. Marked sensitive.
    pub fn header_value(&self) -> Result<HeaderValue, AuthError> {
        let token = self.sign()?;
        let text = if self.scheme.is_empty() {
            token
        } else {
            format!("{} {token}", self.scheme)
        };
        let mut value = HeaderValue::try_from(text)
            .map_err(|_| AuthError::Signing("token is not a valid header value".to_owned()))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

fn parse_algorithm(name: Option<&str>) -> Result<Algorithm, AuthError> {
    let field = "auth.algorithm";
    match name {
        None => Err(AuthError::config(field, "is required")),
        Some("HS256") => Ok(Algorithm::HS256),
        Some("HS384") => Ok(Algorithm::HS384),
        Some("HS512") => Ok(Algorithm::HS512),
        Some("RS256") => Ok(Algorithm::RS256),
        Some("ES256") => Ok(Algorithm::ES256),
        Some("EdDSA") => Ok(Algorithm::EdDSA),
        Some(other) => Err(AuthError::config(
            field,
            format!(
                "unsupported algorithm `{other}`: expected HS256, HS384, HS512, RS256, ES256 or EdDSA"
            ),
        )),
    }
}

fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

fn key_field(algorithm: Algorithm) -> &'static str {
    if is_hmac(algorithm) {
        "auth.secret"
    } else {
        "auth.private_key"
    }
}

fn parse_key(algorithm: Algorithm, config: &JwtConfig) -> Result<EncodingKey, AuthError> {
    if is_hmac(algorithm) {
        if config.private_key.is_some() {
            return Err(AuthError::config(
                "auth.private_key",
                format!("{algorithm:?} uses `secret`, not a private key"),
            ));
        }
        return match &config.secret {
            None => Err(AuthError::config(
                "auth.secret",
                format!("is required for {algorithm:?}"),
            )),
            Some(s) if s.is_empty() => Err(AuthError::config("auth.secret", "must not be empty")),
            Some(s) => Ok(EncodingKey::from_secret(s.expose().as_bytes())),
        };
    }
    if config.secret.is_some() {
        return Err(AuthError::config(
            "auth.secret",
            format!("{algorithm:?} uses `private_key`, not a secret"),
        ));
    }
    let field = "auth.private_key";
    let pem = config
        .private_key
        .as_ref()
        .ok_or_else(|| AuthError::config(field, format!("is required for {algorithm:?}")))?;
    let pem = pem.expose().as_bytes();
    let parsed = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_ed_pem(pem),
    };
    // jsonwebtoken's key errors say what kind of key was expected, never its bytes.
    parsed.map_err(|e| {
        AuthError::config(
            field,
            format!("not a valid {algorithm:?} private key in PEM: {e}"),
        )
    })
}

/// 128 random bits in hex: unique per token for any practical purpose.
fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jti_is_32_hex_digits_and_varies() {
        let (a, b) = (new_jti(), new_jti());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
