//! The executor's HTTP API, as `shared/API.md` writes it, on axum (a hyper service).
//!
//! [`router`] mounts every route on an [`Engine`]: executions (submit with `?wait=` and
//! `Prefer: wait=`, get, cancel, list), configurations (CRUD with `If-Match` and unique
//! names), `/healthz`, `/readyz`, `/metrics` (Prometheus text) and
//! `/api/v1/openapi.json`. Every error is an RFC 9457 problem document. When API keys
//! are set, every `/api/v1` route needs `Authorization: Bearer <key>` (the scheme in
//! any case), the key compared in constant time.
//!
//! ```
//! use flunq_executor::{Engine, EngineOptions};
//! use flunq_executor_server::{ServerOptions, router};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::in_memory(EngineOptions::default())?;
//! let app = router(engine, ServerOptions::default());
//! // Serve it with `axum::serve(listener, app)`, and run the engine's workers beside it.
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod extract;
mod openapi;
mod prefer;
mod problem;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flunq_executor::Engine;
use subtle::ConstantTimeEq;

pub use openapi::document as openapi_document;
pub use problem::Problem;
pub use routes::MAX_WAIT;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Bearer keys accepted on `/api/v1` (`API_KEYS`); empty leaves the API open.
    pub api_keys: Vec<String>,
    /// Largest request body (`MAX_REQUEST_BYTES`).
    pub max_request_bytes: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            api_keys: Vec::new(),
            max_request_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    api_keys: Arc<Vec<String>>,
}

/// The API's routes on `engine`.
pub fn router(engine: Engine, options: ServerOptions) -> Router {
    let state = AppState {
        engine,
        api_keys: Arc::new(options.api_keys),
    };
    // Full paths and `merge`, not `nest`: a nested router rewrites every request's URI
    // on its way in (an allocation and a reformatted URI per request).
    let api = Router::new()
        .route("/api/v1/execute", post(routes::execute))
        .route("/api/v1/executions", get(routes::list_executions))
        .route("/api/v1/executions/{id}", get(routes::get_execution))
        .route(
            "/api/v1/executions/{id}/cancel",
            post(routes::cancel_execution),
        )
        .route(
            "/api/v1/configs",
            post(routes::create_config).get(routes::list_configs),
        )
        .route(
            "/api/v1/configs/{id}",
            get(routes::get_config)
                .put(routes::replace_config)
                .delete(routes::delete_config),
        )
        .route("/api/v1/openapi.json", get(routes::openapi));
    let router = Router::new()
        .merge(api)
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(method_not_allowed);
    // Without keys the API is open: no layer at all (it would cost every request a
    // state clone and two boxed services for nothing). With keys, the layer covers the
    // whole router, so that a path or method under /api/v1 that no route takes is a 401
    // too, not a 404 or 405 that would tell a caller without a key what exists.
    let router = if state.api_keys.is_empty() {
        router
    } else {
        router.layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ))
    };
    router
        .layer(DefaultBodyLimit::max(options.max_request_bytes))
        .with_state(state)
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

/// Whether a path is the API's (`/api/v1` and below), which `API_KEYS` guards; the
/// probes and the metrics stay open.
fn is_api_path(path: &str) -> bool {
    path.strip_prefix("/api/v1")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

async fn require_api_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials);
    let Some(presented) = presented else {
        return unauthorized();
    };
    // Every key is compared, in constant time, so timing says nothing about which
    // key or how much of it matched.
    let mut matched = subtle::Choice::from(0u8);
    for key in state.api_keys.iter() {
        matched |= key.as_bytes().ct_eq(presented.as_bytes());
    }
    if bool::from(matched) {
        next.run(request).await
    } else {
        unauthorized()
    }
}

/// The credentials of `Bearer <key>`: the scheme in any case (RFC 9110 §11.1), one
/// or more spaces before the key.
fn bearer_credentials(authorization: &str) -> Option<&str> {
    let (scheme, credentials) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

fn unauthorized() -> Response {
    let mut response = Problem::new(
        StatusCode::UNAUTHORIZED,
        "send Authorization: Bearer <API key>",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}
