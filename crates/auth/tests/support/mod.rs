//! Real servers for the auth tests (hyper on 127.0.0.1:0), a client that can reach
//! nothing but loopback, a token endpoint that records what it is sent, and a manual
//! clock for the token cache.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::needless_pass_by_value
)]
// Test support: a failing unwrap is a failing test.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flunq_auth::Clock;
use flunq_http_client::{Client, EgressPolicy};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::sync::Semaphore;

pub use flunq_testkit::Reply;

/// Loopback allowed by the policy, and a dialer that refuses anything else whatever
/// the policy says: no test can send a packet beyond this machine.
pub fn loopback_client() -> Client {
    Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8").unwrap())
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()
        .unwrap()
}

/// The default (deny-private) policy, dialing loopback only.
pub fn default_policy_client() -> Client {
    Client::builder()
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()
        .unwrap()
}

/// What a server saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as form fields.
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// The query as pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }
}

async fn read(req: Request<Incoming>) -> Seen {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let mut headers = HashMap::new();
    for (name, value) in &parts.headers {
        headers.insert(
            name.as_str().to_owned(),
            value.to_str().unwrap_or("<binary>").to_owned(),
        );
    }
    Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body,
    }
}

/// Serves `handler` on 127.0.0.1, with each request read in full first.
pub async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Seen) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    flunq_testkit::serve(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move { handler(read(req).await).await }
    })
    .await
    .unwrap()
}

pub fn json(status: u16, body: serde_json::Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// An echo server: records every request and answers 200.
pub async fn recording_server() -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let addr = serve(move |s: Seen| {
        let log = Arc::clone(&log);
        async move {
            log.lock().unwrap().push(s);
            json(200, serde_json::json!({"ok": true}))
        }
    })
    .await;
    (addr, seen)
}

/// A token endpoint: answers each request with `answer(n, &seen)` (n counts from 1),
/// records it, and holds each answer until the gate lets it through when gated.
#[derive(Clone)]
pub struct TokenServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    gate: Option<Arc<Semaphore>>,
    pub arrived: Arc<tokio::sync::Notify>,
}

impl TokenServer {
    pub async fn start<A>(answer: A) -> Self
    where
        A: Fn(usize, &Seen) -> Reply + Send + Sync + 'static,
    {
        Self::start_inner(answer, false).await
    }

    /// Like `start`, but every answer waits for `release`.
    pub async fn start_gated<A>(answer: A) -> Self
    where
        A: Fn(usize, &Seen) -> Reply + Send + Sync + 'static,
    {
        Self::start_inner(answer, true).await
    }

    async fn start_inner<A>(answer: A, gated: bool) -> Self
    where
        A: Fn(usize, &Seen) -> Reply + Send + Sync + 'static,
    {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = gated.then(|| Arc::new(Semaphore::new(0)));
        let arrived = Arc::new(tokio::sync::Notify::new());
        let answer = Arc::new(answer);
        let (log, g, a) = (Arc::clone(&seen), gate.clone(), Arc::clone(&arrived));
        let addr = serve(move |s: Seen| {
            let (log, gate, arrived, answer) = (
                Arc::clone(&log),
                g.clone(),
                Arc::clone(&a),
                Arc::clone(&answer),
            );
            async move {
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(s.clone());
                    log.len()
                };
                arrived.notify_one();
                if let Some(gate) = gate {
                    gate.acquire().await.unwrap().forget();
                }
                answer(n, &s)
            }
        })
        .await;
        Self {
            addr,
            seen,
            gate,
            arrived,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn fetches(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }

    pub fn release(&self, answers: usize) {
        self.gate.as_ref().unwrap().add_permits(answers);
    }
}

/// `{"access_token": "token-<n>", "token_type": "Bearer", "expires_in": <secs>}`.
pub fn numbered_token(n: usize, expires_in: u64) -> Reply {
    json(
        200,
        serde_json::json!({"access_token": format!("token-{n}"), "token_type": "Bearer", "expires_in": expires_in}),
    )
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        })
    }

    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap()
    }
}
