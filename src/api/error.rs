//! API errors: a status code and a JSON body `{error, detail}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::model::ErrorBody;
use crate::config::ConfigError;

/// An error answer of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short code.
    pub error: &'static str,
    /// Plain-words detail.
    pub detail: String,
    /// For validation errors: each error with the key it belongs to (the panel shows it next to
    /// that field).
    pub fields: Vec<super::model::FieldError>,
}

impl ApiError {
    /// A generic error.
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            detail: detail.into(),
            fields: Vec::new(),
        }
    }

    /// 404 for a tunnel name that is not configured.
    pub fn unknown_tunnel(name: &str, known: Vec<String>) -> ApiError {
        let shown: String = name.chars().take(64).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no tunnel named \"{shown}\"; configured tunnels: {}",
                known.join(", ")
            ),
        )
    }

    /// 400 with every validation error, one `key.path: message` per line.
    pub fn invalid(errs: Vec<ConfigError>) -> ApiError {
        let detail: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid", detail.join("\n"));
        e.fields = errs
            .into_iter()
            .map(|c| super::model::FieldError {
                key: c.path,
                message: c.message,
            })
            .collect();
        e
    }

    /// 400 for an unusable request (bad JSON, bad query).
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 409: the request does not fit the tunnel (e.g. proposals of a manually keyed tunnel).
    pub fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 503: the tunnel's task cannot take commands now.
    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// 501: not implemented yet.
    pub fn not_implemented(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", detail)
    }

    /// 401 with a `WWW-Authenticate` challenge.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut r = (
            self.status,
            axum::Json(ErrorBody {
                error: self.error.to_string(),
                detail: self.detail,
                fields: self.fields,
            }),
        )
            .into_response();
        if unauthorized {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ikegate\""),
            );
        }
        r
    }
}
