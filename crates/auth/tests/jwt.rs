//! JWTs signed per request, decoded and verified with the public key, as a real server
//! received them.

// Helpers of tests: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod support;

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use flunq_auth::{AuthConfig, Authenticator, OAuth2Cache};
use flunq_http_client::Request;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use support::{loopback_client, recording_server};

const RSA_PRIVATE: &str = include_str!("keys/rsa-test-private.pem");
const RSA_PUBLIC: &str = include_str!("keys/rsa-test-public.pem");

/// Sends two requests through a real server and returns the two header values it saw.
async fn two_tokens(config: Value, header: &str) -> Vec<String> {
    let (addr, seen) = recording_server().await;
    let client = loopback_client();
    let config: AuthConfig = serde_json::from_value(config).unwrap();
    let auth = Authenticator::new(&config, &OAuth2Cache::new(client.clone())).unwrap();
    for _ in 0..2 {
        let mut request = Request::get(&format!("http://{addr}/")).unwrap();
        auth.apply(&mut request).await.unwrap();
        client.execute(request).await.unwrap();
    }
    seen.lock()
        .unwrap()
        .iter()
        .map(|s| s.header(header).unwrap().to_owned())
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Verifies both tokens and checks the claims every token must carry.
async fn check_algorithm(algorithm: &str, key: Value, decoding: DecodingKey, alg: Algorithm) {
    let mut config = json!({
        "type": "jwt", "algorithm": algorithm, "expires_in": "2m", "key_id": "key-7",
        "claims": {"sub": "svc-billing", "aud": "api", "scope": ["a", "b"], "exp": 1, "jti": "fixed"}
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(key.as_object().unwrap().clone());
    let before = now();
    let values = two_tokens(config, "authorization").await;
    let after = now();
    let mut jtis = HashSet::new();
    for value in values {
        let token = value.strip_prefix("Bearer ").unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, alg);
        assert_eq!(header.kid.as_deref(), Some("key-7"));
        let mut validation = Validation::new(alg);
        validation.set_audience(&["api"]);
        let data = jsonwebtoken::decode::<Value>(token, &decoding, &validation).unwrap();
        let claims = data.claims;
        let iat = claims["iat"].as_u64().unwrap();
        assert!(
            (before..=after).contains(&iat),
            "iat {iat} not in {before}..={after}"
        );
        assert_eq!(claims["exp"].as_u64().unwrap(), iat + 120);
        assert_eq!(claims["sub"], "svc-billing");
        assert_eq!(claims["scope"], json!(["a", "b"]));
        let jti = claims["jti"].as_str().unwrap().to_owned();
        assert_ne!(jti, "fixed");
        jtis.insert(jti);
    }
    assert_eq!(jtis.len(), 2, "jti must differ between requests");
}

#[tokio::test]
async fn hs256_token_verifies() {
    check_algorithm(
        "HS256",
        json!({"secret": "hmac-secret"}),
        DecodingKey::from_secret(b"hmac-secret"),
        Algorithm::HS256,
    )
    .await;
}

#[tokio::test]
async fn hs384_token_verifies() {
    check_algorithm(
        "HS384",
        json!({"secret": "hmac-secret"}),
        DecodingKey::from_secret(b"hmac-secret"),
        Algorithm::HS384,
    )
    .await;
}

#[tokio::test]
async fn hs512_token_verifies() {
    check_algorithm(
        "HS512",
        json!({"secret": "hmac-secret"}),
        DecodingKey::from_secret(b"hmac-secret"),
        Algorithm::HS512,
    )
    .await;
}

#[tokio::test]
async fn rs256_token_verifies() {
    let decoding = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap();
    check_algorithm(
        "RS256",
        json!({"private_key": RSA_PRIVATE}),
        decoding,
        Algorithm::RS256,
    )
    .await;
}

#[tokio::test]
async fn es256_token_verifies() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let decoding = DecodingKey::from_ec_pem(key.public_key_pem().as_bytes()).unwrap();
    check_algorithm(
        "ES256",
        json!({"private_key": key.serialize_pem()}),
        decoding,
        Algorithm::ES256,
    )
    .await;
}

#[tokio::test]
async fn eddsa_token_verifies() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let decoding = DecodingKey::from_ed_pem(key.public_key_pem().as_bytes()).unwrap();
    check_algorithm(
        "EdDSA",
        json!({"private_key": key.serialize_pem()}),
        decoding,
        Algorithm::EdDSA,
    )
    .await;
}

#[tokio::test]
async fn token_goes_in_the_configured_header_with_the_configured_scheme() {
    let values = two_tokens(
        json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "header": "X-Signed", "scheme": "JWT"}),
        "x-signed",
    )
    .await;
    assert!(
        values
            .iter()
            .all(|v| v.starts_with("JWT ") && v.matches('.').count() == 2)
    );
}

#[tokio::test]
async fn empty_scheme_sends_the_bare_token() {
    let values = two_tokens(
        json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "scheme": ""}),
        "authorization",
    )
    .await;
    for v in values {
        assert!(!v.contains(' '));
        let data = jsonwebtoken::decode::<Value>(
            &v,
            &DecodingKey::from_secret(b"s"),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        // Default lifetime: five minutes.
        assert_eq!(
            data.claims["exp"].as_u64().unwrap() - data.claims["iat"].as_u64().unwrap(),
            300
        );
        assert!(jsonwebtoken::decode_header(&v).unwrap().kid.is_none());
    }
}

#[test]
fn an_ec_key_given_for_rs256_is_refused_at_config_time() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let config: AuthConfig = serde_json::from_value(
        json!({"type": "jwt", "algorithm": "RS256", "private_key": key.serialize_pem()}),
    )
    .unwrap();
    let err = config.validate().unwrap_err();
    assert_eq!(err.field(), Some("auth.private_key"));
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
}

#[test]
fn an_rsa_key_given_for_es256_is_refused_at_config_time() {
    let config: AuthConfig = serde_json::from_value(
        json!({"type": "jwt", "algorithm": "ES256", "private_key": RSA_PRIVATE}),
    )
    .unwrap();
    assert_eq!(
        config.validate().unwrap_err().field(),
        Some("auth.private_key")
    );
}
