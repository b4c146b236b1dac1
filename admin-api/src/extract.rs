//! Request extractors whose rejections are our JSON [`ApiError`] (400 `invalid`, naming the
//! field) instead of axum's plain-text ones, so that every failure of the API has one shape.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Unlike `axum::Json` it does not insist on a `Content-Type` (curl users forget
/// it, and there is only one body format), and an empty body reads as `{}` so that requests
/// whose fields all have defaults (`POST /v1/shards/0/failover`) need no body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            ApiError::new(rejection.status(), "invalid", rejection.body_text())
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, reporting where it is wrong: the JSON path of a field with a wrong
/// type or value (`layout[0].slots[1].end`), the name of an unknown or missing field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end().map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))?;
    Ok(value)
}

fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::bad_request(format!("the body is not valid JSON: {inner}"));
    }
    let message = inner.to_string();
    // A missing field is reported at the path of the object that should hold it (an unknown
    // one at its own path); naming the field itself is what the operator needs.
    let field = match named_field(&message) {
        Some(name) if path == "." => name.to_string(),
        Some(name) if path == name || path.ends_with(&format!(".{name}")) => path,
        Some(name) => format!("{path}.{name}"),
        None if path == "." => return ApiError::bad_request(message),
        None => path,
    };
    ApiError::invalid(field, message)
}

/// The field name in serde's "unknown field `x`" / "missing field `x`" messages.
fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    rest.split('`').next()
}

/// A path parameter; a value that does not parse is a 400 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => {
                let field = match err.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                    _ => None,
                };
                let message = err.body_text();
                Err(match field {
                    Some(field) => ApiError::invalid(field, message),
                    None => ApiError::bad_request(message),
                })
            }
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CreateClusterRequest, FailoverRequest};

    fn must_fail(body: &str) -> ApiError {
        parse_json::<CreateClusterRequest>(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn errors_name_the_json_path() {
        let err = must_fail(r#"{"layout":[{"master":1,"slots":[{"start":0,"end":"x"}]}]}"#);
        assert_eq!(err.body.field.as_deref(), Some("layout[0].slots[0].end"));
        let err = must_fail(r#"{"plan":"16GB","shard":3}"#);
        assert_eq!(err.body.field.as_deref(), Some("shard"));
        assert!(err.body.error.contains("unknown field"), "{}", err.body.error);
        let err = must_fail(r#"{"layout":[{"master":1,"slots":[],"extra":1}]}"#);
        assert_eq!(err.body.field.as_deref(), Some("layout[0].extra"));
        let err = must_fail(r#"{"layout":[{"slots":[]}]}"#);
        assert_eq!(err.body.field.as_deref(), Some("layout[0].master"));
        let err = must_fail(r#"{"shards":-1}"#);
        assert_eq!(err.body.field.as_deref(), Some("shards"));
    }

    #[test]
    fn malformed_json_has_no_field() {
        for body in [r#"{"plan":"#, "not json", r#"{"plan":"16GB"} trailing"#, r#"{plan:"16GB"}"#] {
            let err = must_fail(body);
            assert_eq!(err.body.code, "invalid", "{body}");
            assert_eq!(err.body.field, None, "{body}: {}", err.body.error);
        }
    }

    #[test]
    fn an_empty_body_is_an_empty_object() {
        assert_eq!(parse_json::<FailoverRequest>(b"").unwrap(), FailoverRequest::default());
        assert_eq!(parse_json::<FailoverRequest>(b" \n").unwrap(), FailoverRequest::default());
    }
}
