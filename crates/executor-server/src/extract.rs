//! `Query` and `Path` extractors whose rejections are problem documents naming the
//! parameter at fault. axum's own answer `400 text/plain` in axum's words; these wrap
//! them, so the success path is axum's and only a rejection costs anything more.

use axum::extract::FromRequestParts;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::request::Parts;
use flunq_executor::FieldError;
use serde::de::{self, DeserializeOwned, Visitor};

use crate::problem::Problem;

/// The query string as `T`, like `axum::extract::Query`; a rejection is a `400`
/// problem document naming each parameter of `T` given more than once.
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
            Err(rejection) => Err(query_problem::<T>(&parts.uri, &rejection)),
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

fn query_problem<T: DeserializeOwned>(
    uri: &axum::http::Uri,
    rejection: &QueryRejection,
) -> Problem {
    // A query of optional strings fails only on a parameter given twice (serde's
    // "duplicate field"), and the rejection does not say which: `T`'s parameters are
    // counted. Any other failure keeps serde's message as the detail. Reading the pairs
    // cannot fail (bad percent-encoding decodes lossily).
    let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|axum::extract::Query(pairs)| pairs)
        .unwrap_or_default();
    let errors: Vec<FieldError> = field_names::<T>()
        .iter()
        .filter_map(|&name| {
            let times = pairs.iter().filter(|(key, _)| key == name).count();
            (times > 1).then(|| {
                FieldError::new(name, format!("given {times} times; give it at most once"))
            })
        })
        .collect();
    let detail = match errors.as_slice() {
        [] => format!("invalid query string: {}", inner_message(rejection)),
        [one] => format!(
            "the query parameter `{}` is given more than once",
            one.field
        ),
        _ => "query parameters are given more than once".to_owned(),
    };
    Problem::new(rejection.status(), detail).with_errors(errors)
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

/// The names of `T`'s fields as serde reads them (after any `rename`): `T` is asked to
/// deserialize itself from a deserializer that only notes the names it is handed
/// (serde-aux's `serde_introspect` does the same). Empty unless `T` is a struct.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names(&'static [&'static str]);

    fn noted<V>() -> Result<V, de::value::Error> {
        Err(de::Error::custom("only the field names are read"))
    }

    impl<'de> de::Deserializer<'de> for &mut Names {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            noted()
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            noted()
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }

    let mut names = Names(&[]);
    // Always an error: the names are what was wanted.
    let _ = T::deserialize(&mut names);
    names.0
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
    fn field_names_are_the_names_serde_reads() {
        assert_eq!(field_names::<Listed>(), ["status", "max"]);
        assert!(field_names::<Vec<(String, String)>>().is_empty());
        assert!(field_names::<String>().is_empty());
    }

    #[test]
    fn a_repeated_parameter_is_named() {
        let uri: axum::http::Uri = "/x?status=a&other=1&other=2&status=b".parse().unwrap();
        let Err(rejection) = axum::extract::Query::<Listed>::try_from_uri(&uri) else {
            panic!("a repeated field is refused by serde");
        };
        let problem = query_problem::<Listed>(&uri, &rejection);
        assert_eq!(problem.status, 400);
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["status"], "`other` is no parameter of the route");
    }
}
