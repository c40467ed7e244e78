//! The auth object of a task or a stored configuration, as plain data (serde).
//!
//! Field names are those of the HTTP API. Fields that a scheme requires are still
//! `Option` here, so that a missing one is reported by validation with the field's name
//! (`auth.token_url`) instead of a bare serde message. [`AuthConfig::validate`] and
//! [`Authenticator::new`](crate::Authenticator::new) turn it into typed values once.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::secret::Secret;

/// An auth object: `{"type": "bearer", "token": "..."}` and its siblings.
///
/// ```
/// use flunq_auth::AuthConfig;
///
/// let auth: AuthConfig = serde_json::from_str(
///     r#"{"type": "oauth2", "token_url": "https://id.example.com/token",
///         "client_id": "billing", "client_secret": "s3cr3t", "scopes": ["read", "write"]}"#,
/// ).unwrap();
/// auth.validate().unwrap();
/// // Records never show a credential.
/// assert!(serde_json::to_string(&auth).unwrap().contains(r#""client_secret":"***""#));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthConfig {
    /// An API key in a header (default) or a query parameter.
    ApiKey(ApiKeyConfig),
    /// `Authorization: Bearer <token>`.
    Bearer(BearerConfig),
    /// `Authorization: Basic base64(username:password)`.
    Basic(BasicConfig),
    /// An OAuth2 access token, fetched from the token endpoint and cached.
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2Config),
    /// A JWT signed for each request.
    Jwt(JwtConfig),
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyLocation {
    /// A request header named `name` (the default).
    #[default]
    Header,
    /// A query parameter named `name`.
    Query,
}

/// `{"type": "api_key", "name": "X-API-Key", "value": "...", "in": "header"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The header or query parameter name. Required.
    #[serde(default)]
    pub name: Option<String>,
    /// The key. Required.
    #[serde(default)]
    pub value: Option<Secret>,
    /// `"header"` (default) or `"query"`.
    #[serde(default, rename = "in")]
    pub location: ApiKeyLocation,
}

/// `{"type": "bearer", "token": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerConfig {
    /// The token. Required.
    #[serde(default)]
    pub token: Option<Secret>,
}

/// `{"type": "basic", "username": "...", "password": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicConfig {
    /// The user name. Required.
    #[serde(default)]
    pub username: Option<String>,
    /// The password; absent means empty (APIs that take a key as the user name).
    #[serde(default)]
    pub password: Option<Secret>,
}

/// The OAuth2 grant used to obtain a token (RFC 6749 §4.4, §4.3, §6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// The client acts on its own behalf (the default).
    #[default]
    ClientCredentials,
    /// Resource owner password credentials: `username` and `password`.
    Password,
    /// A refresh token obtained earlier.
    RefreshToken,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP basic with the form-urlencoded id and secret (the default, and what the
    /// RFC says every server must support).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the request body.
    Body,
}

/// `{"type": "oauth2", "token_url": "...", "client_id": "...", "client_secret": "...", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    /// `client_credentials` (default), `password` or `refresh_token`.
    #[serde(default)]
    pub grant_type: GrantType,
    /// The token endpoint, an absolute `http` or `https` URL. Required.
    #[serde(default)]
    pub token_url: Option<String>,
    /// The client identifier. Required.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret. Required for `client_credentials`; a public client may go
    /// without one for the other grants.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Scopes requested, sent space-joined as `scope`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The `audience` parameter (Auth0, Okta and others use it to name the API).
    #[serde(default)]
    pub audience: Option<String>,
    /// The resource owner, for the `password` grant.
    #[serde(default)]
    pub username: Option<String>,
    /// The resource owner's password, for the `password` grant.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The refresh token, for the `refresh_token` grant.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// `basic` (default) or `body`.
    #[serde(default)]
    pub client_auth: ClientAuth,
}

/// `{"type": "jwt", "algorithm": "RS256", "private_key": "-----BEGIN ...", "claims": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// `HS256`, `HS384`, `HS512`, `RS256`, `ES256` or `EdDSA`. Required.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// The HMAC secret, for `HS*`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// The private key in PEM (PKCS#8, or PKCS#1 for RSA), for `RS256`, `ES256`, `EdDSA`.
    #[serde(default)]
    pub private_key: Option<Secret>,
    /// Claims of every token; `iat`, `exp` and `jti` are set by the signer.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Lifetime of each token, a duration such as `"5m"` (the default).
    #[serde(default)]
    pub expires_in: Option<String>,
    /// The `kid` header, when given.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The request header that carries the token (default `Authorization`).
    #[serde(default)]
    pub header: Option<String>,
    /// The scheme before the token (default `Bearer`); empty sends the bare token.
    #[serde(default)]
    pub scheme: Option<String>,
}

impl AuthConfig {
    /// Checks the configuration as [`Authenticator::new`](crate::Authenticator::new)
    /// would (URLs, header names, algorithm, keys parsed), without keeping the result.
    pub fn validate(&self) -> Result<(), AuthError> {
        crate::authenticator::Scheme::validate(self)
    }

    /// The names of every field, of any type, that holds a credential (a [`Secret`]).
    pub const SECRET_FIELDS: [&'static str; 7] = [
        "value",
        "token",
        "password",
        "client_secret",
        "refresh_token",
        "secret",
        "private_key",
    ];

    /// This type's credential fields, by name (each one of [`Self::SECRET_FIELDS`]).
    pub fn secrets(&self) -> Vec<(&'static str, Option<&Secret>)> {
        match self {
            Self::ApiKey(c) => vec![("value", c.value.as_ref())],
            Self::Bearer(c) => vec![("token", c.token.as_ref())],
            Self::Basic(c) => vec![("password", c.password.as_ref())],
            Self::OAuth2(c) => vec![
                ("client_secret", c.client_secret.as_ref()),
                ("password", c.password.as_ref()),
                ("refresh_token", c.refresh_token.as_ref()),
            ],
            Self::Jwt(c) => vec![
                ("secret", c.secret.as_ref()),
                ("private_key", c.private_key.as_ref()),
            ],
        }
    }

    /// This type's credential fields, to change (the same as [`secrets`](Self::secrets)).
    pub fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Option<Secret>)> {
        match self {
            Self::ApiKey(c) => vec![("value", &mut c.value)],
            Self::Bearer(c) => vec![("token", &mut c.token)],
            Self::Basic(c) => vec![("password", &mut c.password)],
            Self::OAuth2(c) => vec![
                ("client_secret", &mut c.client_secret),
                ("password", &mut c.password),
                ("refresh_token", &mut c.refresh_token),
            ],
            Self::Jwt(c) => vec![
                ("secret", &mut c.secret),
                ("private_key", &mut c.private_key),
            ],
        }
    }

    /// The `type` tag: `"api_key"`, `"bearer"`, `"basic"`, `"oauth2"` or `"jwt"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ApiKey(_) => "api_key",
            Self::Bearer(_) => "bearer",
            Self::Basic(_) => "basic",
            Self::OAuth2(_) => "oauth2",
            Self::Jwt(_) => "jwt",
        }
    }
}

/// Parses a duration as the HTTP API spells it (`"250ms"`, `"30s"`, `"5m"`, `"1h"`);
/// a bare number has no unit and is refused.
pub(crate) fn parse_duration(
    field: &'static str,
    text: &str,
) -> Result<std::time::Duration, AuthError> {
    let text = text.trim();
    if text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(AuthError::config(
            field,
            "a duration needs a unit, such as \"30s\" or \"5m\"",
        ));
    }
    humantime::parse_duration(text)
        .map_err(|e| AuthError::config(field, format!("invalid duration: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For every type, the fields that serialize as `***` (its `Secret`s) are exactly
    /// those `secrets` names, each one of `SECRET_FIELDS`.
    #[test]
    fn the_secret_fields_are_listed_for_every_type() {
        // Every field name of every type: the secret ones and the others.
        let others = [
            "name",
            "username",
            "token_url",
            "client_id",
            "audience",
            "key_id",
            "header",
            "scheme",
        ];
        for kind in ["api_key", "bearer", "basic", "oauth2", "jwt"] {
            // Every string field this type accepts, set.
            let mut object = serde_json::json!({"type": kind});
            for name in AuthConfig::SECRET_FIELDS.into_iter().chain(others) {
                let mut one = serde_json::json!({"type": kind});
                one[name] = Value::String("v".into());
                if serde_json::from_value::<AuthConfig>(one).is_ok() {
                    object[name] = Value::String("v".into());
                }
            }
            let mut auth: AuthConfig = serde_json::from_value(object).unwrap();
            let shown = serde_json::to_value(&auth).unwrap();
            let mut masked: Vec<&str> = shown
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| *v == Secret::MASK)
                .map(|(k, _)| k.as_str())
                .collect();
            masked.sort_unstable();
            let mut listed: Vec<&str> = auth.secrets().into_iter().map(|(n, _)| n).collect();
            listed.sort_unstable();
            assert_eq!(masked, listed, "{kind}");
            assert!(listed.iter().all(|n| AuthConfig::SECRET_FIELDS.contains(n)));
            let mutable: Vec<&str> = auth.secrets_mut().into_iter().map(|(n, _)| n).collect();
            assert_eq!(mutable.len(), listed.len(), "{kind}");
        }
    }
}
