//! The OpenAPI 3.1 document of the API, served at `/api/v1/openapi.json`. Where
//! `shared/API.md` is silent, the choices made are written here (see `x-decisions`).

use serde_json::{Value, json};

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn record(description: &str) -> Value {
    json!({
        "description": description,
        "headers": {"Location": {"schema": {"type": "string"}, "description": "/api/v1/executions/{id}"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Execution"}}}
    })
}

/// A submission's answer: a record, and `Preference-Applied` when `Prefer: wait` was honoured.
fn submitted(description: &str) -> Value {
    let mut response = record(description);
    response["headers"]["Preference-Applied"] = json!({"schema": {"type": "string"},
        "description": "wait=N, the seconds held, when Prefer: wait was honoured (not when ?wait= is given)"});
    response
}

fn config(description: &str) -> Value {
    json!({
        "description": description,
        "headers": {"ETag": {"schema": {"type": "string"}, "description": "The version, quoted: use it in If-Match"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConfigRecord"}}}
    })
}

/// A path segment that is not UTF-8 once percent-decoded (`%FF`).
fn bad_id() -> Value {
    problem("The id is not UTF-8 once percent-decoded (`errors` names `id`)")
}

fn id_param(description: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": description})
}

/// The document.
pub fn document() -> Value {
    let duration = json!({"type": "string", "pattern": "^[0-9]", "examples": ["250ms", "30s", "5m", "1h"],
        "description": "A duration with its unit; a bare number is refused"});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "flunq executor API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Runs HTTP, GraphQL and PostgreSQL tasks with timeouts, retries, circuit breakers, rate limits and authentication.",
            "x-decisions": [
                "With API_KEYS set, every request under /api/v1 without one of the keys is a 401, paths no route takes and methods a route does not take included (a caller without a key learns nothing of what exists); /healthz, /readyz and /metrics stay open.",
                "Placeholders are replaced as text: in `url` and `endpoint` a value goes in as it is, not percent-encoded (it may be a path or a whole URL); a value for a query parameter belongs in `query`, which is encoded.",
                "A task naming an unknown `config` is a 400 with field `config`.",
                "A task naming a config that has a `base_url` may give a relative `url`/`endpoint` (joined to it as a directory) or an absolute one on the same origin (scheme, host and port); an absolute one on another origin is a 400 naming the field, so that the config's auth, headers and secrets never reach another host. A config without `base_url` applies to whatever URL the task gives.",
                "A problem about the body as a whole (malformed JSON, an empty body, not a JSON object) has no `errors`: no field is at fault, and its `detail` says what is wrong.",
                "Unknown fields in a task or config are a 400 naming the field (typos are caught), and so is a key given twice in one object.",
                "A config is checked when it is stored: header names and values, and its `auth` as each task would build it when the config alone fills it (no placeholder, or placeholders its own `secrets` fill); an `auth` whose placeholders need a task's `inputs` is checked with each task. A config name may not have the form of a UUID (configs are found by id or name, ids first).",
                "A field that belongs to another task type (e.g. `endpoint` on an http task) is a 400.",
                "`?wait=` takes `true` (60 s), `false`, or a duration with its unit up to 60s (`?wait=10s`); `?wait` with no value (or `?wait=`) is `true`, as a flag; more, or a bare number (`?wait=5`), is a 400. `Prefer: wait=N` (RFC 7240) is N seconds: the name in any case, the value quoted or not, whitespace around `=`, `,` and `;`, beside other preferences in one header or several; the first `wait` counts, and one whose value is not a whole number of seconds is ignored. Above 60 it is held 60 s. When it is honoured the response says `Preference-Applied: wait=N` with the seconds applied. With both, `?wait=` wins (`?wait=false` too) and the preference is not applied.",
                "An idempotency key seen before returns the first execution with 200, whatever its status; under `?wait=` or `Prefer: wait` it is first waited for like a new one. A key (header or field) is not empty and at most 255 bytes; given both as header and as field, they must be the same. Else 400 with field `idempotency_key`.",
                "A record's `task` is the task as submitted (durations and fields as written), with credentials as \"***\": the secret fields of `auth`, a connection string's password, the values of credential headers (Authorization, Proxy-Authorization, Cookie, and names containing key, token, secret, signature, password or auth) and a URL's password.",
                "Secret values are masked in results and errors wherever they occur (as written, and in their URL-encoded forms: form encoding and percent encoding), and so is the credential an `auth` sent with each attempt (basic credentials in their base64 form, an OAuth2 access token, a signed JWT) where the upstream echoes it; values shorter than 4 characters only where they stand as a token of their own (not next to a letter or digit), so that `1` does not mask every digit. Bodies shown as base64 are masked in their bytes.",
                "A config's `connection`, its credential headers and a `base_url` password are shown as \"***\" like its secrets; a PUT that sends any masked value back keeps the stored one, and a \"***\" with nothing stored behind it is a 400 naming the field.",
                "Executions waiting for one rate limit are served in the order they came (within an instance; with Redis, instances compete for the shared limit).",
                "`retry.max_elapsed` also bounds the wait for a rate limit: past it the execution fails with kind `timeout` and nothing is sent. It bounds a running attempt too: an attempt gets the time left when that is less than its `timeout`, and none starts once it is over.",
                "Durations are at most 365 days; a longer one is a 400 naming its field.",
                "An OAuth2 `token_url` that is a literal address the egress policy denies is a 422 at submission, as `url` and `endpoint` are.",
                "`localhost` and names under `.localhost` mean the loopback interface (RFC 6761): like a literal loopback address, they are a 422 at submission unless the egress policy opens loopback. Other names are resolved when the attempt runs, and a denied address fails it with kind `egress_denied`.",
                "Request bodies to this API are read as JSON whatever their Content-Type (`curl -d` sends `application/x-www-form-urlencoded`); a body that is not a JSON object is a 400.",
                "A task `body` under a `text/*` Content-Type: a string is sent as it is; any other JSON value is sent as its JSON text.",
                "A `basic` auth without `password` sends an empty password (`user:`, RFC 7617 allows it; some APIs take a key as the user name).",
                "A GraphQL `result` holds the members the server sent (`data`, `errors`, `extensions`), none added.",
                "A response body that does not decode as `response_format` asks comes back as {\"decode_error\": \"<why>\", \"text\": \"<the body>\"} ({\"decode_error\", \"base64\"} when it is not UTF-8); the attempt is judged by its status as any other. Under `auto`, a body its Content-Type does not describe comes back as a string when it is UTF-8 text (a JSON body that does not parse included), else as {\"base64\": ...}; ask for `json` to have a parse failure reported.",
                "Database results: types beyond API.md's list come back as the text PostgreSQL writes for them (interval, timetz, inet, cidr, macaddr, macaddr8), others as {\"type\": \"<name>\", \"base64\": \"<binary value>\"} (results arrive in binary; select `col::text` for the text of any type). `timestamp` without time zone comes back without an offset (`2024-01-01T10:00:00`): the type has none, and adding `Z` would claim one.",
                "A redirect to another origin (scheme, host or port) is followed without the credentials: Authorization, Proxy-Authorization, Cookie, the header of an `auth`, headers whose name mentions a key, token, secret, signature, password or auth, and headers whose value was made from a config's secret. Other headers travel on.",
                "More than 10 redirects (or a loop), or a redirect without a usable `Location`, fail the attempt with kind `http_status`, not retried.",
                "An attempt a cancel cuts off is in the record, with error kind `cancelled` and no status code (added by the instance that ran it, a moment after the cancel's answer).",
                "`flunq_circuit_state` has a series for each breaker that has left `closed` at least once (up to 10,000 keys, those back in `closed` dropped first beyond that); a key without a series is closed. A series per breaker ever created would grow with every origin called.",
                "`flunq_upstream_requests_total` is labelled by the upstream's origin (scheme://host:port) and counts only attempts that were sent (not those refused by an open circuit or the egress policy, nor those whose token could not be fetched; a redirect hop the policy refuses counts, as the first request was sent); a host resolved from a config's secrets shows as `***` in it.",
                "On SIGTERM or SIGINT the API goes on answering while running executions finish (up to 30 s): /readyz and submissions answer 503, records and cancels as usual; then the listener closes.",
                "POST and PATCH are retried after a response status only with `retry.retry_unsafe: true` or an idempotency key; after connect, DNS or TLS failures always. A GraphQL mutation is held to the same rule (queries and subscriptions are not): the operation run is the one `operation_name` names, else the document's only one; when that cannot be told, the document counts as a mutation if it has one.",
                "`retry.retry_unsafe` lives in the retry object.",
                "A 401 from the upstream under OAuth2 drops the cached token and resends once within the same attempt.",
                "The circuit breaker counts 5xx, 408, 429, timeouts and connection failures as failures; other 4xx as successes.",
                "An attempt an open circuit refuses (kind `circuit_open`) is not retried: it is not in API.md's list of what is retried, and the breaker is there to fail fast while the upstream is down.",
                "Tasks without a config get a breaker per origin: 50% failures over 60s after 10 calls, open 30s, 3 probes.",
                "GET /api/v1/executions: `limit` 1..1000, default 50; `next` is the cursor of the following page; a `cursor` that is not one is a 400.",
                "A query parameter of a route given more than once (`?status=failed&status=succeeded`), or a path segment that is not UTF-8 once percent-decoded (`/api/v1/executions/%FF`), is a 400 problem naming the parameter in `errors`. Parameters no route reads are ignored, repeated or not.",
                "Config responses carry an ETag with the version. A PUT's If-Match (RFC 9110 §13.1.1) is `*` (any current version: the config is replaced if it exists, 404 if not, as without If-Match) or a list of versions (\"2\", \"3\", over one or several header lines: replaced if one of them is current, else 412, checked before the body is validated; 404 if there is no such config). Besides strong tags, W/\"3\" and a bare 3 are read as version 3 for compatibility, although RFC 9110 never matches a weak tag under If-Match. An entry that is not a version, or `*` within a list, is a 400.",
                "Response headers that carry credentials (Set-Cookie, Authorization...) are left out of `result.headers`.",
                "With REDIS_URL, the instance that runs an execution resolves its config when it starts it: a config changed or deleted between submission and start applies (deleted: the execution fails with kind `internal`). In memory, the config is resolved at submission.",
                "With REDIS_URL, an execution handed over from an instance that died keeps its recorded attempts; the attempt cut off by the death is run again (at least once).",
                "With REDIS_URL, a job delivered more than 5 times ends `failed` with kind `internal` and goes to the dead-letter stream `{prefix}:dead`.",
                "With REDIS_URL, /readyz is 503 while Redis does not answer a PING; submissions then fail with 503.",
                "With REDIS_URL, while Redis is out of reach rate limits fall back to each instance's own limiter with the same quota."
            ]
        },
        "servers": [{"url": "http://localhost:8083"}],
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "One of API_KEYS, when set: `Authorization: Bearer <key>`, the scheme in any case (RFC 9110 §11.1)"}},
            "schemas": {
                "Duration": duration,
                "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string"}, "message": {"type": "string"}}}}}},
                "Retry": {"type": "object", "additionalProperties": false, "properties": {
                    "policy": {"enum": ["fixed", "exponential", "linear", "custom", "none"], "default": "exponential"},
                    "delay": {"$ref": "#/components/schemas/Duration", "default": "100ms"},
                    "max_delay": {"$ref": "#/components/schemas/Duration", "default": "30s"},
                    "multiplier": {"type": "number", "minimum": 1, "default": 2.0},
                    "increment": {"$ref": "#/components/schemas/Duration"},
                    "delays": {"type": "array", "items": {"$ref": "#/components/schemas/Duration"}},
                    "jitter": {"enum": ["none", "full", "equal", "decorrelated"]},
                    "max_elapsed": {"$ref": "#/components/schemas/Duration"},
                    "on_status": {"type": "array", "items": {"type": "integer"}, "default": [408, 425, 429, 500, 502, 503, 504]},
                    "retry_unsafe": {"type": "boolean", "default": false}}},
                "Auth": {"type": "object", "required": ["type"], "properties": {
                    "type": {"enum": ["api_key", "bearer", "basic", "oauth2", "jwt"]}},
                    "description": "api_key {name, value, in}; bearer {token}; basic {username, password}; oauth2 {grant_type, token_url, client_id, client_secret, scopes, audience, username, password, refresh_token, client_auth}; jwt {algorithm, secret, private_key, claims, expires_in, key_id, header, scheme}"},
                "Task": {"type": "object", "required": ["type"], "additionalProperties": false, "properties": {
                    "type": {"enum": ["http", "graphql", "database"]},
                    "config": {"type": "string"}, "timeout": {"$ref": "#/components/schemas/Duration"},
                    "retries": {"type": "integer", "minimum": 0}, "retry": {"$ref": "#/components/schemas/Retry"},
                    "auth": {"$ref": "#/components/schemas/Auth"}, "inputs": {"type": "object"},
                    "idempotency_key": {"type": "string"},
                    "method": {"type": "string", "default": "GET"}, "url": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "query": {"description": "http: object of query parameters; graphql: the document; database: the SQL"},
                    "body": {}, "follow_redirects": {"type": "boolean", "default": true},
                    "response_format": {"enum": ["auto", "json", "xml", "text", "base64"], "default": "auto"},
                    "endpoint": {"type": "string"}, "variables": {"type": "object"}, "operation_name": {"type": "string"},
                    "connection": {"type": "string"}, "params": {"type": "array"},
                    "read_only": {"type": "boolean", "default": false}, "max_rows": {"type": "integer", "default": 10000}}},
                "Attempt": {"type": "object", "properties": {
                    "number": {"type": "integer"}, "started_at": {"type": "string", "format": "date-time"},
                    "duration_ms": {"type": "integer"}, "status_code": {"type": "integer"},
                    "error": {"$ref": "#/components/schemas/Error"}}},
                "Error": {"type": ["object", "null"], "properties": {
                    "kind": {"enum": ["timeout", "connect", "tls", "http_status", "circuit_open", "egress_denied",
                        "response_too_large", "auth", "graphql", "database", "cancelled", "internal"]},
                    "message": {"type": "string"}}},
                "Execution": {"type": "object", "properties": {
                    "id": {"type": "string"}, "type": {"enum": ["http", "graphql", "database"]},
                    "status": {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "started_at": {"type": ["string", "null"], "format": "date-time"},
                    "finished_at": {"type": ["string", "null"], "format": "date-time"},
                    "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
                    "result": {}, "error": {"$ref": "#/components/schemas/Error"},
                    "task": {"type": "object", "description": "The submitted task, secrets masked"}}},
                "Config": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                    "name": {"type": "string"}, "base_url": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "auth": {"$ref": "#/components/schemas/Auth"}, "timeout": {"$ref": "#/components/schemas/Duration"},
                    "retries": {"type": "integer"}, "retry": {"$ref": "#/components/schemas/Retry"},
                    "circuit_breaker": {"type": "object", "properties": {
                        "failure_rate": {"type": "number", "default": 0.5}, "minimum_calls": {"type": "integer", "default": 10},
                        "window": {"$ref": "#/components/schemas/Duration"}, "open_for": {"$ref": "#/components/schemas/Duration"},
                        "half_open_calls": {"type": "integer", "default": 3},
                        "slow_call_duration": {"$ref": "#/components/schemas/Duration"},
                        "slow_call_rate": {"type": "number", "default": 1.0},
                        "consecutive_failures": {"type": "integer"}}},
                    "rate_limit": {"type": "object", "required": ["rate"], "properties": {
                        "algorithm": {"enum": ["token_bucket", "sliding_window"], "default": "token_bucket"},
                        "rate": {"type": "integer"}, "per": {"$ref": "#/components/schemas/Duration"},
                        "burst": {"type": "integer"}}},
                    "secrets": {"type": "object", "additionalProperties": {"type": "string"}},
                    "connection": {"type": "string"}}},
                "ConfigRecord": {"allOf": [{"$ref": "#/components/schemas/Config"}, {"type": "object", "properties": {
                    "id": {"type": "string"}, "version": {"type": "integer"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"}}}]}
            }
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/api/v1/execute": {"post": {
                "summary": "Submit a task",
                "parameters": [
                    {"name": "wait", "in": "query", "schema": {"type": "string"}, "description": "true, false, or a duration up to 60s; wins over Prefer"},
                    {"name": "Prefer", "in": "header", "schema": {"type": "string"}, "description": "wait=N (seconds, at most 60 held; RFC 7240), ignored when ?wait= is given"},
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}},
                "responses": {
                    "200": submitted("Finished within the wait, or an earlier execution with the same idempotency key"),
                    "202": submitted("Accepted and queued (or still running after the wait)"),
                    "400": problem("Malformed or invalid task, or an invalid or repeated `wait`; nothing queued"),
                    "401": problem("Missing or wrong API key"),
                    "413": problem("Body larger than MAX_REQUEST_BYTES"),
                    "422": problem("Refused by the egress policy; nothing queued"),
                    "503": problem("Shutting down")}}},
            "/api/v1/executions": {"get": {
                "summary": "Recent executions, newest first",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "A page", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Execution"}},
                        "next": {"type": ["string", "null"]}}}}}},
                    "400": problem("Invalid or repeated status, limit or cursor")}}},
            "/api/v1/executions/{id}": {"get": {
                "summary": "One execution",
                "parameters": [id_param("The execution's id")],
                "responses": {"200": record("The record"), "400": bad_id(), "404": problem("Unknown or expired")}}},
            "/api/v1/executions/{id}/cancel": {"post": {
                "summary": "Cancel an execution",
                "parameters": [id_param("The execution's id")],
                "responses": {"200": record("Now cancelled"), "400": bad_id(), "404": problem("Unknown"),
                    "409": problem("Already finished; the record is in `detail`")}}},
            "/api/v1/configs": {
                "post": {"summary": "Create a configuration",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Config"}}}},
                    "responses": {"201": config("Created (Location header)"), "400": problem("Invalid"), "409": problem("Duplicate name")}},
                "get": {"summary": "Every configuration",
                    "responses": {"200": {"description": "All", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/ConfigRecord"}}}}}}}}}},
            "/api/v1/configs/{id}": {
                "get": {"summary": "One configuration (by id or name)", "parameters": [id_param("Id or name")],
                    "responses": {"200": config("The configuration"), "400": bad_id(), "404": problem("Unknown")}},
                "put": {"summary": "Replace a configuration",
                    "parameters": [id_param("Id or name"), {"name": "If-Match", "in": "header", "schema": {"type": "string"},
                        "description": "`*`, or versions as sent in ETag: \"3\", or a list \"2\", \"3\""}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Config"}}}},
                    "responses": {"200": config("Replaced"), "400": problem("Invalid config, If-Match or id"), "404": problem("Unknown"),
                        "409": problem("Duplicate name"), "412": problem("No version in If-Match is current")}},
                "delete": {"summary": "Delete a configuration", "parameters": [id_param("Id or name")],
                    "responses": {"204": {"description": "Deleted"}, "400": bad_id(), "404": problem("Unknown")}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/healthz": {"get": {"summary": "Process alive", "security": [], "responses": {"200": {"description": "Alive"}}}},
            "/readyz": {"get": {"summary": "Ready to take work", "security": [],
                "responses": {"200": {"description": "Ready"}, "503": problem("Shutting down, or Redis out of reach")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                "responses": {"200": {"description": "The Prometheus text format (0.0.4); OpenMetrics 1.0 when the Accept header asks for application/openmetrics-text", "content": {"text/plain; version=0.0.4": {}, "application/openmetrics-text; version=1.0.0": {}}}}}}
        }
    })
}
