//! One call to the token endpoint: the form (RFC 6749 §4.3, §4.4, §6), client
//! authentication (§2.3.1), and the answer (§5.1 success, §5.2 error).

use std::time::Duration;

use base64::Engine as _;
use flunq_http_client::{Client, HeaderValue, Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::form_urlencoded;

use super::{AccessToken, Grant, GrantParams};
use crate::config::ClientAuth;
use crate::error::AuthError;
use crate::secret::Secret;

/// Token answers are small; anything larger is not one.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// How much of an `error_description` is kept.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// Asks the token endpoint for a token. `refresh_token` replaces the configured one
/// when the server rotated it on an earlier call.
pub(crate) async fn fetch(
    client: &Client,
    params: &GrantParams,
    refresh_token: Option<&Secret>,
) -> Result<AccessToken, AuthError> {
    let (body, authorization) = token_request(params, refresh_token);
    let mut request = Request::new(Method::POST, params.token_url.clone())
        .header(
            http_header("content-type"),
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )
        .header(
            http_header("accept"),
            HeaderValue::from_static("application/json"),
        )
        // A redirect would carry the form, credentials included, to wherever it points.
        .follow_redirects(false)
        .max_response_bytes(MAX_TOKEN_RESPONSE_BYTES)
        .body(body);
    if let Some(value) = authorization {
        request = request.header(http_header("authorization"), value);
    }
    let response = client.execute(request).await?;
    let status = response.status();
    if status.is_success() {
        parse_token(status, response.body())
    } else {
        Err(parse_error(status, response.body(), params))
    }
}

/// The form body, and the `Authorization` header when the client authenticates with
/// HTTP basic.
fn token_request(
    params: &GrantParams,
    refresh_token: Option<&Secret>,
) -> (String, Option<HeaderValue>) {
    let mut form = form_urlencoded::Serializer::new(String::new());
    match &params.grant {
        Grant::ClientCredentials => {
            form.append_pair("grant_type", "client_credentials");
        }
        Grant::Password { username, password } => {
            form.append_pair("grant_type", "password");
            form.append_pair("username", username);
            form.append_pair("password", password.expose());
        }
        Grant::RefreshToken {
            refresh_token: configured,
        } => {
            form.append_pair("grant_type", "refresh_token");
            form.append_pair(
                "refresh_token",
                refresh_token.unwrap_or(configured).expose(),
            );
        }
    }
    if let Some(scope) = &params.scope_param {
        form.append_pair("scope", scope);
    }
    if let Some(audience) = &params.audience {
        form.append_pair("audience", audience);
    }
    let authorization = match (&params.client_secret, params.client_auth) {
        (Some(secret), ClientAuth::Basic) => Some(client_basic(&params.client_id, secret)),
        (Some(secret), ClientAuth::Body) => {
            form.append_pair("client_id", &params.client_id);
            form.append_pair("client_secret", secret.expose());
            None
        }
        // A public client identifies itself in the body (RFC 6749 §3.2.1).
        (None, _) => {
            form.append_pair("client_id", &params.client_id);
            None
        }
    };
    (form.finish(), authorization)
}

fn http_header(name: &'static str) -> flunq_http_client::HeaderName {
    flunq_http_client::HeaderName::from_static(name)
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded *before* they are joined and
/// base64-encoded, so a `:` in the id cannot shift the boundary.
pub(crate) fn client_basic(client_id: &str, secret: &Secret) -> HeaderValue {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let secret: String = form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
    basic_value(&format!("{id}:{secret}"))
}

/// `Basic base64(text)`, marked sensitive.
pub(crate) fn basic_value(plain: &str) -> HeaderValue {
    let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
    let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
        // Base64 output is ASCII, always a valid header value.
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<Value>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

fn parse_token(status: StatusCode, body: &[u8]) -> Result<AccessToken, AuthError> {
    let invalid = |reason| AuthError::InvalidTokenResponse { status, reason };
    let parsed: TokenBody =
        serde_json::from_slice(body).map_err(|_| invalid("not a JSON token object"))?;
    let access_token = match parsed.access_token {
        // RFC 6750 §2.1: a bearer token is visible ASCII; anything else cannot be sent.
        Some(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()) => Secret::new(t),
        Some(_) => return Err(invalid("access_token is not a valid bearer token")),
        _ => return Err(invalid("no access_token")),
    };
    // RFC 6749 §7.1: a client must not use a token whose type it does not understand.
    // A missing type is taken as bearer, as most clients do.
    match parsed.token_type.as_deref() {
        None => {}
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return Err(invalid("token_type is not bearer")),
    }
    let expires_in = match parsed.expires_in {
        None | Some(Value::Null) => None,
        // Some servers send the number as a string.
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| invalid("expires_in is not a number"))?,
        ),
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .ok_or_else(|| invalid("expires_in is negative"))?,
        ),
        Some(_) => return Err(invalid("expires_in is not a number")),
    };
    Ok(AccessToken {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: expires_in.map(Duration::from_secs),
        refresh_token: parsed
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        scope: parsed.scope,
    })
}

fn parse_error(status: StatusCode, body: &[u8], params: &GrantParams) -> AuthError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let (code, description) = match parsed {
        Some(b) => (b.error, b.error_description),
        None => (None, None),
    };
    // RFC 6749 §5.2 limits the code to printable ASCII; anything else is dropped.
    let code = code.filter(|c| {
        !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| (0x20..=0x7E).contains(&b))
    });
    let description = description
        .map(|d| scrub(&d, params))
        .filter(|d| !d.is_empty());
    AuthError::TokenEndpoint {
        status,
        code,
        description,
    }
}

/// The description with every credential of the request masked, control characters
/// removed, and cut to a sane length: a server may echo what it was sent.
fn scrub(text: &str, params: &GrantParams) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).collect();
    let mut secrets: Vec<&str> = Vec::new();
    // The basic credential as sent, should the server echo the header.
    let basic = params
        .client_secret
        .as_ref()
        .map(|s| client_basic(&params.client_id, s));
    let basic = basic
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    secrets.extend(basic);
    if let Some(s) = &params.client_secret {
        secrets.push(s.expose());
    }
    match &params.grant {
        Grant::Password { password, .. } => secrets.push(password.expose()),
        Grant::RefreshToken { refresh_token } => secrets.push(refresh_token.expose()),
        Grant::ClientCredentials => {}
    }
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, Secret::MASK);
        let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        out = out.replace(&encoded, Secret::MASK);
    }
    if out.chars().count() > MAX_DESCRIPTION_CHARS {
        out = out.chars().take(MAX_DESCRIPTION_CHARS).collect::<String>() + "...";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_basic_form_encodes_before_base64() {
        let v = client_basic("my client:1", &Secret::new("p&ss word"));
        // base64("my+client%3A1:p%26ss+word")
        let expected =
            base64::engine::general_purpose::STANDARD.encode("my+client%3A1:p%26ss+word");
        assert_eq!(v.to_str().unwrap(), format!("Basic {expected}"));
        assert!(v.is_sensitive());
    }

    #[test]
    fn token_parses_with_string_expires_in_and_lowercase_type() {
        let t = parse_token(
            StatusCode::OK,
            br#"{"access_token":"a","token_type":"bearer","expires_in":"60"}"#,
        )
        .unwrap();
        assert_eq!(t.expires_in(), Some(Duration::from_secs(60)));
        assert_eq!(t.token_type(), "Bearer");
    }

    #[test]
    fn token_of_unknown_type_is_refused() {
        let e = parse_token(
            StatusCode::OK,
            br#"{"access_token":"a","token_type":"mac"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, AuthError::InvalidTokenResponse { .. }));
    }
}
