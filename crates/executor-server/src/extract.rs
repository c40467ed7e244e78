//! `Query` and `Path` extractors whose rejections are problem documents naming the
//! parameter at fault. axum's own answer `400 text/plain` in axum's words; these wrap
//! them, so the success path is axum's and only a rejection costs anything more.

use axum::extract::FromRequestParts;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::request::Parts;
use flunq_executor::FieldError;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// The query string as `T`, like `axum::extract::Query`; a rejection is a `400`
/// problem document naming the parameter of `T` given more than once.
#[derive(Debug)]
pub(crate) struct Query<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

/// The path parameters as `T`, like `axum::extract::Path`; a rejection is a problem
/// document naming the parameter where axum knows it (a segment that is not UTF-8
/// once percent-decoded, a value of the wrong type).
#[derive(Debug)]
pub(crate) struct Path<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_problem(&rejection)),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> Problem {
    // A query of optional strings fails only on a parameter given twice, which serde
    // reports as "duplicate field `status`" (`de::Error::duplicate_field`): that name is
    // the parameter at fault. Any other failure keeps serde's message as the detail.
    let message = inner_message(rejection);
    let repeated = message
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.split('`').next());
    match repeated {
        Some(name) => Problem::new(
            rejection.status(),
            format!("the query parameter `{name}` is given more than once"),
        )
        .with_errors(vec![FieldError::new(name, "give it at most once")]),
        None => Problem::new(
            rejection.status(),
            format!("invalid query string: {message}"),
        ),
    }
}

/// serde's own message, without axum's prefix ("Failed to deserialize query string: ").
fn inner_message(rejection: &QueryRejection) -> String {
    match rejection {
        QueryRejection::FailedToDeserializeQueryString(e) => std::error::Error::source(e)
            .map(ToString::to_string)
            .unwrap_or_else(|| e.body_text()),
        other => other.body_text(),
    }
}

fn path_problem(rejection: &PathRejection) -> Problem {
    let status = rejection.status();
    let PathRejection::FailedToDeserializePathParams(failed) = rejection else {
        // Missing parameters: a route and its handler disagree, a bug of ours (500).
        return Problem::new(status, rejection.body_text());
    };
    let (field, message) = match failed.kind() {
        ErrorKind::InvalidUtf8InPathParam { key } => {
            (key.as_str(), "not UTF-8 once percent-decoded".to_owned())
        }
        ErrorKind::ParseErrorAtKey {
            key, expected_type, ..
        } => (key.as_str(), format!("expected {expected_type}")),
        ErrorKind::DeserializeError { key, message, .. } => (key.as_str(), message.clone()),
        // No key known (or a 500: the route and the handler's type disagree).
        _ => return Problem::new(status, failed.body_text()),
    };
    Problem::new(
        status,
        format!("invalid path parameter `{field}`: {message}"),
    )
    .with_errors(vec![FieldError::new(field, message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Listed {
        status: Option<String>,
        #[serde(rename = "max")]
        limit: Option<String>,
    }

    #[test]
    fn a_repeated_parameter_is_named() {
        let uri: axum::http::Uri = "/x?status=a&other=1&other=2&status=b".parse().unwrap();
        let Err(rejection) = axum::extract::Query::<Listed>::try_from_uri(&uri) else {
            panic!("a repeated field is refused by serde");
        };
        let problem = query_problem(&rejection);
        assert_eq!(problem.status, 400);
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["status"], "`other` is no parameter of the route");
        assert!(problem.detail.contains("`status`"), "{}", problem.detail);
    }
}
