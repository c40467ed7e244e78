//! OAuth2 against a real token endpoint: single flight, expiry, invalidation, client
//! authentication, grants, errors and the egress policy.

// Helpers of tests: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use flunq_auth::{AuthConfig, Authenticator, OAuth2Cache, OAuth2Config, OAuth2Grant};
use flunq_http_client::Request;
use serde_json::json;
use support::{ManualClock, TokenServer, json as reply, loopback_client, numbered_token};

fn oauth2(server: &TokenServer, extra: serde_json::Value) -> AuthConfig {
    let mut config = json!({"type": "oauth2", "token_url": server.url(), "client_id": "app", "client_secret": "s3cret"});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(config).unwrap()
}

fn cache_with_clock() -> (OAuth2Cache, Arc<ManualClock>) {
    let clock = ManualClock::new();
    (
        OAuth2Cache::with_options(loopback_client(), 100, clock.clone()),
        clock,
    )
}

async fn bearer_of(auth: &Authenticator) -> String {
    let mut request = Request::get("http://127.0.0.1/api").unwrap();
    auth.apply(&mut request).await.unwrap();
    request.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn form_urldecode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn fifty_concurrent_callers_cause_one_fetch() {
    let server = TokenServer::start_gated(|n, _| numbered_token(n, 3600)).await;
    let auth = Authenticator::new(
        &oauth2(&server, json!({})),
        &OAuth2Cache::new(loopback_client()),
    )
    .unwrap();
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { bearer_of(&auth).await })
        })
        .collect();
    // The first fetch is held at the server until every caller has asked.
    server.arrived.notified().await;
    server.release(100);
    for caller in callers {
        assert_eq!(caller.await.unwrap(), "Bearer token-1");
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_failed_fetch_fails_every_waiter_and_the_next_caller_tries_again() {
    let server = TokenServer::start_gated(|n, _| {
        if n == 1 {
            reply(503, json!({"error": "temporarily_unavailable"}))
        } else {
            numbered_token(n, 3600)
        }
    })
    .await;
    let auth = Authenticator::new(
        &oauth2(&server, json!({})),
        &OAuth2Cache::new(loopback_client()),
    )
    .unwrap();
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move {
                let mut request = Request::get("http://127.0.0.1/").unwrap();
                auth.apply(&mut request).await.map(drop)
            })
        })
        .collect();
    server.arrived.notified().await;
    server.release(100);
    for caller in callers {
        let err = caller.await.unwrap().unwrap_err();
        assert_eq!(err.oauth_error_code(), Some("temporarily_unavailable"));
        assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    }
    assert_eq!(server.fetches(), 1);
    assert_eq!(bearer_of(&auth).await, "Bearer token-2");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn token_is_refetched_after_expiry_and_not_before() {
    let server = TokenServer::start(|n, _| numbered_token(n, 60)).await;
    let (cache, clock) = cache_with_clock();
    let auth = Authenticator::new(&oauth2(&server, json!({})), &cache).unwrap();
    assert_eq!(bearer_of(&auth).await, "Bearer token-1");
    // 60 s lifetime, 6 s skew: handed out until 54 s.
    clock.advance(Duration::from_secs(53));
    assert_eq!(bearer_of(&auth).await, "Bearer token-1");
    assert_eq!(server.fetches(), 1);
    clock.advance(Duration::from_secs(2));
    assert_eq!(bearer_of(&auth).await, "Bearer token-2");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn token_without_expires_in_lives_the_default_lifetime() {
    let server = TokenServer::start(|n, _| {
        reply(
            200,
            json!({"access_token": format!("token-{n}"), "token_type": "bearer"}),
        )
    })
    .await;
    let (cache, clock) = cache_with_clock();
    let auth = Authenticator::new(&oauth2(&server, json!({})), &cache).unwrap();
    assert_eq!(bearer_of(&auth).await, "Bearer token-1");
    let lifetime = flunq_auth::DEFAULT_TOKEN_LIFETIME;
    clock.advance(lifetime - flunq_auth::refresh_skew(lifetime) - Duration::from_secs(1));
    assert_eq!(bearer_of(&auth).await, "Bearer token-1");
    clock.advance(Duration::from_secs(2));
    assert_eq!(bearer_of(&auth).await, "Bearer token-2");
}

#[tokio::test]
async fn invalidation_after_401_makes_the_next_call_fetch_a_new_token() {
    let server = TokenServer::start(|n, _| numbered_token(n, 3600)).await;
    let auth = Authenticator::new(
        &oauth2(&server, json!({})),
        &OAuth2Cache::new(loopback_client()),
    )
    .unwrap();
    let mut request = Request::get("http://127.0.0.1/").unwrap();
    let applied = auth.apply(&mut request).await.unwrap();
    assert_eq!(applied.token().unwrap().secret().expose(), "token-1");
    assert!(auth.invalidate(&applied));
    assert_eq!(bearer_of(&auth).await, "Bearer token-2");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn invalidating_a_stale_token_keeps_the_fresh_one() {
    let server = TokenServer::start(|n, _| numbered_token(n, 3600)).await;
    let cache = OAuth2Cache::new(loopback_client());
    let auth = Authenticator::new(&oauth2(&server, json!({})), &cache).unwrap();
    let mut request = Request::get("http://127.0.0.1/").unwrap();
    let first = auth.apply(&mut request).await.unwrap();
    let second_caller_saw_the_same = auth.apply(&mut request).await.unwrap();
    assert!(auth.invalidate(&first));
    assert_eq!(bearer_of(&auth).await, "Bearer token-2");
    // The other caller's 401 on token-1 arrives late: token-2 must survive it.
    assert!(!auth.invalidate(&second_caller_saw_the_same));
    assert!(!cache.invalidate(first.token_key().unwrap(), first.token().unwrap()));
    assert_eq!(bearer_of(&auth).await, "Bearer token-2");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn wrong_secret_gives_invalid_client_with_status_and_no_secret() {
    let canary = "canary-secret-8d1f";
    let server = TokenServer::start(move |_, seen| {
        // A careless server echoing what it was sent.
        reply(401, json!({"error": "invalid_client", "error_description": format!("bad credentials {}", seen.header("authorization").unwrap_or("")) + " secret=" + canary}))
    })
    .await;
    let config = oauth2(&server, json!({"client_secret": canary}));
    let auth = Authenticator::new(&config, &OAuth2Cache::new(loopback_client())).unwrap();
    let mut request = Request::get("http://127.0.0.1/").unwrap();
    let err = auth.apply(&mut request).await.unwrap_err();
    assert_eq!(err.oauth_error_code(), Some("invalid_client"));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("app:{canary}"));
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(canary), "{shown}");
        assert!(!shown.contains(&basic), "{shown}");
        assert!(shown.contains("invalid_client"), "{shown}");
    }
}

#[tokio::test]
async fn client_authenticates_with_basic_by_default_form_encoded() {
    let server = TokenServer::start(|n, _| numbered_token(n, 3600)).await;
    let config = oauth2(
        &server,
        json!({"client_id": "my client:1", "client_secret": "s3cr:t&+x é"}),
    );
    let auth = Authenticator::new(&config, &OAuth2Cache::new(loopback_client())).unwrap();
    bearer_of(&auth).await;
    let seen = server.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let encoded = seen
        .header("authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let plain = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    let (id, secret) = plain.split_once(':').unwrap();
    assert_eq!(form_urldecode(id), "my client:1");
    assert_eq!(form_urldecode(secret), "s3cr:t&+x é");
    let form = seen.form();
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert!(!form.contains_key("client_secret"));
}

#[tokio::test]
async fn client_authenticates_in_the_body_when_asked() {
    let server = TokenServer::start(|n, _| numbered_token(n, 3600)).await;
    let config = oauth2(
        &server,
        json!({"client_auth": "body", "client_secret": "s&cret"}),
    );
    let auth = Authenticator::new(&config, &OAuth2Cache::new(loopback_client())).unwrap();
    bearer_of(&auth).await;
    let seen = server.last();
    assert_eq!(seen.header("authorization"), None);
    let form = seen.form();
    assert_eq!(form.get("client_id").map(String::as_str), Some("app"));
    assert_eq!(
        form.get("client_secret").map(String::as_str),
        Some("s&cret")
    );
}

#[tokio::test]
async fn scopes_are_space_joined_and_audience_sent() {
    let server = TokenServer::start(|n, _| numbered_token(n, 3600)).await;
    let config = oauth2(
        &server,
        json!({"scopes": ["read:users", "write"], "audience": "https://api.example.com"}),
    );
    let auth = Authenticator::new(&config, &OAuth2Cache::new(loopback_client())).unwrap();
    bearer_of(&auth).await;
    let form = server.last().form();
    assert_eq!(
        form.get("scope").map(String::as_str),
        Some("read:users write")
    );
    assert_eq!(
        form.get("audience").map(String::as_str),
        Some("https://api.example.com")
    );
}

#[tokio::test]
async fn password_grant_sends_username_and_password_and_is_not_shared_between_users() {
    let server = TokenServer::start(|n, _| numbered_token(n, 3600)).await;
    let cache = OAuth2Cache::new(loopback_client());
    let alice = oauth2(
        &server,
        json!({"grant_type": "password", "username": "alice", "password": "pw-a"}),
    );
    let bob = oauth2(
        &server,
        json!({"grant_type": "password", "username": "bob", "password": "pw-b"}),
    );
    let alice = Authenticator::new(&alice, &cache).unwrap();
    let bob = Authenticator::new(&bob, &cache).unwrap();
    assert_eq!(bearer_of(&alice).await, "Bearer token-1");
    let form = server.last().form();
    assert_eq!(form.get("grant_type").map(String::as_str), Some("password"));
    assert_eq!(form.get("username").map(String::as_str), Some("alice"));
    assert_eq!(form.get("password").map(String::as_str), Some("pw-a"));
    assert_eq!(bearer_of(&bob).await, "Bearer token-2");
    assert_eq!(
        server.last().form().get("username").map(String::as_str),
        Some("bob")
    );
    assert_eq!(bearer_of(&alice).await, "Bearer token-1");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_wrong_secret_never_borrows_a_cached_token() {
    let server = TokenServer::start(|n, seen| {
        let good = base64::engine::general_purpose::STANDARD.encode("app:right");
        if seen.header("authorization") == Some(&format!("Basic {good}")) {
            numbered_token(n, 3600)
        } else {
            reply(401, json!({"error": "invalid_client"}))
        }
    })
    .await;
    let cache = OAuth2Cache::new(loopback_client());
    let right =
        Authenticator::new(&oauth2(&server, json!({"client_secret": "right"})), &cache).unwrap();
    let wrong =
        Authenticator::new(&oauth2(&server, json!({"client_secret": "wrong"})), &cache).unwrap();
    assert_eq!(bearer_of(&right).await, "Bearer token-1");
    let mut request = Request::get("http://127.0.0.1/").unwrap();
    let err = wrong.apply(&mut request).await.unwrap_err();
    assert_eq!(err.oauth_error_code(), Some("invalid_client"));
}

#[tokio::test]
async fn refresh_token_grant_sends_the_token_and_follows_rotation() {
    let server = TokenServer::start(|n, _| {
        reply(200, json!({"access_token": format!("token-{n}"), "token_type": "Bearer", "expires_in": 60, "refresh_token": format!("rt-{}", n + 1)}))
    })
    .await;
    let (cache, clock) = cache_with_clock();
    let config = oauth2(
        &server,
        json!({"grant_type": "refresh_token", "refresh_token": "rt-1"}),
    );
    let auth = Authenticator::new(&config, &cache).unwrap();
    assert_eq!(bearer_of(&auth).await, "Bearer token-1");
    let form = server.last().form();
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("refresh_token")
    );
    assert_eq!(form.get("refresh_token").map(String::as_str), Some("rt-1"));
    clock.advance(Duration::from_secs(60));
    assert_eq!(bearer_of(&auth).await, "Bearer token-2");
    assert_eq!(
        server
            .last()
            .form()
            .get("refresh_token")
            .map(String::as_str),
        Some("rt-2")
    );
}

#[tokio::test]
async fn token_url_on_a_denied_address_fails_with_egress_denied() {
    let config: AuthConfig = serde_json::from_value(json!({
        "type": "oauth2", "token_url": "http://169.254.169.254/token", "client_id": "app", "client_secret": "s"
    }))
    .unwrap();
    let auth =
        Authenticator::new(&config, &OAuth2Cache::new(support::default_policy_client())).unwrap();
    let mut request = Request::get("http://127.0.0.1/").unwrap();
    let err = auth.apply(&mut request).await.unwrap_err();
    assert!(err.is_egress_denied(), "{err:?}");
    assert!(err.transport().is_some());
}

#[tokio::test]
async fn error_response_that_is_not_json_still_carries_the_status() {
    let server = TokenServer::start(|_, _| reply(500, json!("oops"))).await;
    let auth = Authenticator::new(
        &oauth2(&server, json!({})),
        &OAuth2Cache::new(loopback_client()),
    )
    .unwrap();
    let mut request = Request::get("http://127.0.0.1/").unwrap();
    let err = auth.apply(&mut request).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(err.oauth_error_code(), None);
}

#[tokio::test]
async fn cache_evicts_to_stay_within_capacity() {
    let server = TokenServer::start(|n, _| numbered_token(n, 3600)).await;
    let cache = OAuth2Cache::with_options(loopback_client(), 2, ManualClock::new());
    for user in ["a", "b", "c", "d"] {
        let config = OAuth2Config {
            grant_type: flunq_auth::GrantType::Password,
            token_url: Some(server.url()),
            client_id: Some("app".into()),
            username: Some(user.into()),
            password: Some("pw".into()),
            ..OAuth2Config::default()
        };
        let grant = OAuth2Grant::from_config(&config).unwrap();
        cache.token(&grant).await.unwrap();
        assert!(cache.len() <= 2);
    }
    assert_eq!(server.fetches(), 4);
}
