//! JSON bodies: `serde_json`, behind a depth scan that runs before the parser.

use serde_json::Value;

use crate::error::{TransformError, line_column};

/// The deepest nesting `serde_json` parses: its recursion counter starts at 128 and refuses
/// the container that brings it to zero, so 127 levels pass and 128 do not (a test pins it).
pub(crate) const SERDE_JSON_MAX_DEPTH: usize = 127;

/// Parses a JSON document of at most `max_depth` (capped at [`SERDE_JSON_MAX_DEPTH`])
/// nested arrays and objects.
///
/// The depth is checked by a byte scan before `serde_json` sees the text, so every depth
/// failure is a [`TransformError::TooDeep`] that says where the limit was crossed.
pub(crate) fn decode(text: &str, max_depth: usize) -> Result<Value, TransformError> {
    let max_depth = max_depth.min(SERDE_JSON_MAX_DEPTH);
    if let Some(offset) = depth_exceeded_at(text.as_bytes(), max_depth) {
        let (line, column) = line_column(text.as_bytes(), offset);
        return Err(TransformError::TooDeep {
            format: "JSON",
            max: max_depth,
            at: format!("line {line}, column {column}"),
        });
    }
    serde_json::from_str(text).map_err(|err| invalid_json(&err))
}

/// Serializes `value` after checking its depth iteratively (serde_json serializes
/// recursively, so an unchecked value built in code could overflow the stack).
pub(crate) fn encode(value: &Value, max_depth: usize) -> Result<Vec<u8>, TransformError> {
    check_depth(value, max_depth)?;
    serde_json::to_vec(value).map_err(|err| invalid_json(&err))
}

/// Refuses a value nested deeper than `max_depth`, without recursion.
pub(crate) fn check_depth(value: &Value, max_depth: usize) -> Result<(), TransformError> {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((value, depth)) = stack.pop() {
        if !(value.is_array() || value.is_object()) {
            continue;
        }
        if depth > max_depth {
            return Err(TransformError::TooDeep {
                format: "JSON",
                max: max_depth,
                at: format!("nesting level {depth} of the value"),
            });
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// The byte offset of the first `[` or `{` that opens level `max_depth + 1`, if any.
///
/// Strings are skipped (with their escapes), so brackets inside them do not count. The scan
/// does not validate anything else: the parser that runs next does.
fn depth_exceeded_at(text: &[u8], max_depth: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in text.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Some(offset);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn invalid_json(err: &serde_json::Error) -> TransformError {
    let message = err.to_string();
    // serde_json appends " at line L column C"; we carry those as fields.
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |cut| &message[..cut])
        .to_owned();
    TransformError::InvalidJson {
        line: err.line(),
        column: err.column(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_ignores_brackets_inside_strings() {
        assert_eq!(depth_exceeded_at(br#"["[[[\"[["]"#, 1), None);
        assert_eq!(depth_exceeded_at(br#"[["x"]]"#, 1), Some(1));
    }

    #[test]
    fn check_depth_counts_containers_only() {
        let value: Value = serde_json::from_str(r#"{"a": [1, {"b": "c"}]}"#).unwrap();
        assert!(check_depth(&value, 3).is_ok());
        assert!(check_depth(&value, 2).is_err());
    }
}
