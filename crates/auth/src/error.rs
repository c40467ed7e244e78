//! The crate's error: what went wrong, and never a secret.

use std::sync::Arc;

use flunq_http_client::StatusCode;

/// What went wrong while validating a configuration or applying credentials.
///
/// No variant holds a credential: messages name fields, OAuth error codes and HTTP
/// statuses, and the token endpoint's `error_description` is shown with every
/// credential of the request masked. It is `Clone` so that every caller waiting on
/// one token fetch receives the same error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The auth configuration is invalid; `field` names the culprit (`auth.token_url`).
    #[error("{field}: {message}")]
    Config {
        /// The field at fault, as `auth.<name>`.
        field: &'static str,
        /// What is wrong with it (never its value).
        message: String,
    },
    /// The token endpoint refused the request (RFC 6749 §5.2).
    #[error("token endpoint answered {status}{}{}", code.as_ref().map(|c| format!(": {c}")).unwrap_or_default(), description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenEndpoint {
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The OAuth error code (`invalid_client`, `invalid_grant`, ...), when the body had one.
        code: Option<String>,
        /// The `error_description`, shortened, credentials masked.
        description: Option<String>,
    },
    /// The token endpoint answered with a success status but no usable token.
    #[error("invalid token response (status {status}): {reason}")]
    InvalidTokenResponse {
        /// The HTTP status of the answer.
        status: StatusCode,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The token endpoint could not be reached: egress denied, connect, timeout, ...
    /// The client's predicates stay reachable through [`AuthError::transport`].
    #[error("token endpoint unreachable: {0}")]
    Transport(#[source] Arc<flunq_http_client::Error>),
    /// A JWT could not be signed.
    #[error("JWT signing failed: {0}")]
    Signing(String),
}

impl AuthError {
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            field,
            message: message.into(),
        }
    }

    /// The configuration field at fault, for a configuration error.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Config { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Whether the configuration was invalid (a `400` for the server).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Config { .. })
    }

    /// The OAuth error code the token endpoint answered with (`invalid_client`, ...).
    pub fn oauth_error_code(&self) -> Option<&str> {
        match self {
            Self::TokenEndpoint { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status the token endpoint answered with.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::TokenEndpoint { status, .. } | Self::InvalidTokenResponse { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The HTTP client's error, when the token endpoint could not be reached.
    pub fn transport(&self) -> Option<&flunq_http_client::Error> {
        match self {
            Self::Transport(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the egress policy refused the token URL.
    pub fn is_egress_denied(&self) -> bool {
        self.transport()
            .is_some_and(flunq_http_client::Error::is_egress_denied)
    }
}

impl From<flunq_http_client::Error> for AuthError {
    fn from(e: flunq_http_client::Error) -> Self {
        Self::Transport(Arc::new(e))
    }
}
