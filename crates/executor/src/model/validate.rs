//! From a submitted [`TaskInput`] (and its stored config) to a [`PreparedTask`], once, at
//! the edge. Every error names its field; nothing is queued when anything is wrong.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flunq_auth::{AuthConfig, AuthError, Authenticator, Secret};
use flunq_http_client::{
    EgressDenied, EgressPolicy, HeaderMap, HeaderName, HeaderValue, Method, Url,
};
use flunq_retry::{Jitter, RetryPolicy};
use flunq_transform::ResponseFormat;
use serde_json::Value;

use super::config::ConfigInput;
use super::errors::{Errors, Invalid};
use super::input::{JitterName, PolicyName, RetryInput, TaskInput, TaskType};
use super::placeholder::{Masker, Resolver};
use super::prepared::{Call, DatabaseCall, HttpCall, PreparedTask, RetryPlan};
use crate::limits::LimitSpec;

/// Statuses retried when the policy does not say.
pub const DEFAULT_ON_STATUS: [u16; 7] = [408, 425, 429, 500, 502, 503, 504];
/// Rows returned at most when the task does not say.
pub const DEFAULT_MAX_ROWS: u64 = 10_000;

/// The server-wide defaults a task falls back on.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// `DEFAULT_TIMEOUT`.
    pub timeout: Duration,
    /// `MAX_RETRIES`.
    pub retries: u32,
    /// `RATE_LIMIT`: requests per second per upstream origin (0: no default limit).
    pub rate_limit: u32,
    /// The egress policy.
    pub egress: EgressPolicy,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            retries: 3,
            rate_limit: 100,
            egress: EgressPolicy::default(),
        }
    }
}

/// Validates a task against its config and the defaults, resolving placeholders.
/// `authenticator` builds (and so checks) the task's credentials once resolved.
pub(crate) fn prepare(
    input: &TaskInput,
    config: Option<(&str, u64, &ConfigInput)>,
    defaults: &Defaults,
    idempotency_key: Option<&str>,
    authenticator: impl FnOnce(&AuthConfig) -> Result<Arc<Authenticator>, AuthError>,
) -> Result<PreparedTask, Invalid> {
    let mut errors = Errors::default();
    let Some(kind) = input.kind else {
        return Err(Invalid::field(
            "type",
            "missing field `type`: one of \"http\", \"graphql\", \"database\"",
        ));
    };
    check_fields_of_type(input, kind, &mut errors);
    let cfg = config.map(|(_, _, c)| c);
    let mut resolver = Resolver::new(&input.inputs, cfg.and_then(|c| c.secrets.as_ref()));

    let timeout = input
        .timeout
        .or(cfg.and_then(|c| c.timeout))
        .map_or(defaults.timeout, |d| d.get());
    if timeout.is_zero() {
        errors.push("timeout", "must be greater than zero");
    }
    let retries = input
        .retries
        .or(cfg.and_then(|c| c.retries))
        .unwrap_or(defaults.retries);
    let retry_input = input.retry.as_ref().or(cfg.and_then(|c| c.retry.as_ref()));
    let retry = retry_plan(retry_input, retries, &mut errors);

    let auth = input.auth.as_ref().or(cfg.and_then(|c| c.auth.as_ref()));
    let auth = auth.and_then(|a| resolve_auth(a, &mut resolver, &mut errors));
    if let Some(AuthConfig::OAuth2(oauth)) = &auth
        && let Some(token_url) = &oauth.token_url
        && let Ok(url) = Url::parse(token_url)
        && let Err(EgressDenied::Destination) = defaults.egress.check_url(&url)
    {
        // As `url` and `endpoint`: a literal address the policy denies is refused now
        // (a host name is checked where it resolves, when the token is fetched).
        errors.refuse("auth.token_url", "destination denied by the egress policy");
    }
    let authenticator = auth.as_ref().and_then(|a| {
        authenticator(a)
            .map_err(|e| {
                let field = e.field().map_or_else(|| "auth".to_owned(), str::to_owned);
                errors.push(field, e.to_string());
            })
            .ok()
    });

    let idempotency_key = idempotency_key_of(idempotency_key, input, &mut errors);
    let call = match kind {
        TaskType::Http => {
            http_call(input, cfg, &mut resolver, defaults, &mut errors).map(Call::Http)
        }
        TaskType::Graphql => {
            graphql_call(input, cfg, &mut resolver, defaults, &mut errors).map(Call::Graphql)
        }
        TaskType::Database => database_call(input, cfg, defaults, &mut errors).map(Call::Database),
    };
    let Some(call) = call else {
        return Err(errors
            .finish(|| ())
            .err()
            .unwrap_or_else(|| Invalid::field("", "invalid task")));
    };
    // A host resolved from a config's secrets stays hidden in metric labels too.
    let mut origin = origin_of(&call);
    if !resolver.masker.is_empty() {
        origin = resolver.masker.mask_text(&origin);
    }
    let origin: Arc<str> = Arc::from(origin);
    let key: Arc<str> = match config {
        Some((name, _, _)) => Arc::from(format!("config:{name}")),
        None => Arc::clone(&origin),
    };
    let breaker = config.and_then(|(name, version, c)| {
        let cb = c.circuit_breaker.as_ref()?;
        let config = crate::limits::breaker_config(cb)
            .map_err(|(f, m)| errors.push(f, m))
            .ok()?;
        // One registry per config version: a changed config gets fresh breakers.
        Some(crate::limits::BreakerProfile {
            id: Arc::from(format!("{name}@{version}")),
            config,
        })
    });
    let limit = match cfg.and_then(|c| c.rate_limit.as_ref()) {
        Some(rl) => crate::limits::limit_spec(rl)
            .map_err(|(f, m)| errors.push(f, m))
            .ok(),
        None => LimitSpec::per_second(defaults.rate_limit),
    };
    let mut masker = resolver.masker;
    if let Some(a) = &auth {
        mask_auth(a, &mut masker);
    }
    // A fixed credential as it goes on the wire (basic credentials in base64) is hidden
    // with the task's secrets; one fetched or signed per request, by the runner.
    if let Some(credential) = authenticator.as_ref().and_then(|a| a.fixed_credential()) {
        masker.add(credential.expose());
    }
    errors.finish(|| PreparedTask {
        kind,
        call,
        timeout,
        retry,
        auth: authenticator,
        key,
        origin,
        breaker,
        limit,
        masker,
        idempotency_key,
    })
}

/// The longest idempotency key taken (as Stripe's): it becomes part of a store key.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The key from the `Idempotency-Key` header, else from the `idempotency_key` field: not
/// empty, at most 255 bytes, and the same in both when both are sent.
fn idempotency_key_of(
    header: Option<&str>,
    input: &TaskInput,
    errors: &mut Errors,
) -> Option<String> {
    const FIELD: &str = "idempotency_key";
    let field = input.idempotency_key.as_deref();
    if let (Some(h), Some(f)) = (header, field)
        && h != f
    {
        errors.push(
            FIELD,
            "differs from the Idempotency-Key header: send one, or the same in both",
        );
    }
    let key = header.or(field)?;
    let source = if header.is_some() {
        "the Idempotency-Key header"
    } else {
        "the key"
    };
    if key.trim().is_empty() {
        errors.push(FIELD, format!("{source} must not be empty"));
    } else if key.len() > MAX_IDEMPOTENCY_KEY {
        errors.push(
            FIELD,
            format!("{source} is longer than {MAX_IDEMPOTENCY_KEY} bytes"),
        );
    }
    Some(key.to_owned())
}

fn check_fields_of_type(input: &TaskInput, kind: TaskType, errors: &mut Errors) {
    let present: [(&str, bool, &[TaskType]); 13] = [
        ("method", input.method.is_some(), &[TaskType::Http]),
        ("url", input.url.is_some(), &[TaskType::Http]),
        (
            "headers",
            input.headers.is_some(),
            &[TaskType::Http, TaskType::Graphql],
        ),
        ("body", input.body.is_some(), &[TaskType::Http]),
        (
            "follow_redirects",
            input.follow_redirects.is_some(),
            &[TaskType::Http],
        ),
        (
            "response_format",
            input.response_format.is_some(),
            &[TaskType::Http],
        ),
        ("endpoint", input.endpoint.is_some(), &[TaskType::Graphql]),
        ("variables", input.variables.is_some(), &[TaskType::Graphql]),
        (
            "operation_name",
            input.operation_name.is_some(),
            &[TaskType::Graphql],
        ),
        (
            "connection",
            input.connection.is_some(),
            &[TaskType::Database],
        ),
        ("params", input.params.is_some(), &[TaskType::Database]),
        (
            "read_only",
            input.read_only.is_some(),
            &[TaskType::Database],
        ),
        ("max_rows", input.max_rows.is_some(), &[TaskType::Database]),
    ];
    for (field, is_present, owners) in present {
        if is_present && !owners.contains(&kind) {
            errors.push(field, format!("not a field of a `{}` task", kind.as_str()));
        }
    }
}

fn retry_plan(input: Option<&RetryInput>, retries: u32, errors: &mut Errors) -> RetryPlan {
    let default = RetryInput::default();
    let r = input.unwrap_or(&default);
    let policy_name = r.policy.unwrap_or(PolicyName::Exponential);
    let delay = r.delay.map_or(Duration::from_millis(100), |d| d.get());
    let cap = r.max_delay.map_or(Duration::from_secs(30), |d| d.get());
    let jitter = match r.jitter {
        Some(JitterName::None) => Jitter::None,
        Some(JitterName::Full) => Jitter::Full,
        Some(JitterName::Equal) => Jitter::Equal,
        Some(JitterName::Decorrelated) => Jitter::Decorrelated,
        None if policy_name == PolicyName::Exponential => Jitter::Full,
        None => Jitter::None,
    };
    if r.multiplier.is_some() && policy_name != PolicyName::Exponential {
        errors.push(
            "retry.multiplier",
            "only an `exponential` policy has a multiplier",
        );
    }
    if r.increment.is_some() && policy_name != PolicyName::Linear {
        errors.push("retry.increment", "only a `linear` policy has an increment");
    }
    if r.delays.is_some() && policy_name != PolicyName::Custom {
        errors.push(
            "retry.delays",
            "only a `custom` policy has a list of delays",
        );
    }
    let builder = match policy_name {
        PolicyName::Fixed | PolicyName::None => RetryPolicy::fixed(delay),
        PolicyName::Exponential => {
            RetryPolicy::exponential(delay).multiplier(r.multiplier.unwrap_or(2.0))
        }
        PolicyName::Linear => RetryPolicy::linear(delay, r.increment.map_or(delay, |d| d.get())),
        PolicyName::Custom => match &r.delays {
            Some(list) if !list.is_empty() => {
                RetryPolicy::custom(list.iter().map(|d| d.get()).collect::<Vec<_>>())
            }
            _ => {
                errors.push(
                    "retry.delays",
                    "a `custom` policy needs a non-empty list of delays",
                );
                RetryPolicy::fixed(delay)
            }
        },
    };
    let max_retries = if policy_name == PolicyName::None {
        0
    } else {
        retries
    };
    let mut builder = builder
        .max_delay(cap)
        .jitter(jitter)
        .max_retries(max_retries);
    if let Some(limit) = r.max_elapsed {
        builder = builder.max_elapsed(limit.get());
    }
    let policy = builder.build().unwrap_or_else(|e| {
        errors.push("retry.multiplier", e.to_string());
        RetryPolicy::default()
    });
    let on_status = r
        .on_status
        .clone()
        .unwrap_or_else(|| DEFAULT_ON_STATUS.to_vec());
    for (i, status) in on_status.iter().enumerate() {
        if !(100..=599).contains(status) {
            errors.push(
                format!("retry.on_status[{i}]"),
                format!("{status} is not an HTTP status"),
            );
        }
    }
    RetryPlan {
        policy,
        on_status,
        retry_unsafe: r.retry_unsafe.unwrap_or(false),
    }
}

fn http_call(
    input: &TaskInput,
    cfg: Option<&ConfigInput>,
    resolver: &mut Resolver<'_>,
    defaults: &Defaults,
    errors: &mut Errors,
) -> Option<HttpCall> {
    let method = match input.method.as_deref().map(str::trim) {
        None => Method::GET,
        Some(m) => match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
            Ok(method) if m.bytes().all(|b| b.is_ascii_alphabetic()) => method,
            _ => {
                errors.push("method", format!("`{}` is not an HTTP method", shorten(m)));
                Method::GET
            }
        },
    };
    let Some(raw_url) = input.url.as_deref() else {
        errors.push("url", "missing field `url`");
        return None;
    };
    let url = resolve_url(
        "url",
        raw_url,
        cfg.and_then(|c| c.base_url.as_deref()),
        resolver,
        defaults,
        errors,
    )?;
    let mut url = url;
    match &input.query {
        None => {}
        Some(Value::Object(params)) => {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in params {
                let field = format!("query.{name}");
                let values: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for v in values {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        Value::Bool(_) | Value::Number(_) => v.to_string(),
                        _ => {
                            errors.push(
                                field.clone(),
                                "a query value is a string, number, boolean or a list of them",
                            );
                            continue;
                        }
                    };
                    match resolver.resolve(&text) {
                        Ok(text) => {
                            pairs.append_pair(name, &text);
                        }
                        Err(e) => errors.push(field.clone(), e.message()),
                    }
                }
            }
        }
        Some(_) => errors.push(
            "query",
            "an object of query parameters, e.g. {\"page\": \"2\"}",
        ),
    }
    let headers = build_headers(cfg, input, resolver, errors);
    let body = match &input.body {
        None => Bytes::new(),
        Some(body) => encode_body(body, &headers, resolver, errors),
    };
    let mut headers = headers;
    if input.body.is_some() && !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let response_format = input.response_format.unwrap_or_default();
    Some(HttpCall {
        repeat_unsafe: method == Method::POST || method == Method::PATCH,
        method,
        url,
        headers,
        body,
        follow_redirects: input.follow_redirects.unwrap_or(true),
        response_format,
    })
}

fn graphql_call(
    input: &TaskInput,
    cfg: Option<&ConfigInput>,
    resolver: &mut Resolver<'_>,
    defaults: &Defaults,
    errors: &mut Errors,
) -> Option<HttpCall> {
    let Some(raw) = input.endpoint.as_deref() else {
        errors.push("endpoint", "missing field `endpoint`");
        return None;
    };
    let url = resolve_url(
        "endpoint",
        raw,
        cfg.and_then(|c| c.base_url.as_deref()),
        resolver,
        defaults,
        errors,
    )?;
    let query = match &input.query {
        Some(Value::String(q)) if !q.trim().is_empty() => q.clone(),
        Some(_) => {
            errors.push("query", "the GraphQL document, as a string");
            return None;
        }
        None => {
            errors.push("query", "missing field `query`");
            return None;
        }
    };
    let variables = match &input.variables {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => match resolver.resolve_value(v) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push("variables", e.message());
                None
            }
        },
        Some(_) => {
            errors.push("variables", "an object of variables");
            None
        }
    };
    // graphql_client's `QueryBody` holds `&'static str` (documents known at compile
    // time); a task's document arrives at run time, so the same wire shape is built here.
    let repeat_unsafe = super::graphql::runs_mutation(&query, input.operation_name.as_deref());
    let mut body = serde_json::Map::new();
    body.insert("query".into(), Value::String(query));
    if let Some(v) = variables {
        body.insert("variables".into(), v);
    }
    if let Some(name) = &input.operation_name {
        body.insert("operationName".into(), Value::String(name.clone()));
    }
    let body = match serde_json::to_vec(&Value::Object(body)) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => {
            errors.push("variables", e.to_string());
            return None;
        }
    };
    let mut headers = build_headers(cfg, input, resolver, errors);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if !headers.contains_key(http::header::ACCEPT) {
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/graphql-response+json, application/json"),
        );
    }
    Some(HttpCall {
        method: Method::POST,
        repeat_unsafe,
        url,
        headers,
        body,
        follow_redirects: true,
        response_format: ResponseFormat::Json,
    })
}

fn database_call(
    input: &TaskInput,
    cfg: Option<&ConfigInput>,
    defaults: &Defaults,
    errors: &mut Errors,
) -> Option<DatabaseCall> {
    let sql = match &input.query {
        Some(Value::String(q)) if !q.trim().is_empty() => q.clone(),
        Some(_) => {
            errors.push("query", "the SQL statement, as a string");
            return None;
        }
        None => {
            errors.push("query", "missing field `query`");
            return None;
        }
    };
    // A connection names a stored config's connection (resolved by the caller into
    // `cfg`), else it is a connection string.
    let connection: Option<String> = match (
        input.connection.as_deref(),
        cfg.and_then(|c| c.connection.as_ref()),
    ) {
        (Some(text), _) if looks_like_connection_string(text) => Some(text.to_owned()),
        (_, Some(stored)) => Some(stored.expose().to_owned()),
        (Some(_), None) => {
            errors.push(
                "connection",
                "names no stored config with a `connection`, and is not a connection string",
            );
            None
        }
        (None, None) => {
            errors.push("connection", "missing field `connection`");
            None
        }
    };
    let connection = connection?;
    let target = match flunq_postgres::ConnectionTarget::parse(&connection) {
        Ok(t) => t,
        Err(e) => {
            errors.push("connection", e.to_string());
            return None;
        }
    };
    // A literal address (or `hostaddr`) is checked now (422); a name is checked on
    // every address it resolves to, when the statement runs.
    if target.egress_precheck(&defaults.egress).is_err() {
        errors.refuse("connection", "database host denied by the egress policy");
    }
    let max_rows = input.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if max_rows == 0 {
        errors.push("max_rows", "must be at least 1");
    }
    Some(DatabaseCall {
        target: Arc::new(target),
        sql,
        params: input.params.clone().unwrap_or_default(),
        read_only: input.read_only.unwrap_or(false),
        max_rows: usize::try_from(max_rows).unwrap_or(usize::MAX),
    })
}

/// Whether `connection` is a connection string rather than a config's name.
pub(crate) fn looks_like_connection_string(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://") || text.contains('=')
}

fn resolve_url(
    field: &str,
    raw: &str,
    base: Option<&str>,
    resolver: &mut Resolver<'_>,
    defaults: &Defaults,
    errors: &mut Errors,
) -> Option<Url> {
    let text = match resolver.resolve(raw) {
        Ok(t) => t,
        Err(e) => {
            errors.push(field, e.message());
            return None;
        }
    };
    let parsed = match parse_url(&text) {
        // A config's auth, headers, secrets, breaker and rate limit belong to its
        // base_url: an absolute URL elsewhere would carry them to another origin.
        Ok(url) => match base {
            Some(base) => config_base(resolver, base).and_then(|base| {
                if base.origin() == url.origin() {
                    Ok(url)
                } else {
                    Err(
                        "is not on the origin (scheme, host and port) of the config's \
                         base_url: a config's auth, headers and secrets go to that origin \
                         only; use a relative URL, or a config for this origin"
                            .to_owned(),
                    )
                }
            }),
            None => Ok(url),
        },
        Err(url::ParseError::RelativeUrlWithoutBase) => match base {
            Some(base) => config_base(resolver, base).and_then(|b| {
                join(&b, &text)
                    .map_err(|e| format!("cannot be joined to the config's base_url: {e}"))
            }),
            None => Err("is relative and no config gives a `base_url`".to_owned()),
        },
        Err(e) => Err(format!("is not a valid URL: {e}")),
    };
    let url = match parsed {
        Ok(url) => url,
        Err(message) => {
            errors.push(field, message);
            return None;
        }
    };
    match defaults.egress.check_url(&url) {
        Ok(_) => Some(url),
        Err(EgressDenied::Scheme(scheme)) => {
            errors.push(
                field,
                format!("scheme `{scheme}` is not allowed: use http or https"),
            );
            None
        }
        Err(EgressDenied::NoHost) => {
            errors.push(field, "has no host");
            None
        }
        Err(EgressDenied::Destination) => {
            errors.refuse(field, "destination denied by the egress policy");
            None
        }
    }
}

/// `Url::parse`, remembered for the last few URLs each thread parsed. The WHATWG parser
/// costs about 5,600 instructions for `http://127.0.0.1:8080/` (its host goes through
/// IDNA processing), and workflows call the same endpoints again and again; a hit is a
/// string comparison and a copy. Parsing is a pure function of the text, so a
/// remembered result is the result.
fn parse_url(text: &str) -> Result<Url, url::ParseError> {
    /// URLs remembered per thread, and the longest remembered.
    const KEPT: usize = 16;
    const LONGEST: usize = 512;
    thread_local! {
        static RECENT: std::cell::RefCell<std::collections::VecDeque<(Box<str>, Url)>> =
            const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
    }
    if text.len() > LONGEST {
        return Url::parse(text);
    }
    let hit = RECENT.with(|recent| {
        recent
            .borrow()
            .iter()
            .find(|(seen, _)| &**seen == text)
            .map(|(_, url)| url.clone())
    });
    if let Some(url) = hit {
        return Ok(url);
    }
    let url = Url::parse(text)?;
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        if recent.len() == KEPT {
            recent.pop_back();
        }
        recent.push_front((Box::from(text), url.clone()));
    });
    Ok(url)
}

/// The config's `base_url`, placeholders resolved.
fn config_base(resolver: &mut Resolver<'_>, base: &str) -> Result<Url, String> {
    let base = resolver.resolve(base).map_err(|e| e.message())?;
    Url::parse(&base).map_err(|e| format!("the config's base_url is invalid: {e}"))
}

/// Joins a relative path to a base URL as a directory: `https://a/v1` + `users` is
/// `https://a/v1/users` (plain `Url::join` would drop `v1`).
fn join(base: &Url, relative: &str) -> Result<Url, url::ParseError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(relative.trim_start_matches('/'))
}

fn build_headers(
    cfg: Option<&ConfigInput>,
    input: &TaskInput,
    resolver: &mut Resolver<'_>,
    errors: &mut Errors,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let sources = cfg
        .and_then(|c| c.headers.as_ref())
        .into_iter()
        .chain(input.headers.as_ref());
    for map in sources {
        for (name, value) in map {
            let field = format!("headers.{name}");
            let Ok(header) = HeaderName::from_bytes(name.trim().as_bytes()) else {
                errors.push(field, "is not a valid header name");
                continue;
            };
            let secrets_before = resolver.secrets_used;
            let value = match resolver.resolve(value) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(field, e.message());
                    continue;
                }
            };
            match HeaderValue::from_str(&value) {
                Ok(mut v) => {
                    // A value made from a secret is a credential whatever its name:
                    // sensitive, it is dropped when a redirect leaves the origin.
                    if resolver.secrets_used > secrets_before {
                        v.set_sensitive(true);
                    }
                    if flunq_http_client::is_credential_header(&header) {
                        v.set_sensitive(true);
                        // Hidden wherever it could come back (an echo, an error): the
                        // credential after the scheme of an `Authorization`
                        // (`Bearer <token>`, shown `Bearer ***`), else the whole value.
                        let scheme_and_credential = matches!(
                            header,
                            http::header::AUTHORIZATION | http::header::PROXY_AUTHORIZATION
                        );
                        match value.split_once(' ') {
                            Some((_, credential)) if scheme_and_credential => {
                                resolver.masker.add(credential.trim());
                            }
                            _ => resolver.masker.add(&value),
                        }
                    }
                    // The task's header replaces the config's of the same name.
                    headers.insert(header, v);
                }
                Err(_) => errors.push(field, "is not a valid header value"),
            }
        }
    }
    headers
}

fn encode_body(
    body: &Value,
    headers: &HeaderMap,
    resolver: &mut Resolver<'_>,
    errors: &mut Errors,
) -> Bytes {
    let resolved = match resolver.resolve_value(body) {
        Ok(v) => v,
        Err(e) => {
            errors.push("body", e.message());
            return Bytes::new();
        }
    };
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    match flunq_transform::encode(&resolved, content_type) {
        Ok(encoded) => Bytes::from(encoded.bytes),
        Err(e) => {
            errors.push("body", e.to_string());
            Bytes::new()
        }
    }
}

fn origin_of(call: &Call) -> String {
    match call {
        // scheme://host:port without `Url::origin`'s IDNA round trip.
        // Pieces pushed rather than `format!`ed: this runs for every submission.
        Call::Http(h) | Call::Graphql(h) => {
            let (scheme, host) = (h.url.scheme(), h.url.host_str().unwrap_or_default());
            let mut key = String::with_capacity(scheme.len() + host.len() + 9);
            key.push_str(scheme);
            key.push_str("://");
            key.push_str(host);
            key.push(':');
            let _ = write!(key, "{}", h.url.port_or_known_default().unwrap_or_default());
            key
        }
        Call::Database(d) => format!("postgres://{}:{}", d.target.host(), d.target.port()),
    }
}

/// The auth object with its placeholders filled; `None` (the fields at fault in
/// `errors`) when one has no value.
pub(crate) fn resolve_auth(
    auth: &AuthConfig,
    resolver: &mut Resolver<'_>,
    errors: &mut Errors,
) -> Option<AuthConfig> {
    let mut failed = false;
    let mut text = |field: &str, value: &Option<String>, errors: &mut Errors| -> Option<String> {
        let v = value.as_ref()?;
        match resolver.resolve(v) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(format!("auth.{field}"), e.message());
                failed = true;
                None
            }
        }
    };
    let mut resolved = auth.clone();
    match &mut resolved {
        AuthConfig::ApiKey(c) => {
            c.name = text("name", &c.name, errors);
            c.value = text("value", &expose(&c.value), errors).map(Secret::new);
        }
        AuthConfig::Bearer(c) => {
            c.token = text("token", &expose(&c.token), errors).map(Secret::new);
        }
        AuthConfig::Basic(c) => {
            c.username = text("username", &c.username, errors);
            c.password = text("password", &expose(&c.password), errors).map(Secret::new);
        }
        AuthConfig::OAuth2(c) => {
            c.token_url = text("token_url", &c.token_url, errors);
            c.client_id = text("client_id", &c.client_id, errors);
            c.client_secret =
                text("client_secret", &expose(&c.client_secret), errors).map(Secret::new);
            c.audience = text("audience", &c.audience, errors);
            c.username = text("username", &c.username, errors);
            c.password = text("password", &expose(&c.password), errors).map(Secret::new);
            c.refresh_token =
                text("refresh_token", &expose(&c.refresh_token), errors).map(Secret::new);
        }
        AuthConfig::Jwt(c) => {
            c.secret = text("secret", &expose(&c.secret), errors).map(Secret::new);
            c.private_key = text("private_key", &expose(&c.private_key), errors).map(Secret::new);
            c.key_id = text("key_id", &c.key_id, errors);
        }
    }
    (!failed).then_some(resolved)
}

fn expose(secret: &Option<Secret>) -> Option<String> {
    secret.as_ref().map(|s| s.expose().to_owned())
}

/// Every credential of an auth object is hidden wherever it could surface again.
fn mask_auth(auth: &AuthConfig, masker: &mut Masker) {
    for secret in auth.secrets().into_iter().filter_map(|(_, secret)| secret) {
        masker.add(secret.expose());
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_urls_are_the_parsers_own_results() {
        let texts: Vec<String> = (0..40)
            .map(|i| format!("http://127.0.0.{}:80{i}/p?q={i}", i % 4))
            .chain(["HTTP://EXAMPLE.com/%7e", "http://0x7f.1/", "not a url"].map(String::from))
            .collect();
        // Twice over, so the second pass reads remembered ones (and evicted ones again).
        for _ in 0..2 {
            for text in &texts {
                assert_eq!(parse_url(text), Url::parse(text), "{text}");
            }
        }
        let long = format!("http://127.0.0.1/{}", "a".repeat(600));
        assert_eq!(parse_url(&long), Url::parse(&long));
    }
}
