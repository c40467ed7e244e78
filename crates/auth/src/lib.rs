//! Credentials for outgoing HTTP requests: API keys, bearer tokens, basic auth, OAuth2
//! access tokens from a shared cache, and JWTs signed for each request.
//!
//! Use it where a program calls third-party APIs on behalf of configurations it does
//! not control: the auth object arrives as plain data ([`AuthConfig`], the HTTP API's
//! field names), is validated once into an [`Authenticator`] (errors name the field,
//! `auth.token_url`, so a server can answer `400`), and is then applied to each
//! request. Every credential is a [`Secret`], which prints and serializes as `***`.
//!
//! # Design
//!
//! - **Plain data, validated once.** URLs, header names, durations (`"5m"`; a bare
//!   number is refused) and keys are parsed in [`Authenticator::new`]; applying a
//!   credential re-parses nothing. JWT keys are parsed and test-signed there, so a key
//!   that does not fit its algorithm is a configuration error, not a failed request.
//! - **OAuth2 through [`flunq_http_client`].** The token endpoint is called with the
//!   same client, hence the same egress policy, as the upstream: a token URL pointing at
//!   cloud metadata is refused like any other URL ([`AuthError::is_egress_denied`]).
//!   Token requests follow no redirects (a redirect would carry the credentials
//!   elsewhere) and read at most 64 KiB.
//! - **One shared [`OAuth2Cache`].** Tokens are cached per [`TokenKey`]: token URL,
//!   client id, scopes, audience, grant and its subject, and the credentials themselves
//!   (compared, never shown), so a wrong secret never borrows a token fetched with the
//!   right one, and two users of the password grant never share one.
//! - **Single flight.** However many callers want a token for one key, one request
//!   goes to the endpoint; the others await the same shared future and get the same
//!   token, or the same error (nothing is cached on failure; the next caller tries
//!   again).
//! - **Expiry with skew.** A token is handed out until `lifetime - skew` after its
//!   fetch started, where `skew = min(30 s, lifetime / 10)` ([`refresh_skew`]) and
//!   `lifetime` is `expires_in`, or [`DEFAULT_TOKEN_LIFETIME`] (5 minutes) when the
//!   server does not say.
//! - **Invalidation on 401.** [`Authenticator::invalidate`] (or
//!   [`OAuth2Cache::invalidate`]) drops the cached token only if it is still the one
//!   that failed: a token another caller fetched meanwhile is kept, so a burst of 401s
//!   causes one refetch, not one each.
//! - **Bounded memory.** The cache holds at most [`DEFAULT_CACHE_CAPACITY`] keys (or
//!   what [`OAuth2Cache::with_options`] says); when full, expired entries go first.
//! - **JWT claims.** The configured claims plus `iat` (now), `exp` (now + `expires_in`,
//!   default 5 minutes) and `jti` (128 random bits). `iat`, `exp` and `jti` in the
//!   configuration are overridden: a fixed `exp` would expire every token at once and a
//!   fixed `jti` defeats replay protection.
//! - **No secret in any message.** [`AuthError`] names fields, OAuth error codes and
//!   statuses; an `error_description` is shortened and has the request's credentials
//!   masked. Applied header values are marked sensitive, so `Debug` hides them.
//!
//! # Example
//!
//! ```
//! use flunq_auth::{AuthConfig, Authenticator, OAuth2Cache};
//! use flunq_http_client::{Client, Request};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One cache per process: OAuth2 tokens are shared through it.
//! let tokens = OAuth2Cache::new(Client::new()?);
//!
//! let config: AuthConfig = serde_json::from_str(r#"{"type": "bearer", "token": "t0ken"}"#)?;
//! let auth = Authenticator::new(&config, &tokens)?;
//! let mut request = Request::get("https://api.example.com/users")?;
//! auth.apply(&mut request).await?;
//! let value = &request.headers()["authorization"];
//! assert_eq!(value, "Bearer t0ken");
//! assert!(value.is_sensitive());
//!
//! let config: AuthConfig = serde_json::from_str(
//!     r#"{"type": "api_key", "name": "api_key", "value": "k3y", "in": "query"}"#,
//! )?;
//! let mut request = Request::get("https://api.example.com/users?page=2")?;
//! Authenticator::new(&config, &tokens)?.apply(&mut request).await?;
//! assert_eq!(request.url().query(), Some("page=2&api_key=k3y"));
//!
//! let config: AuthConfig = serde_json::from_str(
//!     r#"{"type": "jwt", "algorithm": "HS256", "secret": "shh", "claims": {"sub": "svc"},
//!         "expires_in": "2m", "key_id": "k1"}"#,
//! )?;
//! let mut request = Request::get("https://api.example.com/users")?;
//! Authenticator::new(&config, &tokens)?.apply(&mut request).await?;
//! let jwt = request.headers()["authorization"].to_str()?.strip_prefix("Bearer ").unwrap();
//! assert_eq!(jwt.split('.').count(), 3);
//!
//! // Errors name the field, and records never show secrets.
//! let bad: AuthConfig = serde_json::from_str(r#"{"type": "oauth2", "client_id": "c", "client_secret": "s"}"#)?;
//! assert_eq!(bad.validate().unwrap_err().field(), Some("auth.token_url"));
//! assert!(serde_json::to_string(&config)?.contains(r#""secret":"***""#));
//! # Ok(())
//! # }
//! ```
//!
//! # Compared with other crates
//!
//! - **`oauth2`** is a complete client for every OAuth2 flow (authorization code, PKCE,
//!   device code, introspection, revocation) with strongly typed ids and URLs, and an
//!   HTTP client of your choice through a trait. It has no token cache, no single
//!   flight, no expiry skew and no 401 invalidation: each `request_async` is one
//!   fetch, and sharing tokens between concurrent callers is left to the user, which is
//!   the hard part here. We use only three server-to-server grants, and their form is a
//!   few lines; adapting our client to its `AsyncHttpClient` trait would have cost more
//!   than the requests themselves, and its typed builders would not save us the
//!   validation of user-supplied, field-named configuration.
//! - **reqwest-middleware auth crates.** `reqwest-auth` fills the `Authorization`
//!   header from a `token-source` `TokenSource` and leaves fetching, caching and
//!   expiry to whoever implements that trait. `middle` (built on `oauth2`) keeps one
//!   client-credentials token fresh with a background task per authorizer, follows no
//!   redirects and hides secrets from `Debug`, which is what we do too; but it serves
//!   one configuration per authorizer and, as far as its documentation shows, has no
//!   password or refresh-token grant, no cache keyed by grant and subject shared across
//!   configurations, no invalidation after a `401`, no JWT signing, and no egress
//!   policy on the token URL. These
//!   crates fit a program with a few fixed upstreams; this one fits a server that holds
//!   many user-supplied configurations at once. [`Authenticator::apply_parts`] works on
//!   any request's headers and URL, so reqwest users can still use it.
//! - **`jsonwebtoken`** does the signing here; we add the configuration, key parsing
//!   at validation time, the standard claims and the header placement.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod authenticator;
mod config;
mod error;
mod jwt;
mod oauth2;
mod secret;

pub use authenticator::{Applied, Authenticator};
pub use config::{
    ApiKeyConfig, ApiKeyLocation, AuthConfig, BasicConfig, BearerConfig, ClientAuth, GrantType,
    JwtConfig, OAuth2Config,
};
pub use error::AuthError;
pub use jwt::{DEFAULT_JWT_LIFETIME, JwtSigner};
pub use oauth2::{
    AccessToken, Clock, DEFAULT_CACHE_CAPACITY, DEFAULT_TOKEN_LIFETIME, MAX_REFRESH_SKEW,
    OAuth2Cache, OAuth2Grant, SystemClock, TokenKey, refresh_skew,
};
pub use secret::Secret;
