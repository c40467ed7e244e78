//! API key, bearer and basic credentials, as a real server sees them.

// Helpers of tests: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod support;

use base64::Engine as _;
use flunq_auth::{AuthConfig, Authenticator, OAuth2Cache};
use flunq_http_client::Request;
use support::{loopback_client, recording_server};

async fn send_with(config: serde_json::Value, path_and_query: &str) -> support::Seen {
    let (addr, seen) = recording_server().await;
    let client = loopback_client();
    let config: AuthConfig = serde_json::from_value(config).unwrap();
    let auth = Authenticator::new(&config, &OAuth2Cache::new(client.clone())).unwrap();
    let mut request = Request::get(&format!("http://{addr}{path_and_query}")).unwrap();
    auth.apply(&mut request).await.unwrap();
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    seen[0].clone()
}

#[tokio::test]
async fn api_key_goes_in_the_named_header_by_default() {
    let seen = send_with(
        serde_json::json!({"type": "api_key", "name": "X-API-Key", "value": "k-123"}),
        "/v1",
    )
    .await;
    assert_eq!(seen.header("x-api-key"), Some("k-123"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.query, None);
}

#[tokio::test]
async fn api_key_goes_in_the_query_when_asked() {
    let seen = send_with(
        serde_json::json!({"type": "api_key", "name": "api_key", "value": "k 1&2", "in": "query"}),
        "/v1?page=2",
    )
    .await;
    assert_eq!(
        seen.query_pairs(),
        vec![
            ("page".to_owned(), "2".to_owned()),
            ("api_key".to_owned(), "k 1&2".to_owned())
        ]
    );
    assert_eq!(seen.header("api_key"), None);
}

#[tokio::test]
async fn bearer_sends_authorization_bearer() {
    let seen = send_with(
        serde_json::json!({"type": "bearer", "token": "tok.en-1"}),
        "/",
    )
    .await;
    assert_eq!(seen.header("authorization"), Some("Bearer tok.en-1"));
}

#[tokio::test]
async fn basic_sends_base64_of_username_and_password() {
    let seen = send_with(
        serde_json::json!({"type": "basic", "username": "al%40ice", "password": "p:ss wörd"}),
        "/",
    )
    .await;
    let value = seen.header("authorization").unwrap();
    let encoded = value.strip_prefix("Basic ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    // Taken literally: no percent-decoding, the password may hold a colon.
    assert_eq!(String::from_utf8(decoded).unwrap(), "al%40ice:p:ss wörd");
}

#[tokio::test]
async fn applied_header_values_are_sensitive() {
    let client = loopback_client();
    let tokens = OAuth2Cache::new(client);
    for config in [
        serde_json::json!({"type": "api_key", "name": "X-Key", "value": "canary-1"}),
        serde_json::json!({"type": "bearer", "token": "canary-2"}),
        serde_json::json!({"type": "basic", "username": "u", "password": "canary-3"}),
        serde_json::json!({"type": "jwt", "algorithm": "HS256", "secret": "canary-4"}),
    ] {
        let config: AuthConfig = serde_json::from_value(config).unwrap();
        let auth = Authenticator::new(&config, &tokens).unwrap();
        let mut request = Request::get("http://127.0.0.1/").unwrap();
        auth.apply(&mut request).await.unwrap();
        assert!(request.headers().values().all(|v| v.is_sensitive()));
        let shown = format!("{request:?} {auth:?}");
        assert!(!shown.contains("canary"), "{shown}");
    }
}

#[tokio::test]
async fn apply_parts_works_on_bare_headers_and_url() {
    let config: AuthConfig = serde_json::from_value(
        serde_json::json!({"type": "api_key", "name": "key", "value": "v", "in": "query"}),
    )
    .unwrap();
    let auth = Authenticator::new(&config, &OAuth2Cache::new(loopback_client())).unwrap();
    let mut headers = flunq_http_client::HeaderMap::new();
    let mut url = flunq_http_client::Url::parse("https://api.example.com/x").unwrap();
    let applied = auth.apply_parts(&mut headers, &mut url).await.unwrap();
    assert_eq!(url.as_str(), "https://api.example.com/x?key=v");
    assert!(headers.is_empty());
    assert!(applied.token().is_none());
    assert!(!auth.invalidate(&applied));
}

#[tokio::test]
async fn applied_names_the_credential_as_it_went_on_the_wire() {
    let client = loopback_client();
    let tokens = OAuth2Cache::new(client);
    let cases = [
        (
            serde_json::json!({"type": "basic", "username": "u", "password": "pw"}),
            base64::engine::general_purpose::STANDARD.encode("u:pw"),
        ),
        (
            serde_json::json!({"type": "bearer", "token": "t-1"}),
            "t-1".to_owned(),
        ),
        (
            serde_json::json!({"type": "api_key", "name": "X-Client", "value": "k 2"}),
            "k 2".to_owned(),
        ),
        (
            serde_json::json!({"type": "api_key", "name": "key", "value": "q-3", "in": "query"}),
            "q-3".to_owned(),
        ),
    ];
    for (config, wire) in cases {
        let config: AuthConfig = serde_json::from_value(config).unwrap();
        let auth = Authenticator::new(&config, &tokens).unwrap();
        let mut request = Request::get("http://127.0.0.1:9/").unwrap();
        let applied = auth.apply(&mut request).await.unwrap();
        assert_eq!(applied.credential().map(|c| c.expose()), Some(&*wire));
        // Fixed for these schemes: known before any request.
        assert_eq!(auth.fixed_credential().map(|c| c.expose()), Some(&*wire));
    }
}
