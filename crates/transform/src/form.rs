//! `application/x-www-form-urlencoded` bodies: a flat JSON object, one pair per field.

use serde_json::{Map, Value};

use crate::error::{TransformError, json_type};

/// Encodes a flat object: scalars as their text, null as an empty value, an array as the
/// same key repeated. A string is taken as an already encoded body and sent as it is.
pub(crate) fn encode(value: &Value) -> Result<Vec<u8>, TransformError> {
    let map = match value {
        Value::Object(map) => map,
        Value::String(encoded) => return Ok(encoded.as_bytes().to_vec()),
        other => {
            return Err(TransformError::FormNotObject {
                found: json_type(other),
            });
        }
    };
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (key, value) in map {
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let text = scalar_text(item).ok_or_else(|| TransformError::FormNotFlat {
                        key: format!("{key}[{index}]"),
                        found: json_type(item),
                    })?;
                    form.append_pair(key, &text);
                }
            }
            other => {
                let text = scalar_text(other).ok_or_else(|| TransformError::FormNotFlat {
                    key: key.clone(),
                    found: json_type(other),
                })?;
                form.append_pair(key, &text);
            }
        }
    }
    Ok(form.finish().into_bytes())
}

/// Decodes pairs into an object of strings; a repeated key becomes an array, in order.
/// Percent-decoded bytes that are not UTF-8 become U+FFFD, as browsers do.
pub(crate) fn decode(body: &[u8]) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        insert_repeated(
            &mut map,
            key.into_owned(),
            Value::String(value.into_owned()),
        );
    }
    Value::Object(map)
}

/// Inserts `value` under `key`, turning a second occurrence into an array.
///
/// Callers only insert non-array values, so an array already under `key` can only have come
/// from an earlier repetition.
pub(crate) fn insert_repeated(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(first) => {
            let earlier = first.take();
            *first = Value::Array(vec![earlier, value]);
        }
    }
}

/// The text of a scalar: strings as they are, numbers and booleans as JSON writes them,
/// null as empty. `None` for arrays and objects.
fn scalar_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::Null => Some("".into()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        Value::Number(n) => Some(n.to_string().into()),
        Value::String(s) => Some(s.as_str().into()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_insert_builds_an_array_in_order() {
        let mut map = Map::new();
        for v in ["a", "b", "c"] {
            insert_repeated(&mut map, "k".into(), json!(v));
        }
        assert_eq!(Value::Object(map), json!({"k": ["a", "b", "c"]}));
    }
}
