//! Validation errors that name the field at fault, so the server can answer
//! `400`/`422` with `errors: [{field, message}]`.

use serde::Serialize;

/// One field at fault: `{"field": "retry.delay", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's path (`retry.delay`, `headers.X-Id`, `params[1]`); empty for the body.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a task or a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Malformed or incomplete: the server answers `400`.
    #[error("{detail}")]
    BadRequest {
        /// A sentence for the problem document's `detail`.
        detail: String,
        /// The fields at fault.
        errors: Vec<FieldError>,
    },
    /// Well-formed but refused (egress policy): the server answers `422`.
    #[error("{detail}")]
    Refused {
        /// A sentence for the problem document's `detail`.
        detail: String,
        /// The fields at fault.
        errors: Vec<FieldError>,
    },
}

impl Invalid {
    /// A `400` from a list of field errors.
    pub fn bad(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] if one.field.is_empty() => one.message.clone(),
            [one] => format!("invalid field `{}`: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Invalid::BadRequest { detail, errors }
    }

    /// A `400` about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::bad(vec![FieldError::new(field, message)])
    }

    /// A `422` about one field.
    pub fn refused(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        Invalid::Refused {
            detail: format!("`{}` refused: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// The fields at fault.
    pub fn errors(&self) -> &[FieldError] {
        match self {
            Invalid::BadRequest { errors, .. } | Invalid::Refused { errors, .. } => errors,
        }
    }

    /// The HTTP status the server answers with.
    pub fn status(&self) -> u16 {
        match self {
            Invalid::BadRequest { .. } => 400,
            Invalid::Refused { .. } => 422,
        }
    }
}

/// Collects field errors while a document is validated.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    list: Vec<FieldError>,
    refused: Vec<FieldError>,
}

impl Errors {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(FieldError::new(field, message));
    }

    pub(crate) fn refuse(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.refused.push(FieldError::new(field, message));
    }

    /// `Ok(value)` when nothing was pushed; `400` wins over `422`.
    pub(crate) fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Invalid> {
        if !self.list.is_empty() {
            return Err(Invalid::bad(self.list));
        }
        if !self.refused.is_empty() {
            let detail = "the task was refused by the egress policy".to_owned();
            return Err(Invalid::Refused {
                detail,
                errors: self.refused,
            });
        }
        Ok(value())
    }
}

/// Turns a serde error with its path (from `serde_path_to_error`) into a `400`.
pub fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Invalid {
    let path = err.path().to_string();
    let field = if path == "." { String::new() } else { path };
    let inner = err.into_inner();
    let message = clean_serde_message(&inner.to_string());
    // A key given twice in one object: serde names it in the message, at the path of
    // the object that holds it.
    if let Some(name) = message
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let field = if field.is_empty() {
            name.to_owned()
        } else {
            format!("{field}.{name}")
        };
        return Invalid::field(field, "is given more than once");
    }
    if field.is_empty() {
        return Invalid::field("", message);
    }
    Invalid::field(field, message)
}

/// serde_json ends its messages with " at line L column C": keep the message, which
/// names the problem; the path already says where.
fn clean_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
