//! The typed authenticator: a configuration validated once, applied to each request.

use std::sync::Arc;

use flunq_http_client::{HeaderMap, HeaderName, HeaderValue, Request, Url};

use crate::config::{ApiKeyConfig, ApiKeyLocation, AuthConfig, BasicConfig, BearerConfig};
use crate::error::AuthError;
use crate::jwt::JwtSigner;
use crate::oauth2::{AccessToken, OAuth2Cache, OAuth2Grant, TokenKey, basic_value};
use crate::secret::Secret;

/// Applies one auth configuration to outgoing requests. Built once from an
/// [`AuthConfig`] (URLs, header names and keys parsed there), cheap to clone.
#[derive(Clone, Debug)]
pub struct Authenticator {
    scheme: Scheme,
}

#[derive(Clone, Debug)]
pub(crate) enum Scheme {
    /// API key in a header, bearer and basic: one fixed, sensitive header, and its
    /// credential as [`Applied::credential`] gives it.
    Header {
        name: HeaderName,
        value: HeaderValue,
        credential: Secret,
    },
    /// API key in the query.
    Query {
        name: String,
        value: Secret,
    },
    OAuth2 {
        grant: OAuth2Grant,
        cache: OAuth2Cache,
    },
    Jwt(Arc<JwtSigner>),
}

/// What [`Authenticator::apply`] did; keep it until the upstream answers, and hand it
/// to [`Authenticator::invalidate`] if the answer is `401`.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    oauth2: Option<(TokenKey, Arc<AccessToken>)>,
    credential: Option<Secret>,
}

impl Applied {
    /// The credential as it went on the wire: the value after the scheme of an
    /// `Authorization` header (`Basic <base64>`, `Bearer <token>`, a signed JWT), the
    /// whole value of any other header, or the query parameter's value. A caller that
    /// shows what the upstream answered hides it there: an echo service, or an error
    /// page quoting the request, would otherwise show a token fetched or signed for
    /// this request, or a password in its encoded form.
    pub fn credential(&self) -> Option<&Secret> {
        self.credential.as_ref()
    }

    /// The OAuth2 token sent, if the scheme is OAuth2.
    pub fn token(&self) -> Option<&AccessToken> {
        self.oauth2.as_ref().map(|(_, t)| t.as_ref())
    }

    /// The cache key of the token sent, if the scheme is OAuth2.
    pub fn token_key(&self) -> Option<&TokenKey> {
        self.oauth2.as_ref().map(|(k, _)| k)
    }
}

/// A credential ready to go on a request.
enum Credential {
    Header(HeaderName, HeaderValue),
    Query(String, Secret),
}

impl Authenticator {
    /// Validates `config`. OAuth2 tokens will come from `tokens` (share one cache per
    /// process); the other schemes do not touch it.
    pub fn new(config: &AuthConfig, tokens: &OAuth2Cache) -> Result<Self, AuthError> {
        Ok(Self {
            scheme: Scheme::from_config(config, tokens)?,
        })
    }

    /// Adds the credentials to a request: a header (marked sensitive) or a query
    /// parameter. OAuth2 may fetch a token; the others never wait.
    pub async fn apply(&self, request: &mut Request) -> Result<Applied, AuthError> {
        let (credential, applied) = self.credential().await?;
        match credential {
            Credential::Header(name, value) => {
                request.headers_mut().insert(name, value);
            }
            Credential::Query(name, value) => append_query(request.url_mut(), &name, &value),
        }
        Ok(applied)
    }

    /// [`apply`](Self::apply) for callers with their own request type (reqwest,
    /// hyper): the headers and the URL of the request.
    pub async fn apply_parts(
        &self,
        headers: &mut HeaderMap,
        url: &mut Url,
    ) -> Result<Applied, AuthError> {
        let (credential, applied) = self.credential().await?;
        match credential {
            Credential::Header(name, value) => {
                headers.insert(name, value);
            }
            Credential::Query(name, value) => append_query(url, &name, &value),
        }
        Ok(applied)
    }

    /// After an upstream `401`: drops the OAuth2 token that was sent, unless another
    /// caller already replaced it, so the retry gets a fresh token. Returns whether a
    /// token was dropped (always `false` for the other schemes).
    pub fn invalidate(&self, applied: &Applied) -> bool {
        match (&self.scheme, &applied.oauth2) {
            (Scheme::OAuth2 { cache, .. }, Some((key, token))) => cache.invalidate(key, token),
            _ => false,
        }
    }

    /// Whether the scheme is OAuth2, the only one a `401` can heal by fetching again.
    pub fn is_oauth2(&self) -> bool {
        matches!(self.scheme, Scheme::OAuth2 { .. })
    }

    /// The credential every request carries, for the schemes whose credential is
    /// fixed (API key, bearer, basic): known before any request, so a caller can hide it
    /// once rather than after each. `None` for OAuth2 and JWT, whose credential is
    /// fetched or signed per request ([`Applied::credential`]).
    pub fn fixed_credential(&self) -> Option<&Secret> {
        match &self.scheme {
            Scheme::Header { credential, .. } => Some(credential),
            Scheme::Query { value, .. } => Some(value),
            Scheme::OAuth2 { .. } | Scheme::Jwt(_) => None,
        }
    }

    async fn credential(&self) -> Result<(Credential, Applied), AuthError> {
        let sent = |credential: Secret| Applied {
            oauth2: None,
            credential: Some(credential),
        };
        Ok(match &self.scheme {
            Scheme::Header {
                name,
                value,
                credential,
            } => (
                Credential::Header(name.clone(), value.clone()),
                sent(credential.clone()),
            ),
            Scheme::Query { name, value } => (
                Credential::Query(name.clone(), value.clone()),
                sent(value.clone()),
            ),
            Scheme::Jwt(signer) => {
                let value = signer.header_value()?;
                let credential = wire_credential(signer.header_name(), &value);
                (
                    Credential::Header(signer.header_name().clone(), value),
                    sent(credential),
                )
            }
            Scheme::OAuth2 { grant, cache } => {
                let token = cache.token(grant).await?;
                let value = sensitive(format!("Bearer {}", token.secret().expose())).ok_or(
                    AuthError::InvalidTokenResponse {
                        status: flunq_http_client::StatusCode::OK,
                        reason: "access_token is not a valid header value",
                    },
                )?;
                let applied = Applied {
                    credential: Some(token.secret().clone()),
                    oauth2: Some((grant.key().clone(), token)),
                };
                (Credential::Header(AUTHORIZATION, value), applied)
            }
        })
    }
}

/// A header credential as it goes on the wire: the value after the scheme of an
/// `Authorization` header, the whole value of any other.
fn wire_credential(name: &HeaderName, value: &HeaderValue) -> Secret {
    // Header values here were built from `String`s: UTF-8.
    let text = String::from_utf8_lossy(value.as_bytes());
    let shown = if *name == AUTHORIZATION {
        text.split_once(' ').map_or(&*text, |(_, c)| c.trim_start())
    } else {
        &text
    };
    Secret::from(shown)
}

/// A fixed header scheme, its credential read off once.
fn header_scheme(name: HeaderName, value: HeaderValue) -> Scheme {
    let credential = wire_credential(&name, &value);
    Scheme::Header {
        name,
        value,
        credential,
    }
}

impl Scheme {
    pub(crate) fn validate(config: &AuthConfig) -> Result<(), AuthError> {
        match config {
            AuthConfig::OAuth2(c) => OAuth2Grant::from_config(c).map(drop),
            AuthConfig::ApiKey(c) => Self::api_key(c).map(drop),
            AuthConfig::Bearer(c) => Self::bearer(c).map(drop),
            AuthConfig::Basic(c) => Self::basic(c).map(drop),
            AuthConfig::Jwt(c) => JwtSigner::from_config(c).map(drop),
        }
    }

    fn from_config(config: &AuthConfig, tokens: &OAuth2Cache) -> Result<Self, AuthError> {
        match config {
            AuthConfig::ApiKey(c) => Self::api_key(c),
            AuthConfig::Bearer(c) => Self::bearer(c),
            AuthConfig::Basic(c) => Self::basic(c),
            AuthConfig::OAuth2(c) => Ok(Scheme::OAuth2 {
                grant: OAuth2Grant::from_config(c)?,
                cache: tokens.clone(),
            }),
            AuthConfig::Jwt(c) => Ok(Scheme::Jwt(Arc::new(JwtSigner::from_config(c)?))),
        }
    }

    fn api_key(c: &ApiKeyConfig) -> Result<Self, AuthError> {
        let name = match c.name.as_deref() {
            Some(n) if !n.is_empty() => n,
            _ => return Err(AuthError::config("auth.name", "is required")),
        };
        let value = match &c.value {
            Some(v) if !v.is_empty() => v.clone(),
            _ => return Err(AuthError::config("auth.value", "is required")),
        };
        match c.location {
            ApiKeyLocation::Header => Ok(header_scheme(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| AuthError::config("auth.name", "not a valid header name"))?,
                sensitive(value.expose().to_owned())
                    .ok_or_else(|| AuthError::config("auth.value", "not a valid header value"))?,
            )),
            ApiKeyLocation::Query => Ok(Scheme::Query {
                name: name.to_owned(),
                value,
            }),
        }
    }

    fn bearer(c: &BearerConfig) -> Result<Self, AuthError> {
        let token = match &c.token {
            Some(t) if !t.is_empty() => t,
            _ => return Err(AuthError::config("auth.token", "is required")),
        };
        Ok(header_scheme(
            AUTHORIZATION,
            sensitive(format!("Bearer {}", token.expose()))
                .ok_or_else(|| AuthError::config("auth.token", "not a valid header value"))?,
        ))
    }

    fn basic(c: &BasicConfig) -> Result<Self, AuthError> {
        let username = match c.username.as_deref() {
            Some(u) if !u.is_empty() => u,
            _ => return Err(AuthError::config("auth.username", "is required")),
        };
        if username.contains(':') {
            // RFC 7617: the user-id cannot contain a colon.
            return Err(AuthError::config("auth.username", "must not contain `:`"));
        }
        let password = c.password.as_ref().map_or("", Secret::expose);
        Ok(header_scheme(
            AUTHORIZATION,
            basic_value(&format!("{username}:{password}")),
        ))
    }
}

const AUTHORIZATION: HeaderName = HeaderName::from_static("authorization");

/// A header value hidden from `Debug`; `None` when the text cannot be a header value.
fn sensitive(text: String) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn append_query(url: &mut Url, name: &str, value: &Secret) {
    url.query_pairs_mut().append_pair(name, value.expose());
}
