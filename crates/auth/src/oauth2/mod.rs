//! OAuth2: the validated grant, the token it yields, and the shared cache.

mod cache;
mod endpoint;

pub(crate) use endpoint::basic_value;

pub use cache::{
    Clock, DEFAULT_CACHE_CAPACITY, DEFAULT_TOKEN_LIFETIME, MAX_REFRESH_SKEW, OAuth2Cache,
    SystemClock, refresh_skew,
};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::{ClientAuth, GrantType, OAuth2Config};
use crate::error::AuthError;
use crate::secret::Secret;

/// A validated OAuth2 configuration: what to send to which token endpoint.
///
/// Cheap to clone. Its [`TokenKey`] is computed once.
#[derive(Clone, Debug)]
pub struct OAuth2Grant {
    key: TokenKey,
}

/// Identifies a cached token: every input of the token request, the token URL,
/// client id, scopes (sorted), audience, grant and its subject (user name, refresh
/// token), *and* the credentials (client secret, password).
///
/// Credentials are part of the key so that a caller holding a wrong secret is never
/// handed a token that someone else fetched with the right one, and so that two users
/// of the password grant never share a token. They are compared, never shown: `Debug`
/// prints the URL, client id, scopes, audience, grant and user name only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenKey(Arc<GrantParams>);

#[derive(PartialEq, Eq, Hash)]
pub(crate) struct GrantParams {
    pub(crate) token_url: Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) client_auth: ClientAuth,
    /// Sorted and deduplicated, for the key; `scope_param` keeps the order given.
    pub(crate) scopes: Vec<String>,
    pub(crate) scope_param: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) grant: Grant,
}

#[derive(PartialEq, Eq, Hash)]
pub(crate) enum Grant {
    ClientCredentials,
    Password { username: String, password: Secret },
    RefreshToken { refresh_token: Secret },
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        let (grant, user) = match &p.grant {
            Grant::ClientCredentials => ("client_credentials", None),
            Grant::Password { username, .. } => ("password", Some(username.as_str())),
            Grant::RefreshToken { .. } => ("refresh_token", None),
        };
        f.debug_struct("TokenKey")
            .field("token_url", &p.token_url.as_str())
            .field("client_id", &p.client_id)
            .field("scopes", &p.scopes)
            .field("audience", &p.audience)
            .field("grant", &grant)
            .field("username", &user)
            .finish()
    }
}

impl TokenKey {
    pub(crate) fn params(&self) -> &GrantParams {
        &self.0
    }
}

impl OAuth2Grant {
    /// Validates the configuration. Errors name the field at fault.
    pub fn from_config(config: &OAuth2Config) -> Result<Self, AuthError> {
        let token_url = required("auth.token_url", config.token_url.as_deref())?;
        let token_url = Url::parse(token_url).map_err(|e| {
            AuthError::config("auth.token_url", format!("not an absolute URL: {e}"))
        })?;
        if !matches!(token_url.scheme(), "http" | "https") || token_url.host().is_none() {
            return Err(AuthError::config(
                "auth.token_url",
                "must be an http or https URL with a host",
            ));
        }
        if !token_url.username().is_empty() || token_url.password().is_some() {
            return Err(AuthError::config(
                "auth.token_url",
                "must not carry credentials: use client_id and client_secret",
            ));
        }
        let client_id = required("auth.client_id", config.client_id.as_deref())?.to_owned();
        let client_secret = config.client_secret.clone();
        let grant = match config.grant_type {
            GrantType::ClientCredentials => {
                if client_secret.is_none() {
                    return Err(AuthError::config(
                        "auth.client_secret",
                        "is required for the client_credentials grant",
                    ));
                }
                Grant::ClientCredentials
            }
            GrantType::Password => Grant::Password {
                username: required("auth.username", config.username.as_deref())?.to_owned(),
                password: config.password.clone().ok_or_else(|| {
                    AuthError::config("auth.password", "is required for the password grant")
                })?,
            },
            GrantType::RefreshToken => match &config.refresh_token {
                Some(t) if !t.is_empty() => Grant::RefreshToken {
                    refresh_token: t.clone(),
                },
                _ => {
                    return Err(AuthError::config(
                        "auth.refresh_token",
                        "is required for the refresh_token grant",
                    ));
                }
            },
        };
        if !config.scopes.iter().all(|s| is_scope_token(s)) {
            return Err(AuthError::config(
                "auth.scopes",
                "a scope must be non-empty printable ASCII without spaces, quotes or backslashes",
            ));
        }
        let scope_param = (!config.scopes.is_empty()).then(|| config.scopes.join(" "));
        let mut scopes = config.scopes.clone();
        scopes.sort();
        scopes.dedup();
        let audience = match &config.audience {
            Some(a) if a.is_empty() => {
                return Err(AuthError::config("auth.audience", "must not be empty"));
            }
            other => other.clone(),
        };
        let params = GrantParams {
            token_url,
            client_id,
            client_secret,
            client_auth: config.client_auth,
            scopes,
            scope_param,
            audience,
            grant,
        };
        Ok(Self {
            key: TokenKey(Arc::new(params)),
        })
    }

    /// The cache key of this grant's tokens.
    pub fn key(&self) -> &TokenKey {
        &self.key
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.key.0.token_url
    }
}

fn required<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str, AuthError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(AuthError::config(field, "is required")),
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// An access token from the token endpoint (RFC 6749 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    access_token: Secret,
    token_type: String,
    expires_in: Option<Duration>,
    refresh_token: Option<Secret>,
    scope: Option<String>,
}

impl AccessToken {
    /// The token itself.
    pub fn secret(&self) -> &Secret {
        &self.access_token
    }

    /// The token type, normalised: always `Bearer` (other types are refused).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The lifetime the server announced, if it did.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }

    /// A refresh token, if the server issued one.
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }

    /// The scope granted, if the server said (it may differ from what was asked).
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}
