//! HTTP and GraphQL attempts through the http-client crate.

use std::time::{Duration, SystemTime};

use flunq_auth::{AuthError, Authenticator, Secret};
use flunq_http_client::{
    Client, Error as HttpError, Request, Response, TraceContext, add_traceparent,
};
use serde_json::{Map, Value, json};

use super::{AttemptResult, BreakerVerdict, Failure};
use crate::model::placeholder::Masker;
use crate::model::prepared::HttpCall;
use crate::record::{ErrorKind, ExecError};

/// Everything an HTTP attempt needs besides the call.
pub(crate) struct HttpContext<'a> {
    pub(crate) client: &'a Client,
    pub(crate) auth: Option<&'a Authenticator>,
    pub(crate) max_response_bytes: usize,
    pub(crate) trace: Option<&'a TraceContext>,
    /// The attempt's limit, for the whole request (the client's own default is 30 s).
    pub(crate) timeout: Duration,
}

/// One HTTP attempt: `result` is `{status, headers, body}`.
pub(crate) async fn run_http(call: &HttpCall, ctx: &HttpContext<'_>) -> AttemptResult {
    match send(call, ctx).await {
        Ok((response, credential)) => {
            let result = classify_response(call, &response, ctx.max_response_bytes);
            hide_credential(result, credential.as_ref())
        }
        Err(failure) => AttemptResult::failed(failure),
    }
}

/// One GraphQL attempt: `result` is `{data, errors}` as the server sent them.
pub(crate) async fn run_graphql(call: &HttpCall, ctx: &HttpContext<'_>) -> AttemptResult {
    match send(call, ctx).await {
        Ok((response, credential)) => {
            let result = graphql_result(call, &response, ctx.max_response_bytes);
            hide_credential(result, credential.as_ref())
        }
        Err(failure) => AttemptResult::failed(failure),
    }
}

/// The credential fetched or signed for this request (an OAuth2 token, a JWT) hidden
/// wherever the answer shows it: an echo, an error quoting the request.
fn hide_credential(mut attempt: AttemptResult, credential: Option<&Secret>) -> AttemptResult {
    let Some(credential) = credential.filter(|c| !c.is_empty()) else {
        return attempt;
    };
    let mut masker = Masker::default();
    masker.add(credential.expose());
    if let Some(result) = attempt.result.as_mut() {
        crate::pipeline::mask_result(result, &masker);
    }
    if let Some(failure) = attempt.failure.as_mut() {
        failure.error.message = masker.mask_text(&failure.error.message);
    }
    attempt
}

fn graphql_result(call: &HttpCall, response: &Response, max_bytes: usize) -> AttemptResult {
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return classify_response(call, response, max_bytes);
    }
    let parsed: Value = match serde_json::from_slice(response.body()) {
        Ok(v) => v,
        Err(e) => {
            let mut r = AttemptResult::failed(Failure::final_(
                ErrorKind::Graphql,
                format!("the GraphQL response is not JSON: {e}"),
            ));
            r.status_code = Some(status);
            r.result = Some(http_result(response, Value::Null));
            return r;
        }
    };
    // The members the server sent (the GraphQL response's `data`, `errors` and
    // `extensions`), none added.
    let mut result = Map::new();
    if let Value::Object(mut sent) = parsed {
        for member in ["data", "errors", "extensions"] {
            if let Some(value) = sent.remove(member) {
                result.insert(member.into(), value);
            }
        }
    }
    let data = result.get("data").unwrap_or(&Value::Null);
    let errors = result.get("errors").unwrap_or(&Value::Null);
    let has_errors = errors.as_array().is_some_and(|e| !e.is_empty());
    if has_errors && data.is_null() {
        let first = errors
            .get(0)
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("the response has errors and no data")
            .chars()
            .take(500)
            .collect::<String>();
        return AttemptResult {
            result: Some(Value::Object(result)),
            status_code: Some(status),
            failure: Some(Failure {
                error: ExecError::new(ErrorKind::Graphql, first),
                retryable: false,
                may_have_reached: true,
                retry_after: None,
                breaker: BreakerVerdict::Success,
            }),
        };
    }
    AttemptResult::success(Value::Object(result), Some(status))
}

/// Sends the request with its credentials; the response, and the credential made for
/// this request, if any.
async fn send(
    call: &HttpCall,
    ctx: &HttpContext<'_>,
) -> Result<(Response, Option<Secret>), Failure> {
    let mut retried_after_401 = false;
    loop {
        let mut request = Request::new(call.method.clone(), call.url.clone())
            .body(call.body.clone())
            .follow_redirects(call.follow_redirects)
            .max_response_bytes(ctx.max_response_bytes)
            .timeout(ctx.timeout);
        *request.headers_mut() = call.headers.clone();
        add_traceparent(request.headers_mut(), ctx.trace);
        let applied = match ctx.auth {
            Some(auth) => Some(
                auth.apply(&mut request)
                    .await
                    .map_err(|e| auth_failure(&e))?,
            ),
            None => None,
        };
        let response = ctx
            .client
            .execute(request)
            .await
            .map_err(|e| transport_failure(&e))?;
        // An OAuth2 token refused by the upstream is dropped from the shared cache and
        // the request sent once more with a fresh one.
        if response.status().as_u16() == 401
            && !retried_after_401
            && let (Some(auth), Some(applied)) = (ctx.auth, applied.as_ref())
            && auth.is_oauth2()
        {
            auth.invalidate(applied);
            retried_after_401 = true;
            continue;
        }
        // A fixed credential is in the task's masker already (see `prepare`).
        let per_request = applied
            .filter(|_| ctx.auth.is_some_and(|a| a.fixed_credential().is_none()))
            .and_then(|a| a.credential().cloned());
        return Ok((response, per_request));
    }
}

/// The attempt's outcome from the response; bodies up to `max_bytes`
/// (`MAX_RESPONSE_BYTES`, which the client enforced already) are decoded.
fn classify_response(call: &HttpCall, response: &Response, max_bytes: usize) -> AttemptResult {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let limits = flunq_transform::Limits {
        max_bytes,
        ..flunq_transform::Limits::DEFAULT
    };
    let body = flunq_transform::decode_with_limits(
        response.body(),
        content_type,
        call.response_format,
        limits,
    )
    .unwrap_or_else(|e| undecodable(response.body(), &e.to_string()));
    let result = http_result(response, body);
    if response.status().is_success() {
        return AttemptResult::success(result, Some(status));
    }
    let retry_after = if status == 429 || status == 503 {
        response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| flunq_retry::parse_retry_after(v, SystemTime::now()).ok())
    } else {
        None
    };
    let breaker = if status >= 500 || status == 429 || status == 408 {
        BreakerVerdict::Failure
    } else {
        BreakerVerdict::Success
    };
    AttemptResult {
        result: Some(result),
        status_code: Some(status),
        failure: Some(Failure {
            error: ExecError::new(
                ErrorKind::HttpStatus,
                format!("the upstream answered {status}"),
            ),
            // Whether the status is retried is the policy's `on_status`: decided by the pipeline.
            retryable: true,
            may_have_reached: true,
            retry_after,
            breaker,
        }),
    }
}

/// A body that does not decode as asked: why, and the body itself (as text when it is
/// UTF-8, else as base64), so that an HTML error page under `response_format: json` is
/// still there to read.
fn undecodable(body: &[u8], reason: &str) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) => json!({ "decode_error": reason, "text": text }),
        Err(_) => {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(body);
            json!({ "decode_error": reason, "base64": encoded })
        }
    }
}

fn http_result(response: &Response, body: Value) -> Value {
    let source = response.headers();
    let mut headers = Map::new();
    // Each name once, its values joined.
    for name in source.keys() {
        if flunq_http_client::is_credential_header(name) {
            continue;
        }
        let mut joined = String::new();
        for (i, value) in source.get_all(name).iter().enumerate() {
            if i > 0 {
                joined.push_str(", ");
            }
            joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        headers.insert(name.as_str().to_owned(), Value::String(joined));
    }
    let mut result = Map::new();
    result.insert("status".into(), Value::from(response.status().as_u16()));
    result.insert("headers".into(), Value::Object(headers));
    result.insert("body".into(), body);
    Value::Object(result)
}

fn transport_failure(err: &HttpError) -> Failure {
    let (kind, retryable, may_have_reached, breaker) = if err.is_egress_denied() {
        (
            ErrorKind::EgressDenied,
            false,
            false,
            BreakerVerdict::Ignored,
        )
    } else if err.is_tls() {
        (ErrorKind::Tls, true, false, BreakerVerdict::Failure)
    } else if err.is_connect() {
        (ErrorKind::Connect, true, false, BreakerVerdict::Failure)
    } else if err.is_timeout() {
        (ErrorKind::Timeout, true, true, BreakerVerdict::Failure)
    } else if err.is_body_too_large() {
        (
            ErrorKind::ResponseTooLarge,
            false,
            true,
            BreakerVerdict::Success,
        )
    } else if err.is_builder() {
        (ErrorKind::Internal, false, false, BreakerVerdict::Ignored)
    } else if err.is_redirect() {
        // The upstream answered with a redirect that cannot be followed (one too many,
        // or no usable `Location`): a status that is not 2xx, and asking again would get
        // the same.
        (ErrorKind::HttpStatus, false, true, BreakerVerdict::Success)
    } else {
        // Reset mid-request, closed early, protocol error.
        (ErrorKind::Connect, true, true, BreakerVerdict::Failure)
    };
    Failure {
        error: ExecError::new(kind, err.to_string()),
        retryable,
        // A failure on a redirect's hop comes after a request that reached a server.
        may_have_reached: may_have_reached || err.redirects() > 0,
        retry_after: None,
        breaker,
    }
}

fn auth_failure(err: &AuthError) -> Failure {
    if err.is_egress_denied() {
        return Failure::final_(ErrorKind::EgressDenied, format!("token endpoint: {err}"));
    }
    // A token endpoint out of reach may come back; a refused client will not.
    let retryable = err
        .transport()
        .is_some_and(|t| t.is_connect() || t.is_timeout())
        || err.status().is_some_and(|s| s.is_server_error());
    Failure {
        error: ExecError::new(ErrorKind::Auth, err.to_string()),
        retryable,
        may_have_reached: false,
        retry_after: None,
        breaker: BreakerVerdict::Ignored,
    }
}

/// The timeout of one attempt, as a failure.
pub(crate) fn timeout_failure(limit: Duration) -> Failure {
    Failure {
        error: ExecError::new(
            ErrorKind::Timeout,
            format!(
                "the attempt took longer than {}",
                crate::model::duration::format_duration(limit)
            ),
        ),
        retryable: true,
        may_have_reached: true,
        retry_after: None,
        breaker: BreakerVerdict::Failure,
    }
}
