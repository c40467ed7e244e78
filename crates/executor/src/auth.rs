//! Authenticators for tasks, built when a task is prepared and reused by its attempts.
//!
//! Building one is cheap for API keys, bearer and basic credentials (a header value)
//! and for OAuth2 (a grant; tokens come from the shared cache). A JWT signer is not: its
//! key is parsed and one test signature made (an RSA or ECDSA operation, the cost of
//! a whole request), so signers are kept by configuration and shared by every task
//! that uses the same one. Each request still gets a freshly signed token.

use std::sync::{Arc, Mutex};

use flunq_auth::{AuthConfig, AuthError, Authenticator, OAuth2Cache, Secret};

use crate::recent::Recent;

/// How many distinct JWT configurations keep their signer.
const SIGNERS: usize = 1024;

/// Builds authenticators; one per engine.
pub(crate) struct Authenticators {
    tokens: OAuth2Cache,
    /// JWT authenticators by their configuration, secrets included (in memory only:
    /// two configurations differing only by a key must not share a signer).
    signers: Mutex<Recent<Arc<Authenticator>>>,
}

impl std::fmt::Debug for Authenticators {
    // The keys of `signers` hold secrets: only their number is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticators")
            .field("jwt_signers", &self.signers().len())
            .finish_non_exhaustive()
    }
}

impl Authenticators {
    /// OAuth2 tokens come from `tokens`.
    pub(crate) fn new(tokens: OAuth2Cache) -> Self {
        Self {
            tokens,
            signers: Mutex::new(Recent::with_cap(SIGNERS)),
        }
    }

    /// The authenticator of `config`, checked (an error names the field at fault).
    pub(crate) fn get(&self, config: &AuthConfig) -> Result<Arc<Authenticator>, AuthError> {
        if !matches!(config, AuthConfig::Jwt(_)) {
            return Authenticator::new(config, &self.tokens).map(Arc::new);
        }
        // The configuration as stored, secrets in clear: the key of the map (which is
        // why `Debug` shows none of it).
        let Ok(key) = Secret::revealed(|| serde_json::to_string(config)) else {
            return Authenticator::new(config, &self.tokens).map(Arc::new);
        };
        if let Some(found) = self.signers().get(&key) {
            return Ok(Arc::clone(found));
        }
        // Built outside the lock: the key is parsed and a signature made.
        let built = Arc::new(Authenticator::new(config, &self.tokens)?);
        self.signers().insert(key, Arc::clone(&built));
        Ok(built)
    }

    fn signers(&self) -> std::sync::MutexGuard<'_, Recent<Arc<Authenticator>>> {
        self.signers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flunq_auth::JwtConfig;

    fn jwt(secret: &str) -> AuthConfig {
        AuthConfig::Jwt(JwtConfig {
            algorithm: Some("HS256".to_owned()),
            secret: Some(Secret::new(secret)),
            ..JwtConfig::default()
        })
    }

    #[test]
    fn jwt_signers_are_shared_by_equal_configs_only() {
        let auth = Authenticators::new(OAuth2Cache::new(
            flunq_http_client::Client::builder().build().unwrap(),
        ));
        let a = auth.get(&jwt("first-secret")).unwrap();
        let again = auth.get(&jwt("first-secret")).unwrap();
        assert!(
            Arc::ptr_eq(&a, &again),
            "the same configuration shares its signer"
        );
        // A different secret (hidden as *** when serialized normally) is another signer.
        let b = auth.get(&jwt("second-secret")).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        // The secrets never show in `Debug`.
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("first-secret") && !shown.contains("second-secret"),
            "{shown}"
        );
        assert!(shown.contains("jwt_signers: 2"), "{shown}");
        // Bad configurations are errors, never cached.
        let err = auth.get(&jwt("")).unwrap_err();
        assert_eq!(err.field(), Some("auth.secret"), "{err}");
    }
}
