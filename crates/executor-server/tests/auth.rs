//! Auth objects through the server: API key, bearer, basic, OAuth2 (one token for many
//! executions, a 401 refetches) and JWT (verified by the upstream's key).

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{Executor, json_reply, reply, upstream};

/// An upstream that answers with the credentials it saw.
async fn echo_credentials() -> std::net::SocketAddr {
    upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        json_reply(
            200,
            &json!({
                "authorization": header("authorization"),
                "x_api_key": header("x-api-key"),
                "query": req.uri().query(),
            }),
        )
    })
    .await
}

#[tokio::test]
async fn api_key_bearer_and_basic_reach_the_upstream() {
    let up = echo_credentials().await;
    let ex = Executor::start().await;
    let url = format!("http://{up}/");
    let cases = [
        (
            json!({"type": "api_key", "name": "X-API-Key", "value": "k-header"}),
            "x_api_key",
            json!("k-header"),
        ),
        (
            json!({"type": "api_key", "name": "key", "value": "k-query", "in": "query"}),
            "query",
            json!("key=k-query"),
        ),
        (
            json!({"type": "bearer", "token": "t-123"}),
            "authorization",
            json!("Bearer t-123"),
        ),
        (
            json!({"type": "basic", "username": "ada", "password": "pw"}),
            "authorization",
            json!("Basic YWRhOnB3"),
        ),
    ];
    for (auth, field, expected) in cases {
        let task = json!({"type": "http", "url": url, "auth": auth});
        let record = ex
            .post("/api/v1/execute?wait=true", &task.to_string())
            .await
            .json;
        assert_eq!(record["status"], "succeeded", "{record}");
        // What the upstream echoed is masked in the record where it is a credential.
        let seen = &record["result"]["body"][field];
        if field == "query" {
            assert_eq!(seen, &json!("key=***"), "{record}");
        } else if expected.as_str().unwrap().starts_with("Basic") {
            // The encoded password is the password: hidden as the others are.
            assert_eq!(seen, &json!("Basic ***"), "{record}");
        } else {
            assert!(seen.as_str().unwrap().contains("***"), "{record}");
        }
        let sent = expected.as_str().unwrap();
        let credential = sent.rsplit([' ', '=']).next().unwrap();
        assert!(!record.to_string().contains(credential), "{record}");
    }
}

#[tokio::test]
async fn tokens_fetched_or_signed_for_a_request_are_masked_where_echoed() {
    let up = echo_credentials().await;
    let token_server = upstream(|_req| async {
        json_reply(
            200,
            &json!({"access_token": "canary-access-token", "token_type": "Bearer", "expires_in": 3600}),
        )
    })
    .await;
    let ex = Executor::start().await;
    let url = format!("http://{up}/");
    let oauth2 = json!({"type": "oauth2", "token_url": format!("http://{token_server}/token"),
        "client_id": "c", "client_secret": "canary-client-secret"});
    let jwt = json!({"type": "jwt", "algorithm": "HS256", "secret": "canary-hmac-secret",
        "claims": {"sub": "svc"}});
    for auth in [oauth2, jwt] {
        let task = json!({"type": "http", "url": url, "auth": auth});
        let record = ex
            .post("/api/v1/execute?wait=true", &task.to_string())
            .await;
        assert_eq!(record.json["status"], "succeeded", "{}", record.text);
        assert_eq!(
            record.json["result"]["body"]["authorization"], "Bearer ***",
            "{}",
            record.text
        );
        assert!(!record.text.contains("canary"), "{}", record.text);
    }
    // GraphQL: the same, in `data` echoed back.
    let gql = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
        json_reply(200, &json!({"data": {"seen": auth}}))
    })
    .await;
    let task = json!({"type": "graphql", "endpoint": format!("http://{gql}/graphql"),
        "query": "{ seen }", "auth": {"type": "basic", "username": "u", "password": "canary-pw"}});
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    assert_eq!(
        record.json["result"]["data"]["seen"], "Basic ***",
        "{}",
        record.text
    );
}

#[tokio::test]
async fn oauth2_token_is_fetched_once_and_refetched_after_a_401() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&fetches);
    let token_server = upstream(move |_req| {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            json_reply(200, &json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": 3600}))
        }
    })
    .await;
    // The API accepts only the newest token: the first is "revoked" after 6 calls.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen_calls = Arc::clone(&calls);
    let api = upstream(move |req: hyper::Request<hyper::body::Incoming>| {
        let n = seen_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        async move {
            let ok = if n <= 6 {
                auth == "Bearer tok-1"
            } else {
                auth == "Bearer tok-2"
            };
            if ok {
                reply(200, "text/plain", "ok")
            } else {
                reply(401, "text/plain", "expired")
            }
        }
    })
    .await;
    let ex = Executor::start().await;
    let config = json!({"name": "oauth-api", "base_url": format!("http://{api}"), "retries": 0,
        "auth": {"type": "oauth2", "token_url": format!("http://{token_server}/token"),
                 "client_id": "billing", "client_secret": "canary-client-secret", "scopes": ["read"]}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task = json!({"type": "http", "config": "oauth-api", "url": "/things"}).to_string();
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(
            ex.post("/api/v1/execute", &task).await.json["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for id in &ids {
        assert_eq!(ex.until_final(id).await["status"], "succeeded");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "six executions, one token fetch"
    );
    // The 7th call gets a 401 with tok-1: the token is dropped and the call resent once.
    let record = ex.post("/api/v1/execute?wait=true", &task).await;
    assert_eq!(record.json["status"], "succeeded", "{}", record.text);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert!(!record.text.contains("canary-client-secret"));
}

#[tokio::test]
async fn a_wrong_client_secret_fails_with_kind_auth() {
    let token_server =
        upstream(|_req| async { json_reply(401, &json!({"error": "invalid_client"})) }).await;
    let api = upstream(|_req| async { reply(200, "text/plain", "never") }).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{api}/"), "retries": 0,
        "auth": {"type": "oauth2", "token_url": format!("http://{token_server}/token"),
                 "client_id": "c", "client_secret": "canary-wrong"}});
    let answer = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    assert_eq!(answer.json["status"], "failed");
    assert_eq!(answer.json["error"]["kind"], "auth");
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_client")
    );
    assert!(!answer.text.contains("canary-wrong"));
}

#[tokio::test]
async fn jwt_is_signed_per_request_and_verifies() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let record_seen = Arc::clone(&seen);
    let up = upstream(move |req: hyper::Request<hyper::body::Incoming>| {
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        record_seen.lock().unwrap().push(auth);
        async { reply(200, "text/plain", "ok") }
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"),
        "auth": {"type": "jwt", "algorithm": "HS256", "secret": "canary-hmac-secret",
                 "claims": {"sub": "svc"}, "expires_in": "1m", "key_id": "k1"}});
    for _ in 0..2 {
        let record = ex
            .post("/api/v1/execute?wait=true", &task.to_string())
            .await;
        assert_eq!(record.json["status"], "succeeded");
        assert!(!record.text.contains("canary-hmac-secret"));
    }
    let tokens: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.trim_start_matches("Bearer ").to_owned())
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1], "a fresh token (new jti) per request");
    let key = jsonwebtoken::DecodingKey::from_secret(b"canary-hmac-secret");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    for token in &tokens {
        let decoded = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).unwrap();
        assert_eq!(decoded.claims["sub"], "svc");
        assert_eq!(decoded.header.kid.as_deref(), Some("k1"));
        let iat = decoded.claims["iat"].as_u64().unwrap();
        assert_eq!(decoded.claims["exp"].as_u64().unwrap(), iat + 60);
    }
}
