//! What records and config responses show of what was submitted: the task as sent (its
//! durations and fields as written), with every credential in it as `***`: the secret
//! fields of `auth`, the password of a connection string, the values of credential
//! headers (`Authorization`, `Cookie`, `X-Api-Key`, ...) and the password of a URL.

use std::collections::BTreeMap;

use flunq_auth::{AuthConfig, Secret};
use flunq_http_client::{HeaderName, is_credential_header};
use serde::Serializer;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::config_secrets::mask_connection;
use super::input::TaskInput;
use super::placeholder::MASK;
use super::validate::looks_like_connection_string;

/// The task as records show it: as submitted (`body`, already parsed into `input`), with
/// credentials as `***`.
pub(crate) fn masked_task(input: &TaskInput, body: &[u8]) -> Box<RawValue> {
    let needs_mask = input.auth.is_some()
        || input.connection.is_some()
        || input
            .headers
            .as_ref()
            .is_some_and(|h| h.keys().any(|n| credential(n)))
        || [&input.url, &input.endpoint]
            .into_iter()
            .any(|u| u.as_deref().is_some_and(|u| u.contains('@')));
    if !needs_mask && let Ok(raw) = serde_json::from_slice::<Box<RawValue>>(body) {
        return raw;
    }
    let mut task: Value = match serde_json::from_slice(body) {
        Ok(task) => task,
        Err(_) => return null(),
    };
    if let Some(task) = task.as_object_mut() {
        mask_task_object(task);
    }
    // A JSON tree with string keys always serializes; `null` is the fallback.
    serde_json::value::to_raw_value(&task).unwrap_or_else(|_| null())
}

fn null() -> Box<RawValue> {
    // "null" is valid JSON, so this cannot fail; the default is `null` too.
    RawValue::from_string("null".to_owned()).unwrap_or_default()
}

fn mask_task_object(task: &mut Map<String, Value>) {
    // First, while the templates still name them: inputs that credentials are made of.
    let behind = inputs_behind_credentials(task);
    if let Some(Value::Object(inputs)) = task.get_mut("inputs") {
        for name in behind {
            if let Some(value) = inputs.get_mut(&name) {
                *value = Value::String(MASK.to_owned());
            }
        }
    }
    if let Some(Value::Object(auth)) = task.get_mut("auth") {
        for field in AuthConfig::SECRET_FIELDS {
            if let Some(value) = auth.get_mut(field)
                && value.is_string()
            {
                *value = Value::String(MASK.to_owned());
            }
        }
    }
    // A connection string's password; the name of a stored config stays as written.
    if let Some(Value::String(connection)) = task.get_mut("connection")
        && looks_like_connection_string(connection)
    {
        *connection = mask_connection(connection);
    }
    if let Some(Value::Object(headers)) = task.get_mut("headers") {
        for (name, value) in headers.iter_mut() {
            if credential(name) {
                *value = Value::String(MASK.to_owned());
            }
        }
    }
    for field in ["url", "endpoint"] {
        if let Some(Value::String(url)) = task.get_mut(field)
            && let Some(masked) = url_without_password(url)
        {
            *url = masked;
        }
    }
}

/// Whether a header name (any case, spaces around it as the request trims them) names a
/// credential header.
pub(crate) fn credential(name: &str) -> bool {
    HeaderName::from_bytes(name.trim().as_bytes()).is_ok_and(|n| is_credential_header(&n))
}

/// The URL with its password as `***`, if it has one. A URL that does not parse yet (a
/// placeholder in its port) is masked by its text: what lies between the `:` after the
/// user and the `@`.
pub(crate) fn url_without_password(url: &str) -> Option<String> {
    if let Ok(mut parsed) = url::Url::parse(url) {
        parsed.password()?;
        parsed.set_password(Some(MASK)).ok()?;
        return Some(parsed.to_string());
    }
    let authority_at = url.find("://").map_or(0, |i| i + 3);
    let authority = &url[authority_at..];
    let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    let (start, end) = (authority_at + colon + 1, authority_at + at);
    Some(format!("{}{MASK}{}", &url[..start], &url[end..]))
}

/// The names of the `inputs` that credentials take their value from (`${name}` in an
/// auth secret, a credential header, a connection string or a URL's user part).
fn inputs_behind_credentials(task: &Map<String, Value>) -> Vec<String> {
    let mut texts: Vec<&str> = Vec::new();
    if let Some(Value::Object(auth)) = task.get("auth") {
        texts.extend(
            AuthConfig::SECRET_FIELDS
                .iter()
                .filter_map(|f| auth.get(*f)?.as_str()),
        );
    }
    if let Some(Value::Object(headers)) = task.get("headers") {
        texts.extend(
            headers
                .iter()
                .filter(|(name, _)| credential(name))
                .filter_map(|(_, value)| value.as_str()),
        );
    }
    if let Some(connection) = task
        .get("connection")
        .and_then(Value::as_str)
        .filter(|c| looks_like_connection_string(c))
    {
        texts.push(connection);
    }
    for field in ["url", "endpoint"] {
        if let Some(url) = task.get(field).and_then(Value::as_str)
            && let Some(at) = url.find('@')
        {
            texts.push(&url[..at]);
        }
    }
    let mut names = Vec::new();
    for text in texts {
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            names.push(after[..end].to_owned());
            rest = &after[end + 1..];
        }
    }
    names
}

/// Serializes a config's headers with the values of credential headers as `***` (in clear
/// only inside [`Secret::revealed`], for the config store).
pub(crate) fn serialize_headers<S: Serializer>(
    headers: &Option<BTreeMap<String, String>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let Some(headers) = headers else {
        return serializer.serialize_none();
    };
    let mut map = serializer.serialize_map(Some(headers.len()))?;
    for (name, value) in headers {
        if credential(name) && !Secret::revealing() {
            map.serialize_entry(name, MASK)?;
        } else {
            map.serialize_entry(name, value)?;
        }
    }
    map.end()
}

/// Serializes a config's `base_url` with its password as `***` (in clear only inside
/// [`Secret::revealed`], for the config store).
pub(crate) fn serialize_url<S: Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        None => serializer.serialize_none(),
        Some(url) if Secret::revealing() => serializer.serialize_str(url),
        Some(url) => match url_without_password(url) {
            Some(masked) => serializer.serialize_str(&masked),
            None => serializer.serialize_str(url),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(body: &str) -> Value {
        let input: TaskInput = serde_json::from_str(body).unwrap();
        serde_json::from_str(masked_task(&input, body.as_bytes()).get()).unwrap()
    }

    #[test]
    fn a_task_without_credentials_is_shown_as_sent() {
        let body = r#"{"type":"http","url":"http://127.0.0.1/x","timeout":"1.5s",
            "retry":{"policy":"fixed","delay":"1000h"}}"#;
        let input: TaskInput = serde_json::from_str(body).unwrap();
        let raw = masked_task(&input, body.as_bytes());
        assert_eq!(raw.get(), body);
    }

    #[test]
    fn credentials_are_masked_and_the_rest_kept_as_written() {
        let v = shown(
            r#"{"type":"http","url":"http://alice:URLPASS@127.0.0.1/x","timeout":"1.5s",
                "headers":{"Authorization":"Bearer X","Cookie":"c=1","X-Api-Key":"k",
                           "Accept":"application/json"},
                "auth":{"type":"jwt","algorithm":"HS256","secret":"hmac-secret",
                        "expires_in":"90s"}}"#,
        );
        assert_eq!(v["url"], "http://alice:***@127.0.0.1/x");
        assert_eq!(v["timeout"], "1.5s");
        assert_eq!(v["headers"]["Authorization"], "***");
        assert_eq!(v["headers"]["Cookie"], "***");
        assert_eq!(v["headers"]["X-Api-Key"], "***");
        assert_eq!(v["headers"]["Accept"], "application/json");
        assert_eq!(v["auth"]["secret"], "***");
        assert_eq!(v["auth"]["expires_in"], "90s");
        // No field the task did not have.
        assert!(v["auth"].get("private_key").is_none(), "{v}");
        let text = v.to_string();
        for secret in ["URLPASS", "Bearer X", "hmac-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn inputs_that_credentials_are_made_of_are_masked() {
        let v = shown(
            r#"{"type":"http","url":"http://u:${pw}@127.0.0.1/${path}",
                "headers":{" Authorization ":"Bearer ${tok}"},
                "auth":{"type":"bearer","token":"${t}"},
                "inputs":{"t":"canary-1","tok":"canary-2","pw":"canary-3","path":"items"}}"#,
        );
        assert_eq!(v["inputs"]["path"], "items");
        assert_eq!(v["headers"][" Authorization "], "***");
        let text = v.to_string();
        assert!(!text.contains("canary"), "{text}");
    }

    #[test]
    fn a_url_that_does_not_parse_yet_has_its_password_masked_by_text() {
        assert_eq!(
            url_without_password("https://u:pw-canary@host:${port}/x@y").as_deref(),
            Some("https://u:***@host:${port}/x@y")
        );
        assert_eq!(url_without_password("https://host:${port}/x@y"), None);
    }

    #[test]
    fn connection_passwords_are_masked() {
        let v = shown(
            r#"{"type":"database","connection":"postgres://u:pw-canary@127.0.0.1/test",
                "query":"select 1"}"#,
        );
        assert_eq!(v["connection"], "postgres://u:***@127.0.0.1/test");
        // The name of a stored config is no credential: shown as written.
        let named = shown(r#"{"type":"database","connection":"orders-db","query":"select 1"}"#);
        assert_eq!(named["connection"], "orders-db");
        let kv = shown(
            r#"{"type":"database","connection":"host=127.0.0.1 password=pw-canary","query":"x"}"#,
        );
        assert!(
            !kv["connection"].as_str().unwrap().contains("pw-canary"),
            "{kv}"
        );
    }

    #[test]
    fn config_headers_and_base_url_are_masked_unless_revealed() {
        #[derive(serde::Serialize)]
        struct Shown {
            #[serde(serialize_with = "serialize_headers")]
            headers: Option<BTreeMap<String, String>>,
            #[serde(serialize_with = "serialize_url")]
            base_url: Option<String>,
        }
        let shown = Shown {
            headers: Some(BTreeMap::from([
                ("Authorization".to_owned(), "Bearer canary".to_owned()),
                ("Accept".to_owned(), "text/plain".to_owned()),
            ])),
            base_url: Some("https://bob:canary-pw@api.example.com/v1".to_owned()),
        };
        let masked = serde_json::to_string(&shown).unwrap();
        assert!(!masked.contains("canary"), "{masked}");
        assert!(masked.contains(r#""Accept":"text/plain""#), "{masked}");
        assert!(masked.contains("bob:***@api.example.com"), "{masked}");
        let stored = Secret::revealed(|| serde_json::to_string(&shown)).unwrap();
        assert!(stored.contains("Bearer canary"), "{stored}");
        assert!(stored.contains("bob:canary-pw@"), "{stored}");
    }
}
