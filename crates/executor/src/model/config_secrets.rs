//! Secrets of stored configurations: validation, masking, and keeping stored values
//! when a `PUT` sends `***` back.

use flunq_auth::AuthConfig;

use super::config::ConfigInput;
use super::errors::{Errors, Invalid};
use super::placeholder::MASK;
use super::shown::url_without_password;

/// Validates a configuration's settings once, naming the field at fault.
pub(crate) fn validate_config(input: &ConfigInput) -> Result<(), Invalid> {
    let mut errors = Errors::default();
    match input.name.as_deref().map(str::trim) {
        None => errors.push("name", "missing field `name`"),
        Some("") => errors.push("name", "must not be empty"),
        Some(name) if name.len() > 200 => errors.push("name", "at most 200 characters"),
        Some(name) if name.chars().any(char::is_control) => {
            errors.push("name", "must not contain control characters");
        }
        // Configs are found by id or name, ids first: such a name could never be used.
        Some(name) if uuid::Uuid::parse_str(name).is_ok() => {
            errors.push("name", "must not have the form of a config id (a UUID)");
        }
        Some(_) => {}
    }
    validate_headers(input, &mut errors);
    validate_auth(input, &mut errors);
    if let Some(base) = &input.base_url
        && !base.contains("${")
    {
        match url::Url::parse(base) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            Ok(_) => errors.push("base_url", "must use http or https"),
            Err(e) => errors.push("base_url", format!("is not a valid URL: {e}")),
        }
    }
    if let Some(cb) = &input.circuit_breaker
        && let Err((field, message)) = crate::limits::breaker_config(cb)
    {
        errors.push(field, message);
    }
    if let Some(rl) = &input.rate_limit
        && let Err((field, message)) = crate::limits::limit_spec(rl)
    {
        errors.push(field, message);
    }
    if let Some(timeout) = input.timeout
        && timeout.get().is_zero()
    {
        errors.push("timeout", "must be greater than zero");
    }
    unresolved_masks(input, &mut errors);
    if let Some(conn) = &input.connection
        && !conn.expose().contains("${")
        && conn.expose() != MASK
        && let Err(e) = flunq_postgres::ConnectionTarget::parse(conn.expose())
    {
        errors.push("connection", e.to_string());
    }
    errors.finish(|| ())
}

/// Header names, and the values that hold no placeholder (those are checked with each
/// task, once filled).
fn validate_headers(input: &ConfigInput, errors: &mut Errors) {
    for (name, value) in input.headers.iter().flatten() {
        let field = format!("headers.{name}");
        if http::HeaderName::from_bytes(name.trim().as_bytes()).is_err() {
            errors.push(field, "is not a valid header name");
        } else if !value.contains("${") && http::HeaderValue::from_str(value).is_err() {
            errors.push(field, "is not a valid header value");
        }
    }
}

/// The auth object as each task would build it, when the config alone fills it: with
/// no placeholder, or with placeholders its own `secrets` fill. One that needs a task's
/// `inputs` is checked with each task. A `***` sent back by a `PUT` is checked against
/// the stored value, by the caller, after it is put back.
fn validate_auth(input: &ConfigInput, errors: &mut Errors) {
    let Some(auth) = &input.auth else { return };
    if auth
        .secrets()
        .into_iter()
        .any(|(_, secret)| secret.is_some_and(|s| s.expose() == MASK))
    {
        return;
    }
    let no_inputs = serde_json::Map::new();
    let mut resolver = super::placeholder::Resolver::new(&no_inputs, input.secrets.as_ref());
    let mut unresolved = Errors::default();
    let Some(resolved) = super::validate::resolve_auth(auth, &mut resolver, &mut unresolved) else {
        return;
    };
    if let Err(e) = resolved.validate() {
        let field = e.field().map_or_else(|| "auth".to_owned(), str::to_owned);
        errors.push(field, e.to_string());
    }
}

/// A connection string with its password replaced by `***`: the URL's password and a
/// `password` query parameter, or the `password` of the key=value form (spaces around
/// `=` and quoted values included). A string neither form reads is `***` whole.
pub(crate) fn mask_connection(connection: &str) -> String {
    if connection.starts_with("postgres://") || connection.starts_with("postgresql://") {
        let Ok(mut url) = url::Url::parse(connection) else {
            return MASK.to_owned();
        };
        if url.password().is_some() {
            let _ = url.set_password(Some(MASK));
        }
        if url
            .query_pairs()
            .any(|(k, _)| k.eq_ignore_ascii_case("password"))
        {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") {
                        MASK.to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return url.to_string();
    }
    mask_key_values(connection).unwrap_or_else(|| MASK.to_owned())
}

/// The key=value form (libpq's rules: `key = value`, values in single quotes with `\`
/// escapes) with the value of `password` as `***`; `None` if it does not read as that.
fn mask_key_values(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace())?;
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start().strip_prefix('=')?.trim_start();
        let value_len = if let Some(quoted) = rest.strip_prefix('\'') {
            let mut escaped = false;
            let close = quoted.char_indices().find_map(|(i, c)| {
                let end = !escaped && c == '\'';
                escaped = !escaped && c == '\\';
                end.then_some(i)
            })?;
            close + 2
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        let value = if key.eq_ignore_ascii_case("password") {
            MASK
        } else {
            &rest[..value_len]
        };
        out.push(format!("{key}={value}"));
        rest = rest[value_len..].trim_start();
    }
    Some(out.join(" "))
}

/// A `PUT` that sends `***` back for a secret keeps the stored value.
pub(crate) fn keep_masked_secrets(incoming: &mut ConfigInput, stored: &ConfigInput) {
    if let (Some(new), Some(old)) = (incoming.secrets.as_mut(), stored.secrets.as_ref()) {
        for (name, value) in new.iter_mut() {
            if value.expose() == MASK
                && let Some(kept) = old.get(name)
            {
                *value = kept.clone();
            }
        }
    }
    if let (Some(new), Some(old)) = (incoming.connection.as_mut(), stored.connection.as_ref())
        && (new.expose() == MASK || new.expose() == mask_connection(old.expose()))
    {
        *new = old.clone();
    }
    if let (Some(new), Some(old)) = (incoming.auth.as_mut(), stored.auth.as_ref()) {
        keep_masked_auth(new, old);
    }
    // Credential headers and a base URL's password are shown as `***` too.
    if let (Some(new), Some(old)) = (incoming.headers.as_mut(), stored.headers.as_ref()) {
        for (name, value) in new.iter_mut() {
            if value == MASK
                && let Some((_, kept)) = old.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                value.clone_from(kept);
            }
        }
    }
    if let (Some(new), Some(old)) = (incoming.base_url.as_mut(), stored.base_url.as_ref())
        && url_without_password(old).as_deref() == Some(new.as_str())
    {
        new.clone_from(old);
    }
}

/// Every field still `***` once stored values are kept: a `***` with nothing stored
/// behind it (sent on create, or for a field the stored config does not have).
fn unresolved_masks(input: &ConfigInput, errors: &mut Errors) {
    const NOTHING_KEPT: &str =
        "is `***` (a masked value) but no stored value is kept for it: send the value itself";
    for (name, value) in input.secrets.iter().flatten() {
        if value.expose() == MASK {
            errors.push(format!("secrets.{name}"), NOTHING_KEPT);
        }
    }
    if let Some(conn) = &input.connection
        && (conn.expose() == MASK
            || url::Url::parse(conn.expose()).is_ok_and(|u| u.password() == Some(MASK)))
    {
        errors.push("connection", NOTHING_KEPT);
    }
    for (name, value) in input.headers.iter().flatten() {
        if value == MASK {
            errors.push(format!("headers.{name}"), NOTHING_KEPT);
        }
    }
    if let Some(base) = &input.base_url
        && url::Url::parse(base).is_ok_and(|u| u.password() == Some(MASK))
    {
        errors.push("base_url", NOTHING_KEPT);
    }
    for (field, value) in input.auth.iter().flat_map(AuthConfig::secrets) {
        if value.is_some_and(|s| s.expose() == MASK) {
            errors.push(format!("auth.{field}"), NOTHING_KEPT);
        }
    }
}

/// Each credential sent back as `***` takes the stored one (same auth type only).
fn keep_masked_auth(new: &mut AuthConfig, old: &AuthConfig) {
    if new.kind() != old.kind() {
        return;
    }
    let stored = old.secrets();
    for (name, value) in new.secrets_mut() {
        if value.as_ref().is_some_and(|s| s.expose() == MASK)
            && let Some((_, kept)) = stored.iter().find(|(n, _)| *n == name)
        {
            *value = kept.cloned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_connection_passwords() {
        assert_eq!(
            mask_connection("postgres://u:pw@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(
            mask_connection("host=db user=u password=pw"),
            "host=db user=u password=***"
        );
        assert_eq!(mask_connection("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(
            mask_connection("postgres://u@db/x?sslmode=require&password=pw-canary"),
            "postgres://u@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            mask_connection("host=db password = pw-canary user=u"),
            "host=db password=*** user=u"
        );
        assert_eq!(
            mask_connection(r"host=db password='a b\' c' user='x y'"),
            "host=db password=*** user='x y'"
        );
        // Neither form: hidden whole.
        assert_eq!(mask_connection("host=db password='unterminated"), "***");
        assert_eq!(mask_connection("postgres://u:pw@[bad/x"), "***");
    }

    #[test]
    fn put_with_masked_secrets_keeps_stored_values() {
        let stored: ConfigInput = serde_json::from_str(
            r#"{"name": "a", "secrets": {"token": "real"}, "auth": {"type": "bearer", "token": "real-bearer"}}"#,
        )
        .unwrap();
        let mut incoming: ConfigInput = serde_json::from_str(
            r#"{"name": "a", "secrets": {"token": "***", "new": "n"}, "auth": {"type": "bearer", "token": "***"}}"#,
        )
        .unwrap();
        keep_masked_secrets(&mut incoming, &stored);
        let secrets = incoming.secrets.unwrap();
        assert_eq!(secrets["token"].expose(), "real");
        assert_eq!(secrets["new"].expose(), "n");
        let AuthConfig::Bearer(b) = incoming.auth.unwrap() else {
            panic!("bearer")
        };
        assert_eq!(b.token.unwrap().expose(), "real-bearer");
    }
}
