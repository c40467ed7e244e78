//! The handlers of every route of the API.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flunq_executor::store::{ConfigStoreError, StoredConfig};
use flunq_executor::{CancelError, ConfigError, ExecutionRecord, Status, SubmitError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::extract::{Path, Query};
use crate::problem::Problem;

/// The longest `?wait=` or `Prefer: wait=` the server holds a response.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

type Result<T> = std::result::Result<T, Problem>;

#[derive(Debug, Deserialize)]
pub(crate) struct ExecuteQuery {
    wait: Option<String>,
}

pub(crate) async fn execute(
    State(state): State<AppState>,
    Query(query): Query<ExecuteQuery>,
    request: Request,
) -> Result<Response> {
    // Read from the request's own headers (the `HeaderMap` extractor copies them all),
    // reported after the body's errors, as before.
    let headers = request.headers();
    let wait = wait_of(query.wait.as_deref(), headers);
    let idempotency = headers.get("idempotency-key").map(|v| {
        v.to_str().map(str::to_owned).map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "the Idempotency-Key header must be visible ASCII",
            )
        })
    });
    // Through the extractor, so `DefaultBodyLimit` applies.
    let body = Bytes::from_request(request, &state)
        .await
        .map_err(body_rejection)?;
    let wait = wait?;
    let idempotency = idempotency.transpose()?;
    let submitted = match wait {
        Some(wait) => {
            state
                .engine
                .submit_and_wait(&body, idempotency.as_deref(), wait.limit)
                .await
        }
        None => state.engine.submit(&body, idempotency.as_deref()).await,
    }
    .map_err(submit_problem)?;
    let record = submitted.record;
    let status = if !submitted.created || record.status.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut response = record_response(status, &record);
    // RFC 7240 §3: the preference honoured, with the wait applied.
    if let Some(Wait {
        limit,
        preferred: true,
    }) = wait
        && let Ok(applied) = HeaderValue::from_str(&format!("wait={}", limit.as_secs()))
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static("preference-applied"), applied);
    }
    Ok(response)
}

pub(crate) async fn get_execution(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    match state.engine.get(&id).await.map_err(store_problem)? {
        Some(record) => Ok(record_response(StatusCode::OK, &record)),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no execution `{}` (unknown or expired)", short(&id)),
        )),
    }
}

pub(crate) async fn cancel_execution(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    match state.engine.cancel(&id).await {
        Ok(record) => Ok(record_response(StatusCode::OK, &record)),
        Err(CancelError::NotFound(_)) => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no execution `{}`", short(&id)),
        )),
        Err(CancelError::Finished(record)) => {
            let detail = serde_json::to_string(&record).unwrap_or_default();
            Err(Problem::new(StatusCode::CONFLICT, detail))
        }
        Err(CancelError::Store(e)) => Err(store_problem(e)),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn list_executions(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            Problem::new(StatusCode::BAD_REQUEST, "invalid `status`").with_errors(vec![
                flunq_executor::FieldError::new(
                    "status",
                    "one of queued, running, succeeded, failed, cancelled",
                ),
            ])
        })?),
    };
    let limit = match q.limit.as_deref() {
        None | Some("") => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(
                    Problem::new(StatusCode::BAD_REQUEST, "invalid `limit`").with_errors(vec![
                        flunq_executor::FieldError::new("limit", "a whole number from 1 to 1000"),
                    ]),
                );
            }
        },
    };
    let page = state
        .engine
        .list(status, limit, cursor(q.cursor)?)
        .await
        .map_err(store_problem)?;
    Ok(Json(json!({ "items": page.items, "next": page.next })).into_response())
}

/// The `cursor` of a list: the `next` of the page before, an execution id (a UUID).
fn cursor(given: Option<String>) -> Result<Option<String>> {
    let Some(cursor) = given.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let is_uuid = cursor.len() == 36
        && cursor.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if !is_uuid {
        return Err(
            Problem::new(StatusCode::BAD_REQUEST, "invalid `cursor`").with_errors(vec![
                flunq_executor::FieldError::new(
                    "cursor",
                    "not a cursor: send the `next` of the previous page",
                ),
            ]),
        );
    }
    Ok(Some(cursor))
}

pub(crate) async fn create_config(
    State(state): State<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let body = body.map_err(body_rejection)?;
    let stored = state
        .engine
        .create_config(&body)
        .await
        .map_err(config_problem)?;
    let mut response = config_response(StatusCode::CREATED, &stored);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/configs/{}", stored.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub(crate) async fn list_configs(State(state): State<AppState>) -> Result<Response> {
    let all = state.engine.configs().await.map_err(store_problem)?;
    let items: Vec<Value> = all.iter().map(|c| config_json(c)).collect();
    Ok(Json(json!({ "items": items })).into_response())
}

pub(crate) async fn get_config(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    match state.engine.config(&id).await.map_err(store_problem)? {
        Some(stored) => Ok(config_response(StatusCode::OK, &stored)),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no configuration `{}`", short(&id)),
        )),
    }
}

pub(crate) async fn replace_config(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let body = body.map_err(body_rejection)?;
    // `*` matches any current version, as no If-Match does (404 if there is none).
    let versions = match if_match(&headers)? {
        None | Some(IfMatch::Any) => None,
        Some(IfMatch::Versions(versions)) => Some(versions),
    };
    let stored = state
        .engine
        .replace_config(&id, &body, versions.as_deref())
        .await
        .map_err(config_problem)?;
    Ok(config_response(StatusCode::OK, &stored))
}

pub(crate) async fn delete_config(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    state
        .engine
        .delete_config(&id)
        .await
        .map_err(|e| config_problem(ConfigError::Store(e)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    if state.engine.is_ready() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    }
}

/// The metrics in the Prometheus text format (0.0.4), or in OpenMetrics for a scraper
/// that asks for it (`Accept: application/openmetrics-text`, as Prometheus does).
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let openmetrics = state.engine.render_metrics();
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if wants_openmetrics {
        (
            openmetrics,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            prometheus_text(&openmetrics),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// OpenMetrics text as the Prometheus text format reads it: a counter's `HELP` and
/// `TYPE` name its samples (`flunq_executions_total`, where OpenMetrics names the family
/// `flunq_executions`), and no `# EOF` or `# UNIT` lines.
fn prometheus_text(openmetrics: &str) -> String {
    let mut counters: Vec<&str> = Vec::new();
    for line in openmetrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.strip_suffix(" counter"))
        {
            counters.push(name);
        }
    }
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match described {
            Some(renamed) => out.push_str(&renamed),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

pub(crate) async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

pub(crate) async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such route")
}

fn record_response(status: StatusCode, record: &ExecutionRecord) -> Response {
    // Written into a buffer sized for a typical record (`Json` starts at 128 bytes and
    // grows it several times).
    let mut body = Vec::with_capacity(768 + record.task.get().len());
    if let Err(e) = serde_json::to_writer(&mut body, record) {
        return Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the record: {e}"),
        )
        .into_response();
    }
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    let mut location = String::with_capacity(19 + record.id.len());
    location.push_str("/api/v1/executions/");
    location.push_str(&record.id);
    let location = Bytes::from(location);
    if let Ok(location) = HeaderValue::from_maybe_shared(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn config_json(c: &StoredConfig) -> Value {
    let mut v = serde_json::to_value(&c.input).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut v {
        map.insert("id".into(), json!(c.id));
        map.insert("version".into(), json!(c.version));
        map.insert(
            "created_at".into(),
            json!(flunq_executor::record::rfc3339::format(c.created_at)),
        );
        map.insert(
            "updated_at".into(),
            json!(flunq_executor::record::rfc3339::format(c.updated_at)),
        );
    }
    v
}

fn config_response(status: StatusCode, c: &StoredConfig) -> Response {
    let mut response = (status, Json(config_json(c))).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", c.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// What an `If-Match` header asks (RFC 9110 §13.1.1).
#[derive(Debug, PartialEq)]
enum IfMatch {
    /// `*`: any current version.
    Any,
    /// Any of these versions.
    Versions(Vec<u64>),
}

/// `If-Match`: `*`, or a list of versions as sent in ETag (`"2", "3"`), possibly over
/// several header lines; empty list elements are skipped (RFC 9110 §5.6.1). Besides
/// strong entity tags, `W/"3"` and a bare `3` are read as version 3, as they were before
/// lists were: RFC 9110 would never match a weak tag under If-Match, but clients send them.
/// An entry that is no version, or `*` within a list, is a `400`.
fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>> {
    let bad = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "If-Match must be `*` or versions as sent in ETag (\"3\", or a list \"2\", \"3\")",
        )
    };
    let mut lines = headers.get_all(header::IF_MATCH).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let (mut any, mut versions) = (false, Vec::new());
    for line in lines {
        let text = line.to_str().map_err(|_| bad())?;
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                any = true;
            } else {
                versions.push(version_of(entry).ok_or_else(bad)?);
            }
        }
    }
    match (any, versions.is_empty()) {
        (true, true) => Ok(Some(IfMatch::Any)),
        (false, false) => Ok(Some(IfMatch::Versions(versions))),
        // `*` beside versions, or no entry at all.
        _ => Err(bad()),
    }
}

/// The version an entity tag names: `"3"`, and for compatibility `W/"3"` or `3`.
fn version_of(entry: &str) -> Option<u64> {
    let tag = entry.strip_prefix("W/").unwrap_or(entry);
    tag.trim_matches('"').parse().ok()
}

/// How long a submission holds its response.
#[derive(Debug, Clone, Copy)]
struct Wait {
    limit: Duration,
    /// Asked by `Prefer: wait=N`, so answered with `Preference-Applied`.
    preferred: bool,
}

/// `?wait=true`, `?wait=10s`, or `Prefer: wait=N` (seconds, RFC 7240, at most
/// [`MAX_WAIT`]). `?wait=` wins when both are given, `?wait=false` included: the
/// preference is then not applied.
fn wait_of(query: Option<&str>, headers: &HeaderMap) -> Result<Option<Wait>> {
    let bad = |message: &str| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("invalid `wait`: {message}"),
        )
        .with_errors(vec![flunq_executor::FieldError::new("wait", message)])
    };
    if let Some(q) = query {
        let limit = match q {
            "true" | "" => MAX_WAIT,
            "false" => return Ok(None),
            // The API's durations: a unit is required (`?wait=5` is refused, as a bare
            // number is everywhere else).
            text => match flunq_executor::model::duration::ApiDuration::parse(text) {
                Ok(d) if d.get() <= MAX_WAIT => d.get(),
                Ok(_) => return Err(bad("at most 60s")),
                Err(_) => return Err(bad("`true`, `false` or a duration such as `10s`")),
            },
        };
        return Ok(Some(Wait {
            limit,
            preferred: false,
        }));
    }
    Ok(crate::prefer::wait_seconds(headers).map(|secs| Wait {
        limit: Duration::from_secs(secs).min(MAX_WAIT),
        preferred: true,
    }))
}

fn body_rejection(rejection: BytesRejection) -> Problem {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return Problem::new(status, "the request body is larger than MAX_REQUEST_BYTES");
    }
    Problem::new(status, rejection.body_text())
}

fn submit_problem(err: SubmitError) -> Problem {
    match err {
        SubmitError::Invalid(invalid) => {
            let status = StatusCode::from_u16(invalid.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let errors = invalid.errors().to_vec();
            Problem::new(status, invalid.to_string()).with_errors(errors)
        }
        SubmitError::ShuttingDown => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the executor is shutting down",
        ),
        SubmitError::Store(e) => store_problem(e),
    }
}

fn config_problem(err: ConfigError) -> Problem {
    match err {
        ConfigError::Invalid(invalid) => {
            let status = StatusCode::from_u16(invalid.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let errors = invalid.errors().to_vec();
            Problem::new(status, invalid.to_string()).with_errors(errors)
        }
        ConfigError::Store(ConfigStoreError::DuplicateName(name)) => Problem::new(
            StatusCode::CONFLICT,
            format!("a configuration named `{}` already exists", short(&name)),
        ),
        ConfigError::Store(ConfigStoreError::NotFound(id)) => Problem::new(
            StatusCode::NOT_FOUND,
            format!("no configuration `{}`", short(&id)),
        ),
        ConfigError::Store(e @ ConfigStoreError::VersionMismatch { .. }) => {
            Problem::new(StatusCode::PRECONDITION_FAILED, e.to_string())
        }
        ConfigError::Store(ConfigStoreError::Unavailable(e)) => store_problem(e),
    }
}

fn store_problem(err: flunq_executor::store::StoreError) -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::prometheus_text;

    #[test]
    fn openmetrics_counters_are_named_by_their_samples_in_prometheus_text() {
        let openmetrics = "# HELP flunq_retries Retries.\n# TYPE flunq_retries counter\n\
            flunq_retries_total{type=\"http\"} 2\n# HELP flunq_in_flight In flight.\n\
            # TYPE flunq_in_flight gauge\nflunq_in_flight 1\n# UNIT flunq_x seconds\n# EOF\n";
        assert_eq!(
            prometheus_text(openmetrics),
            "# HELP flunq_retries_total Retries.\n# TYPE flunq_retries_total counter\n\
             flunq_retries_total{type=\"http\"} 2\n# HELP flunq_in_flight In flight.\n\
             # TYPE flunq_in_flight gauge\nflunq_in_flight 1\n"
        );
    }
}
