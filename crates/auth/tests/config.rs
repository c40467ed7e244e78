//! The auth object as plain data: API.md's JSON, masked secrets, field-named errors.

// Helpers of tests: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

use flunq_auth::{AuthConfig, Secret};
use serde_json::json;

fn parse(value: serde_json::Value) -> AuthConfig {
    serde_json::from_value(value).unwrap()
}

fn field_of(value: serde_json::Value) -> Option<&'static str> {
    parse(value).validate().unwrap_err().field()
}

#[test]
fn secret_prints_and_serializes_as_mask() {
    let secret = Secret::new("canary-c0ffee");
    assert_eq!(secret.to_string(), "***");
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(serde_json::to_value(&secret).unwrap(), json!("***"));
    assert_eq!(secret.expose(), "canary-c0ffee");
}

#[test]
fn api_md_examples_deserialize_and_validate() {
    for example in [
        json!({"type": "api_key", "name": "X-API-Key", "value": "k"}),
        json!({"type": "api_key", "name": "api_key", "value": "k", "in": "query"}),
        json!({"type": "bearer", "token": "t"}),
        json!({"type": "basic", "username": "u", "password": "p"}),
        json!({"type": "oauth2", "token_url": "https://id.example.com/token", "client_id": "c", "client_secret": "s"}),
        json!({"type": "oauth2", "grant_type": "password", "token_url": "https://id.example.com/token",
               "client_id": "c", "username": "u", "password": "p", "scopes": ["a", "b"], "audience": "x",
               "client_auth": "body"}),
        json!({"type": "oauth2", "grant_type": "refresh_token", "token_url": "https://id.example.com/token",
               "client_id": "c", "client_secret": "s", "refresh_token": "r"}),
        json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "claims": {"sub": "x"}, "expires_in": "5m",
               "key_id": "k", "header": "Authorization", "scheme": "Bearer"}),
    ] {
        let config = parse(example.clone());
        config
            .validate()
            .unwrap_or_else(|e| panic!("{example}: {e}"));
        assert_eq!(config.kind(), example["type"]);
    }
}

#[test]
fn serialized_config_masks_every_credential() {
    let canary = "canary-9b2e";
    for example in [
        json!({"type": "api_key", "name": "k", "value": canary}),
        json!({"type": "bearer", "token": canary}),
        json!({"type": "basic", "username": "u", "password": canary}),
        json!({"type": "oauth2", "grant_type": "password", "token_url": "https://a/t", "client_id": "c",
               "client_secret": canary, "username": "u", "password": canary, "refresh_token": canary}),
        json!({"type": "jwt", "algorithm": "HS256", "secret": canary, "private_key": canary}),
    ] {
        let config = parse(example);
        let shown = format!("{} {config:?}", serde_json::to_string(&config).unwrap());
        assert!(!shown.contains(canary), "{shown}");
        assert!(shown.contains("***"));
    }
}

#[test]
fn unknown_type_is_refused() {
    let err = serde_json::from_value::<AuthConfig>(json!({"type": "kerberos", "token": "t"}))
        .unwrap_err();
    assert!(err.to_string().contains("kerberos"), "{err}");
}

#[test]
fn unknown_field_is_refused() {
    assert!(serde_json::from_value::<AuthConfig>(json!({"type": "bearer", "tokn": "t"})).is_err());
}

#[test]
fn each_missing_field_is_named() {
    assert_eq!(
        field_of(json!({"type": "api_key", "value": "k"})),
        Some("auth.name")
    );
    assert_eq!(
        field_of(json!({"type": "api_key", "name": "k"})),
        Some("auth.value")
    );
    assert_eq!(field_of(json!({"type": "bearer"})), Some("auth.token"));
    assert_eq!(
        field_of(json!({"type": "basic", "password": "p"})),
        Some("auth.username")
    );
    assert_eq!(
        field_of(json!({"type": "oauth2", "client_id": "c", "client_secret": "s"})),
        Some("auth.token_url")
    );
    assert_eq!(
        field_of(json!({"type": "oauth2", "token_url": "https://a/t", "client_secret": "s"})),
        Some("auth.client_id")
    );
    assert_eq!(
        field_of(json!({"type": "oauth2", "token_url": "https://a/t", "client_id": "c"})),
        Some("auth.client_secret")
    );
    assert_eq!(
        field_of(
            json!({"type": "oauth2", "grant_type": "password", "token_url": "https://a/t", "client_id": "c", "password": "p"})
        ),
        Some("auth.username")
    );
    assert_eq!(
        field_of(
            json!({"type": "oauth2", "grant_type": "password", "token_url": "https://a/t", "client_id": "c", "username": "u"})
        ),
        Some("auth.password")
    );
    assert_eq!(
        field_of(
            json!({"type": "oauth2", "grant_type": "refresh_token", "token_url": "https://a/t", "client_id": "c"})
        ),
        Some("auth.refresh_token")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "secret": "s"})),
        Some("auth.algorithm")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "HS256"})),
        Some("auth.secret")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "RS256"})),
        Some("auth.private_key")
    );
}

#[test]
fn each_invalid_field_is_named() {
    assert_eq!(
        field_of(json!({"type": "api_key", "name": "bad name", "value": "k"})),
        Some("auth.name")
    );
    assert_eq!(
        field_of(json!({"type": "api_key", "name": "k", "value": "line\nbreak"})),
        Some("auth.value")
    );
    assert_eq!(
        field_of(
            json!({"type": "oauth2", "token_url": "/token", "client_id": "c", "client_secret": "s"})
        ),
        Some("auth.token_url")
    );
    assert_eq!(
        field_of(
            json!({"type": "oauth2", "token_url": "ftp://a/t", "client_id": "c", "client_secret": "s"})
        ),
        Some("auth.token_url")
    );
    assert_eq!(
        field_of(
            json!({"type": "oauth2", "token_url": "https://a/t", "client_id": "c", "client_secret": "s", "scopes": ["two words"]})
        ),
        Some("auth.scopes")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "none", "secret": "s"})),
        Some("auth.algorithm")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "RS384", "secret": "s"})),
        Some("auth.algorithm")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "RS256", "private_key": "not a pem"})),
        Some("auth.private_key")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "expires_in": "soon"})),
        Some("auth.expires_in")
    );
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "header": "a b"})),
        Some("auth.header")
    );
    assert_eq!(
        field_of(
            json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "scheme": "Two words"})
        ),
        Some("auth.scheme")
    );
}

#[test]
fn bare_number_duration_is_refused() {
    assert_eq!(
        field_of(json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "expires_in": "300"})),
        Some("auth.expires_in")
    );
    assert!(
        serde_json::from_value::<AuthConfig>(
            json!({"type": "jwt", "algorithm": "HS256", "secret": "s", "expires_in": 300})
        )
        .is_err()
    );
}

#[test]
fn config_errors_never_show_the_secret() {
    let canary = "canary-5e1d";
    for example in [
        json!({"type": "api_key", "name": "k", "value": format!("{canary}\n")}),
        json!({"type": "bearer", "token": format!("{canary}\u{7f}")}),
        json!({"type": "jwt", "algorithm": "RS256", "private_key": format!("-----BEGIN PRIVATE KEY-----\n{canary}\n-----END PRIVATE KEY-----")}),
        json!({"type": "jwt", "algorithm": "ES256", "private_key": canary}),
        json!({"type": "jwt", "algorithm": "HS256", "secret": canary, "private_key": canary}),
    ] {
        let err = parse(example).validate().unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(canary), "{shown}");
    }
}
