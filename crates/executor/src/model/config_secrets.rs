//! Secrets of stored configurations: validation, masking, and keeping stored values
//! when a `PUT` sends `***` back.

use flunq_auth::{AuthConfig, Secret};

use super::config::ConfigInput;
use super::errors::{Errors, Invalid};
use super::placeholder::MASK;

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
        Some(_) => {}
    }
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
    if let Some(conn) = &input.connection
        && !conn.expose().contains("${")
        && let Err(e) = flunq_postgres::ConnectionTarget::parse(conn.expose())
    {
        errors.push("connection", e.to_string());
    }
    errors.finish(|| ())
}

/// A connection string with its password replaced by `***`.
pub(crate) fn mask_connection(connection: &str) -> String {
    if let Ok(mut url) = url::Url::parse(connection) {
        if url.password().is_some() {
            let _ = url.set_password(Some(MASK));
        }
        return url.to_string();
    }
    // key=value form: mask the value of `password`.
    connection
        .split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={MASK}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
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
}

fn keep(new: &mut Option<Secret>, old: &Option<Secret>) {
    if new.as_ref().is_some_and(|s| s.expose() == MASK) {
        new.clone_from(old);
    }
}

fn keep_masked_auth(new: &mut AuthConfig, old: &AuthConfig) {
    match (new, old) {
        (AuthConfig::ApiKey(n), AuthConfig::ApiKey(o)) => keep(&mut n.value, &o.value),
        (AuthConfig::Bearer(n), AuthConfig::Bearer(o)) => keep(&mut n.token, &o.token),
        (AuthConfig::Basic(n), AuthConfig::Basic(o)) => keep(&mut n.password, &o.password),
        (AuthConfig::OAuth2(n), AuthConfig::OAuth2(o)) => {
            keep(&mut n.client_secret, &o.client_secret);
            keep(&mut n.password, &o.password);
            keep(&mut n.refresh_token, &o.refresh_token);
        }
        (AuthConfig::Jwt(n), AuthConfig::Jwt(o)) => {
            keep(&mut n.secret, &o.secret);
            keep(&mut n.private_key, &o.private_key);
        }
        _ => {}
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
