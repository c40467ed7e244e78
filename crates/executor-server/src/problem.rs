//! RFC 9457 problem documents: every error of the API is one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flunq_executor::FieldError;
use serde::Serialize;

/// A problem document (`application/problem+json`).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// The fields at fault, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem of `status`, its type and title derived from the status.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let (slug, title) = match status.as_u16() {
            400 => ("invalid-request", "Invalid request"),
            401 => ("unauthorized", "Missing or invalid API key"),
            404 => ("not-found", "Not found"),
            405 => ("method-not-allowed", "Method not allowed"),
            409 => ("conflict", "Conflict"),
            412 => ("precondition-failed", "Precondition failed"),
            413 => ("payload-too-large", "Request body too large"),
            415 => ("unsupported-media-type", "Unsupported media type"),
            422 => ("refused", "Request refused"),
            503 => ("unavailable", "Service unavailable"),
            _ => ("internal", "Internal error"),
        };
        Self {
            kind: format!("https://flunq.dev/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// With the fields at fault.
    /// A single error about the body as a whole (malformed JSON, empty, not an object)
    /// names no field: it is the `detail` alone, without an `errors` entry of field `""`.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        let whole_body = matches!(errors.as_slice(), [one] if one.field.is_empty());
        if !whole_body {
            self.errors = errors;
        }
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
